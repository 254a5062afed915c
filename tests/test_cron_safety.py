"""Running from cron, with real processes: one apply at a time, leases, SIGKILL, expiry, backoff, retry.

Each test starts ``setpoint apply`` as a subprocess of its own (the installed
CLI, as cron would) on a project of shell actions that sleep, so that a second
process, a kill or a reader can step in while work is under way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from setpoint import controller
from setpoint.project.loader import load_project
from setpoint.state import StateStore

SETPOINT = [sys.executable, "-m", "setpoint.cli"]

#: a day's file is made by a command that sleeps first: long enough to step in while it runs
SLOW = """\
name: a
files: data/{{day}}.csv
partitions:
  day:
    daily: {{start: 2024-03-01, end: 2024-03-0{days}}}
action:
  shell: [sh, -c, 'sleep {sleep}; echo x > data/$SETPOINT_DAY.csv']
  max_attempts: {attempts}
  backoff: {backoff}
"""


def project(root: Path, days: int = 3, sleep: float = 1.0, attempts: int = 3, backoff: str = "0s",
            concurrency: int = 4) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "setpoint.yaml").write_text(f"name: cron\napply: {{concurrency: {concurrency}}}\n")
    (root / "assets" / "a.yaml").write_text(SLOW.format(days=days, sleep=sleep, attempts=attempts, backoff=backoff))
    return root


def start(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([*SETPOINT, "apply", "-p", str(root), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for_run(root: Path, timeout: float = 20.0, process: bool = False) -> None:
    """Until the apply has started a run (its lease is recorded) and, with ``process``, its work process
    is noted on the lease (the moment from which the work is known to outlive its apply)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (root / ".setpoint" / "state.db").exists():
            with StateStore(root / ".setpoint" / "state.db", read_only=True) as store:
                leases = store.leases()
                if leases and (not process or all(x.pid for x in leases)):
                    return
        time.sleep(0.05)
    raise AssertionError("no run started")


def runs(root: Path) -> list:
    with StateStore(root / ".setpoint" / "state.db", read_only=True) as store:
        return store.runs()


def test_two_overlapping_applies_start_no_partition_twice(tmp_path: Path) -> None:
    root = project(tmp_path / "p", days=4, sleep=0.5)
    first = start(root)
    wait_for_run(root)
    second = start(root, "--wait", "0")
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0
    assert out.startswith("skipped cron: another apply holds the lock (pid ")
    assert first.wait(timeout=60) == 0
    again = start(root)
    assert again.wait(timeout=60) == 0
    built = [k for r in runs(root) for k in r.partitions]
    assert sorted(built) == ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"]  # each once


def test_a_second_apply_that_waits_finds_the_work_done(tmp_path: Path) -> None:
    root = project(tmp_path / "p", days=2, sleep=0.5)
    first = start(root)
    wait_for_run(root)
    second = start(root, "--wait", "30")
    out, _ = second.communicate(timeout=60)
    assert first.wait(timeout=60) == 0
    assert second.returncode == 0 and out.startswith("applied cron: 0 runs")
    assert len(runs(root)) == 2


def test_sigkill_mid_action_loses_nothing_and_the_next_apply_converges(tmp_path: Path) -> None:
    """The action goes on in its own process after its apply is killed: it is in progress, not redone;
    once it has ended, the next apply records it as built by that run."""
    root = project(tmp_path / "p", days=1, sleep=2)
    first = start(root)
    wait_for_run(root, process=True)
    first.send_signal(signal.SIGKILL)
    first.wait()
    (lease,) = StateStore(root / ".setpoint" / "state.db", read_only=True).leases()
    status = controller.plan(root, record=False)
    assert [(s.partition, s.status, s.reasons[0].kind) for s in status.statuses] == [
        ("a[2024-03-01]", "in_progress", "leased")]
    meanwhile = subprocess.run([*SETPOINT, "apply", "-p", str(root)], capture_output=True, text=True, timeout=60)
    assert meanwhile.returncode == 0
    assert "applied cron: 0 runs" in meanwhile.stdout and "1 partition in progress" in meanwhile.stdout
    deadline = time.monotonic() + 20
    while not (root / "data" / "2024-03-01.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    while lease.pid and _alive(lease.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    after = subprocess.run([*SETPOINT, "apply", "-p", str(root)], capture_output=True, text=True, timeout=60)
    assert after.returncode == 0 and "converged" in after.stdout
    (run,) = runs(root)
    assert (run.id, run.outcome, run.partitions) == ("r-1", "succeeded", ("2024-03-01",))
    with StateStore(root / ".setpoint" / "state.db", read_only=True) as store:
        assert store.leases() == []
        (note,) = [e for e in store.events() if e.kind == "interrupted"]
        assert note.run_id == "r-1"
        assert note.detail["reason"].startswith(f"the apply that ran it (pid {first.pid} on ")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigkill_of_work_done_inside_the_apply_counts_an_attempt_and_is_redone(tmp_path: Path) -> None:
    """A Python action runs inside the apply: killed with it, it produced nothing, and is run again."""
    root = tmp_path / "p"
    (root / "assets").mkdir(parents=True)
    (root / "setpoint.yaml").write_text("name: inproc\n")
    (root / "slow.py").write_text(
        "import time\n\ndef build(con, partitions):\n"
        "    con.execute('CREATE TABLE IF NOT EXISTS t (day VARCHAR)')\n"
        "    con.execute(\"INSERT INTO t SELECT unnest(?)\", [[p['day'] for p in partitions]])\n"
        "    time.sleep(float(open('delay').read()))\n")
    (root / "delay").write_text("30")
    (root / "assets" / "t.yaml").write_text(
        "name: t\ntable: t\npartitions:\n  day:\n    daily: {start: 2024-03-01, end: 2024-03-01}\n"
        "action:\n  python: slow:build\n  backoff: 0s\n")
    first = start(root)
    wait_for_run(root)
    time.sleep(0.5)
    first.send_signal(signal.SIGKILL)
    first.wait()
    (root / "delay").write_text("0")
    after = subprocess.run([*SETPOINT, "apply", "-p", str(root)], capture_output=True, text=True, timeout=60)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "converged" in after.stdout
    done = runs(root)
    assert [(r.id, r.outcome, r.attempt) for r in done] == [("r-1", "failed", 1), ("r-2", "succeeded", 2)]
    assert done[0].error.startswith("the apply that ran it (pid ")
    import duckdb

    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT day FROM t").fetchall() == [("2024-03-01",)]  # written once: the first rolled back
    con.close()


def test_an_expired_lease_is_given_up_and_its_partition_retried(tmp_path: Path) -> None:
    root = project(tmp_path / "p", days=1, sleep=0)
    past = datetime.now(timezone.utc) - timedelta(hours=2)
    version = load_project(root).assets["a"].action.version
    with StateStore(root / ".setpoint" / "state.db") as store:
        store.start_run("a", "shell", "a[2024-03-01]", ["2024-03-01"], version, 1, at=past,
                        lease=[("2024-03-01", ["2024-03-01"])], deadline=past + timedelta(hours=1),
                        owner=("elsewhere", 1, None))
    plan = controller.plan(root, record=False)
    assert [s.status for s in plan.statuses] == ["missing"]  # an expired lease holds nothing
    result = subprocess.run([*SETPOINT, "apply", "-p", str(root)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "converged" in result.stdout
    first, second = runs(root)
    assert (first.outcome, second.outcome, second.attempt) == ("failed", "succeeded", 2)
    assert first.error.startswith("its lease expired at ")


def test_backoff_is_honoured_between_attempts(tmp_path: Path) -> None:
    root = project(tmp_path / "p", days=1, sleep=0, attempts=3, backoff="1s")
    (root / "assets" / "a.yaml").write_text((root / "assets" / "a.yaml").read_text().replace(
        "sleep 0; echo x > data/$SETPOINT_DAY.csv", "exit 4"))
    result = subprocess.run([*SETPOINT, "apply", "-p", str(root)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    done = runs(root)
    assert [r.attempt for r in done] == [1, 2, 3]
    gaps = [(b.started_at - a.ended_at).total_seconds() for a, b in zip(done, done[1:])]
    assert 0.5 <= gaps[0] and 1.0 <= gaps[1]  # about 1 s, then about 2 s (times a jitter of 0.5 to 1)
    assert "waiting: retries at" in result.stderr


def test_without_waiting_for_retries_the_apply_leaves_them_to_the_next_one(tmp_path: Path) -> None:
    root = project(tmp_path / "p", days=1, sleep=0, attempts=3, backoff="1h")
    (root / "assets" / "a.yaml").write_text((root / "assets" / "a.yaml").read_text().replace(
        "sleep 0; echo x > data/$SETPOINT_DAY.csv", "echo vendor down >&2; exit 4"))
    result = subprocess.run([*SETPOINT, "apply", "-p", str(root)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1  # a failure of this apply, not made good
    assert "failed: 1 run of this apply failed" in result.stdout
    plan = controller.plan(root, record=False)
    (st,) = plan.statuses
    assert (st.status, st.reasons[0].kind, st.reasons[0].text) == ("waiting", "backoff", "exit 4: vendor down")
    assert st.reasons[0].until > datetime.now(timezone.utc) + timedelta(minutes=25)


def test_retry_resets_a_blocked_partition(tmp_path: Path) -> None:
    root = project(tmp_path / "p", days=1, sleep=0, attempts=1)
    (root / "assets" / "a.yaml").write_text((root / "assets" / "a.yaml").read_text().replace(
        "sleep 0; echo x > data/$SETPOINT_DAY.csv", "test -f fixed && echo x > data/$SETPOINT_DAY.csv"))
    assert subprocess.run([*SETPOINT, "apply", "-p", str(root)], capture_output=True, timeout=60).returncode == 1
    assert [s.status for s in controller.plan(root, record=False).statuses] == ["blocked"]
    (root / "fixed").write_text("")
    out = subprocess.run([*SETPOINT, "retry", "a", "-p", str(root)], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (0, "reset the failed attempts of 1 partition: a[2024-03-01]\n"
                                               f"next: setpoint apply -p {root}\n")
    assert [s.status for s in controller.plan(root, record=False).statuses] == ["missing"]
    result = subprocess.run([*SETPOINT, "apply", "-p", str(root)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "converged" in result.stdout
    again = subprocess.run([*SETPOINT, "retry", "a[2024-03-01]", "-p", str(root)], capture_output=True, text=True)
    assert again.stdout == "nothing to retry: no partition of a[2024-03-01] has failed attempts on record.\n"


def test_plan_why_status_and_history_answer_while_an_apply_runs(tmp_path: Path) -> None:
    root = project(tmp_path / "p", days=2, sleep=3, concurrency=1)
    first = start(root)
    wait_for_run(root)
    try:
        plan = subprocess.run([*SETPOINT, "plan", "-p", str(root), "--json"], capture_output=True, text=True,
                              timeout=30)
        assert plan.returncode == 0, plan.stderr
        statuses = {s["id"]: s["status"] for s in json.loads(plan.stdout)["statuses"]}
        assert statuses == {"a[2024-03-01]": "in_progress", "a[2024-03-02]": "missing"}
        why = subprocess.run([*SETPOINT, "why", "a[2024-03-01]", "-p", str(root)], capture_output=True, text=True,
                             timeout=30)
        assert why.returncode == 0
        assert why.stdout.splitlines()[:2] == [
            "a[2024-03-01]: in_progress", why.stdout.splitlines()[1]]
        assert why.stdout.splitlines()[1].startswith("├─ being produced by run r-1 since ")
        history = subprocess.run([*SETPOINT, "history", "-p", str(root), "--json"], capture_output=True, text=True,
                                 timeout=30)
        assert [r["outcome"] for r in json.loads(history.stdout)["runs"]] == ["running"]
        status = subprocess.run([*SETPOINT, "status", "-p", str(root)], capture_output=True, text=True, timeout=30)
        assert status.returncode == 0, status.stderr
        lines = status.stdout.splitlines()
        running = lines[lines.index("running now:") + 1]
        assert running.startswith("  r-1  a[2024-03-01]  since ") and ", pid " in running
        doc = json.loads(subprocess.run([*SETPOINT, "status", "-p", str(root), "--json"], capture_output=True,
                                        text=True, timeout=30).stdout)
        assert [(r["run"], r["range"]) for r in doc["running"]] == [("r-1", "a[2024-03-01]")]
        assert doc["summary"]["a"]["in_progress"] == 1
    finally:
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err


@pytest.mark.parametrize("racers", [2])
def test_a_lease_is_taken_by_one_process_only(tmp_path: Path, racers: int) -> None:
    """Belt and braces beyond the lock: processes racing to start the same partition — one wins."""
    path = tmp_path / "state.db"
    StateStore(path).close()
    code = ("import sys\nfrom pathlib import Path\nfrom datetime import datetime, timedelta, timezone\n"
            "from setpoint.state import StateStore, LeaseTaken\n"
            f"s = StateStore(Path({str(path)!r}))\n"
            "try:\n"
            "    s.start_run('a', 'sql', 'a[1]', ['1'], 'v', 1, lease=[('1', ['1'])],\n"
            "                deadline=datetime.now(timezone.utc) + timedelta(hours=1))\n"
            "    print('won')\n"
            "except LeaseTaken:\n"
            "    print('lost')\n")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
             for _ in range(racers)]
    outcomes = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outcomes == ["lost"] * (racers - 1) + ["won"]
