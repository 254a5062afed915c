"""The inventory of a file asset: what its last listing found, kept between plans.

Listing 365,000 files costs most of a second even in C; a plan that runs every
few minutes should not pay it when nothing changed. Creating, deleting or
renaming a file changes the time of the directory holding it, so a plan stats
only the directories it knows and lists again just those whose time (or inode)
changed, plus new ones below them. The rest of the rows come from the
inventory: a Parquet file and a JSON manifest per asset, in ``inventory/``
beside the state store (see :mod:`.snapshot`). Its rows are per directory and
key; when no directory changed and no key has two rows (a file per partition,
the usual case) they are the observation itself and land without a merge.

What a directory's time does not show is a file rewritten in place. Two things
cover it: an asset's files are listed in full again after any run of its action
(its own work may rewrite files in place) and at least every ``observe.relist``
(one hour by default; ``--relist`` forces it, ``relist: 0s`` turns the inventory
off), and on every plan while a run holds a lease on the asset. A hand edit of an existing file is therefore seen within that period.

A directory changed within the last two seconds of a listing is not trusted
next time (its time may not yet show a change made in the same tick), and the
inventory is rewritten whole and atomically, so a reader never sees half of it.
Anything unreadable or from another template is simply listed again.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .base import key_columns, quote_ident, sql_literal
from .snapshot import HeldRows, Snapshot

#: a directory changed this close to its listing is listed again next time (seconds)
RACY_S = 2.0

DirStamp = tuple[int, int]  # (mtime in ns, inode); mtime -1: list again next time


@dataclass(frozen=True)
class InventoryPolicy:
    """Where inventories live and when a full listing is due."""

    directory: Path
    relist_s: float            # a full listing at least this often; 0: no inventory
    force: bool = False        # list every file now (``--relist``)
    #: the workspace's kept observations read in place (see :class:`~.snapshot.HeldRows`); None copies them
    held: HeldRows | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Marks:
    """What setpoint's own work did to an asset: the newest run's number, and whether any run holds a lease."""

    last_run: int = 0
    busy: bool = False


@dataclass
class Manifest:
    template: str
    base: str
    listed_at: float           # wall clock of the last full listing
    marks: Marks
    generation: str
    dirs: dict[str, DirStamp]
    rows: int = 0
    unique: bool = False       # no key in two rows: the rows are the observation as they are

    def to_doc(self) -> dict:
        return {"template": self.template, "base": self.base, "listed_at": self.listed_at,
                "last_run": self.marks.last_run, "busy": self.marks.busy, "rows": self.rows,
                "unique": self.unique, "dirs": self.dirs}

    @staticmethod
    def from_doc(doc: dict) -> Manifest | None:
        try:
            return Manifest(str(doc["template"]), str(doc["base"]), float(doc["listed_at"]),
                            Marks(int(doc["last_run"]), bool(doc["busy"])), str(doc["generation"]),
                            {str(k): (int(v[0]), int(v[1])) for k, v in doc["dirs"].items()}, int(doc["rows"]),
                            doc["unique"] is True)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None


def stamp(mtime_ns: int, ino: int, started_ns: int) -> DirStamp:
    """A directory's stamp; one changed within RACY_S of the listing is marked to be listed again."""
    return (-1 if mtime_ns >= started_ns - int(RACY_S * 1e9) else mtime_ns, ino)


def _join(rel_dir: str, name: str) -> str:
    return f"{rel_dir}/{name}" if rel_dir else name


def dir_stat(base: Path, rel_dir: str) -> os.stat_result | None:
    """A directory's own stat: the base is followed if it is a link (as ``find -H``), a directory below it
    must be a real directory (a link to one is not entered, as by find); None if there is none."""
    try:
        st = os.stat(base) if not rel_dir else os.lstat(base / rel_dir)
    except OSError:
        return None
    return st if stat.S_ISDIR(st.st_mode) else None


def scan(base: Path, rel_dir: str, started_ns: int, files: list[tuple[str, float | None]],
         dirs: dict[str, DirStamp], known: dict[str, DirStamp]) -> None:
    """List one directory (files directly in it), and every subdirectory the inventory does not know.
    A directory that cannot be read is skipped, as find skips it, and listed again next time."""
    path = base / rel_dir if rel_dir else base
    st = dir_stat(base, rel_dir)
    if st is None:
        return
    try:
        entries = list(os.scandir(path))
    except OSError:
        dirs[rel_dir] = (-1, st.st_ino)
        return
    dirs[rel_dir] = stamp(st.st_mtime_ns, st.st_ino, started_ns)
    for entry in entries:
        rel = _join(rel_dir, entry.name)
        try:
            if entry.is_dir(follow_symlinks=False):
                if rel not in known:
                    scan(base, rel, started_ns, files, dirs, known)
            elif entry.is_file():  # a link to a file counts, with its own time as find gives it
                files.append((rel, entry.stat(follow_symlinks=False).st_mtime))
        except OSError:  # gone while we looked
            continue


def changes(base: Path, manifest: Manifest, started_ns: int) -> tuple[set[str], list[tuple[str, float | None]],
                                                                      dict[str, DirStamp]]:
    """Directories whose rows must go (changed or gone), the files listed again, and the new stamps."""
    stale: set[str] = set()
    files: list[tuple[str, float | None]] = []
    dirs: dict[str, DirStamp] = {}
    changed = []
    for rel_dir, (mtime, ino) in manifest.dirs.items():
        st = dir_stat(base, rel_dir)
        if st is None:
            stale.add(rel_dir)
            continue
        if mtime < 0 or st.st_mtime_ns != mtime or st.st_ino != ino:
            stale.add(rel_dir)
            changed.append(rel_dir)
        else:
            dirs[rel_dir] = (mtime, ino)
    known = {d: s for d, s in manifest.dirs.items() if d not in stale or d in changed}
    gone = stale - set(changed)
    for rel_dir in changed:
        scan(base, rel_dir, started_ns, files, dirs, {d: s for d, s in known.items() if d not in gone})
    return stale, files, dirs


class Inventory:
    """One asset's inventory: rows of (_dir, key columns…, updated_at), one per directory and key, kept as a
    :class:`~.snapshot.Snapshot` whose manifest also holds the directories' stamps."""

    def __init__(self, policy: InventoryPolicy, asset_name: str, template: str, base: Path, marks: Marks) -> None:
        self.policy = policy
        self.template = template  # with everything else that decides what a path means (see files.py)
        self.base = base
        self.marks = marks
        self.snapshot = Snapshot(policy.directory, asset_name, "files", policy.held)

    def usable(self, wall: float) -> Manifest | None:
        """The manifest, if the rows it describes may stand in for a listing now."""
        if self.policy.force or self.policy.relist_s <= 0:
            return None
        doc = self.snapshot.read()
        m = Manifest.from_doc(doc) if doc is not None else None
        if m is None or m.template != self.template or m.base != str(self.base):
            return None
        if not 0 <= wall - m.listed_at < self.policy.relist_s:
            return None
        if m.marks.busy or self.marks.busy or m.marks.last_run != self.marks.last_run:
            return None  # setpoint's own runs may have rewritten files in place
        return m

    def observed(self, con: duckdb.DuckDBPyConnection, target: str, manifest: Manifest, cols: str) -> bool:
        """Nothing changed and each key has one row: fill ``target`` straight from the rows; False, with
        ``target`` left empty, if they cannot be read or are not the manifest's."""
        return self.snapshot.fill(con, target, f"{cols}, updated_at", manifest.generation, manifest.rows)

    def load(self, con: duckdb.DuckDBPyConnection, staging: str, manifest: Manifest, drop: Iterable[str],
             cols: str) -> bool:
        """Fill ``staging`` with the inventory's rows, less those of ``drop`` directories; False, with
        ``staging`` left empty, if they cannot be read or are not the manifest's."""
        rows = sql_literal(str(self.snapshot.rows_path(manifest.generation)))
        try:
            con.execute(f"INSERT INTO {staging} SELECT _dir, {cols}, updated_at FROM read_parquet({rows})")
            if con.execute(f"SELECT count(*) FROM {staging}").fetchone()[0] == manifest.rows:
                gone = sorted(d for d in drop if _encodable(d))  # a name that is not UTF-8 holds no partition
                if gone:
                    con.execute(f"DELETE FROM {staging} WHERE _dir IN (SELECT unnest(CAST(? AS VARCHAR[])))", [gone])
                return True
        except duckdb.Error:
            pass
        con.execute(f"DELETE FROM {staging}")
        return False

    def save(self, con: duckdb.DuckDBPyConnection, staging: str, dirs: dict[str, DirStamp], listed_at: float,
             unique: bool) -> str:
        """Write the rows and the manifest (see :mod:`.snapshot`); ``unique``: no key is in two rows. The
        generation written, or "" if it could not be."""
        rows = con.execute(f"SELECT count(*) FROM {staging}").fetchone()[0]
        manifest = Manifest(self.template, str(self.base), listed_at, self.marks, "", dirs, rows, unique)
        return self.snapshot.write(con, f"SELECT * FROM {staging}", manifest.to_doc())


def _encodable(name: str) -> bool:
    try:
        name.encode()
        return True
    except UnicodeEncodeError:
        return False


def staging_table(con: duckdb.DuckDBPyConnection, name: str, asset) -> None:
    """The table a listing lands in before its rows are merged per partition: the directory, the key, the time."""
    coldefs = ", ".join(f"{quote_ident(c)} VARCHAR" for c in key_columns(asset))
    con.execute(f"CREATE TABLE {name} (_dir VARCHAR, {coldefs}, updated_at TIMESTAMP)")


def wall_clock() -> tuple[float, int]:
    """Now, as the file system's clock says it (not the plan's ``now``, which tests may set)."""
    ns = time.time_ns()
    return ns / 1e9, ns
