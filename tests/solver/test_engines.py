"""The status rules evaluated two ways give one answer.

When a project's rules read only input facts, setpoint grounds them alone and
evaluates status.lp itself in the workspace DuckDB (:mod:`setpoint.solver.evaluate`); otherwise
clingo grounds status.lp too. Here both run on every golden case and on random
projects, and every status, condition, reason, run, priority and forbidden
start must be the same.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from setpoint.frontier import Workspace
from setpoint.plan import Plan, Statuses
from setpoint.project.loader import load_project
from setpoint.solver.decode import decode
from setpoint.solver.evaluate import evaluate
from setpoint.solver.facts import write_facts
from setpoint.solver.session import SolveResult, solve, solve_rules
from setpoint.solver.userrules import input_reads, key_reads
from tests.conftest import NOW as CONFTEST_NOW
from tests.solver.test_golden import CASES, GOLDEN, NOW, materialize
from tests.test_project_oracle import EXAMPLES, NOW as ORACLE_NOW, worlds, write

#: golden cases whose rules add dependencies: clingo grounds everything there
FULL_ONLY = {"rule_cycle", "rule_dependency"}


@dataclass
class Answer:
    """One engine's answer, and the statuses decode makes of it (with reasons, conditions and causes)."""

    result: SolveResult
    plan: Plan

    @property
    def statuses(self) -> Statuses:
        return self.plan.statuses


def both(root: Path, now) -> tuple[Answer, Answer] | None:
    project = load_project(root)
    reads = input_reads(list(project.rule_files))
    if reads is None:
        return None
    keys = key_reads(list(project.rule_files))
    display = {str(f): project.display(f) for f in project.rule_files}
    files = list(project.rule_files)
    with Workspace(project) as ws:
        frontier = ws.compute(now)
        full = solve(write_facts(project, frontier, keys).program(), files, display, project.limits,
                     set(project.assets))
        ruled = solve_rules(write_facts(project, frontier, keys, only=reads).program(), files, display, project.limits,
                            set(project.assets))
        fast = evaluate(ws, project, frontier, ruled)
    assert fast.evaluated is not None and full.evaluated is None
    return Answer(full, decode(project, frontier, full, now)), Answer(fast, decode(project, frontier, fast, now))


def assert_same(full: Answer, fast: Answer) -> None:
    # the evaluated engine counts and groups its partitions before it makes their statuses
    assert fast.plan.summary == full.plan.summary
    assert fast.plan.groups == full.plan.groups
    assert [(a.label, a.covers, a.targets, a.unit_keys) for a in fast.plan.actions] == \
        [(a.label, a.covers, a.targets, a.unit_keys) for a in full.plan.actions]
    assert fast.statuses.outdated() == full.statuses.outdated()
    assert [(s.asset, s.key, s.status) for s in fast.statuses] == [(s.asset, s.key, s.status) for s in full.statuses]
    assert fast.statuses == full.statuses  # and their values, conditions, reasons and root causes
    assert [[r.node for r in s.reasons] for s in fast.statuses] == [[r.node for r in s.reasons] for s in full.statuses]
    assert fast.result.runs == full.result.runs
    assert fast.result.priorities == full.result.priorities
    assert fast.result.forbidden == full.result.forbidden


@pytest.mark.parametrize("case", CASES)
def test_both_engines_agree_on_the_golden_cases(case: str, tmp_path: Path) -> None:
    root = materialize(GOLDEN / case, tmp_path / case)
    out = both(root, NOW)
    if case in FULL_ONLY:
        assert out is None
        return
    assert out is not None
    full, fast = out
    assert full.result.statuses, "a golden case has statuses to compare"
    assert_same(full, fast)


@pytest.mark.parametrize("rules", [
    # reads the declared dependencies: their facts are written for the rules
    'block(A,P,"retired") :- depends(A,P,feed,Q), key(feed,Q,campaign,"b").\n',
    # one reason written two ways is one reason
    'block(A,P,"x") :- key(A,P,campaign,"b").\nblock(A,P,x) :- key(A,P,campaign,"b").\n',
    # an atom written as a pool reads both alternatives
    'block(A,P,"b") :- key(A,P,campaign,"b"; A,P,campaign,"a").\n',
    'priority(A,P,5) :- frontier(A,P), key(A,P,day,"2024-03-02").\nforbid(feed,P,"not now") :- frontier(feed,P).\n',
])
def test_both_engines_agree_on_rules_reading_inputs(tmp_path: Path, rules: str) -> None:
    root = materialize(GOLDEN / "blocked_causes", tmp_path / "case")
    (root / "rules" / "policy.lp").write_text(rules)
    out = both(root, NOW)
    assert out is not None
    assert_same(*out)


@pytest.mark.parametrize("rules, seen", [
    ("", {"missing", "waiting"}),
    ('block(tx,P,"held back") :- key(tx,P,day,"2024-03-05").\n', {"blocked"}),  # and all bal after it
    ('unrecoverable(bal,P,"closed") :- key(bal,P,day,"2024-03-08").\n', {"missing", "waiting", "blocked"}),
])
def test_both_engines_agree_on_an_asset_needing_several_of_its_own_windows(project, rules: str, seen: set) -> None:
    """Two self-dependencies (yesterday and a week ago) and a whole-asset one: DuckDB takes one recursive
    term, so the evaluated engine merges the self edges into it."""
    project.write("assets/a.yaml", """
        assets:
          - name: tx
            table: tx
            partitions: {day: {daily: {start: 2024-03-01, end: 2024-03-10}}}
            action: {sql: "SELECT 1"}
          - name: bal
            table: bal
            partitions: {day: {daily: {start: 2024-03-01, end: 2024-03-10}}}
            depends_on:
              - tx
              - {asset: bal, mapping: {offset: -1}}
              - {asset: bal, mapping: {offset: -7}}
            action: {sql: "SELECT 1"}
          - name: report
            table: report
            depends_on: [{asset: bal, mapping: all}]
            action: {sql: "SELECT 1"}
    """)
    if rules:
        project.write("rules/policy.lp", rules)
    project.sql("CREATE TABLE tx AS SELECT DATE '2024-03-01' + CAST(i AS INTEGER) AS day FROM range(10) t(i) "
                "WHERE i <> 4; CREATE TABLE bal AS SELECT DATE '2024-03-01' + CAST(i AS INTEGER) AS day "
                "FROM range(10) t(i); CREATE TABLE report AS SELECT 1 AS x")
    out = both(project.root, CONFTEST_NOW)
    assert out is not None
    full, fast = out
    assert set(full.result.statuses.values()) - {"satisfied"} == seen
    assert_same(full, fast)


@pytest.mark.parametrize("dim", ["code", "root", "blocked", "ls", "kind", "rn", "nd", "att", "nw", "ab", "bo",
                                 "expired", "expires", "old", "absent", "vals"])
def test_a_dimension_may_share_a_name_with_the_evaluated_engines_columns(project, dim: str) -> None:
    """The workspace's own columns start with "_" (a dimension name cannot), or are named so that no
    dimension may be (``updated_at``)."""
    project.write("assets/a.yaml", f"""
        assets:
          - name: a
            table: a
            partitions: {{{dim}: [x, y, z]}}
            action: {{sql: "SELECT 1"}}
          - name: b
            table: b
            partitions: {{{dim}: [x, y, z]}}
            depends_on: [a]
            action: {{sql: "SELECT 1"}}
    """)
    project.write("rules/policy.lp", f'block(a,P,"no") :- key(a,P,{dim},"z").\n')
    project.sql(f"CREATE TABLE a AS SELECT 'x' AS {dim}; CREATE TABLE b AS SELECT unnest(['x', 'y', 'z']) AS {dim}")
    out = both(project.root, CONFTEST_NOW)
    assert out is not None
    full, fast = out
    assert full.result.statuses == {("a", "y"): "missing", ("a", "z"): "blocked", ("b", "y"): "waiting",
                             ("b", "z"): "blocked"}
    assert_same(full, fast)


@pytest.mark.parametrize("campaigns", [["a", "a+", "b"], ["a", "a.b", "b"]])
def test_a_group_example_is_its_first_key_whatever_the_values_hold(project, campaigns: list[str]) -> None:
    """The evaluated engine finds a group's first key from its first values when keys sort as values do;
    "a+" does not sort so ("campaign=a+,..." comes before "campaign=a,..."), and is then found by key."""
    project.write("assets/a.yaml", f"""
        assets:
          - name: feed
            table: feed
            partitions: {{campaign: {campaigns}, day: {{daily: {{start: 2024-03-01, end: 2024-03-03}}}}}}
            action: {{sql: "SELECT 1"}}
          - name: load
            table: load
            partitions: {{campaign: {campaigns}, day: {{daily: {{start: 2024-03-01, end: 2024-03-03}}}}}}
            depends_on: [feed]
            action: {{sql: "SELECT 1"}}
    """)
    project.write("rules/policy.lp", '#defined retired/1.\nblock(feed,P,"no") :- key(feed,P,campaign,C), retired(C).\n')
    project.sql("CREATE TABLE feed (campaign VARCHAR, day DATE); CREATE TABLE load (campaign VARCHAR, day DATE)")
    out = both(project.root, CONFTEST_NOW)
    assert out is not None
    full, fast = out
    waiting = [g for g in fast.plan.groups if g.asset == "load"]
    assert waiting and waiting[0].example == f"load[{min(f'campaign={c},day=2024-03-01' for c in campaigns)}]"
    assert_same(full, fast)


@settings(max_examples=max(5, EXAMPLES // 2), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_both_engines_agree_on_random_projects(w) -> None:
    root = Path(tempfile.mkdtemp(prefix="setpoint-engines-")) / "project"
    try:
        write(w, root)
        out = both(root, ORACLE_NOW)
        assert out is not None  # block facts only read nothing
        assert_same(*out)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


@pytest.mark.parametrize("text, reads", [
    ("", set()),
    ('block(A,P,"x") :- key(A,P,day,"2024-03-02").\n', {"key"}),
    ('retired("7").\nblock(csv,P,R) :- key(csv,P,campaign,C), retired(C), R = ("campaign ", C).\n', {"key"}),
    ('priority(A,P,3) :- frontier(A,P), failed(A,P,_).\nforbid(A,P,"night") :- frontier(A,P), now_local(_,H,_), '
     'H < 6.\n', {"frontier", "failed", "now_local"}),
    ('block(A,P,"up") :- depends(A,P,B,Q), blocked(B,Q).\n', None),        # reads a derived predicate
    ('depends(b,P,a,P) :- frontier(b,P).\n', None),                          # adds a dependency
    ('forbid(A,P,"late") :- status(A,P,missing).\n', None),
    ('block(A,P,"r") :- depends(A,P,B,Q), key(B,Q,campaign,"b").\n', {"depends", "key"}),
    ('block(A,P,"b") :- key(A,P,campaign,"b"; A,P,campaign,"a").\n', {"key"}),
    ('depends(b,P,a,Q; c,P,a,Q) :- key(b,P,day,D), key(a,Q,day,D).\n', None),  # a pool still adds a dependency
    ('#show status/3.\nblock(A,P,"x") :- frontier(A,P).\n', None),                 # shown atoms are read back
    ('#const late = 5.\nblock(A,P,late) :- frontier(A,P).\n', None),              # may rename a shipped constant
    ('priority(A,P,9) :- unit(A,P,_).\n', None),  # status.lp adds unit(A,P,P) for runnable fine-grained ones
    # a rule that can never fire reads nothing: no fact or rule gives retired/1 (yet)
    ('#defined retired/1.\nblock(csv,P,"r") :- key(csv,P,campaign,C), retired(C).\n', set()),
    ('#defined retired/1.\nold(C) :- retired(C).\nblock(csv,P,"r") :- key(csv,P,campaign,C), old(C).\n', set()),
    ('#defined r/1.\ndepends(b,P,a,P) :- frontier(b,P), r(P).\n', set()),
    # … until one does, through a fact, a rule on setpoint's facts, a choice or an #external
    ('retired("7").\nblock(csv,P,"r") :- key(csv,P,campaign,C), retired(C).\n', {"key"}),
    ('retired(C) :- failed(csv,P,3), key(csv,P,campaign,C).\nblock(csv,P,"r") :- key(csv,P,campaign,C), '
     'retired(C).\n', {"failed", "key"}),
    ('{ retired("7") }.\nblock(csv,P,"r") :- key(csv,P,campaign,C), retired(C).\n', {"key"}),
    ('#external retired("7").\nblock(csv,P,"r") :- key(csv,P,campaign,C), retired(C).\n', {"key"}),
    # only what holds counts: read through `not`, an aggregate or a pool, nothing makes a rule dead
    ('#defined r/1.\nblock(csv,P,"r") :- key(csv,P,campaign,C), not r(C).\n', {"key"}),
    ('#defined r/1.\nblock(csv,P,"r") :- key(csv,P,campaign,C), 0 = #count { X : r(X) }.\n', {"key"}),
    ('#defined r/1.\nblock(csv,P,"r") :- key(csv,P,campaign,C), r(C; "x").\n', {"key"}),
])
def test_which_rules_let_setpoint_evaluate_the_status_rules_itself(tmp_path: Path, text: str, reads) -> None:
    path = tmp_path / "r.lp"
    path.write_text(text)
    assert input_reads([path]) == reads


def test_both_engines_name_the_same_rules_behind_blocks(tmp_path: Path) -> None:
    root = materialize(GOLDEN / "blocked_causes", tmp_path / "case")
    project = load_project(root)
    keys, files = key_reads(list(project.rule_files)), list(project.rule_files)
    display = {str(f): project.display(f) for f in files}
    with Workspace(project) as ws:
        frontier = ws.compute(NOW)
    full = solve(write_facts(project, frontier, keys).program(), files, display, project.limits, set(project.assets),
                 origins=True)
    reads = input_reads(files)
    ruled = solve_rules(write_facts(project, frontier, keys, only=reads).program(), files, display, project.limits,
                        set(project.assets), origins=True)
    assert full.origins and ruled.origins == full.origins
