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


def test_a_version_1_store_keeps_its_observations_and_gains_the_run_record(tmp_path: Path) -> None:
    from setpoint.state.store import MIGRATIONS

    path = tmp_path / "state.duckdb"
    con = duckdb.connect(str(path))
    for statement in MIGRATIONS[0]:
        con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("INSERT INTO observations VALUES (TIMESTAMP '2024-03-01 10:00', 'csv', 'files x', 5, NULL)")
    con.close()
    with StateStore(path) as store:
        assert store.version == SCHEMA_VERSION == 2
        assert store.last_observed() == {"csv": 5}
        run = store.start_run("csv", "shell", "csv[a]", ["a"], "v1", 1)
        assert run == "r-1" and [r.outcome for r in store.runs()] == ["running"]


def test_the_ledger_counts_failures_until_a_success(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.duckdb") as store:
        store.record_failure("csv", [("a", ["a"]), ("b", ["b"])], "r-1", "exit 3: refused", "v1")
        store.record_failure("csv", [("a", ["a"])], "r-2", "exit 3: refused again", "v1")
        assert store.attempts("csv", ["a", "b", "c"]) == {"a": 2, "b": 1}
        assert store.attempts("csv", ["a", "b"], "v2") == {}  # a changed action starts afresh
        store.record_failure("csv", [("b", ["b"])], "r-3", "exit 3: refused by v2", "v2")
        assert store.attempts("csv", ["a", "b"], "v2") == {"b": 1}
        store.record_built("csv", [("a", ["a"])], "v2", "r-3")
        assert store.attempts("csv", ["a", "b"]) == {"a": 2, "b": 1}  # until it is seen present
        store.clear_failures("csv", ["a", "b"])
        assert store.attempts("csv", ["a", "b"]) == {}
        assert store.con.execute("SELECT key, version, built_by, last_error FROM ledger ORDER BY key").fetchall() == [
            ("a", "v2", "r-3", None), ("b", None, None, None)]


def test_runs_and_events_read_back_newest_last(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.duckdb") as store:
        ids = [store.start_run("t", "sql", f"t[{i}]", [str(i)], "v", 1) for i in range(12)]
        store.finish_run(ids[-1], "failed", exit_code=None, error="Conversion Error: x")
        assert [r.id for r in store.runs(limit=3)] == ["r-10", "r-11", "r-12"]
        assert store.runs(asset="other") == []
        last = store.events(limit=2)
        assert [(e.kind, e.target, e.run_id, e.detail) for e in last] == [
            ("started", "t[11]", "r-12", {"attempt": 1, "partitions": 1}),
            ("failed", "t[11]", "r-12", {"error": "Conversion Error: x"})]
