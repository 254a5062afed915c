"""Stores written by setpoint before 0.3 were DuckDB files (schema versions 1 and 2).

Opening one imports every row into a new SQLite store, once — at the same
path, or at the new default ``.setpoint/state.db`` when the old default
``.setpoint/state.duckdb`` is there — and keeps the old file as
``<name>.duckdb-v2.bak``: nothing recorded is lost, and the import is atomic
(the new store takes its place only when it is complete).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

#: the tables of a DuckDB store and how their rows become SQLite rows
_TABLES = {
    "observations": ("SELECT observed_at, asset, source, present, note FROM observations ORDER BY rowid",
                     "INSERT INTO observations VALUES (?, ?, ?, ?, ?)"),
    "runs": ("SELECT CAST(substr(id, 3) AS BIGINT), asset, kind, label, partitions, action_version, attempt, "
             "started_at, ended_at, outcome, exit_code, error, stdout_tail, stderr_tail FROM runs",
             "INSERT INTO runs (n, asset, kind, label, partitions, action_version, attempt, started_at, ended_at, "
             "outcome, exit_code, error, stdout_tail, stderr_tail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
    "events": ("SELECT seq, \"at\", kind, asset, target, run_id, detail FROM events ORDER BY seq",
               "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)"),
    "ledger": ("SELECT asset, key, vals, version, built_by, built_at, attempts, last_error, last_run, "
               "failed_version FROM ledger",
               "INSERT INTO ledger (asset, key, vals, version, built_by, built_at, attempts, last_error, last_run, "
               "failed_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
}


#: files this process found to be SQLite stores already. Once SQLite, a store stays SQLite, and it must
#: not be opened again outside SQLite: closing any descriptor of a file drops every POSIX lock the
#: process holds on it, the locks of SQLite's own connections included ("disk I/O error" follows).
_SQLITE: set[str] = set()


def known_sqlite(path: Path) -> None:
    """This process opened ``path`` as a SQLite store: never look into it from outside SQLite again."""
    _SQLITE.add(os.path.abspath(path))


def is_duckdb_file(path: Path) -> bool:
    key = os.path.abspath(path)
    if key in _SQLITE:
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except (FileNotFoundError, IsADirectoryError):
        return False
    if head.startswith(b"SQLite format 3"):
        _SQLITE.add(key)
    return head[8:12] == b"DUCK"


def _value(v: object) -> object:
    if isinstance(v, datetime):
        return v.isoformat(sep=" ", timespec="microseconds")
    if isinstance(v, list):
        return json.dumps(v)
    return v


#: where setpoint kept its store before it was SQLite, beside the default path .setpoint/state.db
LEGACY_NAME = "state.duckdb"


def legacy_source(path: Path) -> Path | None:
    """The DuckDB store to import into ``path``: the file itself, or the old default beside the new one."""
    if is_duckdb_file(path):
        return path
    old = path.with_name(LEGACY_NAME)
    if path.name == "state.db" and not path.exists() and is_duckdb_file(old):
        return old
    return None


def import_duckdb_store(src: Path, dst: Path, create: Callable[[sqlite3.Connection], None]) -> None:
    """Import the DuckDB store ``src`` into a new SQLite store at ``dst`` (which may be the same path).

    The old file is copied to ``<name>.duckdb-v2.bak`` first, and the new store
    takes its place in one rename: whoever opens the store meanwhile finds the
    old file or the new one, never none. Runs the old store left ``running``
    are marked failed, as nothing will finish them now.
    """
    import duckdb

    with open(dst.with_name(dst.name + ".migrating"), "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # one process imports; the others find it done
        if not is_duckdb_file(src) or (src != dst and dst.exists()):
            return
        fresh = dst.with_name(dst.name + ".sqlite-new")
        fresh.unlink(missing_ok=True)
        con = duckdb.connect(str(src), read_only=True)
        out = sqlite3.connect(fresh, isolation_level=None)
        try:
            out.execute("BEGIN")
            create(out)
            have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'")
                    .fetchall()}
            for table, (read, write) in _TABLES.items():
                if table in have:
                    out.executemany(write, ([_value(v) for v in row] for row in con.execute(read).fetchall()))
            out.execute("UPDATE runs SET outcome = 'failed', error = 'no longer running: it was running when setpoint "
                        "was upgraded' WHERE outcome = 'running'")
            out.execute("COMMIT")
        finally:
            out.close()
            con.close()
        backup = src.with_name(src.name + ".duckdb-v2.bak")
        shutil.copy2(src, backup)
        wal = src.with_name(src.name + ".wal")
        if wal.exists():
            shutil.copy2(wal, backup.with_name(backup.name + ".wal"))
        os.replace(fresh, dst)
        if src != dst:
            src.unlink()
        wal.unlink(missing_ok=True)
