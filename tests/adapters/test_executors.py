"""Executors against the real thing: a DuckDB file, real subprocesses, a real module on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from setpoint.adapters.execute import Context, RunRequest, executor_for
from setpoint.project.loader import load_project

from ..conftest import ProjectDir

#: a value that would do harm if it were ever spliced into SQL or a shell string
EVIL = "'; DROP TABLE results; --"
SHELLISH = 'a b $(touch pwned) "quoted" \'single\' `id`'


def run(project: ProjectDir, asset: str, units: list[dict[str, str]], partitions: list[dict[str, str]] | None = None,
        run_id: str = "r-1"):
    p = load_project(project.root)
    context = Context(p, project.root / ".setpoint" / "logs")
    request = RunRequest(run_id, p.assets[asset], tuple(units), tuple(partitions or units), 1)
    try:
        return executor_for(p.assets[asset], context).run(request)
    finally:
        context.close()


def sql_asset(project: ProjectDir, sql: str, values: str = "[a, b]", extra: str = "") -> None:
    body = "\n".join("    " + line for line in sql.strip().splitlines())
    project.write("assets/t.yaml", f"name: t\ntable: t\npartitions:\n  name: {values}\n{extra}action:\n  sql: |\n{body}\n")


def test_sql_binds_partition_values_as_data(project: ProjectDir) -> None:
    project.sql("CREATE TABLE results (x INT); INSERT INTO results VALUES (1)")
    project.sql("CREATE TABLE t (name VARCHAR)")
    sql_asset(project, "DELETE FROM t WHERE name = $name; INSERT INTO t VALUES ($name)", values="[x]")
    outcome = run(project, "t", [{"name": EVIL}])
    assert outcome.ok, outcome.error
    assert project.sql("SELECT name FROM t") == [(EVIL,)]
    assert project.sql("SELECT count(*) FROM results") == [(1,)]  # still there


def test_sql_failure_rolls_back_every_statement(project: ProjectDir) -> None:
    project.sql("CREATE TABLE t (name VARCHAR, n INT); INSERT INTO t VALUES ('a', 1), ('a', 2)")
    sql_asset(project, """
        DELETE FROM t WHERE name = $name;
        INSERT INTO t VALUES ($name, 10);
        INSERT INTO t VALUES ($name, CAST('not a number' AS INT));
    """)
    outcome = run(project, "t", [{"name": "a"}])
    assert not outcome.ok
    assert outcome.error.startswith("statement 3 of 3: Conversion Error: Could not convert string 'not a number'")
    assert project.sql("SELECT n FROM t ORDER BY n") == [(1,), (2,)]  # the old data, never half of the new


def test_sql_reads_files_relative_to_the_project(project: ProjectDir, tmp_path: Path, monkeypatch) -> None:
    project.write("data/a.csv", "n\n7\n")
    monkeypatch.chdir(tmp_path)  # not the project directory
    sql_asset(project, "CREATE OR REPLACE TABLE t AS SELECT $name AS name, n FROM read_csv('data/' || $name || '.csv')")
    assert run(project, "t", [{"name": "a"}]).ok
    assert project.sql("SELECT name, n FROM t") == [("a", 7)]


def test_a_batched_sql_run_gets_the_range_and_the_list(project: ProjectDir) -> None:
    project.write("assets/t.yaml", """
        name: t
        table: t
        partitions:
          day:
            daily: {start: 2024-03-01, end: 2024-03-10}
        action:
          batch: {max: 5}
          sql: CREATE OR REPLACE TABLE t AS SELECT $day_from AS first, $day_to AS last, $day_values AS days
    """)
    days = [{"day": f"2024-03-0{d}"} for d in (2, 3, 4)]
    assert run(project, "t", days).ok
    assert project.sql("SELECT * FROM t") == [("2024-03-02", "2024-03-04", ["2024-03-02", "2024-03-03", "2024-03-04"])]


def test_sql_timeout_interrupts_and_rolls_back(project: ProjectDir) -> None:
    project.sql("CREATE TABLE t (n BIGINT); INSERT INTO t VALUES (1)")
    sql_asset(project, """
        DELETE FROM t;
        INSERT INTO t SELECT count(*) FROM range(1000000000000) a, range(1000) b;
    """, extra="", values="[a]")
    text = (project.root / "assets/t.yaml").read_text().replace("action:\n", "action:\n  timeout: 1s\n")
    (project.root / "assets/t.yaml").write_text(text)
    outcome = run(project, "t", [{"name": "a"}])
    assert (outcome.ok, outcome.error) == (False, "timed out after 1 s; rolled back")
    assert project.sql("SELECT n FROM t") == [(1,)]


SHOW = ["python3", "-c", "import json, os, sys; print(json.dumps({'argv': sys.argv[1:], "
        "'env': {k: v for k, v in os.environ.items() if k.startswith('SETPOINT_')}}))"]


def shell_asset(project: ProjectDir, argv: list[str], extra: str = "") -> None:
    project.write("assets/s.yaml", f"""
        name: s
        files: out/{{name}}.txt
        partitions:
          name: {json.dumps([SHELLISH, "plain"])}
        action:
          shell: {json.dumps(argv)}
        {extra}
    """)


def test_shell_values_arrive_whole_in_argv_and_environment(project: ProjectDir) -> None:
    shell_asset(project, [*SHOW, "--name", "{name}", "literal {{name}} {{braces}} {1}"])
    outcome = run(project, "s", [{"name": SHELLISH}])
    assert outcome.ok, outcome.error
    seen = json.loads(outcome.stdout_tail)
    assert seen["argv"] == ["--name", SHELLISH, "literal {name} {braces} {1}"]
    assert seen["env"]["SETPOINT_NAME"] == SHELLISH
    assert seen["env"]["SETPOINT_NAME_VALUES"] == SHELLISH
    assert json.loads(seen["env"]["SETPOINT_PARTITIONS"]) == [{"name": SHELLISH}]
    assert seen["env"]["SETPOINT_ASSET"] == "s" and seen["env"]["SETPOINT_RUN_ID"] == "r-1"
    assert not (project.root / "pwned").exists()
    assert (project.root / ".setpoint/logs/r-1.out").read_text() == outcome.stdout_tail


def test_a_values_placeholder_becomes_one_argv_item_per_value(project: ProjectDir) -> None:
    project.write("assets/s.yaml", f"""
        name: s
        files: out/{{day}}.txt
        partitions:
          day:
            daily: {{start: 2024-03-01, end: 2024-03-05}}
        action:
          batch: {{max: 5}}
          shell: {json.dumps([*SHOW, "{day_from}", "{day_values}", "{day_to}"])}
    """)
    outcome = run(project, "s", [{"day": "2024-03-01"}, {"day": "2024-03-02"}])
    seen = json.loads(outcome.stdout_tail)
    assert seen["argv"] == ["2024-03-01", "2024-03-01", "2024-03-02", "2024-03-02"]
    assert seen["env"]["SETPOINT_DAY_VALUES"] == "2024-03-01\n2024-03-02"
    assert "SETPOINT_DAY" not in seen["env"]


def test_shell_failure_records_exit_code_and_the_tail_of_its_output(project: ProjectDir) -> None:
    shell_asset(project, ["sh", "-c", "echo working; echo 'first problem' >&2; echo 'disk full' >&2; exit 7"])
    outcome = run(project, "s", [{"name": "plain"}])
    assert (outcome.ok, outcome.exit_code, outcome.error) == (False, 7, "exit 7: disk full")
    assert (outcome.stdout_tail, outcome.stderr_tail) == ("working\n", "first problem\ndisk full\n")


def test_shell_command_not_found(project: ProjectDir) -> None:
    shell_asset(project, ["no-such-program-here"])
    outcome = run(project, "s", [{"name": "plain"}])
    assert (outcome.ok, outcome.error) == (False, "cannot start 'no-such-program-here': No such file or directory")


def test_shell_timeout_kills_the_command_and_its_children(project: ProjectDir) -> None:
    shell_asset(project, ["sh", "-c", "sleep 30 & sleep 30"])
    text = (project.root / "assets/s.yaml").read_text().replace("action:\n", "action:\n  timeout: 1s\n")
    (project.root / "assets/s.yaml").write_text(text)
    outcome = run(project, "s", [{"name": "plain"}])
    assert (outcome.ok, outcome.error) == (False, "timed out after 1 s and was killed")


def test_python_callable_gets_its_partitions_and_a_transaction(project: ProjectDir) -> None:
    project.write("jobs/build.py", """
        def make(con, partitions):
            con.execute("CREATE TABLE IF NOT EXISTS t (name VARCHAR)")
            for p in partitions:
                con.execute("INSERT INTO t VALUES (?)", [p["name"]])
            if any(p["name"] == "boom" for p in partitions):
                raise RuntimeError("upstream API said no")
    """)
    project.write("assets/t.yaml", """
        name: t
        table: t
        partitions:
          name: [a, boom]
        action:
          python: jobs.build:make
    """)
    assert run(project, "t", [{"name": EVIL}]).ok
    failed = run(project, "t", [{"name": "boom"}], run_id="r-2")
    assert (failed.ok, failed.error) == (False, "RuntimeError: upstream API said no")
    assert "Traceback" in failed.stderr_tail
    assert project.sql("SELECT name FROM t") == [(EVIL,)]  # the failed call was rolled back


def test_python_module_that_fails_to_import_fails_the_run(project: ProjectDir) -> None:
    project.write("jobs/bad.py", "raise RuntimeError('no credentials in the environment')\ndef make(p): pass\n")
    project.write("assets/t.yaml", "name: t\ntable: t\naction:\n  python: jobs.bad:make\n")
    outcome = run(project, "t", [{}])
    assert (outcome.ok, outcome.error) == (
        False, "cannot load jobs.bad:make: RuntimeError: no credentials in the environment")


def test_python_sys_exit_fails_the_run_not_setpoint(project: ProjectDir) -> None:
    project.write("jobs/quit.py", "import sys\ndef make(partitions):\n    sys.exit(3)\n")
    project.write("assets/t.yaml", "name: t\ntable: t\naction:\n  python: jobs.quit:make\n")
    assert (run(project, "t", [{}]).ok, run(project, "t", [{}]).error) == (False, "SystemExit: 3")


def test_python_parameters_with_defaults_are_not_filled(project: ProjectDir) -> None:
    project.write("jobs/opt.py", """
        SEEN = []
        def make(partitions, verbose=False):
            SEEN.append((partitions, verbose))
    """)
    project.write("assets/t.yaml", "name: t\ntable: t\npartitions:\n  k: [a]\naction:\n  python: jobs.opt:make\n")
    assert run(project, "t", [{"k": "a"}]).ok


def test_each_sql_run_has_a_session_of_its_own(project: ProjectDir) -> None:
    project.sql("CREATE TABLE t (name VARCHAR)")
    sql_asset(project, "CREATE TEMP TABLE staging AS SELECT $name AS name; INSERT INTO t SELECT * FROM staging")
    p = load_project(project.root)
    context = Context(p, project.root / "logs")
    try:
        for i, name in enumerate(["a", "b"]):
            request = RunRequest(f"r-{i}", p.assets["t"], ({"name": name},), ({"name": name},), 1)
            outcome = executor_for(p.assets["t"], context).run(request)
            assert outcome.ok, outcome.error
    finally:
        context.close()
    assert project.sql("SELECT name FROM t ORDER BY 1") == [("a",), ("b",)]


@pytest.mark.parametrize("kind", ["sql", "shell", "python"])
def test_every_kind_has_an_executor(project: ProjectDir, kind: str) -> None:
    definition = {"sql": "select 1", "shell": '["true"]', "python": "json:dumps"}[kind]
    project.write("assets/t.yaml", f"name: t\ntable: t\naction:\n  {kind}: {definition}\n")
    p = load_project(project.root)
    assert hasattr(executor_for(p.assets["t"], Context(p, project.root / "logs")), "run")


def test_the_gate_runs_the_command_only_once_its_process_is_on_record(tmp_path: Path) -> None:
    """An apply notes the work's pid, then says go; killed before that, the pipe closes and nothing runs."""
    import subprocess

    from setpoint.adapters.shell import GATE

    for say, code, ran in ((b"go\n", 0, True), (b"", 75, False)):
        marker = tmp_path / "ran"
        marker.unlink(missing_ok=True)
        proc = subprocess.Popen(["sh", "-c", GATE, "setpoint-gate", "touch", str(marker)], stdin=subprocess.PIPE)
        proc.stdin.write(say)
        proc.stdin.close()
        assert (proc.wait(timeout=10), marker.exists()) == (code, ran)


def test_an_applied_shell_command_that_does_not_exist_says_so(project: ProjectDir) -> None:
    from datetime import datetime, timezone

    from setpoint.apply import apply

    shell_asset(project, ["no-such-program-here"], "  max_attempts: 1")  # no retries after backoffs to wait for
    result = apply(project.root, now=datetime(2024, 4, 1, tzinfo=timezone.utc))
    assert result.runs[0].outcome.error == "cannot start 'no-such-program-here': No such file or directory"
