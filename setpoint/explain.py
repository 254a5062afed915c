"""``setpoint why``: every status explained from the derivation the solver made.

The tree is not a second copy of the status logic. Its inner steps are the
``reason/4`` atoms the shipped rules derived (a waiting partition *needs* a
pending one, a blocked one *needs* a blocked one, …), followed upstream; its
leaves are the input facts those reasons rest on, each with where it came
from: an observation (no rows, a file's time), the run record (attempts, the
last error, the run), a declaration (file and line in the YAML) or a user rule
(the file and line of the rule that fired, recorded by the solver itself, see
:mod:`setpoint.solver.provenance`).

The result is a DAG: a partition reached twice is explained once. A partition
needing many others summarizes them by shared root cause, unless asked to
expand.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .evidence import Evidence, clock, closes_at, declares
from .frontier import Frontier
from .errors import UsageError
from .partition import format_partition, key_of, parse_values
from .plan import PartitionStatus, Plan, Reason
from .project.model import Asset, Project
from .project.timewindows import TimeWindows
from .solver.decode import family
from .solver.session import SolveResult
from .values import describe_values

#: upstream partitions of one kind listed one by one; more are summarized by shared cause
FANIN = 8
#: the format of ``why --json``; raised when a field changes meaning or disappears
FORMAT = 1

_LINKS = ("upstream_blocked", "needs", "not_due")
_ADJECTIVE = {"upstream_blocked": "blocked", "needs": "not satisfied yet", "not_due": "not due yet"}


@dataclass
class Group:
    """Upstream partitions sharing an asset, a status and a root cause, summarized."""

    count: int
    asset: str
    status: str
    cause: str
    values: str
    example: str

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "asset": self.asset, "status": self.status, "cause": self.cause,
                "values": self.values, "example": self.example}


@dataclass
class Cause:
    """One step of an explanation: a reason the solver derived, or the evidence at its root.

    ``source`` says what kind of thing it is: ``derived`` (a reason of the
    shipped rules that continues at the partition ``node``), ``observation``, ``run``,
    ``declaration`` or ``rule``.
    """

    kind: str
    text: str
    source: str
    node: str | None = None  # the id of the partition it continues at
    file: str | None = None
    line: int | None = None
    run: str | None = None
    at: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    because: list[Cause] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "source": self.source, "text": self.text}
        for name in ("node", "file", "line", "run"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.at is not None:
            out["at"] = self.at.isoformat()
        out.update(self.detail)
        if self.because:
            out["because"] = [c.to_json() for c in self.because]
        if self.groups:
            out["groups"] = [g.to_json() for g in self.groups]
        return out


@dataclass
class Node:
    """One partition in the explanation, with its status and the causes of it."""

    id: str
    asset: str
    values: dict[str, str]
    status: str  # a plan status, or "not expected" / "not due"
    condition: str | None
    causes: list[Cause] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"asset": self.asset, "partition": dict(self.values), "status": self.status,
                "condition": self.condition, "causes": [c.to_json() for c in self.causes]}


@dataclass
class AssetGroup:
    """``why ASSET``: its non-satisfied partitions sharing a status and a top reason."""

    status: str
    reason: str
    count: int
    values: str
    example: str

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "count": self.count, "values": self.values,
                "example": self.example}


@dataclass
class Explanation:
    """The answer to ``setpoint why``: a partition's DAG of causes, or an asset's groups."""

    target: str
    kind: str  # "partition" or "asset"
    now: datetime
    root: str | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    groups: list[AssetGroup] = field(default_factory=list)
    expanded: bool = False
    #: an asset's SLO: its declaration and how many partitions are on track, at risk and violated
    slo: dict[str, Any] | None = None

    @property
    def status(self) -> str | None:
        return self.nodes[self.root].status if self.root else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": FORMAT, "target": self.target, "kind": self.kind,
                               "now": self.now.isoformat()}
        if self.kind == "partition":
            out.update(root=self.root, status=self.status,
                       nodes={k: n.to_json() for k, n in self.nodes.items()})
        else:
            out.update(counts=self.counts, groups=[g.to_json() for g in self.groups])
            if self.slo is not None:
                out["slo"] = self.slo
        return out


class Explainer:
    """Builds explanations from one plan and the workspace it was computed in."""

    def __init__(self, project: Project, plan: Plan, frontier: Frontier, result: SolveResult,
                 evidence: Evidence, expand: bool = False) -> None:
        self.project, self.plan, self.frontier, self.result = project, plan, frontier, result
        self.evidence, self.expand = evidence, expand
        self.statuses = {(s.asset, s.key): s for s in plan.statuses}
        self.parts = {(a, p.key): p for a, af in frontier.assets.items() for p in af.partitions}
        self.declared = set(frontier.edges)
        self.now = plan.now
        self._decided: dict[tuple[str, str], object] | None = None

    # -- an asset -----------------------------------------------------------------------------
    def asset(self, name: str) -> Explanation:
        asset = self.project.assets[name]
        mine = [s for s in self.plan.statuses if s.asset == name]
        buckets: dict[tuple[str, str], list[PartitionStatus]] = {}
        for st in mine:
            buckets.setdefault((st.status, family(st)), []).append(st)
        groups = [AssetGroup(status, reason, len(sts), describe_values(asset, [s.values for s in sts]),
                             sts[0].partition) for (status, reason), sts in buckets.items()]
        order = ("blocked", "in_progress", "waiting", "missing", "stale")
        groups.sort(key=lambda g: (order.index(g.status), -g.count, g.reason))
        slo = None
        if asset.slo is not None:
            slo = {"slo": asset.slo.describe(), "at": str(asset.slo.origin) if asset.slo.origin else None,
                   **self.plan.slo.get(name, {"on_track": 0, "at_risk": 0, "violated": 0})}
        return Explanation(name, "asset", self.now, counts=dict(self.plan.summary[name]), groups=groups, slo=slo)

    # -- a partition --------------------------------------------------------------------------
    def partition(self, asset: Asset, values: dict[str, str]) -> Explanation:
        key = _key(asset, values)
        self.nodes: dict[str, Node] = {}
        self.named_by_rule: set[str] = set()
        self.queue: deque[tuple[str, str]] = deque()
        root = self._node(asset.name, key, values)
        while self.queue:
            a, k = self.queue.popleft()
            node = self.nodes[format_partition(a, k)]
            node.causes = self._causes(self.project.assets[a], k, node)
        return Explanation(format_partition(asset.name, key), "partition", self.now, root, self.nodes,
                           expanded=self.expand)

    def _values(self, a: str, key: str) -> dict[str, str]:
        asset = self.project.assets[a]
        part = self.parts.get((a, key))
        if part is not None:
            return dict(zip(asset.dims, part.values))
        if (a, key) in self.frontier.named:
            return dict(self.frontier.named[(a, key)])
        try:
            return parse_values(key, asset.dims, format_partition(a, key)) if asset.dims else {}
        except UsageError:  # a key a rule wrote that names no partition of the asset
            return {}

    def _node(self, a: str, key: str, values: dict[str, str] | None = None) -> str:
        pid = format_partition(a, key)
        if pid not in self.nodes:
            st = self.statuses.get((a, key))
            asset = self.project.assets[a]
            vals = values if values is not None else self._values(a, key)
            if st is not None:
                status, condition = st.status, st.condition
            elif (a, key) in self.frontier.unnamed or set(vals) != set(asset.dims):
                status, condition = "not expected", None
                self.named_by_rule.add(pid)
            else:
                found = self.evidence.expectation(asset, vals)
                status = {"expected": "satisfied", "not_due": "not due"}.get(found, "not expected")
                condition = "present" if status == "satisfied" else None
            self.nodes[pid] = Node(pid, a, vals, status, condition)
            self.queue.append((a, key))
        return pid

    def _causes(self, asset: Asset, key: str, node: Node) -> list[Cause]:
        if node.status == "satisfied":
            return self._satisfied(asset, node)
        if node.status in ("not due", "not expected"):
            return self._unexpected(asset, node)
        st = self.statuses[(asset.name, key)]
        causes = self._condition(asset, key, node, st.reasons)
        links: dict[str, list[Reason]] = {}
        for r in st.reasons:
            if r.kind in _LINKS and r.node is not None:
                links.setdefault(r.kind, []).append(r)
            else:
                causes.extend(self._reason(asset, key, node, r))
        for kind, reasons in links.items():
            if len(reasons) > FANIN and not self.expand:
                causes.append(self._fanin(kind, reasons))
            else:
                causes.extend(self._link(asset, key, r) for r in reasons)
        return self._timing(asset, key, st) + causes

    def _timing(self, asset: Asset, key: str, st: PartitionStatus) -> list[Cause]:
        """Its SLO (deadline and prediction) and what the schedule decided for it, first."""
        out = []
        if st.slo is not None and asset.slo is not None:
            origin = asset.slo.origin
            out.append(Cause("slo", f"{st.slo.describe()} ({origin}: {st.slo.what})", "declaration",
                             file=origin.file if origin else None, line=origin.line if origin else None,
                             detail=st.slo.to_json()))
        schedule = self.plan.schedule
        if schedule is None or not st.runnable:
            return out
        if self._decided is None:  # which run holds each partition back: indexed once
            self._decided = {}
            for a in schedule.queued:
                for k, _ in a.targets:
                    self._decided[(a.asset, k)] = "queued"
            for d in schedule.deferred:
                for k, _ in d.action.targets:
                    self._decided[(d.action.asset, k)] = d
        decided = self._decided.get((asset.name, key))
        if decided is not None and decided != "queued":
            out.append(Cause("deferred", f"deferred: {decided.reason}", "derived", detail={"deferral": decided.kind}))
            return out
        pool = schedule.pool_of.get(asset.name, "default")
        if decided == "queued" and pool != "default":  # the default pool is apply's concurrency
            capacity, running, starting = schedule.pools.get(pool, (0, 0, 0))
            out.append(Cause("queued", f"queued for a slot of pool {pool} ({capacity} slots: {running} held by "
                                       f"running work, {starting} starting now)", "derived"))
        return out

    # -- what the partition itself is --------------------------------------------------------
    def _expected(self, asset: Asset) -> Cause:
        origin = asset.dimensions[0].origin if asset.dimensions else asset.origin
        return Cause("expected", f"expected: {origin} declares {declares(asset)}", "declaration",
                     file=origin.file, line=origin.line, detail={"asset": asset.name})

    def _absent(self, asset: Asset, node: Node) -> Cause:
        return Cause("absent", f"absent: {self.evidence.place(asset, node.values, present=False)} (observed {clock(self.now)})",
                     "observation", at=self.now, because=[self._expected(asset)])

    def _condition(self, asset: Asset, key: str, node: Node, reasons: tuple[Reason, ...]) -> list[Cause]:
        """The partition's own condition, when its reasons do not already say it (a waiting or blocked one)."""
        kinds = {r.kind for r in reasons}
        part = self.parts.get((asset.name, key))
        out = []
        if node.condition == "absent" and "absent" not in kinds:
            out.append(self._absent(asset, node))
        if node.condition == "present" and node.status in ("waiting", "blocked"):
            _, updated = self.evidence.observed(asset, node.values)
            since = f" since {clock(updated)}" if updated else ""
            out.append(Cause("present", f"present{since}: {self.evidence.place(asset, node.values, present=True)}; "
                                        "not satisfied while what it needs is not", "observation", at=updated))
        if part is not None and part.outdated_by and "outdated" not in kinds:
            out.append(self._outdated(asset, node, part.outdated_by))
        if part is not None and part.superseded and "superseded" not in kinds:
            out.append(self._superseded(asset, node, part.superseded))
        return out

    def _outdated(self, asset: Asset, node: Node, up: tuple[str, str]) -> Cause:
        b = self.project.assets[up[0]]
        upstream = format_partition(*up)
        _, mine = self.evidence.observed(asset, node.values)
        _, theirs = self.evidence.observed(b, self._values(*up))
        return Cause("outdated", f"outdated: {upstream} was updated {clock(theirs)}, after this partition "
                                 f"({clock(mine)})", "observation", at=theirs, detail={"upstream": upstream})

    def _superseded(self, asset: Asset, node: Node, old: str) -> Cause:
        built = self.evidence.built(asset, node.values)
        by = f" by run {built.built_by} ({clock(built.built_at)})" if built and built.built_by else ""
        action = asset.action
        where = f"{action.origin} now declares" if action and action.origin else "the action is now"
        return Cause("superseded", f"superseded: built{by} with action version {old}; {where} version "
                                   f"{action.version if action else '?'}", "run",
                     run=built.built_by if built else None, at=built.built_at if built else None,
                     detail={"version": old, "current_version": action.version if action else None})

    def _reason(self, asset: Asset, key: str, node: Node, r: Reason) -> list[Cause]:
        """A reason of the partition itself, down to its evidence."""
        k = r.kind
        if k == "absent":
            return [self._absent(asset, node)]
        if k == "outdated" and r.node is not None:
            return [self._outdated(asset, node, r.node)]
        if k == "superseded":
            return [self._superseded(asset, node, r.version or "?")]
        if k == "leased":
            return [Cause(k, r.describe(), "run", run=r.run, at=r.since,
                          detail={"until": r.until.isoformat() if r.until else None})]
        if k == "backoff":
            most = asset.action.max_attempts if asset.action else r.attempts
            return [Cause(k, f"retry after {clock(r.until)}: failed {r.attempts} of {most} attempts, last error: "
                             f"{r.text} (run {r.run})", "run", run=r.run,
                          detail={"attempts": r.attempts, "max_attempts": most, "error": r.text,
                                  "until": r.until.isoformat() if r.until else None})]
        if k in ("failed", "retrying"):
            most = asset.action.max_attempts if asset.action else r.attempts
            head = "retrying: failed" if k == "retrying" else "failed"
            return [Cause(k, f"{head} {r.attempts} of {most} attempts, last error: {r.text} (run {r.run})", "run",
                          run=r.run, detail={"attempts": r.attempts, "max_attempts": most, "error": r.text})]
        if k in ("rule", "unrecoverable"):
            pred = "block" if k == "rule" else "unrecoverable"
            places = self.result.origins.get((pred, asset.name, key, r.text or ""), [])
            where = f"{places[0][0]}:{places[0][1]}" if places else "a rule"
            if len(places) > 1:
                where += " (also " + ", ".join(f"{f}:{n}" for f, n in places[1:]) + ")"
            verb = "blocked by" if k == "rule" else "unrecoverable, says"
            return [Cause(k, f"{verb} {where}: {r.text}", "rule", file=places[0][0] if places else None,
                          line=places[0][1] if places else None,
                          detail={"reason": r.text, **({"also": [f"{f}:{n}" for f, n in places[1:]]}
                                                       if len(places) > 1 else {})})]
        if k == "no_action":
            return [Cause(k, f"no action: {asset.origin} declares {asset.name} without one, so setpoint "
                             "cannot produce it", "declaration", file=asset.origin.file, line=asset.origin.line)]
        if k in ("needs_all", "upstream_all_blocked") and r.upstream:
            return [self._needs_all(asset, k, r.upstream)]
        if k == "paused":
            pause = self.frontier.paused.get(asset.name) or self.frontier.paused.get("*")
            resume = "--all" if "*" in self.frontier.paused else asset.name
            return [Cause(k, f"blocked: {r.text} (`setpoint resume {resume}` ends it)", "operator",
                          at=pause.since if pause else None,
                          detail=pause.to_json() if pause else {})]
        if k == "expired":
            soon = "too old" if r.until is not None and r.until <= self.now else "too old soon"
            return [Cause(k, f"{soon}: {r.describe()}", "observation", at=r.until)]
        return [Cause(k, r.describe(node.condition or "absent"), "derived")]

    # -- upstream ---------------------------------------------------------------------------
    def _origins(self, a: str, key: str, b: str, q: str) -> list[Cause]:
        """Where the dependency A[P] → B[Q] comes from: the YAML, and/or the rules that added it."""
        out = []
        if (a, key, b, q) in self.declared:
            asset = self.project.assets[a]
            deps = [d for d in asset.dependencies if d.asset == b]
            if len(deps) > 1:  # only the mappings that select this upstream partition
                mine, theirs = self._values(a, key), self._values(b, q)
                deps = [d for d in deps if self.evidence.maps(asset, mine, d, self.project.assets[b], theirs)]
            out += [Cause("declared", f"declared at {dep.origin}, {dep.mapping.describe()}", "declaration",
                          file=dep.origin.file, line=dep.origin.line, detail={"mapping": dep.mapping.describe()})
                    for dep in deps]
        for file, line in self.result.origins.get(("depends", a, key, b, q), []):
            out.append(Cause("rule_dependency", f"added by {file}:{line}", "rule", file=file, line=line))
        return out

    def _link(self, asset: Asset, key: str, r: Reason) -> Cause:
        b, q = r.node
        if r.kind == "not_due":
            space = _time_space(self.project.assets[b], self._values(b, q))
            due = closes_at(*space) if space else None
            when = f", expected from {clock(due)}" if due else ""
            return Cause("not_due", f"needs {r.upstream}, which is not due yet{when}", "declaration",
                         detail={"upstream": r.upstream, **({"expected_from": due.isoformat()} if due else {})},
                         because=self._origins(asset.name, key, b, q))
        pid = self._node(b, q)
        status = self.nodes[pid].status
        return Cause(r.kind, f"needs {pid} ({status})", "derived", node=pid,
                     because=self._origins(asset.name, key, b, q))

    def _fanin(self, kind: str, reasons: list[Reason]) -> Cause:
        buckets: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
        for r in reasons:
            b, q = r.node
            st = self.statuses.get((b, q))
            status = st.status if st else ("not due" if kind == "not_due" else "satisfied")
            cause = family(st, root=True) if st else ("window not closed yet" if kind == "not_due" else status)
            buckets.setdefault((b, status, cause), []).append((b, q))
        groups = []
        for (b, status, cause), members in sorted(buckets.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            asset = self.project.assets[b]
            values = describe_values(asset, [self._values(*m) for m in members], only_varying=True)
            example = format_partition(*members[0])
            if kind != "not_due":
                example = self._node(*members[0])
            groups.append(Group(len(members), b, status, cause, values, example))
        n = len(reasons)
        text = f"needs {n:,} upstream partitions that are {_ADJECTIVE[kind]}"
        return Cause(kind, text, "derived", detail={"count": n}, groups=groups)

    def _needs_all(self, asset: Asset, kind: str, b: str) -> Cause:
        blocked = kind == "upstream_all_blocked"
        members = [s for s in self.plan.statuses if s.asset == b and (s.status == "blocked") == blocked]
        if not members:  # a present partition blocked at its root may need an asset whose trouble is blocked
            members, blocked = [s for s in self.plan.statuses if s.asset == b], True
        reasons = [Reason("upstream_blocked" if blocked else "needs", s.partition, s.status, node=(s.asset, s.key))
                   for s in members]
        dep = next((d for d in asset.dependencies if d.asset == b), None)
        where = f" (declared at {dep.origin}, all)" if dep else ""
        because, groups = [], []
        if len(reasons) > FANIN and not self.expand:
            groups = self._fanin(reasons[0].kind, reasons).groups
        else:
            because.extend(self._link(asset, "", r) for r in reasons)
            for c in because:
                c.because = [x for x in c.because if x.kind != "declared"]
        state = "blocked" if blocked else "not satisfied yet"
        verb = "is" if len(members) == 1 else "are"
        return Cause(kind, f"needs every partition of {b}; {len(members):,} {verb} {state}{where}", "derived",
                     file=dep.origin.file if dep else None, line=dep.origin.line if dep else None,
                     detail={"asset": b, "count": len(members)}, because=because, groups=groups)

    # -- satisfied, or not expected at all ---------------------------------------------------
    def _satisfied(self, asset: Asset, node: Node) -> list[Cause]:
        _, updated = self.evidence.observed(asset, node.values)
        where = self.evidence.place(asset, node.values, present=True)
        if updated is not None:
            text = f"present since {clock(updated)}: {where}"
        else:
            text = f"present: {where} (no update time observed, so it is never outdated)"
        out = [Cause("present", text, "observation", at=updated, detail={"observed_at": self.now.isoformat()},
                     because=[self._expected(asset)])]
        built = self.evidence.built(asset, node.values)
        if built is not None and built.built_by:
            out.append(Cause("built", f"built by run {built.built_by} at {clock(built.built_at)} "
                                      f"(action version {built.version}, the current one)", "run",
                             run=built.built_by, at=built.built_at, detail={"version": built.version}))
        elif asset.action is not None:
            out.append(Cause("built", "no run of setpoint built it: it was found as it is", "run"))
        if asset.dependencies:
            newest = self.evidence.newest_upstream(asset, node.values)
            if newest is not None:
                upstream, moment = newest
                out.append(Cause("upstream_unchanged", f"upstream unchanged since {clock(moment)} (last: {upstream})",
                                 "observation", at=moment, detail={"upstream": upstream}))
        return out

    def _unexpected(self, asset: Asset, node: Node) -> list[Cause]:
        kind, head = ("not_due", "not due yet") if node.status == "not due" else ("not_expected", "not expected")
        out = []
        if node.id in self.named_by_rule:
            out.append(Cause(kind, f"{head}: a rule's dependency names it, but it is not one of {asset.name}'s "
                                   "partitions; the plan leaves it out (check the depends/4 rules)", "rule"))
            if set(node.values) != set(asset.dims):
                return out
        out += [Cause(kind, f"{head}: {origin} — {text}", "declaration", file=origin.file, line=origin.line)
                for origin, text in self.evidence.outside(asset, node.values, self.warnings(asset))]
        return out

    def warnings(self, asset: Asset) -> list[str]:
        """The plan's warnings about an asset (e.g. a dimension whose values cannot be read yet)."""
        return [w.split(": ", 1)[1] for w in self.plan.warnings if w.startswith(f"{asset.name}: ")]


def _key(asset: Asset, values: dict[str, str]) -> str:
    return key_of(asset.dims, values) if asset.dims else ""


def _time_space(asset: Asset, values: dict[str, str]) -> tuple[TimeWindows, str] | None:
    """The partition's (last) time dimension and value: what decides when it is due."""
    for d in reversed(asset.dimensions):
        if isinstance(d.space, TimeWindows):
            return d.space, values[d.name]
    return None
