"""Rows one plan keeps for the next (setpoint.adapters.snapshot): written whole or not at all."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb

from setpoint.adapters.snapshot import Snapshot


def test_a_write_replaces_the_last_and_clears_what_a_killed_writer_left(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE o AS SELECT 'x' AS k, TIMESTAMP '2024-03-01' AS updated_at")
    snap = Snapshot(tmp_path, "csv", "table")
    assert snap.write(con, "SELECT * FROM o", {"rows": 1})
    first = snap.read()["generation"]
    old = tmp_path / ".csv.json.0123.tmp"
    recent = tmp_path / ".csv.0123.parquet.99.tmp"
    other = tmp_path / ".csv_x.json.0123.tmp"  # another asset's
    for path in (old, recent, other):
        path.write_text("half written")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    os.utime(other, (time.time() - 7200, time.time() - 7200))
    assert snap.write(con, "SELECT * FROM o", {"rows": 1})
    second = snap.read()["generation"]
    assert second != first and not snap.rows_path(first).exists() and snap.rows_path(second).exists()
    assert not old.exists() and recent.exists() and other.exists()
    con.execute("CREATE TABLE t (k VARCHAR, updated_at TIMESTAMP)")
    assert snap.fill(con, "t", "k, updated_at", second, 1)
    assert not snap.fill(con, "t", "k, updated_at", first, 1) and con.execute("SELECT count(*) FROM t").fetchone()[0] == 0
