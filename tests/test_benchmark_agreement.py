"""The scale benchmark's claim, at a small scale: setpoint's runnable set is the SQL baseline's.

Timings are not asserted here (they flake on shared machines); ``benchmarks/plan_scale.py``
reports them. What must hold at any scale is that both compute the same set.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "plan_scale", Path(__file__).resolve().parent.parent / "benchmarks" / "plan_scale.py")
plan_scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plan_scale)


@pytest.mark.parametrize(("missing", "missing_fx", "failed", "in_progress"), [
    (0.0, 0.0, 0.0, 0.0),
    (0.05, 0.1, 0.0, 0.0),
    (0.2, 0.3, 0.3, 0.3),
    (1.0, 1.0, 0.0, 0.0),
])
def test_setpoint_and_the_sql_baseline_agree_on_what_is_runnable(tmp_path: Path, missing: float, missing_fx: float,
                                                                  failed: float, in_progress: float) -> None:
    root = tmp_path / "ads"
    counts = plan_scale.generate(root, 12, 10, missing, missing_fx, failed, in_progress)
    out = plan_scale.measure(root, 10, process=False, repeat=2)
    assert out["agree"], out
    assert out["runnable"] == out["baseline_runnable"]
    if missing == 0 and missing_fx == 0:
        assert out["runnable"] == 0
    if failed or in_progress:
        assert counts["failed"] and counts["in_progress"]  # the gap holds both kinds
    # the next plan sees what changed since: a CSV downloaded, a day of ad_stats loaded again
    before, after = out["summary"], out["changed_summary"]
    if before["csv"]["missing"]:
        assert after["csv"]["missing"] == before["csv"]["missing"] - 1
    if before["results"]["satisfied"] and before["ad_stats"]["satisfied"]:  # some results of that day are outdated
        assert after["results"]["satisfied"] < before["results"]["satisfied"]
