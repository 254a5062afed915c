"""Observe a set of files by walking the directory under a path template once.

``data/csv/{day:%Y/%m/%d}/{campaign}.csv`` → a regular expression over paths
relative to the template's fixed prefix; each matching file is a present
partition, its modification time the partition's update time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import duckdb

from ..project.model import Asset, FilesLocation
from ..project.timewindows import TimeWindows
from .base import Observation, land

_PLACEHOLDER = re.compile(r"\{([^{}:]*)(?::([^{}]*))?\}")
_STRF = {"%Y": r"\d{4}", "%m": r"\d{2}", "%d": r"\d{2}", "%H": r"\d{2}", "%M": r"\d{2}", "%S": r"\d{2}",
         "%j": r"\d{3}", "%y": r"\d{2}", "%%": "%"}


def check_template(template: str, dims: list[str], time_dims: set[str] | None = None) -> list[str]:
    """Problems with a template: unknown or missing placeholders, unsupported formats, a format
    on a dimension that is not a time window."""
    problems = []
    names = [m.group(1) for m in _PLACEHOLDER.finditer(template)]
    for name in names:
        if name not in dims:
            problems.append(f"placeholder {{{name}}} is not a partition dimension")
    for dim in dims:
        if dim not in names:
            problems.append(f"dimension {dim!r} has no placeholder")
    for m in _PLACEHOLDER.finditer(template):
        if m.group(2) and time_dims is not None and m.group(1) in dims and m.group(1) not in time_dims:
            problems.append(f"placeholder {{{m.group(0)[1:-1]}}} has a format, but {m.group(1)!r} is not a time dimension")
            continue
        if m.group(2):
            for code in re.findall(r"%.", m.group(2)):
                if code not in _STRF:
                    problems.append(f"format {code} in {{{m.group(0)[1:-1]}}} is not supported")
    if re.search(r"[{}]", _PLACEHOLDER.sub("", template)):
        problems.append("unbalanced { or }")
    return problems


def _format_regex(fmt: str) -> str:
    out, i = [], 0
    while i < len(fmt):
        code = fmt[i : i + 2]
        if code in _STRF:
            out.append(_STRF[code])
            i += 2
        else:
            out.append(re.escape(fmt[i]))
            i += 1
    return "".join(out)


def compile_template(asset: Asset, template: str) -> tuple[str, re.Pattern[str], dict[str, str]]:
    """(fixed directory prefix, regex for the rest of the path, strftime format per time dimension)."""
    first = _PLACEHOLDER.search(template)
    cut = template.rfind("/", 0, first.start()) + 1 if first else template.rfind("/") + 1
    prefix, rest = template[:cut], template[cut:]
    parts, pos, seen, formats = [], 0, set(), {}
    for m in _PLACEHOLDER.finditer(rest):
        parts.append(re.escape(rest[pos : m.start()]))
        name, fmt = m.group(1), m.group(2)
        space = asset.dimension(name).space
        if isinstance(space, TimeWindows):
            fmt = fmt or space.format
            formats[name] = fmt
            body = _format_regex(fmt)
        else:
            body = r"[^/]+"
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>{body})")
        seen.add(name)
        pos = m.end()
    parts.append(re.escape(rest[pos:]))
    return prefix, re.compile("".join(parts)), formats


def listing(base: Path) -> Iterator[tuple[str, float | None]]:
    """Every file under ``base``: (path relative to it, modification time; None if it vanished meanwhile).

    GNU find lists and stats a directory tree in C, several times faster than
    a walk from Python; without it (or if it fails) the walk is done here.
    Symbolic links to files are listed too; directories behind links are not entered.
    """
    if _gnu_find():
        try:
            out = subprocess.run(["find", str(base), "-mindepth", "1", "(", "-type", "f", "-o", "-type", "l",
                                  "-xtype", "f", ")", "-printf", "%P\\0%T@\\0"], capture_output=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            out = None
        if out is not None:
            items = out.decode(sys.getfilesystemencoding(), "surrogateescape").split("\0")  # as os.fsdecode does
            yield from zip(items[0:-1:2], map(_mtime, items[1::2]))
            return
    base_len = len(str(base)) + 1
    for dirpath, _dirnames, filenames in os.walk(base):
        rel_dir = dirpath[base_len:]
        for fn in filenames:
            try:
                mtime: float | None = os.stat(os.path.join(dirpath, fn)).st_mtime
            except FileNotFoundError:
                mtime = None
            yield (f"{rel_dir}/{fn}" if rel_dir else fn), mtime


def _mtime(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@lru_cache(maxsize=1)
def _gnu_find() -> bool:
    try:
        return b"GNU findutils" in subprocess.run(["find", "--version"], capture_output=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return False


class FilesObserver:
    """One directory walk per asset, never one probe per partition."""

    def __init__(self, asset: Asset, location: FilesLocation) -> None:
        self.asset = asset
        self.location = location

    def observe(self, con: duckdb.DuckDBPyConnection, target: str) -> Observation:
        prefix, pattern, formats = compile_template(self.asset, self.location.template)
        base = self.location.root / prefix if not os.path.isabs(prefix) else Path(prefix)
        dims = list(self.asset.dims)
        raw: dict[str, list[str]] = {d: [] for d in dims}
        mtimes: list[float | None] = []
        skipped = 0
        source = f"files {self.location.template}"
        if not base.is_dir():
            return Observation(self.asset.name, source, 0, note=f"directory {prefix or '.'} does not exist")
        for rel, mtime in listing(base):
            m = pattern.fullmatch(rel)
            if m is None:
                continue
            if not rel.isascii():
                try:
                    rel.encode()
                except UnicodeEncodeError:  # a name that is not UTF-8 cannot be a partition value
                    skipped += 1
                    continue
            if mtime is None:  # deleted while we walked
                skipped += 1
                continue
            for d in dims:
                raw[d].append(m.group(d))
            mtimes.append(mtime)
        landed = land(con, target, self.asset, raw, mtimes, formats)
        return Observation(self.asset.name, source, landed, skipped)
