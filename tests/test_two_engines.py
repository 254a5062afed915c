"""Two engines agree: setpoint's clingo rules and an independent pyDatalog derivation (tests/oracle).

Hypothesis draws random solver inputs — small DAGs of assets with partitions
absent, outdated, superseded, leased or present; dependencies, ``all``
mappings and windows not due; rule blocks, unrecoverable partitions, failures
against max_attempts and backoffs — and both engines must give every known
partition the same status and the same reasons. The order of the facts must
not change clingo's answer. Examples are bounded for the CI budget; set
``SETPOINT_LONG=1`` for a deeper run.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from setpoint.solver.session import solve
from tests.oracle.datalog import Facts, derive

LONG = bool(os.environ.get("SETPOINT_LONG"))
EXAMPLES = 400 if LONG else 40

CONDITIONS = ("absent", "outdated", "superseded", "expired", "fresh", "off")


@st.composite
def facts(draw) -> Facts:
    """Random solver input over 1–4 assets with 1–3 partitions each; dependencies only point to earlier
    assets, so the declared graph is a DAG, as setpoint's loader guarantees."""
    f = Facts()
    n = draw(st.integers(1, 4))
    assets = [f"a{i}" for i in range(n)]
    f.assets = set(assets)
    parts = {a: [f"k{j}" for j in range(draw(st.integers(1, 3)))] for a in assets}
    everyone = [(a, p) for a in assets for p in parts[a]]
    for a in assets:
        if draw(st.booleans()) or draw(st.booleans()):
            f.has_action.add(a)
        if draw(st.integers(0, 7)) == 0:
            f.paused[a] = "paused by ada at 2024-04-01 12:00 UTC because a vendor outage"
    for a, p in everyone:
        c = draw(st.sampled_from(CONDITIONS))
        if c == "absent":
            f.absent.add((a, p))
        elif c == "outdated":
            b, q = draw(st.sampled_from(everyone))
            f.outdated.add((a, p, b, q))
        elif c == "superseded":
            f.superseded.add((a, p))
        elif c == "expired":
            f.expired.add((a, p))
        elif c == "fresh":
            f.frontier.add((a, p))
        if c != "off" and draw(st.integers(0, 5)) == 0:
            f.leased.add((a, p))
        if a in f.has_action and c in ("absent", "outdated", "superseded", "expired") and draw(st.integers(0, 3)) == 0:
            f.failed[(a, p)] = draw(st.integers(1, 4))
            f.max_attempts[a] = f.max_attempts.get(a) or draw(st.integers(1, 3))
            if draw(st.booleans()):
                f.backoff.add((a, p))
        if draw(st.integers(0, 7)) == 0:
            f.block.add((a, p, "paused"))
        if draw(st.integers(0, 9)) == 0:
            f.unrecoverable.add((a, p, "lost for good"))
    for i, a in enumerate(assets[1:], start=1):
        for p in parts[a]:
            for _ in range(draw(st.integers(0, 2))):
                b = assets[draw(st.integers(0, i - 1))]
                f.depends.add((a, p, b, draw(st.sampled_from(parts[b]))))
            if draw(st.integers(0, 6)) == 0:
                b = assets[draw(st.integers(0, i - 1))]
                f.not_due.add((b, "later"))
                f.depends.add((a, p, b, "later"))
        if draw(st.integers(0, 5)) == 0:
            f.needs_all.add((a, assets[draw(st.integers(0, i - 1))]))
    return f


def clingo(f: Facts, order: list[int] | None = None) -> tuple[dict, dict]:
    lines = f.lp()
    if order is not None:
        lines = [lines[i] for i in order]
    result = solve("\n".join(lines) + "\n", [], {}, assets=set(f.assets))
    reasons = {node: {(k, v) for k, v in rs} for node, rs in result.reasons.items()}
    return result.statuses, reasons


def oracle(f: Facts) -> tuple[dict, dict]:
    statuses, reasons = derive(f)
    norm = {n: {(k, str(v) if isinstance(v, int) else v) for k, v in rs} for n, rs in reasons.items()}
    return statuses, norm


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts())
def test_both_engines_derive_the_same_statuses_and_reasons(f: Facts) -> None:
    ours, our_reasons = clingo(f)
    theirs, their_reasons = oracle(f)
    assert ours == theirs
    assert our_reasons == their_reasons


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(facts(), st.randoms(use_true_random=False))
def test_the_order_of_facts_changes_nothing(f: Facts, rnd) -> None:
    order = list(range(len(f.lp())))
    rnd.shuffle(order)
    assert clingo(f, order) == clingo(f)


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(facts())
def test_every_known_partition_has_one_status_and_runnable_ones_need_only_satisfied_ones(f: Facts) -> None:
    statuses, _ = clingo(f)
    for (a, p, b, q) in f.depends:
        if statuses.get((a, p)) in ("missing", "stale"):
            assert statuses.get((b, q), "satisfied") == "satisfied" and (b, q) not in f.not_due
    assert set(statuses.values()) <= {"satisfied", "missing", "stale", "in_progress", "waiting", "blocked"}


def test_a_hand_made_case_agrees() -> None:
    """A chain with a rule block at its root, a lease and a backoff: the oracle reads it the same."""
    f = Facts(assets={"raw", "mid", "top"}, has_action={"raw", "mid", "top"},
              absent={("raw", "1"), ("mid", "1"), ("raw", "2"), ("mid", "2")},
              frontier={("top", "1")}, leased={("raw", "2")}, failed={("mid", "2"): 1}, max_attempts={"mid": 3},
              backoff={("mid", "2")}, block={("raw", "1", "vendor paused")},
              depends={("mid", "1", "raw", "1"), ("top", "1", "mid", "1"), ("mid", "2", "raw", "2")})
    assert clingo(f) == oracle(f)
    assert clingo(f)[0] == {("raw", "1"): "blocked", ("mid", "1"): "blocked", ("top", "1"): "blocked",
                            ("raw", "2"): "in_progress", ("mid", "2"): "waiting"}


pytest.importorskip("pyDatalog")
