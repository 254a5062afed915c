"""Read YAML keeping the line of every mapping, key and scalar.

Scalars stay strings (``007`` is not the octal 7, ``no`` is not False): the
schema converts each value to the type its key needs, so every conversion error
can name the file and line it came from.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import ConfigError, Problem


class Scalar(str):
    """A YAML scalar with its source line; ``None``-valued scalars become ``None``."""

    line: int
    quoted: bool

    def __new__(cls, value: str, line: int, quoted: bool = False) -> Scalar:
        obj = super().__new__(cls, value)
        obj.line = line
        obj.quoted = quoted
        return obj


class Mapping(dict):
    """A YAML mapping remembering its own line and the line of each key."""

    line: int
    key_lines: dict[str, int]


class Sequence(list):
    """A YAML sequence remembering its line."""

    line: int


_NULLS = {"", "~", "null", "Null", "NULL"}


def _convert(node: yaml.Node, file: str, problems: list[Problem]) -> object:
    """Located values; problems (duplicate keys …) are collected so one run reports them all."""
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        if node.style is None and node.value in _NULLS:
            return None
        return Scalar(node.value, line, quoted=node.style is not None)
    if isinstance(node, yaml.SequenceNode):
        seq = Sequence(_convert(item, file, problems) for item in node.value)
        seq.line = line
        return seq
    if isinstance(node, yaml.MappingNode):
        out = Mapping()
        out.line = line
        out.key_lines = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem("mapping keys must be plain words", file, key_line))
                continue
            key = key_node.value
            if key in out:
                problems.append(Problem(
                    f"duplicate key {key!r}", file, key_line,
                    f"each key may appear once per mapping; the first {key!r} is on line {out.key_lines[key]}",
                ))
                continue
            out[key] = _convert(value_node, file, problems)
            out.key_lines[key] = key_line
        return out
    problems.append(Problem(f"unsupported YAML node {node.tag}", file, line))
    return None


def _malformed(exc: yaml.MarkedYAMLError, display: str) -> ConfigError:
    """A parser error → one located problem, with the fix for the common cases."""
    mark = exc.problem_mark or exc.context_mark
    problem = str(exc.problem or exc.context)
    hint = "check indentation and quoting on that line"
    if "'\\t'" in problem:
        problem, hint = "a tab character where YAML expects spaces", "indent YAML with spaces, never tabs"
    elif "<block" in problem:
        problem = "this line's indentation does not line up with the lines above"
        hint = "indent keys of one mapping by the same number of spaces"
    elif "another document" in problem:
        problem = "a second document (---) in one file"
        hint = "declare several assets in one file as a list under `assets:`"
    return ConfigError(f"malformed YAML: {problem}", file=display,
                       line=mark.line + 1 if mark else None, hint=hint)


def read_yaml(path: Path, display: str) -> object:
    """Parse one YAML file into Mapping/Sequence/Scalar values; errors name file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", file=display) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("file is not UTF-8 text", file=display) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _malformed(exc, display) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML: {exc}", file=display) from exc
    if node is None:
        return None
    problems: list[Problem] = []
    value = _convert(node, display, problems)
    if problems:
        raise ConfigError(problems[0].message, problems=problems)
    return value


def line_of(value: object, default: int | None = None) -> int | None:
    """The source line of a located value, if it has one; a plain int is a line already."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return getattr(value, "line", default)
