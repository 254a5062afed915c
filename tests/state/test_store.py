from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from setpoint.errors import ObserveError
from setpoint.state import SCHEMA_VERSION, StateStore


def test_a_new_store_is_created_at_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / ".setpoint" / "state.duckdb"
    with StateStore(path) as store:
        assert store.version == SCHEMA_VERSION
        store.record_observations([("csv", "files data/{day}.csv", 3, "")])
    with StateStore(path) as store:
        assert store.con.execute("SELECT asset, present, note FROM observations").fetchall() == [("csv", 3, None)]


def test_an_old_store_migrates_forward(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    duckdb.connect(str(path)).close()  # version 0: an empty file
    with StateStore(path) as store:
        assert store.version == SCHEMA_VERSION


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    with StateStore(path) as store:
        store.con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(ObserveError, match="schema version 999, newer than this setpoint understands"):
        StateStore(path)


def test_plan_records_what_it_observed(quickstart: Path) -> None:
    from setpoint import plan

    plan(quickstart)
    with StateStore(quickstart / ".setpoint" / "state.duckdb", read_only=True) as store:
        rows = store.con.execute("SELECT asset, present FROM observations ORDER BY asset").fetchall()
    assert rows == [("daily_totals", 0), ("events", 14), ("report", 0)]
