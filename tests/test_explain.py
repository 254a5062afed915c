"""``setpoint why``: golden explanations per case, their JSON form, and the tree's agreement with the plan.

Each golden case may hold ``why.txt``: one target per line (optionally followed
by ``--all``). Its explanations are compared with ``why.expected.txt`` (the
text, as the CLI prints it) and ``why.expected.json`` (the JSON documents).
Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_explain.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from setpoint import controller
from setpoint.errors import UsageError
from setpoint.explain import FANIN, Cause
from setpoint.render import render_why
from tests.solver.test_golden import GOLDEN, NOW, materialize

CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "why.txt").exists())


def _targets(case: str) -> list[tuple[str, bool]]:
    out = []
    for line in (GOLDEN / case / "why.txt").read_text().splitlines():
        if line.strip():
            target, _, flag = line.strip().partition(" --")
            out.append((target, flag == "all"))
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("why")
    return {case: materialize(GOLDEN / case, root / case) for case in CASES}


def _explain(project: Path, target: str, expand: bool):
    return controller.why(project, target, now=NOW, expand=expand)


@pytest.mark.parametrize("case", CASES)
def test_golden_explanations(case: str, built: dict[str, Path]) -> None:
    text, docs = [], {}
    for target, expand in _targets(case):
        ex = _explain(built[case], target, expand)
        text.append(f"$ setpoint why {target}{' --all' if expand else ''}\n{render_why(ex)}\n")
        docs[target + (" --all" if expand else "")] = ex.to_json()
    got_text, got_json = "\n".join(text), json.dumps(docs, indent=2, ensure_ascii=False) + "\n"
    expected_text, expected_json = GOLDEN / case / "why.expected.txt", GOLDEN / case / "why.expected.json"
    if os.environ.get("UPDATE_GOLDEN") or not expected_text.exists():
        expected_text.write_text(got_text)
        expected_json.write_text(got_json)
        if not os.environ.get("UPDATE_GOLDEN"):
            pytest.fail(f"wrote new golden files for {case}; review them and run again")
    assert got_text == expected_text.read_text()
    assert json.loads(got_json) == json.loads(expected_json.read_text())


def _causes(doc: dict) -> list[dict]:
    out = []
    stack = [c for node in doc.get("nodes", {}).values() for c in node["causes"]]
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(c.get("because", []))
    return out


def test_every_status_and_cause_kind_is_explained_in_the_golden_set() -> None:
    statuses, kinds, sources = set(), set(), set()
    for case in CASES:
        for doc in json.loads((GOLDEN / case / "why.expected.json").read_text()).values():
            statuses.update(n["status"] for n in doc.get("nodes", {}).values())
            for c in _causes(doc):
                kinds.add(c["kind"])
                sources.add(c["source"])
    assert statuses == {"satisfied", "missing", "stale", "in_progress", "waiting", "blocked", "not due",
                        "not expected"}
    assert kinds == {"absent", "expected", "outdated", "superseded", "failed", "retrying", "leased", "backoff",
                     "rule", "unrecoverable",
                     "no_action", "needs", "not_due", "needs_all", "upstream_blocked", "upstream_all_blocked",
                     "declared", "rule_dependency", "present", "built", "upstream_unchanged", "not_expected"}
    assert sources == {"derived", "observation", "run", "declaration", "rule"}


@pytest.mark.parametrize("case", ["run_record", "chain_three_levels", "blocked_causes", "fan_in", "rule_dependency"])
def test_each_explanation_agrees_with_the_plan(case: str, built: dict[str, Path]) -> None:
    """Every node's status is the plan's status, and every derived step leads to a node that is not satisfied."""
    plan = controller.plan(built[case], now=NOW, record=False)
    statuses = {s.partition: s.status for s in plan.statuses}
    for st in plan.statuses:
        ex = _explain(built[case], st.partition, expand=True)
        assert ex.status == st.status
        for node in ex.nodes.values():
            assert node.status == statuses.get(node.id, "satisfied")
            for c in _walk(node.causes):
                if c.node is not None:
                    assert statuses[c.node] != "satisfied"


def _walk(causes: list[Cause]):
    stack = list(causes)
    while stack:
        c = stack.pop()
        yield c
        stack.extend(c.because)


def test_a_user_rule_reason_names_the_rule_file_and_line(built: dict[str, Path]) -> None:
    ex = _explain(built["blocked_causes"], "feed[campaign=c,day=2024-03-02]", False)
    (cause,) = [c for c in ex.nodes[ex.root].causes if c.source == "rule"]
    assert (cause.kind, cause.file, cause.line) == ("unrecoverable", "rules/policy.lp", 4)
    assert cause.text == "unrecoverable, says rules/policy.lp:4: the vendor lost this report"


def test_a_rule_made_dependency_is_attributed_to_its_rule(built: dict[str, Path]) -> None:
    ex = _explain(built["rule_dependency"], "sales[2024-03-02]", False)
    (link,) = [c for c in ex.nodes[ex.root].causes if c.node == "calendar[2024-03-02]"]
    assert [(o.kind, o.file, o.line) for o in link.because] == [("rule_dependency", "rules/calendar.lp", 2)]


def test_a_chain_three_levels_deep_reaches_the_observation_at_its_root(built: dict[str, Path]) -> None:
    ex = _explain(built["chain_three_levels"], "report", False)
    chain, node = [], ex.nodes[ex.root]
    while True:
        chain.append(node.id)
        links = [c for c in _walk(node.causes) if c.node is not None]
        if not links:
            break
        node = ex.nodes[links[0].node]
    assert len(chain) >= 3
    assert any(c.source == "observation" for c in node.causes)


def test_a_wide_fan_in_is_summarized_and_all_expands_it(built: dict[str, Path]) -> None:
    short = _explain(built["fan_in"], "daily[2024-03-01]", False)
    (fanin,) = [c for c in short.nodes[short.root].causes if c.groups]
    assert [(g.count, g.values) for g in fanin.groups] == [(10, "campaign 1–10"), (2, "campaign 11–12")]
    assert len(short.nodes) == 3  # the target and one example per shared cause
    full = _explain(built["fan_in"], "daily[2024-03-01]", True)
    links = [c for c in full.nodes[full.root].causes if c.node]
    assert len(links) == 12 > FANIN
    assert len(full.nodes) == 13


def test_a_shared_upstream_is_explained_once(built: dict[str, Path]) -> None:
    """top needs left and right, which both need raw: raw's causes are printed once, then referred to."""
    ex = _explain(built["diamond"], "top[2024-03-02]", False)
    text = render_why(ex)
    assert text.count("no file data/raw/2024-03-02.csv") == 1
    assert text.count("needs raw[2024-03-02] (missing)") == 2
    assert "needs raw[2024-03-02] (missing), explained above — declared at" in text
    assert list(ex.nodes) == ["top[2024-03-02]", "left[2024-03-02]", "right[2024-03-02]", "raw[2024-03-02]"]


@pytest.mark.parametrize(("target", "message", "hint"), [
    ("nope[2024-03-01]", "unknown asset 'nope'", "the assets are events, clean, daily, report"),
    ("dayly[2024-03-01]", "unknown asset 'dayly'", "did you mean 'daily'?"),
    ("daily[2024-03-01", "cannot read partition 'daily[2024-03-01'", "write asset[value] or asset[dim=value,dim=value]"),
    ("report[2024-03-01]", "report[2024-03-01] is not partitioned", "drop the [...]"),
])
def test_bad_targets_say_what_to_write(target: str, message: str, hint: str, built: dict[str, Path]) -> None:
    with pytest.raises(UsageError) as err:
        _explain(built["chain_three_levels"], target, False)
    assert err.value.problems[0].message == message
    assert err.value.problems[0].hint == hint


def test_a_partial_key_names_the_missing_dimension(built: dict[str, Path]) -> None:
    with pytest.raises(UsageError) as err:
        _explain(built["fan_in"], "feed[day=2024-03-01]", False)
    problem = err.value.problems[0]
    assert problem.message == "feed[day=2024-03-01] does not say which campaign: feed is partitioned by campaign, day"
    assert problem.hint == "write feed[campaign=…,day=2024-03-01], or `setpoint why feed` for all of its partitions"


def test_every_rule_that_derived_a_block_is_named(tmp_path: Path) -> None:
    case = materialize(GOLDEN / "blocked_causes", tmp_path / "case")
    (case / "rules" / "again.lp").write_text(
        '% the same reason, from a second rule\nblock(feed, P, "campaign b is retired") :- key(feed, P, campaign, "b").\n')
    ex = _explain(case, "feed[campaign=b,day=2024-03-01]", False)
    (cause,) = [c for c in ex.nodes[ex.root].causes if c.source == "rule"]
    assert (cause.file, cause.line, cause.detail["also"]) == ("rules/again.lp", 2, ["rules/policy.lp:2"])


def _write(root: Path, assets: str, rules: str = "", observed: str = "") -> Path:
    """A project from its assets YAML, a rule file and SQL run against its warehouse."""
    import duckdb

    root.mkdir(parents=True, exist_ok=True)
    (root / "setpoint.yaml").write_text("name: t\n")
    (root / "assets").mkdir(exist_ok=True)
    (root / "assets" / "assets.yaml").write_text(assets)
    if rules:
        (root / "rules").mkdir(exist_ok=True)
        (root / "rules" / "r.lp").write_text(rules)
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    if observed:
        con.execute(observed)
    con.close()
    return root


def _lines(project: Path, target: str, now=NOW) -> list[str]:
    return render_why(controller.why(project, target, now=now)).splitlines()


TWO_DAYS = """\
assets:
  - name: tx
    table: tx
    partitions:
      day: &days {daily: {start: 2024-03-01, end: 2024-03-05}}
    action: {sql: "SELECT 1"}
  - name: rolling
    table: rolling
    partitions: {day: *days}
    depends_on:
      - tx
      - asset: tx
        mapping: {previous: 2, dimension: day}
    action: {sql: "SELECT 1"}
"""


def test_a_dependency_is_attributed_to_the_mapping_that_selects_it(tmp_path: Path) -> None:
    project = _write(tmp_path, TWO_DAYS, observed="CREATE TABLE tx (day VARCHAR); INSERT INTO tx VALUES "
                     "('2024-03-01'), ('2024-03-02'), ('2024-03-04'), ('2024-03-05'); CREATE TABLE rolling (day VARCHAR)")
    assert "└─ needs tx[2024-03-03] (missing) — declared at assets/assets.yaml:12, previous 2 day" in \
        _lines(project, "rolling[2024-03-04]")
    same_day = "\n".join(_lines(project, "rolling[2024-03-03]"))
    assert "needs tx[2024-03-03] (missing) — declared at assets/assets.yaml:11, identity\n" in same_day + "\n"


def test_time_values_are_read_canonically(tmp_path: Path) -> None:
    project = _write(tmp_path, TWO_DAYS)
    assert _lines(project, "tx[2024-3-3]")[0] == "tx[2024-03-03]: missing"
    assert _lines(project, "tx[2024-03-99]")[1] == (
        "└─ not expected: assets/assets.yaml:5 — 2024-03-99 is not a daily window "
        "(they are written like 2024-03-01)")


def test_an_hour_the_clocks_skip_is_named_as_such(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    project = _write(tmp_path, """\
assets:
  - name: raw
    table: raw
    partitions:
      hour: {hourly: {start: 2024-03-31T00:00, end: 2024-03-31T05:00, timezone: Europe/Berlin}}
""")
    lines = _lines(project, "raw[2024-03-31T02:00]", now=datetime(2024, 4, 1, tzinfo=timezone.utc))
    assert lines == ["raw[2024-03-31T02:00]: not expected",
                     "└─ not expected: assets/assets.yaml:5 — the hour 2024-03-31T02:00 does not exist in "
                     "Europe/Berlin: the clocks skip it"]


def test_values_that_cannot_be_read_yet_explain_why_nothing_is_expected(tmp_path: Path) -> None:
    project = _write(tmp_path, """\
assets:
  - name: stmt
    table: stmt
    partitions:
      customer: {values_from: {table: customers, column: id}}
      day: {daily: {start: 2024-03-01, end: 2024-03-02}}
""")
    assert _lines(project, "stmt[customer=7,day=2024-03-02]")[1] == (
        "└─ not expected: assets/assets.yaml:2 — no partition of stmt is expected yet: dimension 'customer' reads "
        "values from table customers, which does not exist yet; no partitions expected")


def test_a_partition_only_a_rule_names_outside_the_space_is_not_expected(tmp_path: Path) -> None:
    """The plan leaves it out with a warning; why says the same instead of failing."""
    project = _write(tmp_path, TWO_DAYS, rules='depends(rolling, P, tx, "2024-03-09") :- frontier(rolling, P).\n'
                                               'depends(tx, "2024-03-09", tx, "2024-03-02").\n')
    lines = _lines(project, "rolling[2024-03-02]")
    assert "└─ needs tx[2024-03-09] (not expected) — added by rules/r.lp:1" in lines
    assert _lines(project, "tx[2024-03-09]")[1:] == [
        "├─ not expected: a rule's dependency names it, but it is not one of tx's partitions; the plan leaves it "
        "out (check the depends/4 rules)",
        "└─ not expected: assets/assets.yaml:5 — day 2024-03-09 is after 2024-03-05, where day ends"]


def test_a_pooled_rule_head_keeps_its_place_and_a_present_blocked_partition_shows_what_it_needs(
        tmp_path: Path) -> None:
    project = _write(tmp_path, TWO_DAYS,
                     rules='block(rolling,P,"frozen"; rolling,P,"audited") :- frontier(rolling,P).\n',
                     observed="CREATE TABLE tx (day VARCHAR); CREATE TABLE rolling (day VARCHAR); "
                              "INSERT INTO rolling VALUES ('2024-03-02')")
    lines = _lines(project, "rolling[2024-03-02]")
    assert lines[:4] == ["rolling[2024-03-02]: blocked",
                         "├─ present: rows with day=2024-03-02 in table rolling; not satisfied while what it needs "
                         "is not",
                         "├─ blocked by rules/r.lp:1: audited",
                         "├─ blocked by rules/r.lp:1: frozen"]
    assert "└─ needs tx[2024-03-02] (missing) — declared at assets/assets.yaml:11, identity" in lines


def test_a_key_giving_a_dimension_twice_is_refused(built: dict[str, Path]) -> None:
    with pytest.raises(UsageError) as err:
        _explain(built["fan_in"], "feed[campaign=1,campaign=2,day=2024-03-01]", False)
    assert err.value.problems[0].message == "feed[campaign=1,campaign=2,day=2024-03-01]: campaign is given twice"
