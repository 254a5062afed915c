"""Convergence under faults, over random projects: apply again and again, and it settles, minimally.

Hypothesis draws a project — 1–3 file assets over 1–3 days, each needing an
earlier one (same day, the previous day, or all of it), some source assets
without an action, files present or missing — and a fault pattern for the
executor: a run fails (transiently), or crashes after producing its partition
but before its success is recorded. Repeated applies must end with every
expected partition satisfied or blocked with a reason; one more apply starts
nothing (idempotence); and a partition that was satisfied is never rebuilt
unless something it needs changed (minimality).

A failing example is written out as a runnable project directory (its path is
in the failure report) so that it can be replayed with the CLI.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import importlib

from setpoint import apply, plan
from tests.failing import keep
from setpoint.adapters.execute import Outcome

EXAMPLES = 60 if os.environ.get("SETPOINT_LONG") else 8
NOW = datetime(2024, 4, 1, 12, 0, tzinfo=timezone.utc)
apply_module = importlib.import_module("setpoint.apply")  # the module: setpoint.apply is also the function


@dataclass(frozen=True)
class Spec:
    days: int
    assets: tuple[tuple[str, bool, str | None, int | None], ...]  # (name, has action, mapping, upstream index)
    present: frozenset[tuple[str, int]]
    faults: tuple[str, ...]  # per started run, in order: ok, fail or crash


@st.composite
def specs(draw) -> Spec:
    days = draw(st.integers(1, 3))
    n = draw(st.integers(1, 3))
    assets = []
    for i in range(n):
        up = draw(st.integers(0, i - 1)) if i and draw(st.booleans()) else None
        mapping = draw(st.sampled_from(["identity", "previous", "all"])) if up is not None else None
        assets.append((f"a{i}", i > 0 or draw(st.booleans()), mapping, up))
    present = frozenset((name, d) for name, *_ in assets for d in range(days) if draw(st.booleans()))
    faults = tuple(draw(st.lists(st.sampled_from(["ok", "ok", "fail", "crash"]), max_size=12)))
    return Spec(days, tuple(assets), present, faults)


def write(spec: Spec, root: Path) -> None:
    (root / "assets").mkdir(parents=True)
    (root / "setpoint.yaml").write_text("name: prop\napply: {concurrency: 1, retry_wait: 0s}\n")
    for name, acts, mapping, up in spec.assets:
        lines = [f"name: {name}", f"files: data/{name}/{{day}}.csv", "partitions:", "  day:",
                 f"    daily: {{start: 2024-03-01, end: 2024-03-0{spec.days}}}"]
        if up is not None:
            target = f"a{up}"
            dep = {"identity": f"  - {target}",
                   "previous": f"  - {{asset: {target}, mapping: {{previous: 1, dimension: day}}}}",
                   "all": f"  - {{asset: {target}, mapping: all}}"}[mapping]
            lines += ["depends_on:", dep]
        if acts:
            lines += ["action:", "  shell: [make-it]", "  max_attempts: 3", "  backoff: 0s"]
        (root / "assets" / f"{name}.yaml").write_text("\n".join(lines) + "\n")
    for name, d in spec.present:
        path = root / "data" / name / f"2024-03-0{d + 1}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
        os.utime(path, (datetime(2024, 3, 20).timestamp(),) * 2)


class Faulty:
    """Produces the run's files, or fails, or produces them and then crashes (the record says failed)."""

    def __init__(self, root: Path, faults: tuple[str, ...]) -> None:
        self.root, self.faults, self.started = root, list(faults), []

    def run(self, request) -> Outcome:
        fault = self.faults.pop(0) if self.faults else "ok"
        self.started.append((request.asset.name, tuple(p["day"] for p in request.partitions)))
        if fault == "fail":
            return Outcome(False, error="exit 1: transient failure")
        for p in request.partitions:
            path = self.root / "data" / request.asset.name / f"{p['day']}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("built\n")
        if fault == "crash":
            raise RuntimeError("crashed after writing, before reporting")
        return Outcome(True, exit_code=0)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_repeated_applies_converge_minimally_and_then_do_nothing(spec: Spec) -> None:
    root = Path(tempfile.mkdtemp(prefix="setpoint-prop-")) / "project"
    write(spec, root)
    executor = Faulty(root, spec.faults)
    original = apply_module.executor_for
    apply_module.executor_for = lambda asset, context: executor
    try:
        before = {(s.asset, s.key): s.status for s in plan(root, now=NOW, record=False, include_satisfied=True)
                  .statuses}
        for _ in range(6):
            result = apply(root, now=NOW)
        starts = len(executor.started)
        again = apply(root, now=NOW)
        final = plan(root, now=NOW, record=False)
        problem = None
        if len(executor.started) != starts:
            problem = f"one more apply started {executor.started[starts:]}"
        for st in final.statuses:
            if st.status != "blocked" or not st.reasons:
                problem = problem or f"{st.partition} ended {st.status} with reasons {st.reasons}"
        # minimality: what was satisfied from the start and needs nothing that changed is never rebuilt
        changed_assets = {a for a, _ in executor.started}
        for (a, key), status in before.items():
            ups = {f"a{up}" for name, _, _, up in spec.assets if name == a and up is not None}
            if status == "satisfied" and not (ups & changed_assets):
                if any(name == a and key in days for name, days in executor.started):
                    problem = problem or f"{a}[{key}] was satisfied, needed nothing that changed, and was rebuilt"
        assert again.runs == [] and result is not None
        if problem:
            keep(root, "replay: setpoint apply -p {root} --now 2024-04-01T12:00Z")
            raise AssertionError(problem)
    finally:
        apply_module.executor_for = original
        shutil.rmtree(root.parent, ignore_errors=True)
