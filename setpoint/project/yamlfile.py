"""Read YAML keeping the line of every mapping, key and scalar.

Scalars stay strings (``007`` is not the octal 7, ``no`` is not False): the
schema converts each value to the type its key needs, so every conversion error
can name the file and line it came from.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import ConfigError


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


def _convert(node: yaml.Node, file: str) -> object:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        if node.style is None and node.value in _NULLS:
            return None
        return Scalar(node.value, line, quoted=node.style is not None)
    if isinstance(node, yaml.SequenceNode):
        seq = Sequence(_convert(item, file) for item in node.value)
        seq.line = line
        return seq
    if isinstance(node, yaml.MappingNode):
        out = Mapping()
        out.line = line
        out.key_lines = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(
                    "mapping keys must be plain words", file=file, line=key_node.start_mark.line + 1
                )
            key = key_node.value
            if key in out:
                raise ConfigError(
                    f"duplicate key {key!r}",
                    file=file,
                    line=key_node.start_mark.line + 1,
                    hint="each key may appear once per mapping",
                )
            out[key] = _convert(value_node, file)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    raise ConfigError(f"unsupported YAML node {node.tag}", file=file, line=line)


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
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(
            f"malformed YAML: {exc.problem or exc.context}",
            file=display,
            line=mark.line + 1 if mark else None,
            hint="check indentation and quoting on that line",
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML: {exc}", file=display) from exc
    if node is None:
        return None
    return _convert(node, display)


def line_of(value: object, default: int | None = None) -> int | None:
    """The source line of a located value, if it has one."""
    return getattr(value, "line", default)
