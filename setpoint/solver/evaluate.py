"""The shipped status rules (``rules/status.lp``), evaluated directly over the frontier.

status.lp is stratified: every status and reason it derives is a function of
the input facts. When the project's own rules read nothing but input facts and
define no dependency (:func:`setpoint.solver.userrules.input_reads`), they can
affect the statuses only through ``block/3`` and ``unrecoverable/3``. Then
clingo grounds just the user's rules over the facts they read
(:func:`setpoint.solver.session.solve_rules`), and this module derives the
rest, rule for rule, in a few passes over the frontier's partitions and edges:
at 60,000 unsatisfied partitions about half a second, instead of the 3.5
seconds that handing 170,000 facts to clingo and reading 185,000 atoms back
cost. Rules that read derived predicates (``status/3``, ``blocked/2`` …) or
add dependencies keep the full grounding. ``why`` takes the same path as
``plan`` (the user's rules are traced either way). ``tests/solver/test_engines.py`` holds both to the same
answer on every golden case and on random projects.

Each block below names the status.lp rules it evaluates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from ..frontier import Frontier, FrontierPartition
from ..project.model import Project
from .facts import describe_pause
from .session import SolveResult

Node = tuple[str, str]


def evaluate(project: Project, frontier: Frontier, ruled: SolveResult) -> SolveResult:
    """Statuses, conditions, reasons and runs of every known partition; ``ruled`` holds what the user's
    rules derived (blocks, unrecoverable partitions, priorities, forbidden starts) and is filled in."""
    parts: dict[Node, FrontierPartition] = {(a, part.key): part for a, af in frontier.assets.items()
                                            for part in af.partitions}
    assets = project.assets
    has_action = {a for a, x in assets.items() if x.action is not None}
    coarse = {a for a, x in assets.items() if x.action is not None and x.action.grain != x.dims}
    failing = {a for a in has_action if any(p.failures for p in frontier.assets[a].partitions)}
    paused: dict[str, str] = {}
    for a in assets:
        pause = frontier.paused.get(a) or frontier.paused.get("*")
        if pause is not None:
            paused[a] = describe_pause(pause)
    not_due = frontier.not_due
    needs: dict[Node, list[Node]] = defaultdict(list)        # depends(A,P,B,Q): (A,P) → [(B,Q)]
    dependents: dict[Node, list[Node]] = defaultdict(list)   # (B,Q) → [(A,P)]
    for a, p, b, q in frontier.edges:
        needs[(a, p)].append((b, q))
        dependents[(b, q)].append((a, p))
    all_of: dict[str, list[str]] = defaultdict(list)          # needs_all(A,B): A → [B]
    all_by: dict[str, list[str]] = defaultdict(list)          # B → [A]
    for a, b in frontier.needs_all:
        all_of[a].append(b)
        all_by[b].append(a)

    # known(A,P) :- frontier(A,P).  known(A,P) :- depends(A,P,_,_), asset(A).
    # known(B,Q) :- depends(_,_,B,Q), asset(B), not not_due(B,Q).
    known: dict[Node, None] = dict.fromkeys(parts)
    for (a, p), ups in needs.items():
        if a in assets:
            known.setdefault((a, p))
        for b, q in ups:
            if b in assets and (b, q) not in not_due:
                known.setdefault((b, q))
    known_by_asset: dict[str, list[Node]] = defaultdict(list)
    for node in known:
        known_by_asset[node[0]].append(node)

    # the facts as write_facts writes them: absent, else outdated, else expired; superseded besides
    absent: set[Node] = set()
    outdated: dict[Node, tuple[str, str]] = {}
    expired: set[Node] = set()
    superseded: set[Node] = set()
    failed: dict[Node, int] = {}
    backoff: set[Node] = set()
    leased: set[Node] = set()
    for n, x in parts.items():
        if x.absent:
            absent.add(n)
        elif x.outdated_by is not None:
            outdated[n] = x.outdated_by
        elif x.expired:
            expired.add(n)
        if x.superseded is not None:
            superseded.add(n)
        if x.failures:
            failed[n] = x.failures
            if x.retry_at is not None and x.retry_at > frontier.now:
                backoff.add(n)
        if x.lease is not None:
            leased.add(n)
    # needs_work(A,P) :- absent(A,P). … outdated, superseded, expired.
    needs_work = absent | set(outdated) | expired | superseded

    # troubled(A,P) :- needs_work(A,P). / leased(A,P). / depends(A,P,B,Q), troubled(B,Q).
    # troubled(A,P) :- depends(A,P,B,Q), not_due(B,Q). / needs_all(A,B), known(A,P), troubled_asset(B).
    seeds = [n for n in needs_work | leased]
    seeds += [n for n, ups in needs.items() if any(u in not_due for u in ups)]
    troubled, troubled_assets = _closure(seeds, dependents, all_by, known_by_asset)

    # root_blocked(A,P) :- troubled(A,P), block(A,P,_). / unrecoverable(A,P,_).
    # root_blocked(A,P) :- troubled(A,P), paused(A,_), not leased(A,P).
    # root_blocked(A,P) :- needs_work(A,P), not has_action(A).   root_blocked(A,P) :- exhausted(A,P).
    # exhausted(A,P) :- needs_work(A,P), failed(A,P,N), max_attempts(A,M), N >= M.
    exhausted = {n for n in needs_work if n in failed and n[0] in failing
                 and failed[n] >= assets[n[0]].action.max_attempts}
    root = {n for n in troubled if n in ruled.blocks or n in ruled.unrecoverable
            or (n[0] in paused and n not in leased)}
    root |= {n for n in needs_work if n[0] not in has_action}
    root |= exhausted
    # blocked(A,P) :- root_blocked(A,P). / depends(A,P,B,Q), blocked(B,Q).
    # blocked(A,P) :- needs_all(A,B), known(A,P), blocked_asset(B).
    blocked, blocked_assets = _closure(list(root), dependents, all_by, known_by_asset)
    # pending(A,P) :- troubled(A,P), not blocked(A,P).
    pending = troubled - blocked
    pending_assets = {n[0] for n in pending}

    def upstream_pending(n: Node) -> bool:
        if any(u in pending or u in not_due for u in needs.get(n, ())):
            return True
        return n not in blocked and any(b in pending_assets for b in all_of.get(n[0], ()))

    result = ruled
    statuses, conditions, reasons = result.statuses, result.conditions, result.reasons
    runnable: list[Node] = []
    for n in known:
        can_run = False
        # condition(A,P,absent|outdated|present)
        conditions[n] = "absent" if n in absent else "outdated" if n in needs_work else "present"
        why: set[tuple[str, object]] = set()
        if n not in troubled:
            statuses[n] = "satisfied"
            continue
        if n in blocked:
            statuses[n] = "blocked"
            if n in root:
                why.update(("rule", r) for r in ruled.blocks.get(n, ()))
                why.update(("unrecoverable", r) for r in ruled.unrecoverable.get(n, ()))
                if n[0] in paused:
                    why.add(("paused", paused[n[0]]))
                if n in needs_work and n[0] not in has_action:
                    why.add(("no_action", "none"))
                if n in exhausted:
                    why.add(("failed", str(failed[n])))
                if n not in needs_work:  # reason(A,P,needs|not_due|needs_all,…) :- root_blocked(A,P), not needs_work(A,P)
                    _upstream(why, needs.get(n, ()), all_of.get(n[0], ()), troubled, troubled_assets, not_due)
            else:
                why.update(("upstream_blocked", ("up", *u)) for u in needs.get(n, ()) if u in blocked)
                why.update(("upstream_all_blocked", b) for b in all_of.get(n[0], ()) if b in blocked_assets)
        elif n in leased:  # in_progress(A,P) :- pending(A,P), leased(A,P).
            statuses[n] = "in_progress"
            why.add(("leased", "none"))
            if n in absent:
                why.add(("absent", "none"))
        elif upstream_pending(n) or n in backoff:  # held
            statuses[n] = "waiting"
            if n in backoff and n in failed:
                why.add(("backoff", str(failed[n])))
            _upstream(why, needs.get(n, ()), all_of.get(n[0], ()), pending, pending_assets, not_due)
        elif n in absent:
            statuses[n] = "missing"
            why.add(("absent", "none"))
            can_run = True
        elif n in needs_work:
            statuses[n] = "stale"
            if n in outdated:
                why.add(("outdated", ("up", *outdated[n])))
            if n in superseded:
                why.add(("superseded", "none"))
            if n in expired:
                why.add(("expired", "none"))
            can_run = True
        else:
            continue
        if can_run:
            runnable.append(n)
            if n in failed:
                why.add(("retrying", str(failed[n])))
        if why:
            reasons[n] = sorted(why, key=repr) if len(why) > 1 else list(why)
    # unit(A,P,P) :- runnable(A,P), not coarse(A).  leased_unit(A,U) :- leased(A,P), unit(A,P,U).
    # run(A,U) :- runnable(A,P), unit(A,P,U), not leased_unit(A,U).
    leased_units = {(n[0], parts[n].unit) for n in leased if n[0] in coarse}
    runs = set()
    for n in runnable:
        unit = (n[0], parts[n].unit) if n[0] in coarse else n
        if unit not in leased_units:
            runs.add(unit)
    result.runs = sorted(runs)
    return result


def _upstream(why: set[tuple[str, object]], ups: Iterable[Node], all_ups: Iterable[str], among: set[Node],
              among_assets: set[str], not_due: set[Node]) -> None:
    """The needs, not_due and needs_all reasons: what a partition needs that is among ``among`` (troubled
    ones for a root-blocked partition, pending ones for a waiting one), or not due yet."""
    for u in ups:
        if u in among:
            why.add(("needs", ("up", *u)))
        if u in not_due:
            why.add(("not_due", ("up", *u)))
    why.update(("needs_all", b) for b in all_ups if b in among_assets)


def _closure(seeds: list[Node], dependents: dict[Node, list[Node]], all_by: dict[str, list[str]],
             known_by_asset: dict[str, list[Node]]) -> tuple[set[Node], set[str]]:
    """Everything reached from the seeds through dependents and needs_all/2 (whole assets), and its assets."""
    reached: set[Node] = set()
    reached_assets: set[str] = set()
    stack = list(seeds)
    while stack:
        n = stack.pop()
        if n in reached:
            continue
        reached.add(n)
        stack.extend(dependents.get(n, ()))
        if n[0] not in reached_assets:
            reached_assets.add(n[0])
            for a in all_by.get(n[0], ()):
                stack.extend(known_by_asset.get(a, ()))
    return reached, reached_assets
