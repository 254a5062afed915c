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


def test_a_busy_state_store_does_not_fail_a_dry_run(quickstart: Path) -> None:
    """Another process holds the store: the plan is still made, with a warning."""
    import subprocess
    import sys

    from setpoint import plan

    store = quickstart / ".setpoint" / "state.duckdb"
    StateStore(store).close()
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time\n"
                               f"c = duckdb.connect({str(store)!r}); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        p = plan(quickstart)
        assert p.summary["daily_totals"]["missing"] == 14
        assert len(p.warnings) == 2
        assert p.warnings[0].startswith("the run record .setpoint/state.duckdb could not be read (")
        assert p.warnings[0].endswith("); failed attempts and action versions are not counted")
        assert p.warnings[1].startswith("observations were not recorded: cannot open the state store")
    finally:
        holder.kill()
        holder.wait()


def test_a_state_store_that_cannot_be_created(quickstart: Path) -> None:
    with pytest.raises(ObserveError, match="cannot create the state store /proc/nope/state.duckdb"):
        StateStore(Path("/proc/nope/state.duckdb"))
