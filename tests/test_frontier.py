"""The frontier: DuckDB set operations that decide what the solver sees."""

from __future__ import annotations

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
