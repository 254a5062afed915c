"""Frontier partitions and waiting statuses are read from the workspace when something asks for them."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from setpoint import controller, plan
from setpoint.frontier import AssetFrontier, FrontierPartition, Workspace
from setpoint.project.loader import load_project
from tests.conftest import NOW


@pytest.fixture
def chain(project):
    """feed (three partitions missing) ← load (identity) ← report, which also needs the day's rates (two missing)."""
    days = "{daily: {start: 2024-03-01, end: 2024-03-10}}"
    project.write("assets/a.yaml", f"""
        assets:
          - name: feed
            table: feed
            partitions: {{campaign: [a, b, c], day: {days}}}
            action: {{sql: "SELECT 1"}}
          - name: rates
            table: rates
            partitions: {{day: {days}}}
            action: {{sql: "SELECT 1"}}
          - name: load
            table: load
            partitions: {{campaign: [a, b, c], day: {days}}}
            depends_on: [feed]
            action: {{sql: "SELECT 1"}}
          - name: report
            table: report
            partitions: {{campaign: [a, b, c], day: {days}}}
            depends_on: [load, {{asset: rates, mapping: {{on: [day]}}}}]
            action: {{sql: "SELECT 1", grain: [day]}}
    """)
    every = "FROM (SELECT unnest(['a', 'b', 'c']) AS campaign), range(10) t(i)"
    project.sql(f"CREATE TABLE feed AS SELECT campaign, DATE '2024-03-01' + CAST(i AS INTEGER) AS day {every} "
                "WHERE NOT (campaign = 'b' AND i IN (2, 3, 4));"
                "CREATE TABLE rates AS SELECT DATE '2024-03-01' + CAST(i AS INTEGER) AS day FROM range(10) t(i) "
                "WHERE i NOT IN (3, 7);"
                f"CREATE TABLE load AS SELECT campaign, DATE '2024-03-01' + CAST(i AS INTEGER) AS day {every} "
                "WHERE NOT (campaign = 'b' AND i IN (2, 3, 4));"
                f"CREATE TABLE report AS SELECT campaign, DATE '2024-03-01' + CAST(i AS INTEGER) AS day {every}")
    return project


def test_waiting_statuses_are_made_after_the_plan_while_the_warehouse_is_free(chain) -> None:
    later = plan(chain.root, now=NOW, record=False)
    made = list(plan(chain.root, now=NOW, record=False).statuses)
    assert later.summary["report"]["waiting"] == 8 and later.summary["load"]["waiting"] == 3
    assert len(later.statuses) == len(made) == 3 + 2 + 3 + 8
    # another process may write the warehouse before the statuses are looked at
    code = (f"import duckdb; duckdb.connect({str(chain.root / 'warehouse.duckdb')!r})"
            ".execute(\"INSERT INTO rates VALUES (DATE '2024-03-08')\")")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    assert list(later.statuses) == made
    rates = ["rates[2024-03-04]"], "rates[2024-03-04]"
    assert [(s.key, s.status, [r.upstream for r in s.reasons], s.cause_at) for s in made if s.asset == "report"] == [
        ("campaign=a,day=2024-03-04", "waiting", *rates),
        ("campaign=a,day=2024-03-08", "waiting", ["rates[2024-03-08]"], "rates[2024-03-08]"),
        ("campaign=b,day=2024-03-03", "waiting", ["load[campaign=b,day=2024-03-03]"], "feed[campaign=b,day=2024-03-03]"),
        ("campaign=b,day=2024-03-04", "waiting", ["load[campaign=b,day=2024-03-04]", "rates[2024-03-04]"],
         "feed[campaign=b,day=2024-03-04]"),
        ("campaign=b,day=2024-03-05", "waiting", ["load[campaign=b,day=2024-03-05]"], "feed[campaign=b,day=2024-03-05]"),
        ("campaign=b,day=2024-03-08", "waiting", ["rates[2024-03-08]"], "rates[2024-03-08]"),
        ("campaign=c,day=2024-03-04", "waiting", *rates),
        ("campaign=c,day=2024-03-08", "waiting", ["rates[2024-03-08]"], "rates[2024-03-08]"),
    ]
    # grouped by their first reason before any of them is made
    assert [(g.reason, g.count, g.example) for g in later.groups if g.asset == "report"] == [
        ("present; will be refreshed after rates (missing)", 5, "report[campaign=a,day=2024-03-04]"),
        ("present; will be refreshed after load (waiting)", 3, "report[campaign=b,day=2024-03-03]"),
    ]


def test_threads_looking_at_the_statuses_at_once_see_the_same_ones(chain) -> None:
    p = plan(chain.root, now=NOW, record=False)
    seen: list[list] = []
    threads = [threading.Thread(target=lambda: seen.append(list(p.statuses))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 4 and all(s == seen[0] for s in seen) and len(seen[0]) == 16


def test_a_dropped_plan_leaves_nothing_for_the_cycle_collector(chain) -> None:
    """What a plan reads later refers to its workspace, never back to itself: dropping the plan frees it all
    at once (a cycle would keep every partition of a large plan alive until a full collection)."""
    p = plan(chain.root, now=NOW, record=False)
    assert p.summary["report"]["waiting"] == 8
    del p
    controller._unfreeze()
    assert not [o for o in gc.get_objects() if isinstance(o, (Workspace, AssetFrontier, FrontierPartition))]


def test_the_workspace_closes_once_what_was_left_to_read_is_read(chain) -> None:
    project = load_project(chain.root)
    ws = Workspace(project)
    frontier = ws.compute(NOW, edges=False)
    left = [af for af in frontier.assets.values() if not af.loaded]
    assert {af.asset for af in left} == {"feed", "rates", "load", "report"}
    ws.close()
    ws.con.execute("SELECT 1")  # still open: partitions are left to read
    assert [p.key for p in frontier.assets["load"].partitions] == [f"campaign=b,day=2024-03-0{d}" for d in (3, 4, 5)]
    for af in left:
        assert af.size == len(af.partitions)
    with pytest.raises(duckdb.ConnectionException):
        ws.con.execute("SELECT 1")


def test_a_workspace_with_nothing_left_to_read_closes_at_once(project) -> None:
    project.write("assets/a.yaml", """
        assets:
          - name: t
            table: t
            partitions: {day: {daily: {start: 2024-03-01, end: 2024-03-02}}}
            action: {sql: "SELECT 1"}
    """)
    project.sql("CREATE TABLE t AS SELECT DATE '2024-03-01' + CAST(i AS INTEGER) AS day FROM range(2) t(i)")
    ws = Workspace(load_project(project.root))
    frontier = ws.compute(NOW, edges=False)
    assert frontier.assets["t"].size == 0 and frontier.assets["t"].partitions == []
    ws.close()
    with pytest.raises(duckdb.ConnectionException):
        ws.con.execute("SELECT 1")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="rows are copied where a descriptor has no path")
def test_kept_observations_and_gaps_are_read_in_place_even_once_removed_and_let_go_at_close(chain) -> None:
    first = plan(chain.root, now=NOW, record=False)  # keeps what it observed
    project = load_project(chain.root)
    ws = Workspace(project)
    frontier = ws.compute(NOW, edges=False)
    assets = ("feed", "rates", "load", "report")
    assert ws.held.views == {f"{kind}_{a}" for a in assets for kind in ("o", "a")}  # observations and gaps
    inventory = project.state.parent / "inventory"
    assert len(_held_under(inventory)) == 8
    for path in inventory.glob("*.parquet"):  # as a newer writer does with the files it replaces
        path.unlink()
    assert ws.con.execute("SELECT count(*) FROM o_feed").fetchone()[0] == 27
    assert frontier.assets["load"].size == 3 and first.summary["load"]["waiting"] == 3
    ws.close()
    assert not _held_under(inventory)
    assert frontier.assets["report"].size == len(frontier.assets["report"].partitions) == 8


def _held_under(directory: Path) -> list[str]:
    """The files under ``directory`` this process holds open."""
    names = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            names.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return [name for name in names if name.startswith(str(directory))]


def test_a_small_gap_is_worked_on_one_duckdb_thread(chain) -> None:
    """Tens of thousands of rows gain nothing from a second thread (see frontier.SMALL_GAP)."""
    ws = Workspace(load_project(chain.root))
    before = ws.con.execute("SELECT current_setting('threads')").fetchone()[0]
    ws.compute(NOW, edges=False)
    assert ws.con.execute("SELECT current_setting('threads')").fetchone()[0] == 1 and before >= 1
    ws.close()
