from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from setpoint.errors import ObserveError
from setpoint.state import SCHEMA_VERSION, StateStore


def test_a_new_store_is_created_at_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / ".setpoint" / "state.db"
    with StateStore(path) as store:
        assert store.version == SCHEMA_VERSION
        store.record_observations([("csv", "files data/{day}.csv", 3, "")])
    with StateStore(path) as store:
        assert store.con.execute("SELECT asset, present, note FROM observations").fetchall() == [("csv", 3, None)]


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"")
    with StateStore(path) as store:
        assert store.version == SCHEMA_VERSION


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        store.con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(ObserveError, match="schema version 999, newer than this setpoint understands"):
        StateStore(path)


def test_plan_records_what_it_observed(quickstart: Path) -> None:
    from setpoint import plan

    plan(quickstart)
    with StateStore(quickstart / ".setpoint" / "state.db", read_only=True) as store:
        rows = store.con.execute("SELECT asset, present FROM observations ORDER BY asset").fetchall()
    assert rows == [("daily_totals", 0), ("events", 14), ("report", 0)]


def test_a_write_in_progress_does_not_block_readers(quickstart: Path) -> None:
    """Another process is in the middle of a write transaction: plan and history read all the same."""
    import subprocess
    import sys

    from setpoint import history, plan

    store = quickstart / ".setpoint" / "state.db"
    with StateStore(store) as s:
        s.record_failure("daily_totals", [("2024-03-01", ["2024-03-01"])], "r-1", "exit 3: refused", "v0")
    holder = subprocess.Popen([sys.executable, "-c", "import sqlite3, time\n"
                               f"c = sqlite3.connect({str(store)!r}, isolation_level=None)\n"
                               "c.execute('BEGIN IMMEDIATE')\n"
                               "c.execute(\"INSERT INTO events (at, kind) VALUES ('2024-01-01', 'x')\")\n"
                               "print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        p = plan(quickstart, record=False)
        assert p.warnings == []
        assert p.summary["daily_totals"]["missing"] == 14
        assert [e.kind for e in history(quickstart).events] == []  # the uncommitted event is not seen
    finally:
        holder.kill()
        holder.wait()


def test_a_writer_killed_mid_transaction_leaves_what_was_committed(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    path = tmp_path / "state.db"
    with StateStore(path) as store:
        store.start_run("t", "sql", "t[1]", ["1"], "v", 1)
    writer = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                               "from pathlib import Path\nfrom setpoint.state import StateStore\n"
                               f"s = StateStore(Path({str(path)!r}))\n"
                               "s.start_run('t', 'sql', 't[2]', ['2'], 'v', 1)\n"
                               "with s.transaction():\n"
                               "    s.start_run('t', 'sql', 't[3]', ['3'], 'v', 1)\n"
                               "    print('writing', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    with StateStore(path) as store:
        assert [r.label for r in store.runs()] == ["t[1]", "t[2]"]
        assert store.start_run("t", "sql", "t[4]", ["4"], "v", 1) == "r-3"  # the killed run left no trace


def test_a_state_store_that_cannot_be_created(quickstart: Path) -> None:
    with pytest.raises(ObserveError, match="cannot create the state store /proc/nope/state.db"):
        StateStore(Path("/proc/nope/state.db"))


_V2 = [
    "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    "CREATE TABLE observations (observed_at TIMESTAMP NOT NULL, asset VARCHAR NOT NULL, source VARCHAR NOT NULL, "
    "present BIGINT NOT NULL, note VARCHAR)",
    "CREATE TABLE runs (id VARCHAR PRIMARY KEY, asset VARCHAR NOT NULL, kind VARCHAR NOT NULL, label VARCHAR NOT NULL, "
    "partitions VARCHAR[] NOT NULL, action_version VARCHAR NOT NULL, attempt INTEGER NOT NULL, "
    "started_at TIMESTAMP NOT NULL, ended_at TIMESTAMP, outcome VARCHAR NOT NULL, exit_code INTEGER, error VARCHAR, "
    "stdout_tail VARCHAR, stderr_tail VARCHAR)",
    "CREATE TABLE events (seq BIGINT PRIMARY KEY, \"at\" TIMESTAMP NOT NULL, kind VARCHAR NOT NULL, asset VARCHAR, "
    "target VARCHAR, run_id VARCHAR, detail VARCHAR)",
    "CREATE TABLE ledger (asset VARCHAR NOT NULL, key VARCHAR NOT NULL, vals VARCHAR[] NOT NULL, version VARCHAR, "
    "built_by VARCHAR, built_at TIMESTAMP, attempts INTEGER NOT NULL DEFAULT 0, last_error VARCHAR, "
    "last_run VARCHAR, failed_version VARCHAR, PRIMARY KEY (asset, key))",
    "INSERT INTO meta VALUES ('schema_version', '2')",
    "INSERT INTO observations VALUES (TIMESTAMP '2024-03-01 10:00', 'csv', 'files x', 5, NULL)",
    "INSERT INTO runs VALUES ('r-7', 'csv', 'shell', 'csv[a]', ['a'], 'v1', 1, TIMESTAMP '2024-03-01 10:01', "
    "TIMESTAMP '2024-03-01 10:02', 'failed', 3, 'exit 3: refused', NULL, 'refused')",
    "INSERT INTO events VALUES (4, TIMESTAMP '2024-03-01 10:02', 'failed', 'csv', 'csv[a]', 'r-7', '{\"exit_code\": 3}')",
    "INSERT INTO ledger VALUES ('csv', 'a', ['a'], NULL, NULL, NULL, 2, 'exit 3: refused', 'r-7', 'v1')",
]


def test_a_duckdb_store_of_an_older_setpoint_is_converted_with_every_row(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    con = duckdb.connect(str(path))
    for statement in _V2:
        con.execute(statement)
    con.close()
    with StateStore(path) as store:
        assert store.version == SCHEMA_VERSION
        assert store.last_observed() == {"csv": 5}
        (run,) = store.runs()
        assert (run.id, run.partitions, run.outcome, run.stderr_tail) == ("r-7", ("a",), "failed", "refused")
        assert [(e.seq, e.kind, e.detail) for e in store.events()] == [(4, "failed", {"exit_code": 3})]
        assert store.attempts("csv", ["a"], "v1") == {"a": 2}
        assert store.start_run("csv", "shell", "csv[a]", ["a"], "v1", 3) == "r-8"
    assert (tmp_path / "state.duckdb.duckdb-v2.bak").exists()
    with StateStore(path) as store:  # converted once
        assert [r.id for r in store.runs()] == ["r-7", "r-8"]


def test_the_ledger_counts_failures_until_a_success(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.db") as store:
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
    with StateStore(tmp_path / "state.db") as store:
        ids = [store.start_run("t", "sql", f"t[{i}]", [str(i)], "v", 1) for i in range(12)]
        store.finish_run(ids[-1], "failed", exit_code=None, error="Conversion Error: x")
        assert [r.id for r in store.runs(limit=3)] == ["r-10", "r-11", "r-12"]
        assert store.runs(asset="other") == []
        last = store.events(limit=2)
        assert [(e.kind, e.target, e.run_id, e.detail) for e in last] == [
            ("started", "t[11]", "r-12", {"attempt": 1, "partitions": 1}),
            ("failed", "t[11]", "r-12", {"error": "Conversion Error: x"})]


def test_the_old_default_store_is_imported_into_the_new_default_path(quickstart: Path) -> None:
    """A project without `state:` kept its record in .setpoint/state.duckdb before: nothing of it is lost."""
    from setpoint import history

    old = quickstart / ".setpoint" / "state.duckdb"
    old.parent.mkdir(exist_ok=True)
    con = duckdb.connect(str(old))
    for statement in _V2:
        con.execute(statement)
    con.execute("INSERT INTO runs VALUES ('r-8', 'csv', 'shell', 'csv[b]', ['b'], 'v1', 1, "
                "TIMESTAMP '2024-03-01 10:03', NULL, 'running', NULL, NULL, NULL, NULL)")
    con.close()
    record = history(quickstart)  # reading is enough to import it
    assert [(r.id, r.outcome) for r in record.runs] == [("r-7", "failed"), ("r-8", "failed")]
    assert record.runs[1].error == "no longer running: it was running when setpoint was upgraded"
    assert not old.exists() and (quickstart / ".setpoint" / "state.duckdb.duckdb-v2.bak").exists()
    assert (quickstart / ".setpoint" / "state.db").exists()
