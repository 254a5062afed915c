"""Untrusted rule files, fuzzed: every mutation ends in a plan or in a clear error naming the rule file.

Hypothesis takes good rule files and mutates them: characters deleted or
inserted, schema predicates misspelt, an unsafe variable, a rule reading
``status/3`` through ``not`` (non-stratified), a grounding that explodes. The
plan either succeeds (the mutation left valid rules) with one status per known
partition, or raises a :class:`SetpointError` whose problems name the rule file
— never another exception, never a hang (the grounding runs under the
project's limits).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from setpoint import plan
from setpoint.errors import SetpointError
from tests.solver.test_golden import GOLDEN, NOW, materialize

EXAMPLES = 200 if os.environ.get("SETPOINT_LONG") else 25

GOOD = [
    ('block(feed, P, "campaign b is retired") :- key(feed, P, campaign, "b").\n'
     'unrecoverable(feed, P, "the vendor lost this report") :- key(feed, P, campaign, "c"), '
     'key(feed, P, day, "2024-03-02").\n'),
    'depends(derived, P, raw, P) :- frontier(derived, P).\n',
    '#defined retired/1.\nblock(feed, P, ("campaign ", C, " is retired")) :- key(feed, P, campaign, C), retired(C).\n',
]

BAD_RULES = [
    'blok(feed, P, "typo") :- key(feed, P, campaign, "a").\n',
    'block(feed, P, R) :- key(feed, P, campaign, "a").\n',                       # R is unsafe
    'block(A, P, "racy") :- frontier(A, P), not status(A, P, satisfied).\n',     # non-stratified
    'big(X, Y) :- n(X), n(Y).\nn(1..3000).\nblock(feed, P, "x") :- key(feed, P, campaign, "a"), big(1, 1).\n',
    'block(feed, P, "x") :- key(feed, P, campaign).\n',                          # wrong arity
    'depends(nosuch, P, feed, P) :- frontier(feed, P).\n',                       # not an asset
    'status(feed, P, blocked) :- frontier(feed, P).\n',                           # defines what setpoint derives
]

MISSPELT = {"block": ["blok", "blocks", "Block"], "key": ["keys", "ky"], "frontier": ["fronteir", "frontier_"],
            "depends": ["depend", "dependss"], "unrecoverable": ["unrecoverabel"]}


@st.composite
def mutated(draw) -> str:
    text = draw(st.sampled_from(GOOD))
    for _ in range(draw(st.integers(1, 2))):
        how = draw(st.sampled_from(["delete", "insert", "misspell", "append"]))
        if how == "delete" and text:
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + text[i + 1:]
        elif how == "insert":
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(st.sampled_from(list(".,():-;\"X_ 1\n"))) + text[i:]
        elif how == "misspell":
            word = draw(st.sampled_from(sorted(MISSPELT)))
            text = text.replace(word + "(", draw(st.sampled_from(MISSPELT[word])) + "(", 1)
        else:
            text += draw(st.sampled_from(BAD_RULES))
    return text


_BASE: dict[str, Path] = {}


def _project(tmp: Path) -> Path:
    """The blocked_causes golden project, built once per session, with tight solver limits."""
    if "root" not in _BASE:
        root = materialize(GOLDEN / "blocked_causes", tmp / "base")
        (root / "setpoint.yaml").write_text("name: fuzz\nsolver: {memory_mb: 256, timeout_s: 5}\n")
        _BASE["root"] = root
    return _BASE["root"]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
@given(text=mutated())
def test_a_mutated_rule_file_plans_or_fails_naming_the_file(tmp_path_factory, text: str) -> None:
    base = _project(tmp_path_factory.getbasetemp())
    root = base.parent / "case"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(base, root)
    for old in (root / "rules").glob("*.lp"):
        old.unlink()
    (root / "rules" / "fuzzed.lp").write_text(text)
    try:
        result = plan(root, now=NOW, record=False)
    except SetpointError as exc:
        assert exc.problems, exc
        for problem in exc.problems:
            assert problem.file is not None and "rules/fuzzed.lp" in problem.file, (text, problem)
        return
    statuses = {(s.asset, s.key) for s in result.statuses}
    assert len(statuses) == len(result.statuses)  # one status per partition
