"""The loop: load → observe → frontier → solve → plan; ``apply`` (in :mod:`setpoint.apply`) closes it."""

from __future__ import annotations

import atexit
import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from .diagram import AssetGraph, asset_graph
from .errors import ConfigError, ObserveError, UsageError
from .evidence import Evidence
from .explain import Explainer, Explanation
from .frontier import Frontier, Workspace
from .partition import parse_values, split_target
from .plan import Plan, Statuses
from .project.loader import find_root, load_project
from .project.model import Asset, Project
from .schedule import Budget, choose
from .solver.actions import run_ranges
from .solver.decode import decode, unsettled_by_rules
from .solver.facts import write_facts
from .solver.evaluate import evaluate, prepare
from .solver.session import SolveResult, check_rules, rule_problems, solve, start_rules
from .solver.userrules import input_reads, key_reads
from .state import Event, RunRecord, StateStore, recorded


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    return now if now.tzinfo else now.replace(tzinfo=timezone.utc)


def _display(project: Project) -> dict[str, str]:
    return {str(f): project.display(f) for f in project.rule_files}


def validate(path: str | Path = ".") -> Project:
    """Load the project and check its rule files, reporting every problem of both in one error."""
    try:
        project = load_project(path)
    except ConfigError as exc:
        if exc.rule_files:  # the rules can still be read against the schema, without data
            root = find_root(path)
            display = {str(f): str(f.relative_to(root)) if f.is_relative_to(root) else str(f) for f in exc.rule_files}
            problems = exc.problems + rule_problems(list(exc.rule_files), display)
            if len(problems) > len(exc.problems):
                raise ConfigError(problems[0].message,
                                  problems=sorted(problems, key=lambda p: (p.file or "", p.line or 0))) from exc
        raise
    check_rules(list(project.rule_files), _display(project), project.limits, set(project.assets))
    return project


#: a guard against rules that keep reaching new partitions one round at a time for very long
MAX_ROUNDS = 1000


def _solve_to_fixpoint(ws: Workspace, project: Project, frontier: Frontier, keys: set, reads: set[str] | None,
                       timings: dict[str, float], origins: bool = False) -> SolveResult:
    """Solve; when rules' dependencies left partitions off the frontier unsatisfied, seed them so that
    their declared downstream joins the frontier, and solve again until nothing new is reached.
    Seeds only grow and are expected partitions, so this ends; the result always belongs to the
    frontier it was solved on."""
    seeds: dict[str, set[tuple[str, ...]]] = {}
    timings["solve"] = 0.0
    if reads is not None:  # the rules read inputs only: ground them alone, evaluate the status rules here
        t = time.perf_counter()
        facts = write_facts(project, frontier, keys, only=reads)
        rules = start_rules(facts.program(), list(project.rule_files), _display(project), project.limits,
                            set(project.assets), origins)
        try:  # the status tables are prepared while clingo grounds the user's rules
            try:
                tables = prepare(ws, project, frontier)
            except Exception:
                rules.result()  # an error in the rules is the user's to fix first: it is raised instead
                raise
            ruled = rules.result()
        finally:
            rules.cancel()
        result = evaluate(ws, project, frontier, ruled, tables)
        result.facts = facts.count
        timings["solve"] += time.perf_counter() - t
        return result
    for round_ in range(1, MAX_ROUNDS + 1):
        t = time.perf_counter()
        facts = write_facts(project, frontier, keys)
        result = solve(facts.program(), list(project.rule_files), _display(project), project.limits,
                       set(project.assets), origins=origins)
        result.facts = facts.count
        timings["solve"] += time.perf_counter() - t
        ws.check_named(frontier, result.statuses)
        more = unsettled_by_rules(frontier, result)
        if all(rows <= seeds.get(a, set()) for a, rows in more.items()):
            return result
        if round_ == MAX_ROUNDS:
            frontier.warnings.append(f"rule dependencies kept reaching new partitions; the plan stopped after "
                                     f"{round_} rounds and may miss some (check the depends/4 rules)")
            return result
        for a, rows in more.items():
            seeds[a] = seeds.get(a, set()) | rows
        t = time.perf_counter()
        ws.build_frontier(frontier, {a: sorted(rows) for a, rows in seeds.items()})
        timings["frontier"] += time.perf_counter() - t
    raise AssertionError("unreachable")


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Keep Python's cyclic garbage collector out of a plan.

    A plan makes a few objects per unsatisfied partition (hundreds of thousands
    at scale) and keeps all of them until it is decoded; none of them forms a
    reference cycle. The collector would still walk them again and again as they
    are made: about a third of a plan's time at 60,000 partitions. Reference
    counting frees everything as usual; the collector resumes afterwards.

    What the plan left alive is then frozen (``gc.freeze``): the collector's next
    passes would otherwise walk all of it once per generation, 0.1 s each at
    60,000 partitions. The next plan (or the process's exit) unfreezes it and
    collects once, so garbage cycles made while it was frozen are freed then:
    at most one plan's objects are out of the collector's reach. A process that
    had frozen objects itself keeps its freeze (a plan then freezes nothing); one
    that freezes objects between two plans sees them unfrozen by the second.
    """
    global _frozen
    enabled = gc.isenabled()
    if _frozen:
        _unfreeze()  # the previous plan's objects: back to the oldest generation,
        gc.collect()  # and what of them (or of anything since) is garbage in cycles, freed
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_freeze_count() == 0:  # counting is free when nothing is frozen
                gc.freeze()
                _frozen = True
            gc.enable()


#: whether the objects frozen now are the last plan's (see :func:`no_cycle_collection`)
_frozen = False


@atexit.register  # at exit, the collector sees everything as usual (extension modules report leaks otherwise)
def _unfreeze() -> None:
    global _frozen
    if _frozen:
        gc.unfreeze()
        _frozen = False


def _plan_in(ws: Workspace, project: Project, moment: datetime, include_satisfied: bool = False,
             origins: bool = False, spent: Budget | None = None,
             confirmed: bool = False) -> tuple[Frontier, SolveResult, Plan]:
    """Observe, compute the frontier, solve and decode inside an open workspace."""
    with no_cycle_collection():
        return _planned(ws, project, moment, include_satisfied, origins, spent, confirmed)


def _planned(ws: Workspace, project: Project, moment: datetime, include_satisfied: bool, origins: bool,
             spent: Budget | None, confirmed: bool) -> tuple[Frontier, SolveResult, Plan]:
    timings: dict[str, float] = {}
    t1 = time.perf_counter()
    keys = key_reads(list(project.rule_files))
    reads = input_reads(list(project.rule_files))
    # the edges as tuples: for clingo's facts, rules reading them, the SLO forecast and `why`
    edges = (origins or reads is None or bool(reads & {"depends", "not_due"})
             or any(a.slo is not None for a in project.assets.values()))
    frontier = ws.compute(moment, include_satisfied, edges=edges)
    t2 = time.perf_counter()
    timings["observe"] = frontier.observe_s
    timings["frontier"] = (t2 - t1) - frontier.observe_s
    result = _solve_to_fixpoint(ws, project, frontier, keys, reads, timings, origins)
    t3 = time.perf_counter()
    out = decode(project, frontier, result, moment)
    timings["decode"] = time.perf_counter() - t3
    t4 = time.perf_counter()
    _schedule(project, frontier, result, out, moment, spent, confirmed)
    timings["schedule"] = time.perf_counter() - t4
    out.timings = timings
    return frontier, result, out


def _schedule(project: Project, frontier: Frontier, result: SolveResult, out: Plan, moment: datetime,
              spent: Budget | None, confirmed: bool) -> None:
    """Choose what starts now (the plan's actions become those this apply would start, in rank order),
    and attach each SLO'd partition's deadline and prediction."""
    schedule, fc = choose(project, frontier, result, out, moment, spent, confirmed)
    out.schedule = schedule
    out.actions = schedule.start + schedule.queued
    out.runs = run_ranges(project, out.actions)
    if fc.states:
        out.statuses = Statuses([replace(s, slo=fc.states[(s.asset, s.key)]) if (s.asset, s.key) in fc.states
                                 else s for s in out.statuses])
        for (a, _), state in fc.states.items():
            row = out.slo.setdefault(a, {"on_track": 0, "at_risk": 0, "violated": 0})
            row[state.state] += 1


def plan(path: str | Path | Project = ".", now: datetime | None = None, record: bool = True,
         include_satisfied: bool = False, warehouse_wait: float | None = None, spent: Budget | None = None,
         confirmed: bool = False, relist: bool = False) -> Plan:
    """Observe, compute the frontier, solve and decode — a dry run: nothing is executed.

    ``warehouse_wait``: how long to wait for a process writing the warehouse (an
    apply's SQL action) before giving up (default: a minute).

    ``include_satisfied`` lists satisfied partitions among the statuses too.
    ``spent`` is what an apply has started so far (it counts against the
    guardrails); ``confirmed`` lets a mass rebuild go ahead. ``relist`` lists every file of
    file assets again instead of only the directories that changed (see ``observe.relist``).
    """
    t0 = time.perf_counter()
    project = path if isinstance(path, Project) else load_project(path)
    moment = _now(now)
    load_s = time.perf_counter() - t0
    with Workspace(project, warehouse_wait, relist) as ws:
        frontier, _, out = _plan_in(ws, project, moment, include_satisfied, spent=spent, confirmed=confirmed)
    out.timings = {"load": load_s, **out.timings, "total": time.perf_counter() - t0}
    if record:
        try:
            with StateStore(project.state) as store:
                store.record_observations([(o.asset, o.source, o.present, o.note) for o in frontier.observations],
                                          at=moment)
                store.record_summary(out.summary, at=moment)
        except ObserveError as exc:  # a dry run does not fail over its own bookkeeping
            out.warnings.append(f"observations were not recorded: {exc.message}")
    return out


def why(path: str | Path | Project, target: str, now: datetime | None = None, expand: bool = False) -> Explanation:
    """Explain a partition's status down to its root causes, or an asset's non-satisfied partitions.

    ``target`` is ``asset[key]`` (a partition) or ``asset`` (its groups; for an
    unpartitioned asset, its one partition). ``expand`` lists every upstream
    partition instead of summarizing many by shared cause. Read-only.
    """
    project = path if isinstance(path, Project) else load_project(path)
    asset, values = resolve_target(project, target, "why")
    name = asset.name
    moment = _now(now)
    with Workspace(project) as ws:
        frontier, result, out = _plan_in(ws, project, moment, origins=True)
        evidence = Evidence(project, ws, moment)
        try:
            explainer = Explainer(project, out, frontier, result, evidence, expand)
            return explainer.partition(asset, values) if values is not None else explainer.asset(name)
        finally:
            evidence.close()


def resolve_target(project: Project, target: str, command: str) -> tuple[Asset, dict[str, str] | None]:
    """A target from the command line: the asset, and the partition's canonical values (None when only
    a partitioned asset is named; an unpartitioned asset is its one partition)."""
    name, inside = split_target(target)
    asset = project.asset(name)
    if inside is None and asset.dims:
        return asset, None
    values = check_complete(asset, parse_values(inside or "", asset.dims, target), target, command)
    return asset, canonical_values(asset, values)


def check_complete(asset: Asset, values: dict[str, str], target: str, command: str = "retry") -> dict[str, str]:
    """The values of a partition named on the command line, which must give every dimension."""
    missing = [d for d in asset.dims if d not in values]
    if missing:
        example = ",".join(f"{d}={values.get(d, '…')}" for d in asset.dims)
        raise UsageError(f"{target} does not say which {' and '.join(missing)}: {asset.name} is partitioned by "
                         f"{', '.join(asset.dims)}", hint=f"write {asset.name}[{example}], or `setpoint {command} "
                         f"{asset.name}` for all of its partitions")
    return values


def canonical_values(asset: Asset, values: dict[str, str]) -> dict[str, str]:
    """Time values as partition keys write them: ``2024-3-1`` → ``2024-03-01``; others unchanged."""
    out = dict(values)
    for d in asset.time_dimensions:
        try:
            out[d.name] = d.space.value(datetime.strptime(values[d.name], d.space.format))
        except ValueError:
            pass  # explained as not a window of the dimension
    return out


def graph(path: str | Path | Project = ".", now: datetime | None = None, with_status: bool = False) -> AssetGraph:
    """The asset graph: assets, and edges from each upstream to its dependents with their mappings.

    ``with_status`` plans first, to count each status per asset.
    """
    project = path if isinstance(path, Project) else load_project(path)
    counts = plan(project, now=now, record=False).summary if with_status else None
    return asset_graph(project, counts)


@dataclass(frozen=True)
class History:
    runs: list[RunRecord]
    events: list[Event]


def history(path: str | Path | Project = ".", asset: str | None = None, limit: int | None = None) -> History:
    """The newest runs and events in the state store (oldest first), of one asset or all."""
    project = path if isinstance(path, Project) else load_project(path)
    if asset is not None:
        project.asset(asset)  # an unknown asset is a usage error, with a suggestion
    if not recorded(project.state):
        return History([], [])
    with StateStore(project.state, read_only=True) as store:  # reads while an apply writes
        return History(store.runs(asset, limit), store.events(asset, limit))
