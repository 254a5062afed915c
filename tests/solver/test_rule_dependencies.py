"""Dependencies added by rules: seen for the partitions the solver knows, checked against the space."""

from __future__ import annotations

from setpoint import plan
from tests.conftest import NOW


def _project(project, rule: str) -> None:
    project.write("assets/a.yaml", """
        assets:
          - name: calendar
            table: calendar
            partitions: {day: {daily: {start: 2024-03-01, end: 2024-03-02}}}
            action: {sql: "SELECT 1"}
          - name: sales
            table: sales
            partitions: {day: {daily: {start: 2024-03-01, end: 2024-03-02}}}
            action: {sql: "SELECT 1"}
    """)
    project.write("rules/r.lp", rule)
    project.sql("CREATE TABLE calendar (day DATE); INSERT INTO calendar VALUES ('2024-03-01');"
                "CREATE TABLE sales (day DATE); INSERT INTO sales VALUES ('2024-03-01'), ('2024-03-02');")


def test_a_rule_dependency_makes_a_present_partition_wait(project) -> None:
    _project(project, "depends(sales, P, calendar, P) :- frontier(calendar, P).\n")
    p = plan(project.root, now=NOW, record=False)
    assert [(s.partition, s.status, s.condition) for s in p.statuses] == [
        ("calendar[2024-03-02]", "missing", "absent"), ("sales[2024-03-02]", "waiting", "present")]
    assert p.warnings == []


def test_a_rule_naming_an_unexpected_partition_is_a_warning(project) -> None:
    _project(project, 'depends(sales, "2030-01-01", calendar, P) :- frontier(calendar, P).\n')
    p = plan(project.root, now=NOW, record=False)
    assert [s.partition for s in p.statuses] == ["calendar[2024-03-02]"]
    assert p.warnings == ["rules name 1 partition(s) outside their asset's partitions, e.g. sales[2030-01-01]; "
                          "they are left out of the plan (check the depends/4 rules)"]
    assert p.summary["sales"] == {"expected": 2, "satisfied": 2, "missing": 0, "stale": 0, "in_progress": 0, "waiting": 0, "blocked": 0}


def test_what_depends_on_a_rule_made_wait_waits_too(project) -> None:
    """report needs sales (declared); sales needs calendar only through a rule. A missing calendar day
    makes the present sales day wait, and the report of that day with it."""
    _project(project, "depends(sales, P, calendar, P) :- frontier(calendar, P).\n")
    project.write("assets/report.yaml", """
        name: report
        table: report
        partitions: {day: {daily: {start: 2024-03-01, end: 2024-03-02}}}
        depends_on: [sales]
        action: {sql: "SELECT 1"}
    """)
    project.sql("CREATE TABLE report (day DATE); INSERT INTO report VALUES ('2024-03-01'), ('2024-03-02')")
    p = plan(project.root, now=NOW, record=False)
    assert [(s.partition, s.status, s.condition, s.cause_at) for s in p.statuses] == [
        ("calendar[2024-03-02]", "missing", "absent", None),
        ("sales[2024-03-02]", "waiting", "present", "calendar[2024-03-02]"),
        ("report[2024-03-02]", "waiting", "present", "calendar[2024-03-02]"),
    ]
    assert p.summary["report"]["waiting"] == 1 and p.warnings == []


def test_rule_dependencies_chaining_through_time_reach_the_end(project) -> None:
    """A balance needs the day's transactions (declared); a rule makes each day's transactions need the
    previous day's balance. One missing balance day must reach every later day, one round at a time."""
    project.write("assets/a.yaml", """
        assets:
          - name: txns
            table: txns
            partitions: {day: {daily: {start: 2024-03-01, end: 2024-03-10}}}
            action: {sql: "SELECT 1"}
          - name: balance
            table: balance
            partitions: {day: {daily: {start: 2024-03-01, end: 2024-03-10}}}
            depends_on: [txns]
            action: {sql: "SELECT 1"}
    """)
    days = [f"2024-03-{d:02d}" for d in range(1, 11)]
    project.write("rules/r.lp", "".join(f'next("{a}","{b}").\n' for a, b in zip(days, days[1:]))
                  + "depends(txns, Q, balance, P) :- frontier(balance, P), next(P, Q).\n")
    project.sql("CREATE TABLE txns AS SELECT DATE '2024-03-01' + CAST(i AS INTEGER) AS day FROM range(10) t(i);"
                "CREATE TABLE balance AS SELECT DATE '2024-03-01' + CAST(i AS INTEGER) AS day FROM range(1, 10) t(i)")
    p = plan(project.root, now=NOW, record=False)
    assert p.summary["txns"]["waiting"] == 9 and p.summary["balance"]["waiting"] == 9
    assert p.summary["balance"]["missing"] == 1 and p.warnings == []


def test_rule_named_partitions_must_be_canonical_and_expected(project) -> None:
    project.write("assets/a.yaml", """
        assets:
          - name: calendar
            table: calendar
            partitions: {day: {daily: {start: 2024-03-01, end: 2024-03-02}}}
            action: {sql: "SELECT 1"}
          - name: camp
            table: camp
            partitions: {c: {values_from: {file: camps.txt}}}
            action: {sql: "SELECT 1"}
    """)
    project.write("camps.txt", "a\nb\n")
    project.write("rules/r.lp", 'depends(camp, "zzz", calendar, P) :- frontier(calendar, P).\n'
                                'depends(calendar, "2024-3-1", calendar, P) :- frontier(calendar, P).\n')
    project.sql("CREATE TABLE calendar (day DATE); INSERT INTO calendar VALUES ('2024-03-01');"
                "CREATE TABLE camp (c VARCHAR); INSERT INTO camp VALUES ('a'), ('b')")
    p = plan(project.root, now=NOW, record=False, include_satisfied=True)
    assert [(s.partition, s.status) for s in p.statuses] == [
        ("calendar[2024-03-01]", "satisfied"), ("calendar[2024-03-02]", "missing"),
        ("camp[a]", "satisfied"), ("camp[b]", "satisfied")]
    assert p.summary["camp"] == {"expected": 2, "satisfied": 2, "missing": 0, "stale": 0, "in_progress": 0, "waiting": 0, "blocked": 0}
    assert p.warnings == ["rules name 2 partition(s) outside their asset's partitions, e.g. calendar[2024-3-1]; "
                          "they are left out of the plan (check the depends/4 rules)"]
