"""Solver atoms → :class:`Plan`: statuses with reasons and root causes, groups, batched actions."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from ..frontier import Frontier
from ..partition import format_key, format_partition, quote_value
from ..plan import Action, Group, PartitionStatus, Plan, Reason, RunRange, STATUSES
from ..project.model import Asset, Project
from ..project.timewindows import TimeWindows, shift
from .session import SolveResult

#: the order in which a partition's reasons are listed (its first reason is its top reason)
_ORDER = ("rule", "unrecoverable", "no_action", "upstream_blocked", "upstream_all_blocked",
          "absent", "outdated", "needs", "needs_all")


def _reason(kind: str, detail: object, statuses: dict[tuple[str, str], str], sources: dict[str, str],
            asset: str) -> Reason:
    if isinstance(detail, tuple) and detail[0] == "up":
        _, b, q = detail
        return Reason(kind, format_partition(b, q), statuses.get((b, q), "satisfied"))
    if kind in ("needs_all", "upstream_all_blocked"):
        return Reason(kind, str(detail))
    if kind in ("rule", "unrecoverable"):
        return Reason(kind, text=str(detail))
    if kind == "absent":
        return Reason(kind, source=sources.get(asset))
    return Reason(kind)


def _root(asset: str, key: str, reasons: dict[tuple[str, str], tuple[Reason, ...]],
          memo: dict[tuple[str, str], tuple[Reason | None, str | None]],
          representative: dict[tuple[str, bool], tuple[str, str]]) -> tuple[Reason | None, str | None]:
    """Follow the first upstream reason until a partition whose reason is its own.

    A reason on a whole asset (an ``all`` mapping) continues at a representative
    partition of that asset: its first blocked one, or its first pending one.
    """
    start = (asset, key)
    path: list[tuple[str, str]] = []
    node = start
    while node not in memo:
        rs = reasons.get(node)
        if not rs:
            memo[node] = (None, None)
            break
        first = rs[0]
        up = None
        if first.kind in ("upstream_blocked", "needs") and first.upstream:
            b, _, rest = first.upstream.partition("[")
            up = (b, rest[:-1] if rest else "")
        elif first.kind in ("upstream_all_blocked", "needs_all") and first.upstream:
            up = representative.get((first.upstream, first.kind == "upstream_all_blocked"))
        if up is not None:
            if up in reasons and up not in path and up != node:
                path.append(node)
                node = up
                continue
        memo[node] = (first, format_partition(*node))
        break
    for n in path:
        memo[n] = memo[node]
    return memo[start]


def _range_dimension(asset: Asset) -> str | None:
    """The time dimension runs are ranged over: the batch dimension, else the grain's only time dimension."""
    action = asset.action
    if action is None:
        return None
    if action.batch_dimension:
        return action.batch_dimension
    times = [d.name for d in asset.time_dimensions if d.name in action.grain]
    return times[0] if len(times) == 1 else None


def _batches(asset: Asset, units: list[dict[str, str]], limit: int | None = None) -> list[list[dict[str, str]]]:
    """Merge units that differ only in consecutive windows of the range dimension, up to ``limit`` each
    (the action's batch_max by default)."""
    action = asset.action
    limit = limit or (action.batch_max if action else 1)
    bd = _range_dimension(asset)
    if action is None or limit <= 1 or bd is None:
        return [[u] for u in units]
    space = asset.dimension(bd).space
    assert isinstance(space, TimeWindows)
    others = [g for g in action.grain if g != bd]
    keyed = sorted(units, key=lambda u: ([u[g] for g in others], u[bd]))
    out: list[list[dict[str, str]]] = []
    for u in keyed:
        if out:
            last = out[-1][-1]
            same = all(last[g] == u[g] for g in others)
            nxt = space.value(shift(datetime.strptime(last[bd], space.format), space.grain, 1))
            if same and nxt == u[bd] and len(out[-1]) < limit:
                out[-1].append(u)
                continue
        out.append([u])
    return out


def _label(asset: Asset, batch: list[dict[str, str]]) -> str:
    """``results[day=2024-03-25]``; a batch shows its range ``csv[campaign=501,day=2024-03-01..2024-03-31]``."""
    grain = list(asset.action.grain) if asset.action else list(asset.dims)
    if not grain:  # one run rebuilds the whole asset
        return asset.name
    if len(batch) == 1 and tuple(grain) == asset.dims:
        return format_partition(asset.name, format_key(grain, [batch[0][g] for g in grain]) if grain else "")
    bd = _range_dimension(asset)
    parts = [f"{g}={quote_value(batch[0][g])}" + (f"..{quote_value(batch[-1][g])}" if g == bd and len(batch) > 1 else "")
             for g in grain]
    return f"{asset.name}[{','.join(parts)}]"


def decode(project: Project, frontier: Frontier, result: SolveResult, now: datetime) -> Plan:
    sources = {o.asset: o.source for o in frontier.observations}
    values = {(a, p.key): dict(zip(project.assets[a].dims, p.values))
              for a, af in frontier.assets.items() for p in af.partitions}
    units = {(a, p.key): p.unit for a, af in frontier.assets.items() for p in af.partitions}
    reasons: dict[tuple[str, str], tuple[Reason, ...]] = {}
    for node, raw in result.reasons.items():
        rs = [_reason(k, x, result.statuses, sources, node[0]) for k, x in raw]
        rs.sort(key=lambda r: (_ORDER.index(r.kind) if r.kind in _ORDER else 99, r.upstream or "", r.text or ""))
        reasons[node] = tuple(rs)
    memo: dict = {}
    representative: dict[tuple[str, bool], tuple[str, str]] = {}
    for (a, p) in sorted(result.statuses):
        s = result.statuses[(a, p)]
        if s != "satisfied":
            representative.setdefault((a, s == "blocked"), (a, p))
    statuses: list[PartitionStatus] = []
    order = {name: i for i, name in enumerate(project.assets)}
    unexpected: list[str] = []
    for (a, p) in sorted(result.statuses, key=lambda n: (order.get(n[0], 0), n[1])):
        s = result.statuses[(a, p)]
        vals = values.get((a, p))
        if vals is None:  # a partition only a rule's dependency mentions
            vals = _rule_partition(project.assets[a], p, now)
            if vals is None:
                unexpected.append(format_partition(a, p))
                continue
        if s == "satisfied":
            continue
        cause, at = _root(a, p, reasons, memo, representative) if s in ("blocked", "waiting") else (None, None)
        statuses.append(PartitionStatus(a, p, vals, s, result.conditions.get((a, p), "absent"),
                                        reasons.get((a, p), ()), cause, at))
    if unexpected:
        frontier.warnings.append(
            f"rules name {len(unexpected)} partition(s) outside their asset's partitions, e.g. {unexpected[0]}; "
            "they are left out of the plan (check the depends/4 rules)")
    counts = Counter((st.asset, st.status) for st in statuses)
    summary: dict[str, dict[str, int]] = {}
    for name, af in frontier.assets.items():
        row = {"expected": af.expected,
               "satisfied": af.expected - sum(counts[(name, s)] for s in STATUSES[1:])}
        row.update({s: counts[(name, s)] for s in STATUSES[1:]})
        summary[name] = row
    if frontier.satisfied is not None:
        statuses = _with_satisfied(project, frontier, statuses, order)
    groups = _groups([st for st in statuses if st.status != "satisfied"])
    covers: Counter[tuple[str, str]] = Counter(
        (st.asset, units.get((st.asset, st.key), st.key)) for st in statuses if st.runnable)
    actions: list[Action] = []
    by_asset: dict[str, list[str]] = {}
    for a, u in result.runs:
        by_asset.setdefault(a, []).append(u)
    for name, asset in project.assets.items():
        if name not in by_asset or asset.action is None:
            continue
        unit_vals = [frontier.unit_values[(name, u)] for u in sorted(by_asset[name])]
        for batch in _batches(asset, unit_vals):
            grain = list(asset.action.grain)
            n = sum(covers[(name, format_key(grain, [b[g] for g in grain]) if grain else "")] for b in batch)
            actions.append(Action(name, asset.action.kind, tuple(batch), _label(asset, batch), n))
    runs: list[RunRange] = []
    for name, asset in project.assets.items():
        mine = [a for a in actions if a.asset == name]
        if not mine:
            continue
        # ranges are maximal runs of consecutive units, so a batch never straddles two of them
        action_of = {tuple(u.values()): i for i, a in enumerate(mine) for u in a.units}
        for rng in _batches(asset, [u for a in mine for u in a.units], limit=len(actions) + 1):
            members = {action_of[tuple(u.values())] for u in rng}
            runs.append(RunRange(name, asset.action.kind, _label(asset, rng), len(members),
                                 sum(mine[i].covers for i in members)))
    return Plan(project=project.name, now=now, statuses=statuses, actions=actions, summary=summary,
                groups=groups, runs=runs,
                observations=[{"asset": o.asset, "source": o.source, "present": o.present,
                               **({"note": o.note} if o.note else {})} for o in frontier.observations],
                warnings=list(frontier.warnings), facts=result.facts)


def _rule_partition(asset: Asset, key: str, now: datetime) -> dict[str, str] | None:
    """The values of a partition a rule named, or None when it is not in the asset's space."""
    from ..errors import UsageError
    from ..partition import parse_values
    from ..project.model import StaticValues

    try:
        vals = parse_values(key, asset.dims, format_partition(asset.name, key)) if key or asset.dims else {}
    except UsageError:
        return None
    if set(vals) != set(asset.dims):
        return None
    for dim in asset.dimensions:
        space = dim.space
        if isinstance(space, TimeWindows) and not space.contains(vals[dim.name], now):
            return None
        if isinstance(space, StaticValues) and vals[dim.name] not in space.values:
            return None
    return vals


def _with_satisfied(project: Project, frontier: Frontier, statuses: list[PartitionStatus],
                    order: dict[str, int]) -> list[PartitionStatus]:
    """Add every satisfied partition (``plan --all``), keeping asset order then key order."""
    known = {(s.asset, s.key) for s in statuses}
    out = list(statuses)
    for name, rows in (frontier.satisfied or {}).items():
        dims = list(project.assets[name].dims)
        for row in rows:
            key = format_key(dims, row) if dims else ""
            if (name, key) not in known:
                out.append(PartitionStatus(name, key, dict(zip(dims, row)), "satisfied", "present", ()))
    out.sort(key=lambda s: (order.get(s.asset, 0), s.key))
    return out


def _family(st: PartitionStatus) -> str:
    """A reason with the specific partition left out, so that many partitions share it."""
    r = st.cause if st.cause is not None and st.status == "blocked" else (st.reasons[0] if st.reasons else None)
    if r is None:
        return st.status
    if r.kind == "needs" and r.upstream:
        asset = r.upstream.split("[")[0]
        if st.condition == "present":
            return f"present; will be refreshed after {asset} ({r.upstream_status})"
        return f"needs {asset} ({r.upstream_status})"
    if r.kind == "outdated" and r.upstream:
        return f"{r.upstream.split('[')[0]} was updated after it"
    if r.kind == "upstream_blocked" and r.upstream:
        return f"needs {r.upstream.split('[')[0]}, which is blocked"
    text = r.describe(st.condition)
    if st.status == "blocked" and st.cause_at and st.cause_at != st.partition:
        return f"{text} (at {st.cause_at.split('[')[0]})"
    return text


def _groups(statuses: list[PartitionStatus]) -> list[Group]:
    seen: dict[tuple[str, str, str], list] = {}
    for st in statuses:
        fam = _family(st)
        entry = seen.setdefault((st.asset, st.status, fam), [0, st.partition])
        entry[0] += 1
    return [Group(a, s, f, n, ex) for (a, s, f), (n, ex) in seen.items()]
