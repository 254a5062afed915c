"""The plan: plain Python objects decoded from the solver, and their JSON form.

A :class:`Plan` is what ``setpoint plan`` prints and ``--json`` emits: one
status per non-satisfied partition with its reasons and root cause, counts per
asset and status, and the actions that would run, batched into ranges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, overload

from .partition import format_partition

STATUSES = ("satisfied", "missing", "stale", "in_progress", "waiting", "blocked")


def _clock(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "?"


@dataclass(unsafe_hash=True, slots=True)
class Reason:
    """One fact behind a status. ``upstream`` is a partition (``csv[...]``) or an asset for *_all kinds.

    Hashable but not frozen (a frozen dataclass costs several times as much to create, and a plan makes
    one per waiting partition): treat it as immutable."""

    kind: str
    upstream: str | None = None
    upstream_status: str | None = None
    text: str | None = None
    source: str | None = None  # where the asset was observed, for ``absent``
    attempts: int | None = None  # failed attempts, for ``failed`` and ``retrying``
    run: str | None = None       # the run that failed last, for ``failed`` and ``retrying``
    version: str | None = None   # the older action version that built it, for ``superseded``
    since: datetime | None = None  # a lease's start, for ``leased``
    until: datetime | None = None  # a lease's deadline (``leased``) or the end of a backoff (``backoff``)
    #: the upstream (asset, key) itself, for walking to root causes without re-reading text
    node: tuple[str, str] | None = field(default=None, compare=False, repr=False)

    def describe(self, condition: str = "absent") -> str:
        k, up = self.kind, self.upstream
        if k == "absent":
            return f"absent from {self.source}" if self.source else "absent"
        if k == "outdated":
            return f"{up} was updated after it"
        if k == "needs":
            if condition == "present":
                return f"present; will be refreshed after {up} ({self.upstream_status})"
            return f"needs {up} ({self.upstream_status})"
        if k == "not_due":
            return f"needs {up}, which is not due yet"
        if k == "needs_all":
            return f"needs every partition of {up}, some are not satisfied"
        if k == "rule":
            return f"blocked by a rule: {self.text}"
        if k == "unrecoverable":
            return f"unrecoverable: {self.text}"
        if k == "paused":
            return str(self.text)
        if k == "expired":
            return f"refreshed before it is older than its SLO allows (at {_clock(self.until)})"
        if k == "no_action":
            return "no action declared to produce it"
        if k == "failed":
            return f"failed {self.attempts} of {self.attempts} attempts, last error: {self.text} (run {self.run})"
        if k == "retrying":
            return f"will retry: failed {self.attempts} attempt(s), last error: {self.text} (run {self.run})"
        if k == "leased":
            return (f"being produced by run {self.run} since {_clock(self.since)}, lease until {_clock(self.until)}")
        if k == "backoff":
            return (f"retry after {_clock(self.until)}: failed {self.attempts} attempt(s), last error: {self.text} "
                    f"(run {self.run})")
        if k == "superseded":
            return f"built by an older version of its action ({self.version}); the action has changed since"
        if k == "upstream_blocked":
            return f"needs {up}, which is blocked"
        if k == "upstream_all_blocked":
            return f"needs every partition of {up}, some are blocked"
        return k

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for name in ("upstream", "upstream_status", "text", "source", "attempts", "run", "version"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value.isoformat()
        return out


def _reason_json(r: Reason, written: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """A reason's JSON, made once per reason object (the objects outlive the document being written)."""
    out = written.get(id(r))
    if out is None:
        out = written[id(r)] = r.to_json()
    return out


@dataclass(slots=True)
class PartitionStatus:
    """Exactly one status for one expected partition, with what caused it.

    Not frozen: a plan makes one for every unsatisfied partition, and a frozen
    dataclass costs several times as much to create. Treat it as immutable
    (``dataclasses.replace`` for a changed copy)."""

    asset: str
    key: str
    values: dict[str, str]
    status: str
    condition: str
    reasons: tuple[Reason, ...]
    cause: Reason | None = None       # the root cause, followed through blocked/waiting upstreams
    cause_at: str | None = None       # the partition the root cause sits on
    slo: Any = None                   # its SLO's deadline and prediction (a setpoint.slo.SloState), if it has one

    @property
    def partition(self) -> str:
        return format_partition(self.asset, self.key)

    @property
    def runnable(self) -> bool:
        return self.status in ("missing", "stale")

    def to_json(self, reasons: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
        """``reasons``: the JSON of reasons already written, by ``id`` (many statuses share a reason)."""
        if reasons is None:
            reasons = {}
        out: dict[str, Any] = {
            "asset": self.asset,
            "partition": dict(self.values),
            "id": self.partition,
            "status": self.status,
            "condition": self.condition,
            "runnable": self.runnable,
            "reasons": [_reason_json(r, reasons) for r in self.reasons],
        }
        if self.cause is not None:
            out["cause"] = {**_reason_json(self.cause, reasons), "at": self.cause_at}
        if self.slo is not None:
            out["slo"] = self.slo.to_json()
        return out


class Statuses(Sequence[PartitionStatus]):
    """A plan's statuses in asset then key order, made on first use when the plan was made lazily.

    At scale most unsatisfied partitions wait for an upstream one; ``plan`` prints
    counts and groups that are computed without them, and only ``--json``, ``why``
    and ``apply`` look at them one by one. ``outdated()`` answers what the schedule
    asks of them without making them.
    """

    __slots__ = ("_items", "_make", "_count", "_outdated")

    def __init__(self, items: list[PartitionStatus] | None = None) -> None:
        self._items: list[PartitionStatus] | None = list(items) if items is not None else []
        self._make: Callable[[], list[PartitionStatus]] | None = None
        self._count = 0
        self._outdated: list[tuple[str, str, str]] | None = None

    @classmethod
    def later(cls, make: Callable[[], list[PartitionStatus]], count: int,
              outdated: list[tuple[str, str, str]]) -> Statuses:
        """``count`` statuses that ``make`` makes when they are first looked at."""
        out = cls()
        out._items, out._make, out._count, out._outdated = None, make, count, outdated
        return out

    def _all(self) -> list[PartitionStatus]:
        items = self._items
        if items is None:
            make = self._make
            if make is None:  # another thread has just made them
                return self._items  # type: ignore[return-value]
            items = make()  # two threads may both make them: the same statuses, one list is kept
            self._items, self._make = items, None
        return items

    def __reduce__(self) -> tuple:
        return Statuses, (self._all(),)

    def __add__(self, other: Sequence[PartitionStatus]) -> list[PartitionStatus]:
        return self._all() + list(other)

    def __len__(self) -> int:
        return self._count if self._items is None else len(self._items)

    @overload
    def __getitem__(self, i: int) -> PartitionStatus: ...

    @overload
    def __getitem__(self, i: slice) -> list[PartitionStatus]: ...

    def __getitem__(self, i: int | slice) -> PartitionStatus | list[PartitionStatus]:
        return self._all()[i]

    def __iter__(self) -> Iterator[PartitionStatus]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self._all() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Statuses({len(self)}{'' if self._items is not None else ', not made yet'})"

    def outdated(self) -> list[tuple[str, str, str]]:
        """(asset, key, status) of each partition that exists but is outdated."""
        if self._items is None and self._outdated is not None:
            return self._outdated
        return [(s.asset, s.key, s.status) for s in self._all() if s.condition == "outdated"]


@dataclass(frozen=True)
class Action:
    """One run of an asset's action: the grain units it covers, as values and as a range label."""

    asset: str
    kind: str
    units: tuple[dict[str, str], ...]
    label: str
    covers: int  # runnable partitions this run would satisfy
    #: those partitions: (key, {dimension: value})
    targets: tuple[tuple[str, dict[str, str]], ...] = field(default=(), compare=False, repr=False)
    #: the units (run keys) of those partitions
    unit_keys: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"asset": self.asset, "kind": self.kind, "partitions": [dict(u) for u in self.units],
                "range": self.label, "covers": self.covers}


class RunRange(NamedTuple):
    """Consecutive runs of one asset's action, shown as one line: ``csv[campaign=501,day=…..…]`` (a
    tuple: a backfill has thousands)."""

    asset: str
    kind: str
    label: str
    runs: int
    covers: int

    def to_json(self) -> dict[str, Any]:
        return {"asset": self.asset, "kind": self.kind, "range": self.label, "runs": self.runs,
                "covers": self.covers}


@dataclass(frozen=True)
class Group:
    """Non-satisfied partitions of one asset sharing a status and a top reason."""

    asset: str
    status: str
    reason: str
    count: int
    example: str

    def to_json(self) -> dict[str, Any]:
        return {"asset": self.asset, "status": self.status, "reason": self.reason,
                "count": self.count, "example": self.example}


@dataclass
class Plan:
    project: str
    now: datetime
    statuses: Statuses
    actions: list[Action]
    summary: dict[str, dict[str, int]]
    groups: list[Group]
    runs: list[RunRange] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    facts: int = 0
    #: partitions with failed attempts on record that exist now, per asset (apply forgets those failures)
    cleared: dict[str, list[str]] = field(default_factory=dict)
    #: why the run record could not be read, if it could not (a dry run warns; apply refuses to run)
    record_error: str | None = None
    #: which actions start now, queue for a pool slot or are deferred (a setpoint.schedule.Schedule)
    schedule: Any = None
    #: SLO states per asset: {asset: {"at_risk": n, "violated": n, "on_track": n}} (assets with an SLO)
    slo: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def paused(self) -> int:
        """Blocked partitions whose root cause is an operator's pause (deliberate: not a problem)."""
        return sum(1 for s in self.statuses if s.status == "blocked" and s.cause is not None
                   and s.cause.kind == "paused")

    @property
    def misses(self) -> list[PartitionStatus]:
        """Partitions whose SLO is violated or at risk: violated first, then by deadline."""
        if not self.slo:  # no partition has an SLO state: the statuses need not be made
            return []
        out = [s for s in self.statuses if s.slo is not None and s.slo.state != "on_track"]
        out.sort(key=lambda s: (s.slo.state != "violated", s.slo.deadline, s.asset, s.key))
        return out

    @property
    def converged(self) -> bool:
        return all(s.status == "satisfied" for s in self.statuses)

    def to_json(self) -> dict[str, Any]:
        reasons: dict[int, dict[str, Any]] = {}
        return {
            "project": self.project,
            "now": self.now.isoformat(),
            "summary": self.summary,
            "statuses": [s.to_json(reasons) for s in self.statuses],
            "actions": [a.to_json() for a in self.actions],
            "groups": [g.to_json() for g in self.groups],
            "runs": [r.to_json() for r in self.runs],
            "observations": self.observations,
            "warnings": self.warnings,
            "facts": self.facts,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "schedule": self.schedule.to_json() if self.schedule is not None else None,
            "slo": self.slo,
        }
