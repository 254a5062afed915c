"""Runs and their ranges: a range is the maximal run of consecutive windows, whatever the batches."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from setpoint.plan import Action
from setpoint.project.loader import load_project
from setpoint.solver.actions import batches, label, run_ranges

DAYS = [(date(2024, 3, 1) + timedelta(days=i)).isoformat() for i in range(20)]


def _project(root: Path, batch_max: int):
    (root / "assets").mkdir(parents=True, exist_ok=True)
    (root / "setpoint.yaml").write_text("name: ranges\n")
    (root / "assets" / "a.yaml").write_text(
        "name: a\nfiles: data/{campaign}/{day}.csv\npartitions:\n  campaign: [c1, c2, c3]\n"
        "  day: {daily: {start: 2024-03-01, end: 2024-03-20}}\n"
        f"action: {{shell: [\"true\"], batch: {{max: {batch_max}}}}}\n")
    return load_project(root)


@settings(max_examples=60, deadline=None)
@given(chosen=st.sets(st.tuples(st.sampled_from(["c1", "c2", "c3"]), st.sampled_from(DAYS)), min_size=1),
       batch_max=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_ranges_are_the_maximal_runs_of_consecutive_windows(tmp_path_factory, chosen, batch_max, seed) -> None:
    project = _project(tmp_path_factory.mktemp("p"), batch_max)
    asset = project.assets["a"]
    units = [(f"campaign={c},day={d}", {"campaign": c, "day": d}) for c, d in chosen]
    actions = [Action("a", "shell", tuple(v for _, v in b), label(asset, b), len(b)) for b in
               batches(asset, units, batch_max)]
    random.Random(seed).shuffle(actions)  # the schedule's order: by rank, not by window
    expected = [(label(asset, r), len(r)) for r in batches(asset, units, len(units) + 1)]
    ranges = run_ranges(project, actions)
    assert [(r.label, r.covers) for r in ranges] == expected
    assert sum(r.runs for r in ranges) == len(actions)


def test_a_range_shows_its_ends_and_counts_its_runs(tmp_path) -> None:
    project = _project(tmp_path, 2)
    asset = project.assets["a"]
    units = [(f"campaign=c1,day={d}", {"campaign": "c1", "day": d}) for d in DAYS[:5]] + \
        [("campaign=c2,day=2024-03-07", {"campaign": "c2", "day": "2024-03-07"})]
    actions = [Action("a", "shell", tuple(v for _, v in b), label(asset, b), len(b)) for b in batches(asset, units, 2)]
    assert [(r.label, r.runs, r.covers) for r in run_ranges(project, actions)] == [
        ("a[campaign=c1,day=2024-03-01..2024-03-05]", 3, 5), ("a[campaign=c2,day=2024-03-07]", 1, 1)]
