"""Kill -9 at any moment: between a run's start and its record, mid-work, mid-record — nothing is lost or redone.

Hypothesis draws when to SIGKILL a real ``setpoint apply`` process (several
times in a row, each a fresh apply), on a fixed two-asset project and on
random ones (1–3 assets over 1–3 days, same-day, previous-day and all
mappings). Then applies run undisturbed. Every partition must end satisfied,
each produced exactly once (work outlives its apply in its own session; work
that never got the go is not started), and one more apply starts nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from setpoint.lock import alive
from setpoint.state import StateStore
from tests.failing import keep

EXAMPLES = 25 if os.environ.get("SETPOINT_LONG") else 3
SETPOINT = [sys.executable, "-m", "setpoint.cli"]

ASSETS = """\
- name: raw
  files: data/raw/{day}.csv
  partitions:
    day: &days {daily: {start: 2024-03-01, end: 2024-03-04}}
  action:
    shell: [sh, -c, 'sleep 0.2; echo "raw $SETPOINT_DAY" >> produced.log; mkdir -p data/raw; echo x > data/raw/$SETPOINT_DAY.csv']
    max_attempts: 6
    backoff: 0s
- name: clean
  files: data/clean/{day}.csv
  partitions: {day: *days}
  depends_on: [raw]
  action:
    shell: [sh, -c, 'sleep 0.1; echo "clean $SETPOINT_DAY" >> produced.log; mkdir -p data/clean; echo x > data/clean/$SETPOINT_DAY.csv']
    max_attempts: 6
    backoff: 0s
"""


def apply(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*SETPOINT, "apply", "-p", str(root), "--now", "2024-04-01T12:00Z", "--wait", "30"],
                          capture_output=True, text=True, timeout=120)


def wait_for_work(root: Path, timeout: float = 20.0) -> None:
    """Until no work process noted on a lease is running any more."""
    state = root / ".setpoint" / "state.db"
    deadline = time.monotonic() + timeout
    while state.exists() and time.monotonic() < deadline:
        with StateStore(state, read_only=True) as store:
            if not any(x.pid and alive(x.pid) for x in store.leases()):
                return
        time.sleep(0.05)


def kill_then_converge(root: Path, delays: list[float], partitions: int) -> None:
    """SIGKILL an apply after each delay, then apply undisturbed: converged, each of ``partitions`` made
    exactly once, and one more apply does nothing. A failing project is kept."""
    for delay in delays:
        proc = subprocess.Popen([*SETPOINT, "apply", "-p", str(root), "--now", "2024-04-01T12:00Z"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    last = ""
    for _ in range(4):
        wait_for_work(root)
        last = apply(root).stdout
        if "converged" in last:
            break
    again = apply(root)
    produced = (root / "produced.log").read_text().splitlines() if (root / "produced.log").exists() else []
    twice = sorted({line for line in produced if produced.count(line) > 1})
    problem = None
    if "converged" not in last:
        problem = f"did not converge: {last}"
    elif twice:
        problem = f"produced more than once: {twice}"
    elif len(set(produced)) != partitions:
        problem = f"produced {sorted(set(produced))}, not all {partitions} partitions"
    elif "applied kill: 0 runs" not in again.stdout:
        problem = f"one more apply did something: {again.stdout}"
    if problem:
        keep(root, "setpoint history -p {root} --events shows what happened")
        raise AssertionError(problem)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(0.0, 1.6), min_size=1, max_size=3))
def test_kills_at_any_moment_lose_nothing_and_redo_nothing(delays: list[float]) -> None:
    root = Path(tempfile.mkdtemp(prefix="setpoint-kill-")) / "project"
    (root / "assets").mkdir(parents=True)
    (root / "setpoint.yaml").write_text("name: kill\napply: {concurrency: 2, retry_wait: 0s}\n")
    (root / "assets" / "all.yaml").write_text(ASSETS)
    try:
        kill_then_converge(root, delays, partitions=8)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


@st.composite
def dags(draw) -> tuple[int, list[tuple[str, str | None, int | None]]]:
    """1–3 assets over 1–3 days, each maybe needing an earlier one: the same day, the day before, or all."""
    days = draw(st.integers(1, 3))
    assets = []
    for i in range(draw(st.integers(1, 3))):
        up = draw(st.integers(0, i - 1)) if i and draw(st.booleans()) else None
        assets.append((f"a{i}", draw(st.sampled_from(["identity", "previous", "all"])) if up is not None else None,
                       up))
    return days, assets


def dag_project(root: Path, days: int, assets: list[tuple[str, str | None, int | None]]) -> None:
    (root / "assets").mkdir(parents=True)
    (root / "setpoint.yaml").write_text("name: kill\napply: {concurrency: 2, retry_wait: 0s}\n")
    for name, mapping, up in assets:
        lines = [f"name: {name}", f"files: data/{name}/{{day}}.csv", "partitions:",
                 f"  day: {{daily: {{start: 2024-03-01, end: 2024-03-0{days}}}}}"]
        if up is not None:
            dep = {"identity": f"a{up}", "previous": f"{{asset: a{up}, mapping: {{previous: 1, dimension: day}}}}",
                   "all": f"{{asset: a{up}, mapping: all}}"}[mapping]
            lines += ["depends_on:", f"  - {dep}"]
        lines += ["action:", f"  shell: [sh, -c, 'sleep 0.15; echo \"{name} $SETPOINT_DAY\" >> produced.log; "
                  f"mkdir -p data/{name}; echo x > data/{name}/$SETPOINT_DAY.csv']", "  max_attempts: 6",
                  "  backoff: 0s"]
        (root / "assets" / f"{name}.yaml").write_text("\n".join(lines) + "\n")


@settings(max_examples=max(2, EXAMPLES - 1), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags(), st.lists(st.floats(0.0, 1.2), min_size=1, max_size=2))
def test_kills_on_random_projects_lose_nothing_and_redo_nothing(dag, delays: list[float]) -> None:
    days, assets = dag
    root = Path(tempfile.mkdtemp(prefix="setpoint-kill-")) / "project"
    dag_project(root, days, assets)
    try:
        kill_then_converge(root, delays, partitions=days * len(assets))
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
