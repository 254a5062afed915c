"""SLO deadlines, slack and predicted completion: say a miss before it happens.

For every partition on the frontier whose asset declares an SLO, its deadline
follows from the declaration and from what was observed (the window's close,
the upstream change that outdated it, its own age). Work is then projected
forward: every unit of work not yet satisfied nor blocked is a job lasting its
estimate, starting when what it needs is done, its backoff is over and a slot
of its pool is free (work already running holds its slot). The list schedule
follows the same order the real schedule uses (priority, least slack, oldest
first), so the prediction is what setpoint would do if estimates hold. Slack
is the classic critical-path figure: how late a job may finish and still let
every SLO downstream of it be met, minus when it could finish now.
"""

from __future__ import annotations

import heapq
from functools import lru_cache
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from .frontier import Frontier, FrontierPartition
from .plan import PartitionStatus
from .project.model import Asset, Project
from .project.timewindows import TimeWindows, shift

Job = tuple[str, str]  # (asset, unit)
INF = float("inf")


@dataclass(frozen=True)
class SloState:
    """One partition's SLO: its deadline, when it is predicted ready, and what that means."""

    deadline: datetime
    predicted: datetime | None   # None: it cannot get done as things stand (blocked)
    state: str                   # on_track, at_risk or violated
    what: str                    # the declaration, e.g. "ready by 08:00 Europe/Berlin after its window closes"

    def describe(self) -> str:
        when = f"predicted ready {_clock(self.predicted)}" if self.predicted else \
            "no prediction: it cannot start as things stand (blocked, forbidden now, or awaiting confirmation)"
        if self.state == "violated":
            return f"SLO violated: deadline was {_clock(self.deadline)}; {when}"
        if self.state == "at_risk" and self.predicted is None:
            return f"SLO at risk: deadline {_clock(self.deadline)}; {when}"
        if self.state == "at_risk":
            return f"SLO at risk: {when}, after its deadline {_clock(self.deadline)}"
        return f"SLO on track: {when}, deadline {_clock(self.deadline)}"

    def to_json(self) -> dict:
        return {"state": self.state, "deadline": self.deadline.isoformat(),
                "predicted": self.predicted.isoformat() if self.predicted else None, "slo": self.what}


def _clock(moment: datetime | None) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if moment else "?"


def window_close(asset: Asset, values: tuple[str, ...]) -> datetime | None:
    """When the partition becomes expected: the latest of its time windows closes, plus the dimension's
    ``lag`` (aware UTC); None without time dimensions."""
    closes = []
    for d, v in zip(asset.dimensions, values):
        space = d.space
        if not isinstance(space, TimeWindows):
            continue
        close = _expected_at(space, v)
        if close is None:
            return None
        closes.append(close)
    return max(closes) if closes else None


@lru_cache(maxsize=65536)
def _expected_at(space: TimeWindows, value: str) -> datetime | None:
    """When the window ``value`` of ``space`` has closed, lag included (one day is shared by many keys)."""
    try:
        start = datetime.strptime(value, space.format)
    except ValueError:
        return None
    close = shift(start, space.grain, 1).replace(tzinfo=ZoneInfo(space.timezone))
    return close.astimezone(timezone.utc) + space.lag


def deadline_of(asset: Asset, part: FrontierPartition, changed: datetime | None = None,
                now: datetime | None = None) -> datetime | None:
    """The earliest moment the asset's SLO says this partition must be ready by (aware UTC).

    ``changed``: the oldest change anywhere upstream that it does not reflect
    yet (see :func:`unreflected`); without it, only its own outdated upstream
    counts. An unpartitioned asset with ``max_age`` that is absent is past its
    deadline (``now``).
    """
    slo = asset.slo
    if slo is None:
        return None
    out: list[datetime] = []
    close = window_close(asset, part.values)
    if close is not None and slo.at is not None:
        local = close.astimezone(ZoneInfo(slo.timezone))
        at = local.replace(hour=slo.at // 60, minute=slo.at % 60, second=0, microsecond=0)
        if at <= local:  # on the day it becomes expected, or the next when that time has passed by then
            at += timedelta(days=1)
        out.append(at.astimezone(timezone.utc))
    if close is not None and slo.after is not None:
        out.append(close + slo.after)
    if slo.freshness is not None:
        since = changed if changed is not None else part.outdated_at
        if since is not None:
            out.append(since + slo.freshness)
        elif part.absent and close is not None:
            out.append(close + slo.freshness)
    if slo.max_age is not None and part.expires_at is not None:
        out.append(part.expires_at)
    elif slo.max_age is not None and part.absent and now is not None:
        out.append(now)  # gone: older than any age
    return min(out) if out else None


def unreflected(project: Project, frontier: Frontier, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
    """For each wanted partition, the oldest change anywhere upstream it does not reflect yet: its own
    outdating upstream change, a missing time partition's window close, or, through what it needs, theirs."""
    parts = {(a, p.key): p for a, af in frontier.assets.items() for p in af.partitions}
    ups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for a, p, b, q in frontier.edges:
        ups.setdefault((a, p), []).append((b, q))
    memo: dict[tuple[str, str], datetime | None] = {}
    visiting: set[tuple[str, str]] = set()
    for start in wanted:
        stack = [start]
        while stack:  # iterative depth-first: chains can be long
            node = stack[-1]
            if node in memo:
                stack.pop()
                continue
            if node not in visiting:  # first visit: what it needs comes first (a rule-made cycle is cut)
                visiting.add(node)
                stack.extend(u for u in ups.get(node, ()) if u in parts and u not in memo and u not in visiting)
                continue
            stack.pop()
            part = parts[node]
            own = part.outdated_at
            if own is None and part.absent:
                own = window_close(project.assets[node[0]], part.values)
            times = [t for t in [own, *(memo.get(u) for u in ups.get(node, ()))] if t is not None]
            memo[node] = min(times) if times else None
    return {n: t for n in wanted if (t := memo.get(n)) is not None}


@dataclass
class Forecast:
    """Per SLO'd partition its state; per runnable unit its slack (seconds; None: no SLO downstream)."""

    states: dict[tuple[str, str], SloState]
    slack: dict[Job, float | None]


def forecast(project: Project, frontier: Frontier, statuses: list[PartitionStatus], now: datetime,
             priority: dict[Job, int], free: dict[str, int], holding: set[str] | None = None,
             held: set[Job] | None = None) -> Forecast:
    """Deadlines, slack and predicted completion for the plan's unsatisfied partitions.

    ``free``: the slots of each pool not held by running work; ``holding``: the
    runs that hold those slots (they give one back when they end); ``held``:
    work that cannot start now (a rule forbids it, a rebuild awaits
    confirmation), so neither it nor what needs it gets a prediction. Costs
    nothing when no asset declares an SLO.
    """
    if all(a.slo is None for a in project.assets.values()):
        return Forecast({}, {})
    parts = {(a, p.key): p for a, af in frontier.assets.items() for p in af.partitions}
    fresh = [n for n in parts if (s := project.assets[n[0]].slo) is not None and s.freshness is not None]
    changed = unreflected(project, frontier, fresh) if fresh else {}
    deadlines: dict[tuple[str, str], datetime] = {}
    for (a, key), part in parts.items():
        asset = project.assets[a]
        if asset.slo is not None:
            d = deadline_of(asset, part, changed.get((a, key)), now)
            if d is not None:
                deadlines[(a, key)] = d
    if not deadlines:
        return Forecast({}, {})
    status = {(s.asset, s.key): s for s in statuses}
    unit = {node: p.unit for node, p in parts.items()}
    jobs: dict[Job, list[str]] = defaultdict(list)  # the partitions of each job
    for node, st in status.items():
        if st.status != "blocked" and node in unit:
            jobs[(node[0], unit[node])].append(node[1])
    est = frontier.estimates

    def seconds(job: Job) -> float:
        if not jobs[job]:  # a barrier: done when all it needs is
            return 0.0
        e = est.get(job[0])
        return e.seconds(len(jobs[job])) if e is not None else project.schedule.estimate.total_seconds()

    dur = {j: seconds(j) for j in jobs}
    needs: dict[Job, set[Job]] = defaultdict(set)
    for a, p, b, q in frontier.edges:
        ja, jb = (a, unit.get((a, p), p)), (b, unit.get((b, q), q))
        if ja in jobs and jb in jobs and ja != jb:
            needs[ja].add(jb)
    for a, b in frontier.needs_all:  # through one barrier per pair: |A| + |B| edges, not |A| × |B|
        if a == b:
            continue
        barrier = (f"{a}<all:{b}", "")
        jobs[barrier] = []
        dur[barrier] = 0.0
        needs[barrier].update(j for j in jobs if j[0] == b)
        for j in jobs:
            if j[0] == a:
                needs[j].add(barrier)
    dependents: dict[Job, set[Job]] = defaultdict(set)
    for j, ups in needs.items():
        for u in ups:
            dependents[u].add(j)
    t0 = now.timestamp()
    # earliest start: a backoff's end, a window not due yet (its close), a run already going (its start)
    earliest: dict[Job, float] = {}
    running: dict[Job, tuple[float, str]] = {}
    for j in held or ():
        if j in jobs:
            earliest[j] = INF
    for j, keys in jobs.items():
        for k in keys:
            p = parts[(j[0], k)]
            if p.retry_at is not None and earliest.get(j) != INF:
                earliest[j] = max(earliest.get(j, t0), p.retry_at.timestamp())
            if p.lease is not None:
                running[j] = min(running.get(j, (INF, "")), (p.lease[1].timestamp(), p.lease[0]))
    for a, p, b, q in frontier.edges:
        if (b, q) in frontier.not_due and (a, unit.get((a, p), p)) in jobs:
            close = window_close(project.assets[b], _values(project.assets[b], q))
            if close is not None:
                j = (a, unit.get((a, p), p))
                earliest[j] = max(earliest.get(j, t0), close.timestamp())
    order = _topological(jobs, needs)
    # backward pass: the latest each job may finish (its own deadlines and its dependents' latest starts)
    latest: dict[Job, float] = {}
    for j in reversed(order):
        lf = min((deadlines[(j[0], k)].timestamp() for k in jobs[j] if (j[0], k) in deadlines), default=INF)
        for d in dependents.get(j, ()):
            lf = min(lf, latest.get(d, INF) - dur[d])
        latest[j] = lf
    slack = {j: (latest[j] - (max(t0, earliest.get(j, t0)) + dur[j]) if latest[j] < INF else None) for j in jobs}
    finish = _simulate(project, jobs, needs, dependents, dur, earliest, running, t0, free, priority, slack,
                       holding if holding is not None else {run for _, run in running.values()},
                       frontier.unit_values)
    slack = {j: s for j, s in slack.items() if j[0] in project.assets}
    states: dict[tuple[str, str], SloState] = {}
    for node, deadline in deadlines.items():
        st = status.get(node)
        if st is None:
            continue
        job = (node[0], unit[node])
        done = finish.get(job)
        predicted = datetime.fromtimestamp(done, timezone.utc) if done is not None and done < INF else None
        if now >= deadline:
            state = "violated"
        elif predicted is None or predicted > deadline:
            state = "at_risk"
        else:
            state = "on_track"
        states[node] = SloState(deadline, predicted, state, project.assets[node[0]].slo.describe())
    return Forecast(states, slack)


def _values(asset: Asset, key: str) -> tuple[str, ...]:
    from .partition import parse_values

    try:
        values = parse_values(key, asset.dims, key)
    except Exception:  # noqa: BLE001 - a key the rules made up: no window to speak of
        return ()
    return tuple(values.get(d, "") for d in asset.dims)


def _topological(jobs: dict[Job, list[str]], needs: dict[Job, set[Job]]) -> list[Job]:
    """Upstream first; jobs on a cycle (rule-made) come last, in key order."""
    indegree = {j: len(needs.get(j, ())) for j in jobs}
    dependents: dict[Job, list[Job]] = defaultdict(list)
    for j, ups in needs.items():
        for u in ups:
            dependents[u].append(j)
    ready = sorted(j for j, n in indegree.items() if n == 0)
    out: list[Job] = []
    while ready:
        j = ready.pop()
        out.append(j)
        for d in dependents.get(j, ()):
            indegree[d] -= 1
            if indegree[d] == 0:
                ready.append(d)
    seen = set(out)
    return out + sorted(j for j in jobs if j not in seen)


def _simulate(project: Project, jobs, needs, dependents, dur, earliest, running, t0: float, free: dict[str, int],
              priority: dict[Job, int], slack: dict[Job, float | None], holding: set[str],
              unit_values: dict[Job, dict[str, str]]) -> dict[Job, float]:
    """List scheduling with pool capacities: when each job would finish."""
    def pool_of(job: Job) -> str:
        action = project.assets[job[0]].action
        return action.pool if action is not None else "default"

    from .schedule import age, time_names, urgency

    times = time_names(project)

    def rank(job: Job) -> tuple:  # as the schedule ranks runs: priority, urgency, least slack, oldest
        s = slack.get(job)
        values = unit_values.get(job, {})
        return (-priority.get(job, 0), -urgency(s), s if s is not None else INF, age(times[job[0]], values),
                job[1], job[0])

    finish: dict[Job, float] = {}
    slots = {p: max(0, n) for p, n in free.items()}
    events: list[tuple[float, int, str, Job]] = []  # (time, seq, kind, job)
    seq = 0
    freed: set[str] = set()
    for j, (start, _) in running.items():  # already going: done after its estimate (or now, if overdue)
        end = max(t0, start + dur[j])
        heapq.heappush(events, (end, seq, "done", j))
        seq += 1
    left = {j: len([u for u in needs.get(j, ()) if u in jobs]) for j in jobs if j not in running}
    ready_at: dict[Job, float] = {j: max(t0, earliest.get(j, t0)) for j in left if left[j] == 0}
    queue: dict[str, list] = defaultdict(list)
    for j, t in ready_at.items():
        heapq.heappush(events, (t, seq, "ready", j))
        seq += 1
    clock = t0
    while events:
        clock, _, kind, j = heapq.heappop(events)
        if kind == "done":
            finish[j] = clock
            if j[0] not in project.assets:  # a barrier holds no slot
                pass
            elif j not in running:
                slots[pool_of(j)] = slots.get(pool_of(j), 0) + 1
            elif running[j][1] in holding and running[j][1] not in freed:  # one slot per run, if it holds one
                freed.add(running[j][1])
                slots[pool_of(j)] = slots.get(pool_of(j), 0) + 1
            for d in dependents.get(j, ()):
                if d in left:
                    left[d] -= 1
                    if left[d] == 0:
                        t = max(clock, earliest.get(d, t0))
                        heapq.heappush(events, (t, seq, "ready", d))
                        seq += 1
        elif j[0] not in project.assets:  # a barrier is done once all it needs is
            heapq.heappush(events, (clock, seq, "done", j))
            seq += 1
        else:
            heapq.heappush(queue[pool_of(j)], (rank(j), j))
        if events and events[0][0] == clock:
            continue  # start work once every event of this moment is in
        for pool, waiting in queue.items():
            capacity = slots.get(pool, project.capacity(pool))
            slots[pool] = capacity
            while waiting and slots[pool] > 0:
                _, w = heapq.heappop(waiting)
                slots[pool] -= 1
                heapq.heappush(events, (clock + dur[w], seq, "done", w))
                seq += 1
    for j in jobs:  # never reached: on a cycle, or needs something that never ends
        finish.setdefault(j, INF)
    return finish
