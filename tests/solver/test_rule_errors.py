"""Errors in user rule files: each names file, line and the fix, and exits 2 from validate and plan.

The project has a partition in every interesting state: ``a`` (files, with an
action, none present) is missing and ``b`` (a table that needs ``a``) is
waiting, so statuses exist when a rule reads them.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from setpoint import controller
from setpoint.errors import Problem, RuleError
from setpoint.solver.userrules import _arity, parse_message
from tests.conftest import assert_cli_error

NOW = "2024-04-01T12:00Z"
WHEN = datetime(2024, 4, 1, 12, tzinfo=timezone.utc)

def rule_problems(project) -> list[Problem]:
    with pytest.raises(RuleError) as caught:
        controller.validate(project.root)
    assert caught.value.exit_code == 2
    return caught.value.problems


def test_the_project_has_missing_and_waiting_partitions(waiting) -> None:
    statuses = {(s.asset, s.key): s.status for s in controller.plan(waiting.root, now=WHEN, record=False).statuses}
    assert statuses == {("a", "2024-03-01"): "missing", ("a", "2024-03-02"): "missing",
                        ("b", "2024-03-01"): "waiting", ("b", "2024-03-02"): "waiting"}


def test_a_good_rule_validates_and_blocks(waiting, cli) -> None:
    waiting.write("rules/holiday.lp", 'block(A,P,"holiday") :- frontier(A,P), key(A,P,day,"2024-03-02").\n')
    result = cli("validate", "-p", str(waiting.root))
    assert (result.exit_code, result.stdout, result.stderr) == (0, "ok: 2 assets, 1 rule files\n", "")
    statuses = {(s.asset, s.key): s.status for s in controller.plan(waiting.root, now=WHEN, record=False).statuses}
    assert statuses[("a", "2024-03-02")] == "blocked" and statuses[("b", "2024-03-01")] == "waiting"


def test_positive_recursion_through_derived_predicates_is_allowed(waiting) -> None:
    # reads blocked/2, which depends on block/3 only positively: still stratified
    waiting.write("rules/r.lp", 'block(A,P,"upstream") :- depends(A,P,B,Q), blocked(B,Q).\n'
                                'block(a,P,"x") :- frontier(a,P), key(a,P,day,"2024-03-01").\n')
    controller.validate(waiting.root)
    statuses = {(s.asset, s.key): s.status for s in controller.plan(waiting.root, now=WHEN, record=False).statuses}
    assert statuses[("b", "2024-03-01")] == "blocked"


def test_syntax_error_names_file_and_line(waiting, cli) -> None:
    waiting.write("rules/r.lp", '% holidays\nblock(A,P,"x") :- frontier(A,P)\nblock(A,P,"y") :- absent(A,P).\n')
    hint = "every rule ends with a period; check this line and the end of the line before"
    assert rule_problems(waiting) == [Problem("syntax error, unexpected <IDENTIFIER>", "rules/r.lp", 3, hint)]
    assert_cli_error(cli, waiting, f"error: rules/r.lp:3: syntax error, unexpected <IDENTIFIER> ({hint})")


def test_a_predicate_nothing_defines(waiting, cli) -> None:
    waiting.write("rules/r.lp", '% campaign 77\nblock(A,P,"x") :- keys(A,P,campaign,"77").\n')
    assert rule_problems(waiting) == [
        Problem('keys/4 is used but nothing defines it: keys(A,P,campaign,"77")', "rules/r.lp", 2,
                "did you mean 'key'? it is written key(A,P,D,V)")
    ]
    assert_cli_error(cli, waiting,
                     'error: rules/r.lp:2: keys/4 is used but nothing defines it: keys(A,P,campaign,"77") '
                     "(did you mean 'key'? it is written key(A,P,D,V))")


def test_a_schema_predicate_read_with_the_wrong_arity(waiting) -> None:
    waiting.write("rules/r.lp", 'block(A,P,"x") :- key(A,P,day).\n')
    assert rule_problems(waiting) == [
        Problem("key/3 is used but nothing defines it: key(A,P,day)", "rules/r.lp", 1,
                "key takes 4 arguments: key(A,P,D,V)")
    ]


def test_unsafe_variable(waiting, cli) -> None:
    waiting.write("rules/r.lp", "block(A,P,R) :- frontier(A,P).\n")
    hint = "every variable must also appear in a positive body atom, e.g. frontier(A,P) or key(A,P,D,V)"
    assert rule_problems(waiting) == [
        Problem("unsafe variable 'R' in `block(A,P,R) :- frontier(A,P).`", "rules/r.lp", 1, hint)
    ]
    assert_cli_error(cli, waiting, f"error: rules/r.lp:1: unsafe variable 'R' in `block(A,P,R) :- frontier(A,P).` "
                                   f"({hint})")


def test_rules_may_not_define_what_setpoint_derives(waiting, cli) -> None:
    waiting.write("rules/r.lp", "% force it\nstatus(A,P,missing) :- frontier(A,P).\n")
    assert rule_problems(waiting) == [
        Problem("rules may not define status/3: setpoint derives it", "rules/r.lp", 2,
                "rules may define block/3, depends/4, forbid/3, priority/3, unrecoverable/3")
    ]
    assert_cli_error(cli, waiting, "error: rules/r.lp:2: rules may not define status/3: setpoint derives it "
                                   "(rules may define block/3, depends/4, forbid/3, priority/3, unrecoverable/3)")


def test_rules_may_not_define_what_setpoint_writes(waiting) -> None:
    waiting.write("rules/r.lp", 'absent(a,"2024-03-05").\n')
    assert rule_problems(waiting) == [
        Problem("rules may not define absent/2: setpoint writes it", "rules/r.lp", 1,
                "rules may define block/3, depends/4, forbid/3, priority/3, unrecoverable/3")
    ]


def test_wrong_arity_of_a_schema_predicate(waiting, cli) -> None:
    waiting.write("rules/r.lp", "block(A,P) :- frontier(A,P).\n")
    assert rule_problems(waiting) == [
        Problem("block/2 is not in the fact schema", "rules/r.lp", 1, "block takes 3 arguments: block(A,P,R)")
    ]
    assert_cli_error(cli, waiting, "error: rules/r.lp:1: block/2 is not in the fact schema "
                                   "(block takes 3 arguments: block(A,P,R))")


def test_a_helper_defined_but_never_read(waiting, cli) -> None:
    waiting.write("rules/r.lp", 'blok(A,P,"x") :- frontier(A,P).\n')
    assert rule_problems(waiting) == [
        Problem("blok/3 is defined but nothing reads it", "rules/r.lp", 1, "did you mean 'block'?")
    ]
    assert_cli_error(cli, waiting,
                     "error: rules/r.lp:1: blok/3 is defined but nothing reads it (did you mean 'block'?)")


def test_a_helper_that_is_read_is_fine(waiting) -> None:
    waiting.write("rules/r.lp", 'late(A,P) :- key(A,P,day,"2024-03-02").\n'
                                'block(A,P,"late") :- frontier(A,P), late(A,P).\n')
    controller.validate(waiting.root)


NON_STRATIFIED_HINT = ("derive block/3, unrecoverable/3 and depends/4 from input facts such as frontier/2, key/4 "
                       "or absent/2, not from status/3 or what follows from it")


def test_a_non_stratified_rule_is_an_error_at_plan_time(waiting, cli) -> None:
    waiting.write("rules/r.lp", 'block(A,P,"x") :- status(A,P,waiting).\n')
    message = ("non-stratified rule: block/3 reads status/3, which depends on block/3 through negation "
               "(block/3 → status/3 → pending/2 → not blocked/2 → root_blocked/2 → block/3)")
    with pytest.raises(RuleError) as caught:
        controller.plan(waiting.root, now=WHEN, record=False)
    assert caught.value.problems == [Problem(message, "rules/r.lp", 1, NON_STRATIFIED_HINT)]
    # validate sees it too: it does not depend on the data
    assert rule_problems(waiting) == [Problem(message, "rules/r.lp", 1, NON_STRATIFIED_HINT)]
    assert_cli_error(cli, waiting, f"error: rules/r.lp:1: {message} ({NON_STRATIFIED_HINT})")


def test_a_negative_cycle_among_helpers_is_non_stratified(waiting) -> None:
    waiting.write("rules/r.lp", 'block(A,P,"x") :- frontier(A,P), not fine(A,P).\nfine(A,P) :- block(A,P,_).\n')
    assert [(p.line, p.message) for p in rule_problems(waiting)] == [
        (1, "non-stratified rule: block/3 reads fine/2, which depends on block/3 through negation "
            "(block/3 → not fine/2 → block/3)"),
        (2, "non-stratified rule: fine/2 reads block/3, which depends on fine/2 through negation "
            "(fine/2 → block/3 → not fine/2)"),
    ]


def test_a_choice_of_blocks_is_non_stratified(waiting, cli) -> None:
    waiting.write("rules/r.lp", '{ block(A,P,"maybe") } :- frontier(A,P).\n')
    hint = ("rules must derive block/3, unrecoverable/3 and depends/4 with plain rules, not with { ... } choices, "
            "disjunctions or #external")
    assert rule_problems(waiting) == [
        Problem("non-stratified rule: block/3 is guessed by a choice, so statuses would not follow from the facts "
                "alone", "rules/r.lp", 1, hint)
    ]


def test_a_choice_that_statuses_do_not_depend_on_is_allowed(waiting) -> None:
    waiting.write("rules/r.lp", "{ spare(1) }.\n:- spare(1), asset(a), 1 = 2.\n")
    controller.validate(waiting.root)


def test_problems_in_several_rule_files_are_all_reported_sorted(waiting, cli) -> None:
    waiting.write("rules/b.lp", "status(A,P,missing) :- frontier(A,P).\n")
    waiting.write("rules/a.lp", '% typo\nblok(A,P,"x") :- frontier(A,P).\n')
    assert [(p.file, p.line) for p in rule_problems(waiting)] == [("rules/a.lp", 2), ("rules/b.lp", 1)]
    assert_cli_error(cli, waiting,
                     "error: rules/a.lp:2: blok/3 is defined but nothing reads it (did you mean 'block'?)",
                     "error: rules/b.lp:1: rules may not define status/3: setpoint derives it "
                     "(rules may define block/3, depends/4, forbid/3, priority/3, unrecoverable/3)")


# -- clingo's messages, parsed ---------------------------------------------------------------


def test_parse_message_maps_the_file_to_its_display_name() -> None:
    problem = parse_message("/tmp/x/rules/r.lp:4:1-4: error: syntax error, unexpected <IDENTIFIER>\n",
                            {"/tmp/x/rules/r.lp": "rules/r.lp"})
    assert (problem.file, problem.line, problem.message) == ("rules/r.lp", 4, "syntax error, unexpected <IDENTIFIER>")


def test_parse_message_lists_every_unsafe_variable() -> None:
    message = ("r.lp:2:1-38: error: unsafe variables in:\n  block(A,P,X):-[#inc_base];frontier(A,P);Y>1.\n"
               "r.lp:2:11-12: note: 'X' is unsafe\nr.lp:2:32-33: note: 'Y' is unsafe\n")
    problem = parse_message(message, {})
    assert (problem.line, problem.message) == (2, "unsafe variables 'X', 'Y' in `block(A,P,X) :- frontier(A,P), Y>1.`")


def test_parse_message_without_a_location_keeps_the_text() -> None:
    assert parse_message("something odd\n  happened", {}) == Problem("something odd happened")


@pytest.mark.parametrize("atom, arity", [
    ("p", 0), ("p(A)", 1), ('keys(A,P,campaign,"77")', 4), ('p(f(a,b),"x,\\"y",(1,2))', 3),
])
def test_arity_of_a_printed_atom(atom: str, arity: int) -> None:
    assert _arity(atom) == arity


def test_a_rule_naming_an_unknown_asset(waiting, cli) -> None:
    waiting.write("rules/r.lp", 'depends(b, P, nosuch, P) :- frontier(b, P).\nblock(bb, P, "x") :- frontier(b, P).\n')
    known = 'assets are written as constants (csv, not "csv"); known assets: a, b'
    assert_cli_error(cli, waiting,
                     f"error: rules/r.lp:1: depends/4 names nosuch as an asset, but it is not one ({known})",
                     f"error: rules/r.lp:2: block/3 names bb as an asset, but it is not one (did you mean b? {known})")


def test_a_rule_writing_an_asset_as_a_string(waiting, cli) -> None:
    waiting.write("rules/r.lp", 'block("a", P, "x") :- frontier(a, P).\n')
    assert_cli_error(cli, waiting, 'error: rules/r.lp:1: block/3 names "a" as an asset, but it is not one '
                                   '(did you mean a? assets are written as constants (csv, not "csv"); '
                                   'known assets: a, b)')


def test_a_derived_asset_name_that_is_not_an_asset(waiting, cli) -> None:
    """A name the rules compute cannot be checked statically; the solver still refuses it."""
    waiting.write("rules/r.lp", 'target(nosuch).\nblock(T, P, "x") :- target(T), frontier(b, P).\n')
    result = cli("plan", "-p", str(waiting.root), "--now", "2024-04-01T12:00Z")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: rules/r.lp: the rules name nosuch in depends/4, block/3, "
                                    "unrecoverable/3, priority/3 or forbid/3, which is not an asset (")


def test_a_rule_writing_a_key_that_is_not_a_string(waiting, cli) -> None:
    waiting.write("rules/r.lp", 'depends(b, day1, a, "2024-03-01").\n')
    result = cli("plan", "-p", str(waiting.root), "--now", "2024-04-01T12:00Z")
    assert result.exit_code == 2
    assert result.stderr == ('error: rules/r.lp: the rules name the partition day1 of b, but partition keys are '
                             'strings (write keys as strings, e.g. "2024-03-01" or "campaign=501,day=2024-03-01")\n')


def test_an_asset_written_as_a_constant_name(waiting, cli) -> None:
    """#const target = a. is resolved by clingo; the static check leaves it to the grounded check."""
    waiting.write("rules/r.lp", '#const target = a.\nblock(target, P, "x") :- frontier(a, P).\n')
    result = cli("plan", "-p", str(waiting.root), "--now", "2024-04-01T12:00Z", "--json")
    assert result.exit_code == 0, result.output
    import json

    doc = json.loads(result.stdout)
    assert {(s["asset"], s["status"]) for s in doc["statuses"]} == {("a", "blocked"), ("b", "blocked")}


def test_a_block_on_a_key_that_is_not_a_string(waiting, cli) -> None:
    waiting.write("rules/r.lp", 'block(a, 5, "x").\n')
    result = cli("plan", "-p", str(waiting.root), "--now", "2024-04-01T12:00Z")
    assert result.exit_code == 2
    assert result.stderr == ('error: rules/r.lp: the rules block the partition 5 of a, but partition keys are strings '
                             '(write keys as strings, e.g. "2024-03-01" or "campaign=501,day=2024-03-01")\n')


def test_a_violated_constraint_names_its_file_and_line(waiting, cli) -> None:
    waiting.write("rules/r.lp", '% nothing may be missing\n:- frontier(b, P).\n')
    with pytest.raises(RuleError) as caught:
        controller.plan(waiting.root, now=WHEN, record=False)
    hint = "check the constraints (rules/r.lp:2): one of them holds for this plan's facts"
    assert caught.value.problems == [Problem("the rules admit no answer: an integrity constraint (:- ...) in them "
                                             "is violated", "rules/r.lp", 2, hint)]
