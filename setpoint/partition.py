"""How a person writes a partition: ``asset[value]`` or ``asset[dim=value,dim=value]``.

The same text, without the asset and brackets, is the partition's identity in
the solver (the ``P`` of every fact), so formatting is canonical: dimensions in
declared order, values quoted only when they would otherwise be ambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

from .errors import UsageError

_PLAIN = re.compile(r"[^\s,=\[\]\"\\]+")


@lru_cache(maxsize=65536)  # a plan formats the same campaign ids and days tens of thousands of times
def quote_value(value: str) -> str:
    """Quote a value when it holds a separator, a quote, whitespace or nothing."""
    if _PLAIN.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def format_key(dims: Sequence[str], values: Sequence[str]) -> str:
    """The canonical key of one partition: ``v`` for one dimension, ``d=v,e=w`` for more."""
    if len(dims) == 1:
        return quote_value(values[0])
    if len(dims) == 2 and len(values) == 2:  # the common product (campaign × day), formatted without a generator
        return f"{dims[0]}={quote_value(values[0])},{dims[1]}={quote_value(values[1])}"
    return ",".join([f"{d}={quote_value(v)}" for d, v in zip(dims, values)])


def format_partition(asset: str, key: str) -> str:
    """``asset[key]``, or just ``asset`` for an unpartitioned asset."""
    return f"{asset}[{key}]" if key else asset


def _split_items(text: str, where: str) -> list[str]:
    """Split on commas that are not inside quotes."""
    items, buf, quoted, escaped = [], [], False, False
    for ch in text:
        if escaped:
            buf.append(ch)
            escaped = False
        elif ch == "\\" and quoted:
            buf.append(ch)
            escaped = True
        elif ch == '"':
            buf.append(ch)
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    if quoted:
        raise UsageError(f"unterminated quote in {where}",
                         hint='close the quote; a value holding a quote is quoted and escaped: "it\\"s"')
    items.append("".join(buf))
    return items


def _unquote(raw: str, where: str) -> str:
    raw = raw.strip()
    if raw.startswith('"'):
        if len(raw) < 2 or not raw.endswith('"'):
            raise UsageError(f"bad quoted value {raw!r} in {where}")
        body = raw[1:-1]
        return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), body)
    if not raw:
        raise UsageError(f"empty value in {where}", hint='write "" for an empty value')
    return raw


def parse_values(text: str, dims: Sequence[str], where: str) -> dict[str, str]:
    """Parse the inside of brackets against an asset's dimensions."""
    if not dims:
        if text.strip():
            raise UsageError(f"{where} is not partitioned", hint="drop the [...]")
        return {}
    items = _split_items(text, where)
    if len(items) == 1 and "=" not in _strip_quoted(items[0]) and len(dims) == 1:
        return {dims[0]: _unquote(items[0], where)}
    values: dict[str, str] = {}
    for item in items:
        if "=" not in _strip_quoted(item):
            raise UsageError(
                f"{where}: expected dim=value, got {item.strip()!r}",
                hint=f"dimensions are {', '.join(dims)}",
            )
        dim, raw = item.split("=", 1)
        dim = dim.strip()
        if dim not in dims:
            raise UsageError(
                f"{where}: unknown dimension {dim!r}", hint=f"dimensions are {', '.join(dims)}"
            )
        if dim in values:
            raise UsageError(f"{where}: {dim} is given twice", hint=f"give each of {', '.join(dims)} once")
        values[dim] = _unquote(raw, where)
    return values


def _strip_quoted(item: str) -> str:
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', item)


def split_target(text: str) -> tuple[str, str | None]:
    """``results[2024-03-25]`` → (``results``, ``2024-03-25``); ``results`` → (``results``, None)."""
    text = text.strip()
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(.*)\])?", text, re.S)
    if not m:
        raise UsageError(
            f"cannot read partition {text!r}",
            hint="write asset[value] or asset[dim=value,dim=value]",
        )
    return m.group(1), m.group(2)


def key_of(dims: Sequence[str], values: Mapping[str, str]) -> str:
    """Canonical key for a full assignment of values to dimensions."""
    return format_key(dims, [values[d] for d in dims])
