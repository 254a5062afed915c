"""``setpoint status``: one screen for an operator — counts, what runs now, what failed, what is blocked.

It reads like ``plan`` (observing and solving, never writing) and adds what
the run record says about work under way: every live lease, with its run, its
deadline and the process doing the work, and the latest failed runs. It
answers while an apply runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .controller import plan as make_plan
from .errors import ObserveError
from .lease import LIVE, lease_state
from .partition import format_partition
from .plan import Group, PartitionStatus
from .project.loader import load_project
from .project.model import Project
from .state import Lease, Pause, RunRecord, StateStore, recorded

#: failed runs listed
RECENT_FAILURES = 5


@dataclass(frozen=True)
class Running:
    """A run holding leases now."""

    run_id: str
    asset: str
    label: str
    partitions: int
    since: datetime
    until: datetime
    pid: int | None

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run_id, "asset": self.asset, "range": self.label, "partitions": self.partitions,
                "since": self.since.isoformat(), "until": self.until.isoformat(), "pid": self.pid}


@dataclass
class Status:
    project: str
    now: datetime
    summary: dict[str, dict[str, int]]
    running: list[Running] = field(default_factory=list)
    failures: list[RunRecord] = field(default_factory=list)
    blocked: list[Group] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: partitions blocked because an operator paused them (not counted as a problem)
    paused_partitions: int = 0
    pauses: list[Pause] = field(default_factory=list)
    #: per asset with an SLO: on_track, at_risk, violated counts; and the worst misses
    slo: dict[str, dict[str, int]] = field(default_factory=dict)
    misses: list[PartitionStatus] = field(default_factory=list)
    deferred: int = 0
    #: runs no apply will take: larger on their own than a guardrail allows
    too_big: int = 0

    @property
    def ok(self) -> bool:
        """Nothing is blocked but by a pause, and no SLO is violated (what monitoring alerts on)."""
        blocked = sum(row.get("blocked", 0) for row in self.summary.values()) - self.paused_partitions
        return blocked <= 0 and not any(row.get("violated") for row in self.slo.values()) and not self.too_big

    def to_json(self) -> dict[str, Any]:
        return {"project": self.project, "now": self.now.isoformat(), "summary": self.summary,
                "running": [r.to_json() for r in self.running],
                "recent_failures": [r.to_json() for r in self.failures],
                "blocked": [g.to_json() for g in self.blocked], "warnings": self.warnings,
                "pauses": [p.to_json() for p in self.pauses], "slo": self.slo,
                "slo_misses": [s.to_json() for s in self.misses], "deferred": self.deferred,
                "too_big": self.too_big}


def status(path: str | Path | Project = ".", now: datetime | None = None, wait: float = 5.0) -> Status:
    """Counts per asset and status, the runs under way, the latest failures and the blocked groups.

    While an apply holds the warehouse longer than ``wait`` seconds (a long SQL or
    Python action), the counts are those the latest plan recorded, said so.
    """
    project = path if isinstance(path, Project) else load_project(path)
    try:
        current = make_plan(project, now=now, record=False, warehouse_wait=wait)
    except ObserveError as exc:
        if not recorded(project.state) or "lock" not in exc.message:
            raise
        with StateStore(project.state, read_only=True) as store:
            at, summary = store.last_summary()
        if at is None:
            raise
        out = Status(project.name, now or datetime.now(timezone.utc), summary,
                     warnings=[f"the warehouse is busy ({exc.message.split(': ', 1)[-1]}); the counts are "
                               f"those of {at:%Y-%m-%d %H:%M:%S UTC}"])
    else:
        out = Status(project.name, current.now, current.summary,
                     blocked=[g for g in current.groups if g.status == "blocked"], warnings=list(current.warnings),
                     paused_partitions=current.paused, slo=current.slo, misses=current.misses[:RECENT_FAILURES * 2],
                     deferred=len(current.schedule.deferred) if current.schedule else 0,
                     too_big=len(current.schedule.too_big) if current.schedule else 0)
    if not recorded(project.state):
        return out
    with StateStore(project.state, read_only=True) as store:
        wall = datetime.now(timezone.utc) if now is None else now
        out.pauses = [p for p in store.pauses() if p.active(wall)]
        by_run: dict[str, list[Lease]] = {}
        for lease in store.leases():
            if lease_state(lease, wall) == LIVE:
                by_run.setdefault(lease.run_id, []).append(lease)
        for run_id, leases in by_run.items():
            run = store.run(run_id)
            first = leases[0]
            label = run.label if run else (format_partition(first.asset, first.key) if len(leases) == 1
                                           else f"{first.asset}: {len(leases)} partitions")
            out.running.append(Running(run_id, first.asset, label, len(leases), first.started_at, first.deadline,
                                       first.pid))
        out.failures = [r for r in reversed(store.runs(limit=200)) if r.outcome == "failed"][:RECENT_FAILURES]
    return out
