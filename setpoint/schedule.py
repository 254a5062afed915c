"""The schedule: which of the plan's actions start now, which queue for a pool slot, which wait.

Every run the plan could start is a candidate. Candidates are ranked — a
rule's ``priority/3`` first, then least slack against an SLO, then the oldest
partitions of a backfill — and the shipped ``schedule.lp`` chooses, with
clingo's optimization, how many of each (asset, urgency) group start now
within the pools' free slots and the guardrails' budgets. What the pools hold
back is *queued*: the apply starts it as slots free up, in rank order. What a
guardrail, a ``forbid/3`` rule or an unconfirmed mass rebuild holds back is
*deferred*, with its reason: not dropped, left to a later apply.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

import clingo

from .estimate import Estimate
from .frontier import Frontier
from .plan import Action, Plan
from .project.model import Limits, Project
from .slo import INF, Forecast, forecast
from .solver.session import SolveResult

RULES = Path(__file__).resolve().parent / "rules" / "schedule.lp"

#: urgency levels by slack (seconds), most urgent first: work that can still make its deadline if it
#: starts soon (0 ≤ slack < 1 h, then < 6 h) comes before work that will be late anyway (slack < 0: it
#: cannot be saved, and must not starve what can), then < 1 d, then more; work without an SLO is last
LEVELS = 6


def urgency(slack: float | None) -> int:
    """The urgency level of a run with this slack: 5 (most urgent) … 0 (no SLO)."""
    if slack is None:
        return 0
    if slack < 0:
        return 3
    if slack < 3600:
        return 5
    if slack < 6 * 3600:
        return 4
    return 2 if slack < 86400 else 1


@dataclass(frozen=True)
class Budget:
    """What an apply has started so far (it counts against the guardrails of the whole apply)."""

    actions: int = 0
    partitions: int = 0
    compute: float = 0.0
    by_asset: dict[str, tuple[int, int, float]] = field(default_factory=dict)

    def add(self, asset: str, partitions: int, seconds: float) -> Budget:
        a, p, c = self.by_asset.get(asset, (0, 0, 0.0))
        return Budget(self.actions + 1, self.partitions + partitions, self.compute + seconds,
                      {**self.by_asset, asset: (a + 1, p + partitions, c + seconds)})


class Candidate(NamedTuple):
    """A run the schedule ranks: one per action (thousands at a backfill, so a tuple)."""

    action: Action
    pool: str
    seconds: float
    slack: float | None
    priority: int
    level: int
    rank: int = 0


@dataclass(frozen=True)
class Deferred:
    action: Action
    reason: str
    kind: str  # limit, forbidden, rebuild

    def to_json(self) -> dict:
        return {**self.action.to_json(), "reason": self.reason, "deferral": self.kind}


@dataclass(frozen=True)
class Rebuild:
    """A plan would rebuild a large share of an asset's present partitions: it needs confirmation."""

    asset: str
    partitions: int
    present: int
    confirmed: bool

    def describe(self) -> str:
        share = self.partitions / self.present if self.present else 1.0
        return (f"{self.asset} would rebuild {self.partitions:,} of its {self.present:,} present partitions "
                f"({share:.0%})")

    def to_json(self) -> dict:
        return {"asset": self.asset, "partitions": self.partitions, "present": self.present,
                "confirmed": self.confirmed}


@dataclass
class Schedule:
    """The decision for every action of a plan, and how it was reached."""

    start: list[Action] = field(default_factory=list)
    queued: list[Action] = field(default_factory=list)
    deferred: list[Deferred] = field(default_factory=list)
    rebuilds: list[Rebuild] = field(default_factory=list)
    pools: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # pool → (capacity, running, starting)
    pool_of: dict[str, str] = field(default_factory=dict)                 # asset → pool
    seconds: dict[str, float] = field(default_factory=dict)               # action label → estimate
    estimates: dict[str, Estimate] = field(default_factory=dict)          # asset → how long its runs take
    optimal: bool = True
    models: int = 0
    solve_s: float = 0.0
    candidates: int = 0

    @property
    def too_big(self) -> list[Deferred]:
        """Runs no apply will take: larger on their own than a guardrail allows."""
        return [d for d in self.deferred if d.kind == "too_big"]

    @property
    def unconfirmed(self) -> list[Rebuild]:
        """Mass rebuilds waiting for confirmation (``apply --yes``)."""
        return [r for r in self.rebuilds if not r.confirmed]

    @property
    def proof(self) -> str:
        if not self.candidates:
            return "nothing to choose"
        if self.optimal:
            return "the choice is proven optimal"
        return f"the best of {self.models} choices found within the time limit (not proven optimal)"

    def to_json(self) -> dict:
        return {"start": [a.label for a in self.start], "queued": [a.label for a in self.queued],
                "deferred": [d.to_json() for d in self.deferred],
                "rebuilds": [r.to_json() for r in self.rebuilds],
                "pools": {p: {"capacity": c, "running": r, "starting": s} for p, (c, r, s) in self.pools.items()},
                "estimates": {a: e.to_json() for a, e in self.estimates.items()},
                "optimal": self.optimal, "models": self.models, "solve_s": round(self.solve_s, 4),
                "candidates": self.candidates}


def _holding(project: Project, frontier: Frontier) -> dict[str, str]:
    """Runs holding a slot of each pool: one per live lease's run. Outside work (``detach: report``, a
    lease no process of this machine owns) holds a slot of a declared pool only: the default pool
    stands for what applies run here at once."""
    runs: dict[str, str] = {}
    for x in frontier.leases:
        asset = project.assets.get(x.asset)
        if asset is not None and asset.action is not None:
            if asset.action.pool == "default" and x.owner_host is None:
                continue
            runs[x.run_id] = asset.action.pool
    return runs


def _rebuilds(project: Project, plan: Plan, frontier: Frontier, confirmed: bool) -> list[Rebuild]:
    s = project.schedule
    counts: dict[str, int] = {}
    for a, _, status in plan.statuses.outdated():
        if status != "blocked":
            counts[a] = counts.get(a, 0) + 1
    out = []
    for a, n in counts.items():
        present = frontier.assets[a].present
        if s.confirm_rebuild and n >= s.rebuild_min and n >= s.rebuild_share * present:
            out.append(Rebuild(a, n, present, confirmed))
    return out


def _limit_text(kind: str, value: float, where: str) -> str:
    if kind == "compute":
        return f"over the limit of {timedelta(seconds=int(value))} of estimated compute per apply ({where})"
    return f"over the limit of {int(value):,} {kind} per apply ({where})"


def _limits(limits: Limits) -> list[tuple[str, float]]:
    out = []
    if limits.actions is not None:
        out.append(("actions", float(limits.actions)))
    if limits.partitions is not None:
        out.append(("partitions", float(limits.partitions)))
    if limits.compute is not None:
        out.append(("compute", limits.compute.total_seconds()))
    return out


def choose(project: Project, frontier: Frontier, result: SolveResult, plan: Plan, now: datetime,
           spent: Budget | None = None, confirmed: bool = False) -> tuple[Schedule, Forecast]:
    """Decide, for every action of the plan, whether it starts now, queues for a slot or is deferred."""
    spent = spent or Budget()
    out = Schedule()
    out.pool_of = {a.name: a.action.pool for a in project.assets.values() if a.action is not None}
    out.estimates = dict(frontier.estimates)
    holding = _holding(project, frontier)
    running: dict[str, int] = {}
    for pool in holding.values():
        running[pool] = running.get(pool, 0) + 1
    pools = sorted({*out.pool_of.values(), *project.schedule.pools, *running})
    free = {p: max(0, project.capacity(p) - running.get(p, 0)) for p in pools}
    outdated = {(a, k) for a, k, _ in plan.statuses.outdated()}
    unit_of = _units(frontier, {*result.priorities, *result.forbidden, *outdated})
    job_priority: dict[tuple[str, str], int] = {}
    for (a, key), n in result.priorities.items():
        job = (a, unit_of.get((a, key), key))
        n = max(0, min(n, 9))
        job_priority[job] = max(job_priority.get(job, n), n)
    out.rebuilds = _rebuilds(project, plan, frontier, confirmed)
    unconfirmed = {r.asset for r in out.unconfirmed}
    held = {(a, unit_of.get((a, k), k)) for (a, k) in result.forbidden}  # cannot start now: no prediction
    held |= {(a, unit_of.get((a, k), k)) for a, k in outdated if a in unconfirmed}
    fc = forecast(project, frontier, plan.statuses, now, job_priority, free, set(holding), held)
    # Candidate's fields but the rank, under the key they are ranked by (made once per run, not per comparison)
    unranked: list[tuple[tuple, tuple[Action, str, float, float | None, int, int]]] = []
    times = time_names(project)
    slacks, forbids = fc.slack, result.forbidden
    for action in plan.actions:
        a = action.asset
        if forbids:
            forbidden = sorted(forbids[(a, k)] for k, _ in action.targets if (a, k) in forbids)
            if forbidden:
                out.deferred.append(Deferred(action, f"forbidden now by a rule: {forbidden[0]}", "forbidden"))
                continue
        if a in unconfirmed and any((a, k) in outdated for k, _ in action.targets):
            out.deferred.append(Deferred(action, "a mass rebuild: confirm with `setpoint apply --yes` (or set "
                                                 "guardrails.confirm_rebuild: false)", "rebuild"))
            continue
        units = set(action.unit_keys) if slacks or job_priority else ()
        slack = min((s for s in (slacks.get((a, u)) for u in units) if s is not None), default=None) \
            if slacks else None
        prio = max((job_priority.get((a, u), 0) for u in units), default=0) if job_priority else 0  # 0–9
        estimate = frontier.estimates.get(a)
        seconds = estimate.seconds(action.covers, len(action.units)) if estimate else 0.0
        out.seconds[action.label] = seconds
        level = prio * LEVELS + urgency(slack)
        rank = (-level, slack if slack is not None else INF, age(times[a], action.units[0] if action.units else {}),
                action.label)
        unranked.append((rank, (action, out.pool_of.get(a, "default"), seconds, slack, prio, level)))
    unranked.sort(key=itemgetter(0))
    candidates = [Candidate(*c, i) for i, (_, c) in enumerate(unranked)]
    out.candidates = len(candidates)
    taken = _solve(project, candidates, free, spent, out) if candidates else set()
    _settle(project, candidates, taken, spent, out)
    out.pools = {p: (project.capacity(p), running.get(p, 0), sum(1 for a in out.start if out.pool_of.get(a.asset)
                                                                 == p)) for p in pools}
    return out, fc


def _units(frontier: Frontier, nodes: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The unit (run key) of each of these partitions on the frontier (usually none are asked for:
    the frontier is walked only when some are)."""
    if not nodes:
        return {}
    return {(a, p.key): p.unit for a, af in frontier.assets.items() for p in af.partitions if (a, p.key) in nodes}


def time_names(project: Project) -> dict[str, set[str]]:
    """Each asset's time dimensions by name, for :func:`age` (looked up once per plan, not per run)."""
    return {a.name: {d.name for d in a.time_dimensions} for a in project.assets.values()}


def age(times: set[str], values: dict[str, str]) -> tuple:
    """Oldest first: time values (canonical, so they sort by time), then the other values."""
    return (tuple([v for d, v in values.items() if d in times]), tuple([v for d, v in values.items() if d not in times]))


def _remaining(limits: Limits, used: tuple[float, float, float]) -> list[tuple[str, int]]:
    left = []
    for kind, value in _limits(limits):
        have = {"actions": used[0], "partitions": used[1], "compute": used[2]}[kind]
        left.append((kind, max(0, int(value - have))))
    return left


def _solve(project: Project, candidates: list[Candidate], free: dict[str, int], spent: Budget,
           out: Schedule) -> set[int]:
    """Which candidates (by rank) start now: clingo chooses how many of each group's best ranked."""
    caps = {p: f for p, f in free.items()}
    groups: dict[tuple[str, str, int], list[Candidate]] = {}
    for c in candidates:
        groups.setdefault((c.pool, c.action.asset, c.level), []).append(c)
    left = _remaining(project.schedule.limits, (spent.actions, spent.partitions, spent.compute))
    lines = [f"free({p},{n})." for p, n in sorted(caps.items())]
    lines += [f"limit({k},{v})." for k, v in left]
    for name, asset in project.assets.items():
        used = spent.by_asset.get(name, (0, 0, 0.0))
        lines += [f"asset_limit({name},{k},{v})." for k, v in _remaining(asset.limits, used)]
    for g, ((pool, asset, level), members) in enumerate(sorted(groups.items(), key=lambda kv: kv[1][0].rank)):
        lines.append(f"group({g},{pool},{asset},{level}).")
        most = min(len(members), caps.get(pool, 0))
        n = s = r = 0
        lines.append(f"prefix({g},0,0,0,0).")
        for k, c in enumerate(members[:most], start=1):
            n, s, r = n + c.action.covers, s + math.ceil(c.seconds), r + c.rank
            lines.append(f"prefix({g},{k},{n},{s},{r}).")
    t = time.perf_counter()
    ctl = clingo.Control(["--opt-mode=opt", "--heuristic=Domain", "--warn=none"])
    ctl.load(str(RULES))
    ctl.add("base", [], "\n".join(lines))
    ctl.ground([("base", [])])
    best: list[tuple[int, int]] = []
    models = 0

    def on_model(m: clingo.Model) -> None:
        nonlocal best, models
        models += 1
        best = [(s.arguments[0].number, s.arguments[1].number) for s in m.symbols(atoms=True) if s.name == "take"]

    with ctl.solve(on_model=on_model, async_=True) as handle:
        finished = handle.wait(project.schedule.time_limit)
        if not finished:
            handle.cancel()
        summary = handle.get()
    choice = any(line.startswith("prefix(") and not line.split(",")[1] == "0" for line in lines)
    out.optimal = bool(finished and (summary.exhausted or not choice))  # nothing to choose: nothing to prove
    out.models = models
    out.solve_s = time.perf_counter() - t
    ordered = [members for _, members in sorted(groups.items(), key=lambda kv: kv[1][0].rank)]
    if not models:  # out of time before the first model: the greedy choice, which that model would be
        return _greedy(project, candidates, caps, spent)
    taken: set[int] = set()
    for g, k in best:
        taken.update(c.rank for c in ordered[g][:k])
    return taken


def _greedy(project: Project, candidates: list[Candidate], free: dict[str, int], spent: Budget) -> set[int]:
    """In rank order, each run whose pool has a slot and that fits every budget."""
    slots, budget, taken = dict(free), spent, set()
    for c in candidates:
        after = budget.add(c.action.asset, c.action.covers, c.seconds)
        if slots.get(c.pool, 0) > 0 and _over(project, c.action.asset, after) is None:
            slots[c.pool] -= 1
            budget = after
            taken.add(c.rank)
    return taken


def _settle(project: Project, candidates: list[Candidate], taken: set[int], spent: Budget, out: Schedule) -> None:
    """Chosen ones start; the rest queue for a slot, in rank order, while the budgets last; then wait."""
    budget = spent
    for c in candidates:
        if c.rank in taken:
            out.start.append(c.action)
            budget = budget.add(c.action.asset, c.action.covers, c.seconds)
    if not _limits(project.schedule.limits) and not any(_limits(a.limits) for a in project.assets.values()):
        out.queued.extend(c.action for c in candidates if c.rank not in taken)  # no guardrail defers anything
        return
    for c in candidates:
        if c.rank in taken:
            continue
        after = budget.add(c.action.asset, c.action.covers, c.seconds)
        reason = _over(project, c.action.asset, after)
        alone = _over(project, c.action.asset, Budget().add(c.action.asset, c.action.covers, c.seconds))
        if alone is not None:  # no apply will ever take it: a problem, not a wait
            out.deferred.append(Deferred(c.action, f"too big for a guardrail on its own: {alone}; raise the limit, "
                                                   "or make runs smaller (batch.max, grain)", "too_big"))
        elif reason is not None:
            out.deferred.append(Deferred(c.action, reason, "limit"))
        else:
            out.queued.append(c.action)
            budget = after


def _over(project: Project, asset: str, budget: Budget) -> str | None:
    """The first guardrail the budget would break, said as the reason for deferring."""
    used = {"actions": budget.actions, "partitions": budget.partitions, "compute": budget.compute}
    for kind, value in _limits(project.schedule.limits):
        if used[kind] > value:
            return _limit_text(kind, value, "guardrails in setpoint.yaml")
    a = budget.by_asset.get(asset, (0, 0, 0.0))
    mine = {"actions": a[0], "partitions": a[1], "compute": a[2]}
    limits = project.assets[asset].limits
    for kind, value in _limits(limits):
        if mine[kind] > value:
            where = str(limits.origin) if limits.origin else asset
            return _limit_text(kind, value, f"guardrails of {asset}, {where}")
    return None
