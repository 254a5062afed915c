"""The fact writer and the solver session: escaping, and invariants of the derivation."""

from __future__ import annotations

import random

import clingo
import pytest
from hypothesis import given, settings, strategies as st

from setpoint.solver.facts import lp_string
from setpoint.solver.session import solve


@given(st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=30))
def test_any_text_survives_the_trip_through_clingo(text: str) -> None:
    ctl = clingo.Control()
    ctl.add("base", [], f"v({lp_string(text)}).")
    ctl.ground([("base", [])])
    (atom,) = [a.symbol for a in ctl.symbolic_atoms.by_signature("v", 1)]
    assert atom.arguments[0].string == text


def test_nul_is_refused_with_a_clear_error() -> None:
    import pytest

    from setpoint.errors import ObserveError

    with pytest.raises(ObserveError, match="NUL character"):
        lp_string("a\x00b")


FACTS = """
asset(raw). asset(clean). asset(report). has_action(clean). has_action(report).
dimension(raw,day). dimension(clean,day).
frontier(raw,"2024-03-02"). absent(raw,"2024-03-02"). key(raw,"2024-03-02",day,"2024-03-02").
frontier(raw,"2024-03-03"). absent(raw,"2024-03-03"). key(raw,"2024-03-03",day,"2024-03-03").
frontier(clean,"2024-03-01"). outdated(clean,"2024-03-01",raw,"2024-03-01"). key(clean,"2024-03-01",day,"2024-03-01").
frontier(clean,"2024-03-02"). key(clean,"2024-03-02",day,"2024-03-02").
frontier(clean,"2024-03-04"). absent(clean,"2024-03-04"). key(clean,"2024-03-04",day,"2024-03-04").
depends(clean,"2024-03-02",raw,"2024-03-02").
frontier(report,""). needs_all(report,clean).
"""


def _derive(text: str):
    r = solve(text, [], {})
    return r.statuses, {k: sorted(v) for k, v in r.reasons.items()}, sorted(r.runs)


def test_statuses_of_a_small_frontier() -> None:
    statuses, reasons, runs = _derive(FACTS)
    assert statuses == {
        ("raw", "2024-03-02"): "blocked", ("raw", "2024-03-03"): "blocked",
        ("clean", "2024-03-01"): "stale", ("clean", "2024-03-02"): "blocked",
        ("clean", "2024-03-04"): "missing", ("report", ""): "blocked",
    }
    assert reasons[("clean", "2024-03-02")] == [("upstream_blocked", ("up", "raw", "2024-03-02"))]
    assert runs == [("clean", "2024-03-01"), ("clean", "2024-03-04")]


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_fact_order_changes_nothing(rnd: random.Random) -> None:
    facts = [f.strip() + "." for f in FACTS.replace("\n", " ").split(".") if f.strip()]
    rnd.shuffle(facts)
    assert _derive("\n".join(facts)) == _derive(FACTS)


def test_every_known_partition_has_exactly_one_status() -> None:
    ctl = clingo.Control()
    from setpoint.solver.session import RULES_DIR

    ctl.load(str(RULES_DIR / "inputs.lp"))
    ctl.load(str(RULES_DIR / "status.lp"))
    ctl.add("base", [], FACTS)
    ctl.ground([("base", [])])
    known = {(a.symbol.arguments[0].name, a.symbol.arguments[1].string) for a in ctl.symbolic_atoms.by_signature("known", 2)}
    per: dict = {}
    for a in ctl.symbolic_atoms.by_signature("status", 3):
        assert a.is_fact
        node = (a.symbol.arguments[0].name, a.symbol.arguments[1].string)
        per[node] = per.get(node, 0) + 1
    assert set(per) == known and set(per.values()) == {1}


def test_key_facts_are_written_for_what_rules_read(tmp_path) -> None:
    from setpoint.solver.userrules import key_reads

    rules = tmp_path / "r.lp"
    rules.write_text('block(csv, P, "x") :- key(csv, P, campaign, "77").\n'
                     'block(A, P, "y") :- key(A, P, day, "2024-03-01"), frontier(A, P).\n')
    assert key_reads([rules]) == {("csv", "campaign"), (None, "day")}
    assert key_reads([]) == set()


def test_key_reads_through_constants_and_pools_count_as_any(tmp_path) -> None:
    from setpoint.solver.userrules import key_reads

    consts = tmp_path / "c.lp"
    consts.write_text('#const cdim = campaign.\nblock(csv, P, "x") :- key(csv, P, cdim, "c2").\n')
    pool = tmp_path / "p.lp"
    pool.write_text('block(csv, P, "x") :- key(csv, P, campaign, "c1"; csv, P, campaign, "c2").\n')
    assert key_reads([consts]) == {("csv", None)}
    assert key_reads([pool]) == {(None, None)}


def test_key_reads_of_a_rule_that_cannot_fire_are_not_written(tmp_path) -> None:
    """As the example's retired.lp: until a campaign is listed as retired, its rule derives nothing, and
    the solver is handed no key/4 facts for it (a first backfill would hand it one per partition)."""
    from setpoint.solver.userrules import key_reads

    rules = tmp_path / "r.lp"
    rules.write_text('#defined retired/1.\nblock(csv, P, "x") :- key(csv, P, campaign, C), retired(C).\n'
                     'block(A, P, "y") :- key(A, P, day, "2024-03-01"), frontier(A, P).\n')
    assert key_reads([rules]) == {(None, "day")}
    rules.write_text(rules.read_text() + 'retired("77").\n')
    assert key_reads([rules]) == {("csv", "campaign"), (None, "day")}


def _atoms(text: str) -> list[str]:
    return [f.strip() for f in text.replace("\n", " ").split(".") if f.strip()]


def test_the_aspif_program_holds_the_same_facts_as_the_text() -> None:
    from setpoint.solver.facts import FactWriter

    w = FactWriter()
    w.asset("raw")
    w.key("raw", 'a "quoted"\\ key\nwith a newline', "day", "ünïcødé ☃")
    w.paused("raw", "paused by ada")
    assert w.count == 3
    assert w.text().splitlines() == ["asset(raw).",
                                     'key(raw,"a \\"quoted\\"\\\\ key\\nwith a newline",day,"ünïcødé ☃").',
                                     'paused(raw,"paused by ada").']
    lines = w.program().splitlines()
    assert lines[0] == "asp 1 0 0" and lines[-1] == "0" and lines[1] == "4 10 asset(raw) 0"
    atom = w.text().splitlines()[1][:-1]
    assert lines[2] == f"4 {len(atom.encode())} {atom} 0"  # the length counts UTF-8 bytes, not characters
    assert FactWriter().program() == "asp 1 0 0\n0\n" and FactWriter().text() == ""


@settings(deadline=None)
@given(st.lists(st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=20),
                min_size=1, max_size=5))
def test_any_partition_value_reaches_a_user_rule_intact_through_aspif(values: list[str]) -> None:
    from setpoint.solver.facts import FactWriter

    w = FactWriter()
    w.asset("csv")
    for i, v in enumerate(values):
        w.key("csv", f"{v}|{i}", "campaign", v)
    ctl = clingo.Control()
    ctl.add("base", [], w.program())
    ctl.add("base", [], 'block(csv,P,("campaign ",C)) :- key(csv,P,campaign,C).')
    ctl.ground([("base", [])])
    blocks = [a for a in ctl.symbolic_atoms.by_signature("block", 3)]
    assert all(a.is_fact for a in blocks)
    got = {(a.symbol.arguments[1].string, a.symbol.arguments[2].arguments[1].string) for a in blocks}
    assert got == {(f"{v}|{i}", v) for i, v in enumerate(values)}


def test_the_statuses_are_the_same_from_aspif_and_from_text() -> None:
    from setpoint.solver.facts import aspif

    assert _derive(aspif(_atoms(FACTS))) == _derive(FACTS)


def test_user_rules_derive_the_same_from_aspif_and_from_text(tmp_path) -> None:
    from setpoint.solver.facts import aspif
    from setpoint.solver.session import solve_rules

    rules = tmp_path / "r.lp"
    rules.write_text('retired("2024-03-02").\n'
                     'block(A,P,("retired ",V)) :- key(A,P,day,V), retired(V).\n'
                     'priority(A,P,3) :- absent(A,P), not key(A,P,day,"2024-03-02").\n'
                     'forbid(A,P,"stale") :- outdated(A,P,_,_).\n'
                     ':- frontier(A,P), asset(A), not frontier(A,P).\n')
    display = {str(rules): "rules/r.lp"}
    assets = {"raw", "clean", "report"}
    from_text = solve_rules(FACTS, [rules], display, assets=assets, origins=True)
    from_aspif = solve_rules(aspif(_atoms(FACTS)), [rules], display, assets=assets, origins=True)
    assert from_aspif.blocks == from_text.blocks == {
        ("raw", "2024-03-02"): ["retired 2024-03-02"], ("clean", "2024-03-02"): ["retired 2024-03-02"]}
    assert from_aspif.priorities == from_text.priorities and from_aspif.priorities
    assert from_aspif.forbidden == from_text.forbidden == {("clean", "2024-03-01"): "stale"}
    assert from_aspif.origins == from_text.origins and from_aspif.origins


def test_the_guard_stops_an_exploding_rule_over_aspif_facts_and_counts_them(tmp_path) -> None:
    import pytest

    from setpoint.errors import RuleError
    from setpoint.project.model import SolverLimits
    from setpoint.solver.facts import aspif
    from setpoint.solver.session import fact_count, solve_rules

    rules = tmp_path / "explode.lp"
    rules.write_text('p(X,Y,Z) :- X=1..2000, Y=1..2000, Z=1..2000.\nblock(A,P,"x") :- frontier(A,P), p(1,1,1).\n')
    program = aspif(_atoms(FACTS))
    assert fact_count(program) == fact_count("".join(f"{a}.\n" for a in _atoms(FACTS))) == 24
    stopped = r"^rules/explode\.lp: grounding the rules over 24 facts (needed more than \d+ MiB|took longer than \d+ s)"
    with pytest.raises(RuleError, match=stopped) as caught:
        solve_rules(program, [rules], {str(rules): "rules/explode.lp"}, SolverLimits(memory_mb=128, timeout_s=20))
    assert caught.value.file == "rules/explode.lp"


def test_rules_under_way_are_stopped_when_the_plan_no_longer_waits_for_them(tmp_path) -> None:
    """The status tables are prepared while clingo grounds the user's rules in a child process: if
    preparing them fails, the grounding is killed, not waited for until its time limit."""
    import time

    from setpoint.project.model import SolverLimits
    from setpoint.solver.facts import aspif
    from setpoint.solver.session import start_rules

    rules = tmp_path / "explode.lp"
    rules.write_text('p(X,Y,Z) :- X=1..2000, Y=1..2000, Z=1..2000.\nblock(A,P,"x") :- frontier(A,P), p(1,1,1).\n')
    started = time.monotonic()
    under_way = start_rules(aspif(_atoms(FACTS)), [rules], {str(rules): "rules/explode.lp"},
                            SolverLimits(memory_mb=2048, timeout_s=600))
    assert under_way.guarded is not None
    proc = under_way.guarded.proc
    assert proc.is_alive()
    under_way.cancel()
    under_way.cancel()  # twice is harmless
    assert not proc.is_alive() and proc.exitcode is not None and time.monotonic() - started < 30


def test_rules_under_way_with_a_large_unread_answer_are_stopped_at_once(tmp_path) -> None:
    """An answer larger than the pipe holds blocks the child while it writes: when the plan no longer
    wants it (preparing the status tables failed), the child is killed, not waited for."""
    import time

    from setpoint.solver.session import start_rules

    rules = tmp_path / "big.lp"
    rules.write_text('block(A,P,(R,"a reason long enough to fill the pipe")) :- frontier(A,P), R=1..3000.\n')
    under_way = start_rules(FACTS, [rules], {str(rules): "rules/big.lp"}, assets={"raw", "clean", "report"})
    assert under_way.guarded is not None and under_way.guarded.parent.poll(60)  # the answer is being written
    started = time.monotonic()
    under_way.cancel()
    assert time.monotonic() - started < 3 and not under_way.guarded.proc.is_alive()


def test_rules_under_way_answer_once(tmp_path) -> None:
    from setpoint.solver.session import start_rules

    rules = tmp_path / "r.lp"
    rules.write_text('block(A,P,"no") :- key(A,P,day,"2024-03-02").\n')
    under_way = start_rules(FACTS, [rules], {str(rules): "rules/r.lp"}, assets={"raw", "clean", "report"})
    first = under_way.result()
    assert under_way.result() is first and first.blocks
    under_way.cancel()
    assert under_way.guarded is not None and not under_way.guarded.proc.is_alive()
    assert start_rules(FACTS, [], {}).result().blocks == {}  # no rules: nothing to ground


@pytest.mark.parametrize("text, started", [
    ('% retired("77").\n#defined retired/1.\nblock(csv, P, "retired") :- key(csv, P, campaign, C), retired(C).\n',
     False),
    ('#defined retired/1.\nblock(csv, P, "retired") :- key(csv, P, campaign, C), retired(C).\nretired("c1").\n', True),
    ('#defined retired/1.\n:- key(raw, P, day, "2024-03-02").\n', True),  # a live constraint may refute the facts
    ('old("c1").\nretired(C) :- old(C).\nblock(raw, P, "retired") :- key(raw, P, day, _), retired(_).\n', True),
    ('#defined retired/1.\n:~ retired(C). [1@1, C]\n', True),  # anything but rules is left to clingo
])
def test_rules_that_can_derive_nothing_start_no_child_process(tmp_path, text, started) -> None:
    from setpoint.solver.session import start_rules
    from setpoint.solver.userrules import inert

    rules = tmp_path / "r.lp"
    rules.write_text(text)
    under_way = start_rules(FACTS, [rules], {str(rules): "rules/r.lp"}, assets={"raw", "clean", "report", "csv"})
    assert (under_way.guarded is not None) == started and inert([rules]) == (not started)
    if not started:
        assert under_way.result().blocks == {} and not under_way.result().priorities
    under_way.cancel()


@pytest.mark.parametrize("text, error", [
    ('#defined retired/1.\nblock(csv, P, X) :- key(csv, P, campaign, C), retired(C).\n', "unsafe variable 'X'"),
    ('block(csv, P, "x") :- key(csv, P, campaign, C), keys(C).\n', "keys/1 is used but nothing defines it"),
])
def test_rules_that_can_derive_nothing_report_what_grounding_reports(tmp_path, text, error) -> None:
    """Grounded in the plan's own process, they report what the child process would."""
    from setpoint.errors import RuleError
    from setpoint.solver.session import start_rules

    rules = tmp_path / "r.lp"
    rules.write_text(text)
    under_way = start_rules(FACTS, [rules], {str(rules): "rules/r.lp"}, assets={"raw", "clean", "report", "csv"})
    assert under_way.guarded is None
    with pytest.raises(RuleError) as caught:
        under_way.result()
    assert error in str(caught.value) and caught.value.file == "rules/r.lp"
