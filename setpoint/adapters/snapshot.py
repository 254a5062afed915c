"""Rows one plan keeps for the next: what it observed of an asset, so that an unchanged asset costs
almost nothing to observe again.

Each asset has a JSON manifest, ``<asset>.json``, and the rows it describes
in a Parquet file named after a random generation, ``<asset>.<generation>.parquet``,
both in ``inventory/`` beside the state store. A writer writes a new rows
file, then replaces the manifest atomically, then removes the asset's other
rows files. A reader reads the manifest and then the file it names: it either
gets the rows of that manifest or no file at all (a newer writer removed it),
never the rows of another one. What to do with the rows, and when they may
stand in for an observation, is the observer's business (``inventory.py``
for files, ``duckdb_table.py`` for tables). Anything unreadable, of another
format or of another kind is ignored: the asset is observed in full and the
snapshot written again. Deleting the directory is always safe.

A workspace reads a kept observation where it lies rather than copying it
(:class:`HeldRows`): it holds the file open, so that a newer writer removing
it mid-plan takes nothing away from a reader that already has it.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
import weakref
from pathlib import Path
from typing import Any

import duckdb

from .base import sql_literal

#: bumped when the layout changes; a snapshot of another format is not used
FORMAT = 3

_GENERATION = re.compile(r"[0-9a-f]{32}")


#: where a process reads a file it holds open by its descriptor (Linux); elsewhere rows are copied
_OPEN_FILES = Path("/proc/self/fd")


class HeldRows:
    """Rows files one workspace reads in place, each held open until :meth:`close`.

    Copying a kept observation into the workspace costs ~13 ms at 365,000 rows
    and is the bulk of observing an unchanged asset; a view over the file costs
    nothing until it is read, and most plans read it once or never. The name
    of the file may be removed by a newer writer at any moment, so the view
    reads the file through the descriptor held here, which outlives its name.
    Where the system cannot name a descriptor as a path, nothing is held and
    the rows are copied. The views made are in :attr:`views`.
    """

    def __init__(self) -> None:
        self._fds: list[int] = []
        self.views: set[str] = set()  # the targets made views of a held file
        self._closer = weakref.finalize(self, _close_all, self._fds)  # (a workspace never closed, too)

    def open(self, path: Path) -> str | None:
        """A path DuckDB reads the file by as long as it is held; None if it cannot be held."""
        if not _OPEN_FILES.is_dir() or len(self._fds) >= 256:  # (a project of many assets copies the rest)
            return None
        try:
            fd = os.open(path, os.O_RDONLY)  # (not inherited by the processes actions start)
        except OSError:
            return None
        self._fds.append(fd)
        return str(_OPEN_FILES / str(fd))

    def close(self) -> None:
        """Let go of every file (after the views over them are dropped)."""
        self._closer()


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
    fds.clear()


class Snapshot:
    """One asset's kept rows and their manifest (asset names are ``[a-z][a-z0-9_]*``, so names cannot clash)."""

    def __init__(self, directory: Path, asset_name: str, kind: str, held: HeldRows | None = None) -> None:
        self.directory = directory
        self.asset_name = asset_name
        self.kind = kind  # "files" or "table": an asset that moved from one to the other starts afresh
        self.manifest_path = directory / f"{asset_name}.json"
        self.held = held  # with it, :meth:`fill` makes the target a view of the rows file

    def rows_path(self, generation: str) -> Path:
        return self.directory / f"{self.asset_name}.{generation}.parquet"

    def read(self) -> dict[str, Any] | None:
        """The manifest, if it is of this format and kind and names a generation; None otherwise."""
        try:
            doc = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("kind") != self.kind:
            return None
        generation = doc.get("generation")
        if not isinstance(generation, str) or not _GENERATION.fullmatch(generation):
            return None
        return doc

    def fill(self, con: duckdb.DuckDBPyConnection, target: str, cols: str, generation: str, rows: int) -> bool:
        """Fill the table ``target`` with the columns ``cols`` of the rows of ``generation``, or make it a
        view of them held open (see :class:`HeldRows`); False, with ``target`` left an empty table, if they
        cannot be read or are not the ``rows`` its manifest says."""
        held = self.held.open(self.rows_path(generation)) if self.held is not None else None
        if held is not None:
            try:  # (a Parquet file's row count is in its footer: nothing is scanned)
                if con.execute(f"SELECT count(*) FROM read_parquet({sql_literal(held)})").fetchone()[0] == rows:
                    con.execute(f"DROP TABLE {target}; CREATE VIEW {target} AS SELECT {cols} "
                                f"FROM read_parquet({sql_literal(held)})")
                    self.held.views.add(target)
                    return True
            except duckdb.Error:
                pass
            return False
        path = sql_literal(str(self.rows_path(generation)))
        try:
            # (``target`` is empty before: the rows inserted are its rows)
            if con.execute(f"INSERT INTO {target} SELECT {cols} FROM read_parquet({path})").fetchone()[0] == rows:
                return True
        except duckdb.Error:
            pass
        con.execute(f"DELETE FROM {target}")
        return False

    def write(self, con: duckdb.DuckDBPyConnection, select: str, doc: dict[str, Any]) -> str:
        """Write the rows ``select`` returns and a manifest holding ``doc``; the generation written, or ""
        if it could not be done (a read-only project observes in full every time: nothing is lost)."""
        generation = uuid.uuid4().hex
        rows = self.rows_path(generation)
        full = {**doc, "format": FORMAT, "kind": self.kind, "generation": generation}
        tmp_rows = rows.with_name(f".{rows.name}.{os.getpid()}.tmp")
        tmp_manifest = self.manifest_path.with_name(f".{self.manifest_path.name}.{generation}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            con.execute(f"COPY ({select}) TO {sql_literal(str(tmp_rows))} (FORMAT parquet)")
            os.replace(tmp_rows, rows)
            tmp_manifest.write_text(json.dumps(full, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp_manifest, self.manifest_path)
        except (OSError, duckdb.Error):
            for path in (tmp_rows, tmp_manifest, rows):
                _remove(path)
            return ""
        self._remove_others(generation)
        return generation

    def _remove_others(self, generation: str) -> None:
        """Remove this asset's rows files of other generations (and the one file of format 2), and what a
        writer killed an hour ago or more left half-written."""
        legacy = self.directory / f"{self.asset_name}.parquet"
        _remove(legacy)
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        prefix = f"{self.asset_name}."
        for name in names:
            if name.startswith(prefix) and name.endswith(".parquet"):
                middle = name[len(prefix):-len(".parquet")]
                if middle != generation and _GENERATION.fullmatch(middle):
                    _remove(self.directory / name)
            elif name.startswith(f".{prefix}") and name.endswith(".tmp"):
                try:
                    if time.time() - (self.directory / name).stat().st_mtime >= 3600:
                        _remove(self.directory / name)
                except OSError:
                    pass


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
