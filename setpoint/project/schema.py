"""Small typed readers over located YAML that collect problems instead of stopping at the first.

``setpoint validate`` reports every error of a project in one go; each reader
call records a :class:`Problem` with file, line and the fix, and returns a safe
placeholder so that validation can go on.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from ..errors import Problem
from .timewindows import parse_duration, parse_moment
from .yamlfile import Mapping, Scalar, Sequence, line_of

NAME = re.compile(r"[a-z][a-z0-9_]*")
#: names that would not parse where rules and facts use them as constants
RESERVED = frozenset({"not"})


def suggest(word: str, options: Iterable[str]) -> str | None:
    """``did you mean 'x'?`` for the closest option, if any is close."""
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


class Reader:
    """Reads one file's values, recording problems against that file."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems

    def problem(self, message: str, at: object = None, hint: str | None = None, line: int | None = None) -> None:
        self.problems.append(Problem(message, self.file, line or line_of(at), hint))

    def keys(self, m: Mapping, allowed: Iterable[str], where: str,
             elsewhere: tuple[Iterable[str], str] | None = None) -> bool:
        """Report every key not in ``allowed``; True when all are known.

        ``elsewhere`` is (keys, place) for keys that belong in another file, so a
        misplaced ``depends_on:`` in setpoint.yaml says where it goes.
        """
        allowed = list(allowed)
        ok = True
        for key in m:
            if key in allowed:
                continue
            ok = False
            hint = suggest(key, allowed)
            if hint is None and elsewhere is not None:
                other = suggest(key, elsewhere[0])
                if other is not None:
                    hint = f"{other} that key belongs {elsewhere[1]}"
            self.problem(
                f"unknown key {key!r} in {where}",
                line=m.key_lines.get(key, m.line),
                hint=hint or f"allowed keys: {', '.join(allowed)}",
            )
        return ok

    def mapping(self, value: object, where: str, at: object = None) -> Mapping | None:
        if isinstance(value, Mapping):
            return value
        self.problem(f"{where} must be a mapping (key: value lines)", value if value is not None else at)
        return None

    def string(self, m: Mapping, key: str, where: str, required: bool = False) -> Scalar | None:
        value = m.get(key)
        if value is None:
            if required:
                self.problem(f"{where} needs {key!r}", m, hint=f"add `{key}: ...`")
            return None
        if not isinstance(value, Scalar):
            self.problem(f"{key!r} in {where} must be a single value", line=m.key_lines.get(key))
            return None
        return value

    def name(self, m: Mapping, key: str, where: str, what: str) -> Scalar | None:
        value = self.string(m, key, where, required=True)
        if value is not None and str(value) in RESERVED:
            self.problem(f"{what} name {str(value)!r} is a reserved word of the rule language", value,
                         hint=f"choose another name, e.g. {str(value)}_{what}")
            return None
        if value is not None and not NAME.fullmatch(value):
            fixed = re.sub(r"[^a-z0-9_]+", "_", str(value).lower()).strip("_")
            example = f", e.g. {fixed!r}" if NAME.fullmatch(fixed) else ""
            self.problem(
                f"bad {what} name {str(value)!r}",
                value,
                hint=f"use lowercase letters, digits and _, starting with a letter{example}",
            )
            return None
        return value

    def integer(self, m: Mapping, key: str, where: str, default: int, minimum: int | None = None) -> int:
        value = self.string(m, key, where)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            self.problem(f"{key!r} in {where} must be a whole number, got {str(value)!r}", value)
            return default
        if minimum is not None and number < minimum:
            self.problem(f"{key!r} in {where} must be at least {minimum}, got {number}", value)
            return default
        return number

    def moment(self, m: Mapping, key: str, where: str, required: bool = False) -> datetime | None:
        value = self.string(m, key, where, required)
        if value is None:
            return None
        try:
            return parse_moment(value)
        except ValueError:
            shaped = re.fullmatch(r"\d{4}-\d{2}(-\d{2}([T ]\d{2}(:\d{2})?)?)?", value.strip())
            self.problem(
                f"bad date {str(value)!r} for {key!r} in {where}",
                value,
                hint="there is no such date or time" if shaped else "write YYYY-MM-DD, YYYY-MM or YYYY-MM-DDTHH:MM",
            )
            return None

    def duration(self, m: Mapping, key: str, where: str) -> timedelta:
        value = self.string(m, key, where)
        if value is None:
            return timedelta(0)
        try:
            return parse_duration(value)
        except ValueError:
            self.problem(f"bad duration {str(value)!r} for {key!r} in {where}", value, hint="write e.g. 6h, 30m, 2d or 1d12h")
            return timedelta(0)

    def strings(self, value: object, where: str, at: object = None) -> list[Scalar]:
        """A list of scalars; a single scalar is accepted as a list of one."""
        if isinstance(value, Scalar):
            return [value]
        if isinstance(value, Sequence) and all(isinstance(v, Scalar) for v in value):
            return list(value)
        self.problem(f"{where} must be a value or a list of values", value if value is not None else at)
        return []
