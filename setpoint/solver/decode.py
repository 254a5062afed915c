"""Solver atoms → :class:`Plan`: statuses with reasons and root causes, groups, batched actions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ..frontier import Frontier, FrontierPartition
from ..partition import format_key, format_partition
from ..plan import STATUSES, Group, PartitionStatus, Plan, Reason, Statuses
from ..project.model import Project
from .actions import plan_actions
from .evaluate import UPSTREAM_STATUS
from .session import SolveResult

#: the order in which a partition's reasons are listed (its first reason is its top reason)
_ORDER = ("paused", "rule", "unrecoverable", "failed", "no_action", "upstream_blocked", "upstream_all_blocked",
          "leased", "backoff", "absent", "outdated", "superseded", "expired", "retrying", "needs", "not_due", "needs_all")


def _upstream_status(detail: tuple, statuses: dict[tuple[str, str], str] | _StatusOf) -> str:
    """The status of the upstream partition of a reason ``("up", B, Q)``, or the one it carries
    (``("up", B, Q, status)``, as evaluated through a declared edge)."""
    return detail[3] if len(detail) == 4 else statuses.get((detail[1], detail[2]), "satisfied")


def _reason(kind: str, detail: object, statuses: dict[tuple[str, str], str] | _StatusOf, sources: dict[str, str],
            asset: str, part: FrontierPartition | None = None) -> Reason:
    if isinstance(detail, tuple) and detail[0] == "up":
        b, q = detail[1], detail[2]
        upstream_status = "not due" if kind == "not_due" else _upstream_status(detail, statuses)
        return Reason(kind, format_partition(b, q), upstream_status, node=(b, q))
    if kind in ("needs_all", "upstream_all_blocked"):
        return Reason(kind, str(detail))
    if kind in ("rule", "unrecoverable", "paused"):
        return Reason(kind, text=str(detail))
    if kind == "expired" and part is not None:
        return Reason(kind, until=part.expires_at)
    if kind == "absent":
        return Reason(kind, source=sources.get(asset))
    if kind in ("failed", "retrying") and part is not None:
        return Reason(kind, text=part.last_error, attempts=part.failures, run=part.last_run)
    if kind == "backoff" and part is not None:
        return Reason(kind, text=part.last_error, attempts=part.failures, run=part.last_run, until=part.retry_at)
    if kind == "leased" and part is not None and part.lease is not None:
        run, since, until = part.lease
        return Reason(kind, run=run, since=since, until=until)
    if kind == "superseded" and part is not None:
        return Reason(kind, version=part.superseded)
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
        if first.kind in ("upstream_blocked", "needs"):
            up = first.node
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


def _cause(node: tuple[str, str], rs: tuple[Reason, ...] | None, reasons: dict[tuple[str, str], tuple[Reason, ...]],
           memo: dict, representative: dict[tuple[str, bool], tuple[str, str]]) -> tuple[Reason | None, str | None]:
    """A blocked or waiting partition's root cause and where it sits: its upstream's, when that is found
    already (most are: partitions come upstream first), else by following its first reasons."""
    up = rs[0].node if rs and rs[0].kind in ("needs", "upstream_blocked") else None
    hit = memo.get(up) if up is not None and up != node else None
    if hit is not None and hit[0] is not None:
        memo[node] = hit
        return hit
    return _root(node[0], node[1], reasons, memo, representative)


def decode(project: Project, frontier: Frontier, result: SolveResult, now: datetime) -> Plan:
    """Turn the solver's atoms into a plan: statuses, summary, groups, actions and ranges."""
    unexpected: list[str] = []
    if result.evaluated is not None:
        statuses, counts, groups, runnable = _evaluated(project, frontier, result.evaluated,
                                                        result.evaluated_counts, result.waiting)
    else:
        reasons = _reasons(frontier, result)
        made, unexpected = _statuses(project, frontier, result, reasons)
        statuses, counts, groups = Statuses(made), Counter((st.asset, st.status) for st in made), _groups(made)
        runnable = _runnable(frontier, made)
    if unexpected:
        frontier.warnings.append(
            f"rules name {len(unexpected)} partition(s) outside their asset's partitions, e.g. {unexpected[0]}; "
            "they are left out of the plan (check the depends/4 rules)")
    summary = _summary(frontier, counts)
    actions = plan_actions(project, frontier, result.runs, runnable)
    if frontier.satisfied is not None:
        statuses = Statuses(_with_satisfied(project, frontier, statuses))
    return Plan(project=project.name, now=now, statuses=statuses, actions=actions, summary=summary,
                groups=groups, runs=[],  # ranged once the schedule has chosen (controller._schedule)
                observations=[{"asset": o.asset, "source": o.source, "present": o.present,
                               **({"note": o.note} if o.note else {})} for o in frontier.observations],
                warnings=list(frontier.warnings), facts=result.facts, cleared=dict(frontier.cleared),
                record_error=frontier.record_error)


def _reasons(frontier: Frontier, result: SolveResult) -> dict[tuple[str, str], tuple[Reason, ...]]:
    """Every partition's reasons, top reason first."""
    sources = {o.asset: o.source for o in frontier.observations}
    parts: dict[tuple[str, str], FrontierPartition] = {}  # indexed once a reason needs a partition's record
    statuses = result.statuses
    shared: dict[tuple, Reason] = {}  # reasons that do not depend on the partition itself are made once
    out = {}
    for node, raw in result.reasons.items():
        rs = []
        for k, x in raw:
            if k in _OWN:
                if not parts:
                    parts = {(a, p.key): p for a, af in frontier.assets.items() for p in af.partitions}
                rs.append(_reason(k, x, statuses, sources, node[0], parts.get(node)))
                continue
            memo = (k, x, node[0])
            r = shared.get(memo)
            if r is None:
                r = shared[memo] = _reason(k, x, statuses, sources, node[0])
            rs.append(r)
        if len(rs) > 1:
            rs.sort(key=lambda r: (_RANK.get(r.kind, 99), r.upstream or "", r.text or ""))
        out[node] = tuple(rs)
    return out


#: reasons whose details come from the partition's own record
_OWN = frozenset({"expired", "failed", "retrying", "backoff", "leased", "superseded"})
_RANK = {kind: i for i, kind in enumerate(_ORDER)}


def _statuses(project: Project, frontier: Frontier, result: SolveResult,
              reasons: dict[tuple[str, str], tuple[Reason, ...]]) -> tuple[list[PartitionStatus], list[str]]:
    """The non-satisfied statuses in asset then key order, and the partitions rules named outside any space."""
    of = result.statuses
    # a whole-asset reason is followed to its first blocked (or first pending) partition in key order
    representative: dict[tuple[str, bool], tuple[str, str]] = {}
    for node, s in of.items():
        if s != "satisfied":
            k = (node[0], s == "blocked")
            first = representative.get(k)
            if first is None or node < first:
                representative[k] = node
    memo: dict = {}
    statuses: list[PartitionStatus] = []
    unexpected: list[tuple[str, str]] = []
    for node, values in _in_key_order(project, frontier, of):
        if values is None:
            unexpected.append(node)
            continue
        s = of[node]
        if s == "satisfied":
            continue
        cause, at = _cause(node, reasons.get(node), reasons, memo, representative) \
            if s == "blocked" or s == "waiting" else (None, None)
        statuses.append(PartitionStatus(node[0], node[1], values, s, result.conditions.get(node, "absent"),
                                        reasons.get(node, ()), cause, at))
    return statuses, [format_partition(a, p) for a, p in unexpected]


def _evaluated(project: Project, frontier: Frontier, evaluated: list[tuple[str, list[tuple]]],
               counted: Counter | None = None, waiting: dict[str, Any] | None = None
               ) -> tuple[Statuses, Counter, list[Group], list[tuple[str, str, dict[str, str], str]]]:
    """The evaluated engine's answer as a plan: counts, groups and runnable partitions now, each
    status when it is first looked at (:class:`Statuses`).

    A group's reason is its members' top reason with the partition left out, so
    it is worked out once per kind of top reason: for a partition waiting on one
    upstream partition (most are), by that upstream's asset and status. The
    partitions the engine left for later (``waiting``) come grouped by their top
    reason already. A blocked partition's group is its root cause, found through
    its upstream partitions' reasons: then every status is made now.
    """
    waiting = waiting or {}
    for _, entries in evaluated:
        entries.sort(key=_by_entry_key)  # value order is usually key order already
    sources = {o.asset: o.source for o in frontier.observations}
    if counted is None:  # (asset, status) → how many: the engine counts them as it goes
        counted = Counter((n, status) for n, entries in evaluated for _, status, _, _ in entries)
    if any(status == "blocked" for _, status in counted):
        made = _evaluated_statuses(project, sources, _with_waiting(evaluated, waiting))
        return Statuses(made), Counter((st.asset, st.status) for st in made), _groups(made), _runnable(frontier, made)
    status_of = _StatusOf(evaluated, waiting)
    shared: dict[tuple, Reason] = {}
    seen: dict[tuple[str, str, str], list] = {}
    runnable: list[tuple[str, str, dict[str, str], str]] = []
    outdated: list[tuple[str, str, str]] = []
    for n, entries in evaluated:
        dims = project.assets[n].dims
        slots: dict[tuple, list] = {}  # a kind of top reason → the [count, example] of its group
        for x, status, condition, why in entries:
            if status == "missing" or status == "stale":
                runnable.append((n, x.key, dict(zip(dims, x.values)), x.unit))
            if condition == "outdated":
                outdated.append((n, x.key, status))
            memo: tuple | None = None
            if len(why) == 1:
                k, d = why[0]
                if k not in _OWN:  # a reason on an upstream partition says its asset and status in a group
                    memo = (status, condition, k, d[1], _upstream_status(d, status_of)) \
                        if type(d) is tuple and d[0] == "up" else (status, condition, k, d)
            elif not why:
                memo = (status, condition)
            slot = slots.get(memo) if memo is not None else None
            if slot is None:
                rs = _made_reasons(n, x, why, status_of, sources, shared)
                if memo is None and rs and rs[0].kind not in _OWN:  # several reasons: the top one is shared
                    memo = (status, condition, id(rs[0]))
                    slot = slots.get(memo)
                if slot is None:
                    fam = family(PartitionStatus(n, x.key, {}, status, condition, rs[:1]))
                    slot = seen.get((n, status, fam))
                    if slot is None:
                        slot = seen[(n, status, fam)] = [0, x.key]
                    if memo is not None:
                        slots[memo] = slot
            slot[0] += 1
        later = waiting.get(n)
        for absent, not_due, b, code, count, first in later.groups if later is not None else ():
            kind = "not_due" if not_due else "needs"
            reason = _reason(kind, ("up", b, "", UPSTREAM_STATUS[code]), status_of, sources, n)
            fam = family(PartitionStatus(n, first, {}, "waiting", "absent" if absent else "present", (reason,)))
            slot = seen.get((n, "waiting", fam))
            if slot is None:
                seen[(n, "waiting", fam)] = [count, first]
            else:
                slot[0] += count
                slot[1] = min(slot[1], first)
    order = {name: i for i, name in enumerate(project.assets)}
    # in asset order, then in the order of their first partitions (as the statuses list them)
    keyed = sorted(seen.items(), key=lambda item: (order[item[0][0]], item[1][1])) if waiting else seen.items()
    groups = [Group(a, s, f, count, format_partition(a, first)) for (a, s, f), (count, first) in keyed]
    made_later = Statuses.later(lambda: _evaluated_statuses(project, sources, _with_waiting(evaluated, waiting)),
                                sum(len(entries) for _, entries in evaluated)
                                + sum(w.count for w in waiting.values()), outdated)
    return made_later, Counter(counted), groups, runnable


def _with_waiting(evaluated: list[tuple[str, list[tuple]]], waiting: dict[str, Any]) -> list[tuple[str, list[tuple]]]:
    """The engine's entries with those it left for later, each asset's in key order."""
    if not waiting:
        return evaluated
    return [(n, sorted([*entries, *waiting[n].entries()], key=_by_entry_key) if n in waiting else entries)
            for n, entries in evaluated]


def _runnable(frontier: Frontier, statuses: list[PartitionStatus]) -> list[tuple[str, str, dict[str, str], str]]:
    """(asset, key, values, unit) of each runnable partition."""
    unit_of = {(a, p.key): p.unit for a, af in frontier.assets.items() for p in af.partitions if p.unit != p.key}
    return [(st.asset, st.key, st.values, unit_of.get((st.asset, st.key), st.key)) for st in statuses if st.runnable]


class _StatusOf:
    """Each unsatisfied partition's status by (asset, key), indexed when first asked: a reason through a
    declared edge carries its upstream's status, so only an ``outdated`` reason asks (a million
    partitions take a second to index)."""

    def __init__(self, evaluated: list[tuple[str, list[tuple]]], waiting: dict[str, Any] | None = None) -> None:
        self._evaluated, self._waiting = evaluated, waiting or {}
        self._of: dict[tuple[str, str], str] | None = None

    def get(self, node: tuple[str, str], default: str) -> str:
        if self._of is None:
            self._of = {(n, x.key): status for n, entries in self._evaluated for x, status, _, _ in entries}
            for n, later in self._waiting.items():
                self._of.update(((n, key), "waiting") for key in later.keys())
        return self._of.get(node, default)


def _made_reasons(n: str, x: FrontierPartition, why: list[tuple[str, object]], status_of: _StatusOf,
                  sources: dict[str, str], shared: dict[tuple, Reason]) -> tuple[Reason, ...]:
    """One partition's reasons, top reason first; those that do not depend on the partition are shared."""
    rs: list[Reason] = []
    for k, d in why:
        if k in _OWN:
            rs.append(_reason(k, d, status_of, sources, n, x))
            continue
        memo = (k, d, n)
        r = shared.get(memo)
        if r is None:
            r = shared[memo] = _reason(k, d, status_of, sources, n)
        rs.append(r)
    if len(rs) > 1:
        rs.sort(key=lambda r: (_RANK.get(r.kind, 99), r.upstream or "", r.text or ""))
    return tuple(rs)


def _evaluated_statuses(project: Project, sources: dict[str, str],
                        evaluated: list[tuple[str, list[tuple[FrontierPartition, str, str, list]]]]
                        ) -> list[PartitionStatus]:
    """What :func:`_reasons` and :func:`_statuses` make of clingo's atoms, made of the evaluated engine's
    answer: each asset's unsatisfied partitions in key order with their status, condition and reasons,
    so nothing is looked up by partition but upstream statuses and reasons."""
    status_of = _StatusOf(evaluated)
    shared: dict[tuple, Reason] = {}
    reasons: dict[tuple[str, str], tuple[Reason, ...]] = {}
    representative: dict[tuple[str, bool], tuple[str, str]] = {}
    for n, entries in evaluated:
        for x, status, _, why in entries:
            node = (n, x.key)
            reasons[node] = _made_reasons(n, x, why, status_of, sources, shared)
            first = representative.get((n, status == "blocked"))
            if first is None or node < first:
                representative[(n, status == "blocked")] = node
    memo: dict = {}
    statuses: list[PartitionStatus] = []
    for n, entries in evaluated:
        dims = project.assets[n].dims
        for x, status, condition, _ in entries:
            node = (n, x.key)
            rs = reasons[node]
            cause, at = _cause(node, rs, reasons, memo, representative) \
                if status == "blocked" or status == "waiting" else (None, None)
            statuses.append(PartitionStatus(n, x.key, dict(zip(dims, x.values)), status, condition, rs, cause, at))
    return statuses


def _by_entry_key(entry: tuple) -> str:
    return entry[0].key


def _in_key_order(project: Project, frontier: Frontier,
                  of: dict[tuple[str, str], str]) -> Iterator[tuple[tuple[str, str], dict[str, str] | None]]:
    """Every partition with a status, and its values (None: outside its asset's space), in asset then key
    order. Usually all are on the frontier, whose partitions come in value order: each asset's are sorted
    by key. Partitions only a rule's dependency mentions are sorted in among them."""
    if not any(n in of for n in (*frontier.named, *frontier.unnamed)):
        for name, asset in project.assets.items():
            af = frontier.assets.get(name)
            if af is None:
                continue
            dims = asset.dims
            for part in sorted(af.partitions, key=_by_key):
                node = (name, part.key)
                if node in of:
                    yield node, dict(zip(dims, part.values))
        return
    values = {(a, p.key): dict(zip(project.assets[a].dims, p.values))
              for a, af in frontier.assets.items() for p in af.partitions}
    order = {name: i for i, name in enumerate(project.assets)}
    for node in sorted(of, key=lambda n: (order[n[0]], n[1])):
        found = values.get(node)
        yield node, found if found is not None else frontier.named.get(node)


def _by_key(part: FrontierPartition) -> str:
    return part.key


def _summary(frontier: Frontier, counts: Counter) -> dict[str, dict[str, int]]:
    """Counts per asset and status (from ``counts`` of (asset, status)); everything off the frontier is
    satisfied."""
    summary = {}
    for name, af in frontier.assets.items():
        row = {"expected": af.expected, "satisfied": af.expected - sum(counts[(name, s)] for s in STATUSES[1:])}
        row.update({s: counts[(name, s)] for s in STATUSES[1:]})
        summary[name] = row
    return summary


def unsettled_by_rules(frontier: Frontier, result: SolveResult) -> dict[str, set[tuple[str, ...]]]:
    """Expected partitions off the frontier that a rule's dependency left unsatisfied, as key values.

    DuckDB only knows the declared dependencies, so what depends on these
    partitions is not on the frontier yet: the controller seeds them and solves again.
    """
    out: dict[str, set[tuple[str, ...]]] = {}
    for (a, p), status in result.statuses.items():
        values = frontier.named.get((a, p))
        if status != "satisfied" and values is not None:
            out.setdefault(a, set()).add(tuple(values.values()) or ("",))
    return out


def _with_satisfied(project: Project, frontier: Frontier, statuses: Statuses) -> list[PartitionStatus]:
    """Add every satisfied partition (``plan --all``), keeping asset order then key order."""
    known = {(s.asset, s.key) for s in statuses}
    out = list(statuses)
    for name, rows in (frontier.satisfied or {}).items():
        dims = list(project.assets[name].dims)
        for row in rows:
            key = format_key(dims, row) if dims else ""
            if (name, key) not in known:
                out.append(PartitionStatus(name, key, dict(zip(dims, row)), "satisfied", "present", ()))
    order = {name: i for i, name in enumerate(project.assets)}
    out.sort(key=lambda s: (order[s.asset], s.key))
    return out


def family(st: PartitionStatus, root: bool = False) -> str:
    """A reason with the specific partition left out, so that many partitions share it.

    A blocked partition is described by its root cause; with ``root``, a waiting one too.
    """
    by_root = st.cause is not None and (root or st.status == "blocked")
    r = st.cause if by_root else (st.reasons[0] if st.reasons else None)
    if r is None:
        return st.status
    if r.kind == "needs" and r.upstream:
        asset = r.upstream.split("[")[0]
        if st.condition == "present":
            text = f"present; will be refreshed after {asset} ({r.upstream_status})"
        else:
            text = f"needs {asset} ({r.upstream_status})"
    elif r.kind == "not_due" and r.upstream:
        text = f"needs {r.upstream.split('[')[0]}, not due yet"
    elif r.kind == "outdated" and r.upstream:
        text = f"{r.upstream.split('[')[0]} was updated after it"
    elif r.kind == "upstream_blocked" and r.upstream:
        text = f"needs {r.upstream.split('[')[0]}, which is blocked"
    elif r.kind == "failed":
        text = f"failed {r.attempts} of {r.attempts} attempts, last error: {r.text}"
    elif r.kind == "superseded":
        text = "built by an older version of its action"
    elif r.kind == "leased":
        text = "being produced (a run holds its lease)"
    elif r.kind == "backoff":
        text = f"retrying after a backoff, last error: {r.text}"
    else:
        text = r.describe(st.condition)
    if by_root and st.cause_at and st.cause_at != st.partition:
        return f"{text} (at {st.cause_at.split('[')[0]})"
    return text


def _groups(statuses: list[PartitionStatus]) -> list[Group]:
    seen: dict[tuple[str, str, str], list] = {}
    # reasons are shared objects, so many partitions have the same family: work it out once for each
    families: dict[tuple, str] = {}
    for st in statuses:
        by_root = st.cause is not None and st.status == "blocked"  # as family() chooses its reason
        r = st.cause if by_root else (st.reasons[0] if st.reasons else None)
        at = st.cause_at.split("[")[0] if by_root and st.cause_at and st.cause_at != st.partition else None
        memo = (id(r), st.status, st.condition, by_root, at)
        fam = families.get(memo)
        if fam is None:
            fam = families[memo] = family(st)
        entry = seen.get((st.asset, st.status, fam))
        if entry is None:
            entry = seen[(st.asset, st.status, fam)] = [0, st.partition]
        entry[0] += 1
    return [Group(a, s, f, n, ex) for (a, s, f), (n, ex) in seen.items()]
