"""Rows one plan keeps for the next (setpoint.adapters.snapshot): written whole or not at all."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb
import pytest

from setpoint.adapters.snapshot import HeldRows, Snapshot


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


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="rows are copied where a descriptor has no path")
def test_rows_read_in_place_outlive_their_name_until_let_go(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE o AS SELECT 'x' || i AS k, TIMESTAMP '2024-03-01' AS updated_at FROM range(3) t(i)")
    held = HeldRows()
    snap = Snapshot(tmp_path, "csv", "table", held)
    assert snap.write(con, "SELECT * FROM o", {"rows": 3})
    first = snap.read()["generation"]
    con.execute("CREATE TABLE t (k VARCHAR, updated_at TIMESTAMP)")
    assert not snap.fill(con, "t", "k, updated_at", first, 2)  # not the rows its manifest says
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 0 and held.views == set()
    assert snap.fill(con, "t", "k, updated_at", first, 3) and held.views == {"t"}
    assert snap.write(con, "SELECT * FROM o LIMIT 1", {"rows": 1})  # a newer writer removes the first file
    assert not snap.rows_path(first).exists()
    assert con.execute("SELECT count(*), min(k) FROM t").fetchone() == (3, "x0")
    names = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd") if _readable(fd)]
    assert any(name.startswith(str(snap.rows_path(first))) for name in names)
    con.execute("DROP VIEW t")
    held.close()
    names = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd") if _readable(fd)]
    assert not any(name.startswith(str(tmp_path)) for name in names)


def _readable(fd: str) -> bool:
    try:
        os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False
    return True
