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
    assert statuses == {"satisfied", "missing", "stale", "waiting", "blocked", "not due", "not expected"}
    assert kinds == {"absent", "expected", "outdated", "superseded", "failed", "retrying", "rule", "unrecoverable",
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
                if c.partition is not None:
                    assert statuses[c.partition] != "satisfied"


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
    (link,) = [c for c in ex.nodes[ex.root].causes if c.partition == "calendar[2024-03-02]"]
    assert [(o.kind, o.file, o.line) for o in link.because] == [("rule_dependency", "rules/calendar.lp", 2)]


def test_a_chain_three_levels_deep_reaches_the_observation_at_its_root(built: dict[str, Path]) -> None:
    ex = _explain(built["chain_three_levels"], "report", False)
    chain, node = [], ex.nodes[ex.root]
    while True:
        chain.append(node.id)
        links = [c for c in _walk(node.causes) if c.partition is not None]
        if not links:
            break
        node = ex.nodes[links[0].partition]
    assert len(chain) >= 3
    assert any(c.source == "observation" for c in node.causes)


def test_a_wide_fan_in_is_summarized_and_all_expands_it(built: dict[str, Path]) -> None:
    short = _explain(built["fan_in"], "daily[2024-03-01]", False)
    (fanin,) = [c for c in short.nodes[short.root].causes if c.groups]
    assert [(g.count, g.values) for g in fanin.groups] == [(10, "campaign 1–10"), (2, "campaign 11–12")]
    assert len(short.nodes) == 3  # the target and one example per shared cause
    full = _explain(built["fan_in"], "daily[2024-03-01]", True)
    links = [c for c in full.nodes[full.root].causes if c.partition]
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
