"""Observe a set of files by walking the directory under a path template once, or with the file
inventory (:mod:`.inventory`) only the directories that changed since.

``data/csv/{day:%Y/%m/%d}/{campaign}.csv`` → a regular expression over paths
relative to the template's fixed prefix; each matching file is a present
partition, its modification time the partition's update time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import islice
from pathlib import Path

import duckdb

from ..project.model import Asset, FilesLocation
from ..project.timewindows import TimeWindows
from .base import Observation, key_columns, land, normalize_sql, quote_ident
from .inventory import (DirStamp, Inventory, InventoryPolicy, Marks, changes, stamp, staging_table,
                        wall_clock)

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


def listing(base: Path, dirs: dict[str, DirStamp] | None = None,
            started_ns: int = 0) -> Iterator[tuple[str, float | None]]:
    """Every file under ``base``: (path relative to it, modification time; None if it vanished meanwhile).

    GNU find lists and stats a directory tree in C, several times faster than
    a walk from Python; without it (or if it fails) the walk is done here.
    Symbolic links to files are listed too; directories behind links are not entered.
    ``dirs``, when given, receives every directory's stamp (see :mod:`.inventory`).
    """
    if _gnu_find():
        try:
            out = subprocess.run(["find", "-H", str(base), "(", "-type", "d", "-printf", "d%P\\0%T@\\0%i\\0", ")", "-o",
                                  "(", "-type", "f", "-o", "-type", "l", "-xtype", "f", ")",
                                  "-printf", "f%P\\0%T@\\0%i\\0"], capture_output=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            out = None
        if out is not None:
            items = out.decode(sys.getfilesystemencoding(), "surrogateescape").split("\0")  # as os.fsdecode does
            del out  # tens of megabytes at a million files
            names, times = items[0:-1:3], items[1::3]
            if dirs is not None:
                for name, t, ino in zip(names, times, items[2::3]):
                    if name[0] == "d":
                        dirs[name[1:]] = _dir_stamp(t, ino, started_ns)
            yield from ((name[1:], _mtime(t)) for name, t in zip(names, times) if name[0] == "f")
            return
    base_len = len(str(base)) + 1
    for dirpath, _dirnames, filenames in os.walk(base):
        rel_dir = dirpath[base_len:]
        if dirs is not None:
            try:
                st = os.stat(dirpath)
                dirs[rel_dir] = stamp(st.st_mtime_ns, st.st_ino, started_ns)
            except FileNotFoundError:
                continue
        for fn in filenames:
            try:
                mtime: float | None = os.stat(os.path.join(dirpath, fn)).st_mtime
            except FileNotFoundError:
                mtime = None
            yield (f"{rel_dir}/{fn}" if rel_dir else fn), mtime


def _dir_stamp(text: str, ino: str, started_ns: int) -> DirStamp:
    """A directory's stamp from find's ``%T@`` (seconds with a fraction) and ``%i``."""
    whole, _, frac = text.partition(".")
    return stamp(int(whole) * 1_000_000_000 + int((frac[:9] or "0").ljust(9, "0")), int(ino), started_ns)


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
    """One directory walk per asset, never one probe per partition; with an inventory, only what changed."""

    def __init__(self, asset: Asset, location: FilesLocation, inventory: tuple[InventoryPolicy, Marks] | None = None) -> None:
        self.asset = asset
        self.location = location
        self.inventory = inventory

    def observe(self, con: duckdb.DuckDBPyConnection, target: str) -> Observation:
        prefix, pattern, formats = compile_template(self.asset, self.location.template)
        base = self.location.root / prefix if not os.path.isabs(prefix) else Path(prefix)
        source = f"files {self.location.template}"
        if not base.is_dir():
            return Observation(self.asset.name, source, 0, note=f"directory {prefix or '.'} does not exist")
        staging = f"_files_{target}"  # rows per directory and partition, merged per partition below ("_": no
        # asset's table is named so)
        staging_table(con, staging, self.asset)
        if self.inventory is None or self.inventory[0].relist_s <= 0:
            return self._merged(con, target, staging, source, self._land(con, staging, listing(base), pattern, formats))
        policy, marks = self.inventory
        # what a path means: the template, the pattern and formats it compiles to, the key's columns and how
        # each value is made canonical (a time dimension's grain and timezone)
        meaning = json.dumps([self.location.template, pattern.pattern, formats, key_columns(self.asset),
                              [normalize_sql("v", self.asset.dimension(c), formats.get(c)) for c in self.asset.dims]])
        inventory = Inventory(policy, self.asset.name, meaning, base, marks)
        cols = ", ".join(quote_ident(c) for c in key_columns(self.asset))
        wall, started_ns = wall_clock()
        manifest = inventory.usable(wall)
        skipped, generation = 0, ""
        if manifest is not None:
            stale, files, dirs = changes(base, manifest, started_ns)
            if not stale and manifest.unique:  # nothing changed: the rows are the observation
                if inventory.observed(con, target, manifest, cols):
                    con.execute(f"DROP TABLE {staging}")
                    return Observation(self.asset.name, source, manifest.rows, generation=manifest.generation)
                manifest = None
            elif inventory.load(con, staging, manifest, stale, cols):
                skipped = self._land(con, staging, files, pattern, formats)
                landed, unique = self._merge(con, target, staging)
                if dirs != manifest.dirs:
                    generation = inventory.save(con, staging, dirs, manifest.listed_at, unique)
            else:
                manifest = None
        if manifest is None:  # list every file
            dirs = {}
            skipped = self._land(con, staging, listing(base, dirs, started_ns), pattern, formats)
            landed, unique = self._merge(con, target, staging)
            generation = inventory.save(con, staging, dirs, wall, unique)
        con.execute(f"DROP TABLE {staging}")
        # the rows kept are the observation as it is only when no key is in two of them
        return Observation(self.asset.name, source, landed, skipped, generation=generation if unique else "")

    def _merged(self, con: duckdb.DuckDBPyConnection, target: str, staging: str, source: str,
                skipped: int) -> Observation:
        """Without an inventory: merge, drop the staging table, say what was seen."""
        landed, _ = self._merge(con, target, staging)
        con.execute(f"DROP TABLE {staging}")
        return Observation(self.asset.name, source, landed, skipped)

    def _merge(self, con: duckdb.DuckDBPyConnection, target: str, staging: str) -> tuple[int, bool]:
        """One row per partition, its newest file's time: how many rows ``target`` has, and whether no key was
        in two staged rows (as many merged as staged)."""
        cols = ", ".join(quote_ident(c) for c in key_columns(self.asset))
        merged = con.execute(f"INSERT INTO {target} SELECT {cols}, max(updated_at) FROM {staging} GROUP BY ALL").fetchone()[0]
        staged = con.execute(f"SELECT count(*) FROM {staging}").fetchone()[0]
        return con.execute(f"SELECT count(*) FROM {target}").fetchone()[0], merged == staged

    def _land(self, con: duckdb.DuckDBPyConnection, staging: str, files: Iterable[tuple[str, float | None]],
              pattern: re.Pattern[str], formats: dict[str, str]) -> int:
        """Match and land the listed files a chunk at a time (a million paths as Python lists at once would
        be most of a plan's memory); how many were skipped."""
        skipped = 0
        files = iter(files)
        while chunk := list(islice(files, LAND_CHUNK)):
            raw, mtimes, in_dirs, gone = _matched(chunk, pattern, self.asset.dims)
            del chunk
            land(con, staging, self.asset, raw, mtimes, formats, in_dirs)
            skipped += gone
        return skipped


#: files matched and landed at a time
LAND_CHUNK = 100_000


def _matched(files: Iterable[tuple[str, float | None]], pattern: re.Pattern[str],
             dims: tuple[str, ...] | list[str]) -> tuple[dict[str, list[str]], list[float | None], list[str], int]:
    """The files that match the template: captured values per dimension, times, directories, and how many were
    skipped (gone while listed, or a name that is not UTF-8)."""
    raw: dict[str, list[str]] = {d: [] for d in dims}
    mtimes: list[float | None] = []
    in_dirs: list[str] = []
    skipped = 0
    for rel, mtime in files:
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
        in_dirs.append(rel.rpartition("/")[0])
    return raw, mtimes, in_dirs, skipped
