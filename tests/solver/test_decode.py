"""Decoding: root causes follow the solver's edges, not partition text."""

from __future__ import annotations

from setpoint import plan
from tests.conftest import NOW


def test_root_cause_through_a_value_with_brackets(project) -> None:
    project.write("assets/a.yaml", """
        assets:
          - name: up
            table: up
            partitions: {slot: ["a[1]", "b"]}
          - name: down
            table: down
            partitions: {slot: ["a[1]", "b"]}
            depends_on: [up]
            action: {sql: "SELECT 1"}
    """)
    project.sql("CREATE TABLE up AS SELECT 'b' AS slot; CREATE TABLE down AS SELECT 'b' AS slot")
    p = plan(project.root, now=NOW, record=False)
    down = [s for s in p.statuses if s.asset == "down"][0]
    assert (down.partition, down.status, down.cause.kind, down.cause_at) == (
        'down["a[1]"]', "blocked", "no_action", 'up["a[1]"]')
