"""One exception tree for everything setpoint reports to its users.

Every error carries structured fields (where it happened, what to do next) so
that the CLI can render it as one line with a documented exit code, and a
Python caller can inspect it without parsing text.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Exit codes, documented in the README. The CLI maps errors to these in one place.
EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input, located as precisely as we can."""

    message: str
    file: str | None = None
    line: int | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{hint}"


class SetpointError(Exception):
    """Root of every error setpoint raises on purpose."""

    exit_code: int = EXIT_PROBLEMS

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
        problems: list[Problem] | None = None,
    ) -> None:
        self.problems = problems or [Problem(message, file, line, hint)]
        first = self.problems[0]
        self.message = first.message
        self.file = first.file
        self.line = first.line
        self.hint = first.hint
        super().__init__(str(first) if len(self.problems) == 1 else self._summary())

    def _summary(self) -> str:
        lines = [f"{len(self.problems)} problems:"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class ConfigError(SetpointError):
    """The project's YAML files are malformed or inconsistent."""

    exit_code = EXIT_USAGE
    #: the rule files the project names, when they could be found despite the problems
    rule_files: tuple = ()


class RuleError(SetpointError):
    """A user rule file does not parse, does not ground, or breaks the fact schema."""

    exit_code = EXIT_USAGE


class UsageError(SetpointError):
    """The command line asked for something that does not exist (e.g. an unknown asset)."""

    exit_code = EXIT_USAGE


class ObserveError(SetpointError):
    """Observed state could not be read (a broken table, a failing listing command)."""

    exit_code = EXIT_PROBLEMS


class SolveError(SetpointError):
    """The solver could not derive a plan (resource limit, inconsistent rules)."""

    exit_code = EXIT_PROBLEMS
