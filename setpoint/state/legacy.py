"""Stores written by setpoint before 0.3 were DuckDB files (schema versions 1 and 2).

Opening one for writing imports every row into a new SQLite store at the same
path, once, and keeps the old file beside it as ``<name>.duckdb-v2.bak``:
nothing recorded is lost, and the import is atomic (the new store replaces the
old file only when it is complete).
"""

from __future__ import annotations

import fcntl
import json
import os
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


def is_duckdb_file(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(12)[8:12] == b"DUCK"
    except (FileNotFoundError, IsADirectoryError):
        return False


def _value(v: object) -> object:
    if isinstance(v, datetime):
        return v.isoformat(sep=" ", timespec="microseconds")
    if isinstance(v, list):
        return json.dumps(v)
    return v


def import_duckdb_store(path: Path, create: Callable[[sqlite3.Connection], None]) -> None:
    """Replace the DuckDB store at ``path`` by a SQLite store holding the same rows."""
    import duckdb

    with open(path.with_name(path.name + ".migrating"), "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # one process imports; the others find it done
        if not is_duckdb_file(path):
            return
        fresh = path.with_name(path.name + ".sqlite-new")
        fresh.unlink(missing_ok=True)
        src = duckdb.connect(str(path), read_only=True)
        dst = sqlite3.connect(fresh, isolation_level=None)
        try:
            dst.execute("BEGIN")
            create(dst)
            have = {r[0] for r in src.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'")
                    .fetchall()}
            for table, (read, write) in _TABLES.items():
                if table in have:
                    dst.executemany(write, ([_value(v) for v in row] for row in src.execute(read).fetchall()))
            dst.execute("COMMIT")
        finally:
            dst.close()
            src.close()
        backup = path.with_name(path.name + ".duckdb-v2.bak")
        os.replace(path, backup)
        wal = path.with_name(path.name + ".wal")
        if wal.exists():
            os.replace(wal, backup.with_name(backup.name + ".wal"))
        os.replace(fresh, path)
