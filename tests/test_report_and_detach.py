"""Work that outlives an apply: detached commands, outside jobs that report back, and the cron line.

Real processes throughout: the CLI in subprocesses, detached commands that
sleep, the crontab line run by ``sh``. The machine has no cron daemon, so
``--install`` is tested against a stand-in ``crontab`` script (SETPOINT_CRONTAB)
that keeps the table in a file, as ``crontab -l`` / ``crontab -`` would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from setpoint import controller
from setpoint.report import report
from setpoint.state import StateStore

SETPOINT = [sys.executable, "-m", "setpoint.cli"]

OUTSIDE = """\
- name: model
  reported: true                  # trained on another system, which reports back
  partitions:
    day: &days
      daily: {start: 2024-03-01, end: 2024-03-02}
  action:
    shell: [sh, -c, 'echo "submitted $SETPOINT_DAY" >> submitted.txt']
    detach: report
    timeout: 2h
    backoff: 30m
- name: score
  table: {name: score, updated_at: built_at}
  partitions: {day: *days}
  depends_on: [model]
  action:
    sql: |
      CREATE TABLE IF NOT EXISTS score (day VARCHAR, built_at TIMESTAMP);
      INSERT INTO score SELECT $day, now() AT TIME ZONE 'UTC';
"""


def setpoint(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SETPOINT, *args, "-p", str(root)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def make(root: Path, assets: str) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "setpoint.yaml").write_text(f"name: {root.name}\napply: {{concurrency: 1}}\n")  # runs in order
    (root / "assets" / "all.yaml").write_text(assets)
    return root


def statuses(root: Path) -> dict[str, str]:
    return {s.partition: s.status for s in controller.plan(root, record=False).statuses}


def test_outside_work_is_in_progress_until_it_reports_ok_or_failed(tmp_path: Path) -> None:
    root = make(tmp_path / "outside", OUTSIDE)
    first = setpoint(root, "apply")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "progressing: 2 partitions in progress" in first.stdout
    assert (root / "submitted.txt").read_text().splitlines() == ["submitted 2024-03-01", "submitted 2024-03-02"]
    assert statuses(root) == {"model[2024-03-01]": "in_progress", "model[2024-03-02]": "in_progress",
                              "score[2024-03-01]": "waiting", "score[2024-03-02]": "waiting"}
    again = setpoint(root, "apply")  # the next cron run starts nothing twice
    assert "applied outside: 0 runs" in again.stdout
    ok = setpoint(root, "report", "model[2024-03-01]", "--ok")
    assert (ok.returncode, ok.stdout) == (0, "r-1: model[2024-03-01] succeeded\n")
    failed = report(root, "model[2024-03-02]", failed="GPU quota exceeded")  # the same from Python
    assert (failed.run_id, failed.outcome) == ("r-2", "failed")
    now = statuses(root)
    assert now["score[2024-03-01]"] == "missing" and "model[2024-03-01]" not in now  # satisfied by the report
    assert now["model[2024-03-02]"] == "waiting"  # its retry waits for the backoff
    reason = [s for s in controller.plan(root, record=False).statuses if s.partition == "model[2024-03-02]"][0]
    assert (reason.reasons[0].kind, reason.reasons[0].text) == ("backoff", "GPU quota exceeded")
    built = setpoint(root, "apply")
    assert "applied outside: 1 run (1 succeeded, 0 failed)" in built.stdout
    with StateStore(root / ".setpoint" / "state.db", read_only=True) as store:
        assert [(r.id, r.outcome, r.error) for r in store.runs()][:2] == [
            ("r-1", "succeeded", None), ("r-2", "failed", "GPU quota exceeded")]


def test_a_report_started_holds_the_partition_until_its_time(tmp_path: Path) -> None:
    root = make(tmp_path / "outside", OUTSIDE)
    until = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = setpoint(root, "report", "model[2024-03-01]", "--started", "--until", until)
    assert started.returncode == 0 and started.stdout.startswith("r-1: model[2024-03-01] in progress until ")
    assert statuses(root)["model[2024-03-01]"] == "in_progress"
    twice = setpoint(root, "report", "model[2024-03-01]", "--started")
    assert twice.returncode == 2 and twice.stderr.startswith(
        "error: model[2024-03-01] is in progress already: run r-1, lease until ")
    whole = setpoint(root, "report", "model", "--ok")
    assert (whole.returncode, whole.stderr) == (2, "error: model names an asset; a report is about one partition "
                                                   "(write model[day=…])\n")


DETACHED = """\
- name: slow
  files: out/{day}.csv
  partitions:
    day:
      daily: {start: 2024-03-01, end: 2024-03-01}
  action:
    shell: [sh, -c, 'sleep 1; mkdir -p out; echo x > out/$SETPOINT_DAY.csv']
    detach: true
"""


def test_a_detached_command_runs_past_its_apply_and_the_next_one_records_it(tmp_path: Path) -> None:
    root = make(tmp_path / "detached", DETACHED)
    first = setpoint(root, "apply")
    assert first.returncode == 0 and "1 partition in progress" in first.stdout
    assert "detached r-1 slow[2024-03-01]: runs on in the background" in first.stderr
    assert statuses(root) == {"slow[2024-03-01]": "in_progress"}
    deadline = time.monotonic() + 20
    while not (root / "out" / "2024-03-01.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # the command exits just after writing
    second = setpoint(root, "apply")
    assert second.returncode == 0 and "converged" in second.stdout
    with StateStore(root / ".setpoint" / "state.db", read_only=True) as store:
        (run,) = store.runs()
        assert (run.id, run.outcome) == ("r-1", "succeeded")
        assert [e.kind for e in store.events() if e.run_id == "r-1"][-1] == "ended"


def test_the_printed_crontab_line_runs(tmp_path: Path) -> None:
    root = make(tmp_path / "scheduled", DETACHED.replace("detach: true", "backoff: 0s").replace("sleep 1; ", ""))
    line = setpoint(root, "cron", "--every", "5m").stdout.strip()
    assert line.startswith("*/5 * * * * cd ") and line.endswith(f"# setpoint {root.resolve()}")
    command = line.split(" ", 5)[5].rsplit("  # setpoint ", 1)[0]
    ran = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120, cwd="/")
    assert ran.returncode == 0, ran.stderr
    assert (root / "out" / "2024-03-01.csv").exists()
    assert (root / ".setpoint" / "logs" / "cron.log").read_text() == ""  # --quiet: all went well
    assert "converged" in setpoint(root, "apply").stdout


def test_cron_install_replaces_the_projects_line(tmp_path: Path) -> None:
    table = tmp_path / "crontab.txt"
    fake = tmp_path / "crontab"
    fake.write_text(f"#!/bin/sh\nif [ \"$1\" = -l ]; then cat {table} 2>/dev/null || exit 1; "
                    f"else cat > {table}; fi\n")
    fake.chmod(0o755)
    table.write_text("0 3 * * * backup.sh\n")
    root = make(tmp_path / "scheduled", DETACHED)
    env = {"SETPOINT_CRONTAB": str(fake)}
    first = setpoint(root, "cron", "--install", env=env)
    assert first.returncode == 0 and first.stdout.startswith("added in your crontab: */5 * * * * ")
    second = setpoint(root, "cron", "--install", "--every", "1h", env=env)
    assert second.stdout.startswith("replaced in your crontab: 0 * * * * ")
    lines = table.read_text().splitlines()
    assert lines[0] == "0 3 * * * backup.sh" and len(lines) == 2 and lines[1].startswith("0 * * * * cd ")


def test_run_every_applies_on_a_schedule(tmp_path: Path) -> None:
    root = make(tmp_path / "loop", DETACHED.replace("detach: true", "backoff: 0s").replace("sleep 1; ", ""))
    ran = subprocess.run([*SETPOINT, "run", "-p", str(root), "--every", "1m", "--count", "1", "--quiet"],
                         capture_output=True, text=True, timeout=120)
    assert (ran.returncode, ran.stdout) == (0, "")
    assert (root / "out" / "2024-03-01.csv").exists()


BATCHED = OUTSIDE.replace("    detach: report\n", "    detach: report\n    batch: {max: 3}\n").replace(
    "end: 2024-03-02", "end: 2024-03-03")


def test_a_report_on_one_partition_of_a_batch_leaves_the_others_in_progress(tmp_path: Path) -> None:
    root = make(tmp_path / "outside", BATCHED)
    assert "3 partitions in progress" in setpoint(root, "apply").stdout
    assert setpoint(root, "report", "model[2024-03-01]", "--ok").stdout == "r-1: model[2024-03-01] succeeded\n"
    now = statuses(root)
    assert (now["model[2024-03-02]"], now["model[2024-03-03]"]) == ("in_progress", "in_progress")
    assert "applied outside: 1 run" in setpoint(root, "apply").stdout  # score of day 1 only: nothing resubmitted
    assert (root / "submitted.txt").read_text().count("submitted") == 1
    setpoint(root, "report", "model[2024-03-02]", "--ok")
    setpoint(root, "report", "model[2024-03-03]", "--failed", "node lost")
    with StateStore(root / ".setpoint" / "state.db", read_only=True) as store:
        assert (store.run("r-1").outcome, store.leases()) == ("failed", [])  # over once its last partition is


def test_a_late_report_of_a_run_given_up_changes_nothing(tmp_path: Path) -> None:
    root = make(tmp_path / "outside", OUTSIDE)
    setpoint(root, "apply")
    with StateStore(root / ".setpoint" / "state.db") as store:  # r-1's lease expires, as if its timeout passed
        store.con.execute("UPDATE leases SET deadline = '2000-01-01 00:00:00.000000' WHERE run_id = 'r-1'")
    setpoint(root, "apply")  # gives r-1 up: an attempt counted, a retry after the backoff
    late = setpoint(root, "report", "model[2024-03-01]", "--failed", "r-1 OOM", env={"SETPOINT_RUN_ID": "r-1"})
    assert late.stdout == "ignored: run r-1 no longer holds model[2024-03-01]; nothing changed.\n"
    with StateStore(root / ".setpoint" / "state.db", read_only=True) as store:
        assert store.attempts("model", ["2024-03-01"]) == {"2024-03-01": 1}  # not counted twice
        assert store.run("r-1").error.startswith("its lease expired at ")


def test_a_partition_being_rewritten_holds_back_what_needs_it(tmp_path: Path) -> None:
    """A detached run writes its output in steps: present already, still in progress; its dependent waits."""
    root = make(tmp_path / "steps", """\
- name: a
  files: a.txt
  action:
    shell: [sh, -c, 'echo partial > a.txt; sleep 2; echo rest >> a.txt']
    detach: true
- name: b
  files: b.txt
  depends_on: [a]
  action:
    shell: [sh, -c, 'cp a.txt b.txt']
    backoff: 0s
""")
    first = setpoint(root, "apply")
    assert first.returncode == 0 and not (root / "b.txt").exists()
    assert statuses(root) == {"a": "in_progress", "b": "waiting"}
    time.sleep(2.5)
    assert "converged" in setpoint(root, "apply").stdout
    assert (root / "b.txt").read_text() == "partial\nrest\n"


def test_cron_schedules_only_what_it_repeats_evenly_and_escapes_percent(tmp_path: Path) -> None:
    from setpoint.cron import cron_line, every
    from setpoint.errors import UsageError

    assert [every(t).cron for t in ("1m", "15m", "1h", "6h", "1d")] == [
        "* * * * *", "*/15 * * * *", "0 * * * *", "0 */6 * * *", "0 0 * * *"]
    for bad in ("7m", "90m", "5h", "2d", "soon"):
        try:
            every(bad)
        except UsageError as exc:
            assert exc.problems[0].message == f"cannot schedule every {bad!r} evenly"
        else:
            raise AssertionError(bad)
    line = cron_line(Path("/srv/my 100% project"), every("5m"))
    assert "cd '/srv/my 100\\% project' &&" in line and line.endswith("# setpoint /srv/my 100% project")


def test_a_detached_command_that_fails_after_its_apply_is_reported_by_the_next(tmp_path: Path) -> None:
    root = make(tmp_path / "late", DETACHED.replace(
        "'sleep 1; mkdir -p out; echo x > out/$SETPOINT_DAY.csv'", "'sleep 1; echo vendor down >&2; exit 3'"))
    assert setpoint(root, "apply").returncode == 0  # it runs on
    time.sleep(1.5)
    after = setpoint(root, "apply", "--quiet")
    assert after.returncode == 1
    assert "failed: earlier runs left 1 partition unproduced" in after.stdout
    with StateStore(root / ".setpoint" / "state.db", read_only=True) as store:
        run = store.run("r-1")
        assert (run.outcome, run.exit_code, run.error) == ("failed", 3, "exit 3: vendor down")


def test_an_apply_that_holds_the_lock_too_long_is_a_problem(tmp_path: Path) -> None:
    import fcntl
    import json as jsonlib

    root = make(tmp_path / "stuck", DETACHED)
    lock = root / ".setpoint" / "apply.lock"
    lock.parent.mkdir()
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write(jsonlib.dumps({"pid": 4242, "host": "etl-1", "command": "setpoint apply",
                                  "since": (datetime.now(timezone.utc) - timedelta(hours=7)).isoformat()}))
        held.flush()
        out = setpoint(root, "apply", "--quiet", "--wait", "0")
    assert out.returncode == 1
    assert out.stdout.splitlines()[1] == ("problem: it has held the lock longer than any of its runs may take: "
                                          "it may hang (see `setpoint status`; stop pid 4242 if so).")


def test_status_answers_from_the_last_counts_while_the_warehouse_is_written(tmp_path: Path) -> None:
    from setpoint.status import status

    root = make(tmp_path / "busy", OUTSIDE)
    controller.plan(root)  # records the counts
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, time\n"
                               f"c = duckdb.connect({str(root / 'warehouse.duckdb')!r}); print('held', flush=True); "
                               "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        got = status(root, wait=0.5)
        assert got.summary["model"]["missing"] == 2
        assert got.warnings[0].startswith("the warehouse is busy (") and "the counts are those of " in got.warnings[0]
    finally:
        holder.kill()
        holder.wait()
