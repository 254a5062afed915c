"""The frontier: DuckDB set operations that decide what the solver sees."""

from __future__ import annotations

import json

from setpoint import plan
from tests.conftest import NOW

DAYS = "{daily: {start: 2024-03-01, end: 2024-03-10}}"


def test_several_previous_windows_of_itself(project) -> None:
    """A balance needing yesterday and a week ago: the closure runs forward from the gap."""
    project.write("assets/a.yaml", f"""
        assets:
          - name: tx
            table: tx
            partitions: {{day: {DAYS}}}
            action: {{sql: "SELECT 1"}}
          - name: bal
            table: bal
            partitions: {{day: {DAYS}}}
            depends_on:
              - tx
              - {{asset: bal, mapping: {{offset: -1}}}}
              - {{asset: bal, mapping: {{offset: -7}}}}
            action: {{sql: "SELECT 1"}}
    """)
    project.sql("CREATE TABLE tx AS SELECT DATE '2024-03-01' + CAST(i AS INTEGER) AS day FROM range(10) t(i) WHERE i <> 4;"
                "CREATE TABLE bal AS SELECT DATE '2024-03-01' + CAST(i AS INTEGER) AS day FROM range(10) t(i)")
    p = plan(project.root, now=NOW, record=False)
    assert [s.key for s in p.statuses if s.asset == "bal"] == [f"2024-03-{d:02d}" for d in range(5, 11)]
    edges = {(s.key, r.upstream) for s in p.statuses if s.asset == "bal" for r in s.reasons}
    assert ("2024-03-06", "bal[2024-03-05]") in edges


def test_an_action_without_grain_rebuilds_the_whole_asset(project) -> None:
    project.write("assets/a.yaml", f"""
        name: snapshot
        table: snapshot
        partitions:
          region: [eu, us]
          day: {DAYS}
        action: {{sql: "SELECT 1", grain: []}}
    """)
    project.sql("CREATE TABLE snapshot AS SELECT 'eu' AS region, DATE '2024-03-01' + CAST(i AS INTEGER) AS day "
                "FROM range(10) t(i) WHERE i <> 2")
    p = plan(project.root, now=NOW, record=False)
    assert p.summary["snapshot"]["missing"] == 11
    assert [(a.label, a.covers) for a in p.actions] == [("snapshot", 11)]


def test_a_dependent_joins_the_frontier_only_within_its_own_partitions(project) -> None:
    """The gap of an upstream is mapped forward onto the dependent's space: an upstream day the dependent
    does not expect, or an upstream region it does not have, adds nothing."""
    project.write("assets/a.yaml", """
        assets:
          - name: rates
            table: rates
            partitions: {day: {daily: {start: 2024-02-20, end: 2024-03-10}}}
            action: {sql: "SELECT 1"}
          - name: sales
            table: sales
            partitions:
              day: {daily: {start: 2024-03-01, end: 2024-03-10}}
              region: [eu, us]
            depends_on: [{asset: rates, mapping: {on: [day]}}]
            action: {sql: "SELECT 1"}
          - name: report
            table: report
            partitions:
              region: [eu]
              day: {daily: {start: 2024-03-01, end: 2024-03-10}}
            depends_on: [sales]
    """)
    project.sql("CREATE TABLE rates AS SELECT DATE '2024-02-20' + CAST(i AS INTEGER) AS day FROM range(20) t(i) "
                "WHERE i NOT IN (1, 14);"  # 2024-02-21 (before sales' days) and 2024-03-05 are missing
                "CREATE TABLE sales AS SELECT DATE '2024-03-01' + CAST(i AS INTEGER) AS day, r AS region "
                "FROM range(10) t(i), (VALUES ('eu'), ('us')) v(r);"
                "CREATE TABLE report AS SELECT 'eu' AS region, DATE '2024-03-01' + CAST(i AS INTEGER) AS day "
                "FROM range(10) t(i)")
    p = plan(project.root, now=NOW, record=False)
    assert [(s.asset, s.key, s.status) for s in p.statuses] == [
        ("rates", "2024-02-21", "missing"), ("rates", "2024-03-05", "missing"),
        ("sales", "day=2024-03-05,region=eu", "waiting"), ("sales", "day=2024-03-05,region=us", "waiting"),
        ("report", "region=eu,day=2024-03-05", "waiting")]


def test_failures_recorded_under_another_layout_of_dimensions_do_not_count(project) -> None:
    """A ledger row is matched element by element with a partition's values: one written when the asset
    had more dimensions (a longer list) matches none of its partitions now."""
    from setpoint.project.loader import load_project
    from setpoint.state import StateStore

    project.write("assets/a.yaml", f"""
        name: tx
        table: tx
        partitions: {{day: {DAYS}}}
        action: {{sql: "SELECT 1", max_attempts: 1}}
    """)
    project.sql("CREATE TABLE tx AS SELECT DATE '2024-03-01' + CAST(i AS INTEGER) AS day FROM range(10) t(i) "
                "WHERE i NOT IN (2, 3)")
    version = load_project(project.root).assets["tx"].action.version
    with StateStore(project.root / ".setpoint/state.db") as store:
        store.record_failure("tx", [("day=2024-03-03,region=eu", ["2024-03-03", "eu"])], "r1", "boom", version)
        store.record_failure("tx", [("2024-03-04", ["2024-03-04"])], "r2", "boom", version)
    p = plan(project.root, now=NOW, record=False)
    assert [(s.key, s.status) for s in p.statuses] == [("2024-03-03", "missing"), ("2024-03-04", "blocked")]


def test_keys_built_in_the_workspace_are_the_canonical_keys(project) -> None:
    """Plain values are joined into keys by DuckDB, the rest are quoted by Python: both give format_key."""
    from setpoint.partition import format_key

    odd = ["plain", "with space", "é", 'q"x', "a,b", "x=y", "[1]", "tab\tbed", "back\\slash", "12:00+01/a_b.c-d"]
    project.write("assets/a.yaml", f"""
        name: raw
        files: data/{{kind}}/{{day}}.csv
        partitions:
          kind: {json.dumps(odd)}
          day: {DAYS}
        action: {{shell: ["true"]}}
    """)
    p = plan(project.root, now=NOW, record=False)
    assert len(p.statuses) == 100
    assert sorted(s.key for s in p.statuses) == sorted(format_key(["kind", "day"], [k, f"2024-03-{d:02d}"])
                                                       for k in odd for d in range(1, 11))


def test_observed_partitions_outside_the_expected_ones_are_not_counted(project) -> None:
    project.write("assets/a.yaml", f"""
        assets:
          - name: tx
            table: tx
            partitions: {{day: {DAYS}}}
            action: {{sql: "SELECT 1"}}
          - name: bal
            table: bal
            partitions: {{day: {DAYS}}}
            depends_on: [tx]
            action: {{sql: "SELECT 1"}}
    """)
    project.sql("CREATE TABLE tx AS SELECT DATE '2024-02-25' + CAST(i AS INTEGER) AS day, TIMESTAMP '2024-03-20' AS "
                "updated_at FROM range(14) t(i);"  # five days before the window, and 2024-03-10 missing
                "CREATE TABLE bal AS SELECT DATE '2024-02-20' + CAST(i AS INTEGER) AS day, TIMESTAMP '2024-03-21' AS "
                "updated_at FROM range(20) t(i)")
    p = plan(project.root, now=NOW, record=False)
    assert p.summary["tx"] == {"expected": 10, "satisfied": 9, "missing": 1, "stale": 0, "in_progress": 0,
                               "waiting": 0, "blocked": 0}
    assert p.summary["bal"]["satisfied"] == 9
    assert [(s.asset, s.key, s.status) for s in p.statuses] == [("tx", "2024-03-10", "missing"),
                                                               ("bal", "2024-03-10", "waiting")]


def test_an_outdated_partition_names_one_upstream_when_several_changed_at_once(project) -> None:
    """Of upstream partitions that changed at the same moment, the first by asset and key is named (the
    same one in every plan, with its own asset and key, not one's asset with another's key)."""
    camps = ", ".join(f"c{i}" for i in range(200))
    project.write("assets/a.yaml", f"""
        assets:
          - {{name: up2, table: {{name: up2, updated_at: ts}}, partitions: {{camp: [{camps}]}}}}
          - {{name: up1, table: {{name: up1, updated_at: ts}}, partitions: {{camp: [{camps}]}}}}
          - name: down
            table: {{name: down, updated_at: ts}}
            partitions: {{day: {DAYS}}}
            depends_on: [{{asset: up2, mapping: all}}, {{asset: up1, mapping: all}}]
            action: {{sql: "SELECT 1"}}
    """)
    for up in ("up1", "up2"):
        project.sql(f"CREATE TABLE {up} AS SELECT 'c' || i AS camp, TIMESTAMP '2024-03-20' AS ts FROM range(200) t(i)")
    project.sql("CREATE TABLE down AS SELECT DATE '2024-03-01' + CAST(i AS INTEGER) AS day, TIMESTAMP '2024-03-15' AS ts "
                "FROM range(10) t(i)")
    for _ in range(3):
        p = plan(project.root, now=NOW, record=False)
        named = {r.upstream for s in p.statuses if s.asset == "down" for r in s.reasons if r.kind == "outdated"}
        assert named == {"up1[c0]"}
