"""``setpoint report``: outside work tells the controller what happened.

Work setpoint only starts (a job on another system), or state it cannot poll
cheaply, reports back — from a shell (``setpoint report``), or from Python
(:func:`report`):

- ``started`` (until a time): the partition is being produced, under a lease,
  so every invocation sees it ``in_progress`` and starts nothing for it;
- ``ok``: it was produced — the run is recorded as succeeded and its lease
  released; an asset declared ``reported: true`` counts it as present;
- ``failed``: the attempt failed, with a message — counted like a failed run
  (backoff, ``max_attempts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .controller import resolve_target
from .errors import UsageError
from .lease import deadline as lease_deadline
from .partition import format_partition, key_of
from .project.loader import load_project
from .project.model import Asset, Project, ReportedLocation
from .retry import backoff_for
from .state import LeaseTaken, StateStore


@dataclass(frozen=True)
class Reported:
    run_id: str
    partition: str
    outcome: str  # started, succeeded or failed
    until: datetime | None = None


def _partition(project: Project, target: str) -> tuple[Asset, str, list[str]]:
    asset, values = resolve_target(project, target, "report")
    if values is None:
        raise UsageError(f"{target} names an asset; a report is about one partition",
                         hint=f"write {asset.name}[{','.join(f'{d}=…' for d in asset.dims)}]")
    vals = [values[d] for d in asset.dims] or [""]
    return asset, key_of(asset.dims, values) if asset.dims else "", vals


def report(path: str | Path | Project, target: str, *, ok: bool = False, failed: str | None = None,
           started: bool = False, until: datetime | None = None, run_id: str | None = None,
           now: datetime | None = None) -> Reported:
    """Record what outside work says about one partition: exactly one of ``started`` (with ``until``),
    ``ok`` or ``failed`` (its message).

    ``run_id`` names the run the work belongs to (a detached run passes on its
    ``SETPOINT_RUN_ID``): a report about a run that was given up meanwhile (its
    lease expired, another run took over) changes nothing. Without it, the
    report is about whatever run holds the partition's lease, if any.
    """
    if sum((ok, failed is not None, started)) != 1:
        raise UsageError("say exactly one of: started, ok, failed", hint="e.g. setpoint report a[2024-03-01] --ok")
    project = path if isinstance(path, Project) else load_project(path)
    asset, key, vals = _partition(project, target)
    moment = now or datetime.now(timezone.utc)
    label = format_partition(asset.name, key)
    version = asset.action.version if asset.action is not None else ""
    rows = [(key, vals)]
    with StateStore(project.state) as store:
        held = [x for x in store.leases() if x.asset == asset.name and x.key == key]
        if run_id is not None:
            run = store.run(run_id)
            if run is None:
                raise UsageError(f"there is no run {run_id}", hint="see `setpoint history`")
            if started:
                raise UsageError("--started begins outside work of its own; it takes no run",
                                 hint="leave out --run")
            if not [x for x in held if x.run_id == run_id]:
                store.event("reported", asset.name, label, run_id,
                            {"ignored": f"run {run_id} no longer holds {label} ({run.outcome})"}, at=moment)
                return Reported(run_id, label, "ignored")
        attempt = store.attempts(asset.name, [key], version).get(key, 0) + 1
        if started:
            end = until or lease_deadline(asset, moment)
            if end <= moment:
                raise UsageError(f"--until {end.isoformat()} has passed already", hint="give a time to come")
            try:
                new = store.start_run(asset.name, "report", label, [key], version, attempt, at=moment, lease=rows,
                                      deadline=end)
            except LeaseTaken as taken:
                raise UsageError(f"{label} is in progress already: run {taken.lease.run_id}, lease until "
                                 f"{taken.lease.deadline:%Y-%m-%d %H:%M:%S UTC}",
                                 hint="report --ok or --failed to end it first") from None
            return Reported(new, label, "started", end)
        with store.transaction():
            if held:
                run_id = held[0].run_id
                owner = store.run(run_id)
                version = owner.action_version if owner is not None else version
            else:  # a report of work setpoint did not see start: recorded as a run of its own
                run_id = store.start_run(asset.name, "report", label, [key], version, attempt, at=moment)
            if ok:
                store.record_built(asset.name, rows, version, run_id, at=moment)
                store.clear_failures(asset.name, [key])
                if isinstance(asset.location, ReportedLocation):
                    store.report_present(asset.name, rows, True, at=moment)
            else:
                assert failed is not None
                store.record_failure(asset.name, rows, run_id, failed, version,
                                     backoff=backoff_for(asset, moment))
            store.release_partition(asset.name, key)
            if not store.leases(run_id):  # the last of its partitions: the run is over
                bad = failed is not None or store.failed_in(run_id)
                store.finish_run(run_id, "failed" if bad else "succeeded", at=moment, error=failed)
    return Reported(run_id, label, "succeeded" if ok else "failed")
