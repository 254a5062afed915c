"""An asset's gap kept between plans (setpoint.kept_gap): used only for the rows and space it was found for."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from setpoint import plan
from setpoint.adapters.inventory import RACY_S
from tests.conftest import NOW

FILES = """
    assets:
      - name: report
        files: data/{day}/{campaign}.csv
        partitions:
          campaign: {values_from: {file: campaigns.txt}}
          day: {daily: {start: 2024-03-25}}
        action: {shell: ["true"]}
      - name: loaded
        table: {name: loaded, updated_at: loaded_at}
        partitions:
          campaign: {values_from: {file: campaigns.txt}}
          day: {daily: {start: 2024-03-25}}
        depends_on: [report]
        action: {sql: "SELECT 1"}
"""


def _gap(root: Path, asset: str) -> str | None:
    """The generation of the asset's kept gap, if one is kept."""
    path = root / ".setpoint" / "inventory" / f"{asset}.gap.json"
    return json.loads(path.read_text())["generation"] if path.exists() else None


def _counts(p, asset: str) -> tuple[int, int]:
    return p.summary[asset]["expected"], p.summary[asset]["missing"]


def _same_as_fresh(root: Path, p, now=NOW) -> bool:
    """Whether the plan is the one a copy of the project makes with nothing kept."""
    copy = root.parent / "fresh"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy)
    shutil.rmtree(copy / ".setpoint" / "inventory")
    fresh = plan(copy, now=now, record=False)
    return fresh.summary == p.summary and [(s.asset, s.key, s.status) for s in fresh.statuses] == \
        [(s.asset, s.key, s.status) for s in p.statuses]


def _settle(root: Path) -> None:
    """Date the data directories a few seconds back, as if written before the last plan: a directory
    changed within RACY_S of a listing would be listed again on every plan (its rows then never stand
    for the observation as kept). Each call dates them later than the last, so a change stays seen."""
    moment = time.time() - 3 * RACY_S
    for path in [root / "data", *(p for p in (root / "data").rglob("*") if p.is_dir())]:
        os.utime(path, (moment, moment))


def _setup(project) -> Path:
    project.write("assets/a.yaml", FILES)
    project.write("campaigns.txt", "a\nb\nc\n")
    for d in range(25, 32):  # 2024-03-25 … 2024-03-31 of a, b and c, but for b on 03-27 and c on 03-30
        for c in "abc":
            if (c, d) not in {("b", 27), ("c", 30)}:
                project.write(f"data/2024-03-{d}/{c}.csv", "x\n")
    project.sql("CREATE TABLE loaded AS SELECT c AS campaign, DATE '2024-03-25' + CAST(i AS INTEGER) AS day, "
                "TIMESTAMP '2024-04-01 11:00' AS loaded_at FROM range(7) t(i), (VALUES ('a'), ('b')) v(c)")
    _settle(project.root)
    return project.root


def test_the_gap_is_kept_and_read_back_while_nothing_changes(project) -> None:
    root = _setup(project)
    first = plan(root, now=NOW, record=False)
    kept = _gap(root, "report"), _gap(root, "loaded")
    assert None not in kept
    again = plan(root, now=NOW, record=False)
    assert (_gap(root, "report"), _gap(root, "loaded")) == kept  # read, not found and written again
    assert again.summary == first.summary and _same_as_fresh(root, again)
    assert _counts(again, "report") == (21, 2) and _counts(again, "loaded") == (21, 6)
    assert [s.key for s in again.statuses if s.asset == "report"] == ["campaign=b,day=2024-03-27",
                                                                      "campaign=c,day=2024-03-30"]


def test_changed_rows_or_space_find_the_gap_again(project) -> None:
    root = _setup(project)
    plan(root, now=NOW, record=False)
    kept = _gap(root, "report")
    # a file appears: the observation is another one
    project.write("data/2024-03-27/b.csv", "x\n")
    _settle(root)
    p = plan(root, now=NOW, record=False)
    assert _counts(p, "report") == (21, 1) and _gap(root, "report") != kept and _same_as_fresh(root, p)
    kept = _gap(root, "report"), _gap(root, "loaded")
    # a campaign is added to the list: the same rows, another space
    project.write("campaigns.txt", "a\nb\nc\nd\n")
    p = plan(root, now=NOW, record=False)
    assert _counts(p, "report") == (28, 8) and _same_as_fresh(root, p)
    assert _gap(root, "report") != kept[0] and _gap(root, "loaded") != kept[1]
    # a day later: one more day expected of each
    p = plan(root, now=NOW + timedelta(days=1), record=False)
    assert _counts(p, "report") == (32, 12) and _same_as_fresh(root, p, NOW + timedelta(days=1))
    # a row of the table deleted
    before = _counts(p, "loaded")
    project.sql("DELETE FROM loaded WHERE campaign = 'a' AND day = DATE '2024-03-25'")
    p = plan(root, now=NOW + timedelta(days=1), record=False)
    assert _counts(p, "loaded") == (before[0], before[1] + 1) and _same_as_fresh(root, p, NOW + timedelta(days=1))


def test_a_damaged_kept_gap_is_found_again(project) -> None:
    root = _setup(project)
    plan(root, now=NOW, record=False)
    inventory = root / ".setpoint" / "inventory"
    rows = inventory / f"report.gap.{_gap(root, 'report')}.parquet"
    rows.write_bytes(b"not parquet")
    p = plan(root, now=NOW, record=False)
    assert _counts(p, "report") == (21, 2) and _same_as_fresh(root, p)
    manifest = inventory / "loaded.gap.json"
    doc = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**doc, "present": doc["present"] + 1}))  # counts that do not add up
    p = plan(root, now=NOW, record=False)
    assert _counts(p, "loaded") == (21, 6) and _same_as_fresh(root, p)
    assert json.loads(manifest.read_text())["present"] == doc["present"]


def test_nothing_is_kept_without_an_inventory(project) -> None:
    root = _setup(project)
    project.write("setpoint.yaml", "name: test\nobserve: {relist: 0s}\n")
    p = plan(root, now=NOW, record=False)
    assert _counts(p, "report") == (21, 2) and _gap(root, "report") is None and _gap(root, "loaded") is None


_STEPS = st.lists(st.tuples(st.sampled_from(["add file", "remove file", "add row", "remove row", "campaigns",
                                             "next day"]), st.integers(0, 6), st.sampled_from("abcd")),
                  min_size=1, max_size=4)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_STEPS)
def test_whatever_changes_the_kept_gap_plans_as_nothing_kept(tmp_path_factory, steps) -> None:
    """Invariant: after any sequence of changes to files, table rows, the campaign list and the clock,
    the plan with what the last plans kept is the plan with nothing kept."""
    from tests.conftest import ProjectDir

    root = tmp_path_factory.mktemp("kept") / "proj"
    root.mkdir()
    project = ProjectDir(root)
    project.write("setpoint.yaml", "name: test\n")
    _setup(project)
    now = NOW
    plan(root, now=now, record=False)
    for what, day, campaign in steps:
        path = root / "data" / f"2024-03-{25 + day}" / f"{campaign}.csv"
        if what == "add file":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x\n")
        elif what == "remove file":
            path.unlink(missing_ok=True)
        elif what == "add row":
            project.sql("INSERT INTO loaded VALUES (?, DATE '2024-03-25' + CAST(? AS INTEGER), "
                        "TIMESTAMP '2024-04-01 11:30')", [campaign, day])
        elif what == "remove row":
            project.sql("DELETE FROM loaded WHERE campaign = ? AND day = DATE '2024-03-25' + CAST(? AS INTEGER)",
                        [campaign, day])
        elif what == "campaigns":
            project.write("campaigns.txt", "".join(f"{c}\n" for c in "abcd"[: 2 + day % 3]))
        else:
            now += timedelta(days=1)
        _settle(root)
        assert _same_as_fresh(root, plan(root, now=now, record=False), now), (what, day, campaign)
