"""Give up leases nobody will honour, and record how their runs ended.

An apply killed with ``kill -9``, a machine that rebooted, a run past its
deadline: their leases would hold partitions for nothing. Each apply starts its
passes by looking at every lease (see :mod:`setpoint.lease`):

- *live*: someone is still at work (the apply that took it, or the process
  doing the work, which may outlive a killed apply) — left alone;
- *expired* (past its deadline): the work is stopped if it is still running
  here, and given up;
- *orphaned* (its apply and its process are both gone): given up.

A run given up is judged by what exists now, like any run: the partitions it
produced count as built by it, the others as a failed attempt (with a backoff)
— so nothing finished is lost, and nothing half-done passes for done.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .adapters.shell import exit_status
from .lease import EXPIRED, LIVE, lease_state
from .lock import alive
from .partition import format_partition
from .plan import Plan
from .project.model import Project
from .retry import backoff_for
from .state import Lease, StateStore


def _clock(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Stale:
    """A run whose leases nobody will honour any more, and why."""

    run_id: str
    leases: tuple[Lease, ...]
    kind: str  # expired, interrupted or ended
    why: str


def stale_leases(store: StateStore, now: datetime) -> list[Stale]:
    """The runs to give up, decided *before* observing (so that what a run produced until it ended is
    seen); work past its deadline that still runs here is stopped. ``now`` is the wall clock: giving
    up and killing are decided by real time, whatever time a plan is made for."""
    by_run: dict[str, list[Lease]] = {}
    for lease in store.leases():
        by_run.setdefault(lease.run_id, []).append(lease)
    out = []
    for run_id, leases in by_run.items():
        states = {lease_state(x, now) for x in leases}
        if states == {LIVE}:
            continue
        first = leases[0]
        if EXPIRED in states:
            if alive(first.pid, first.pid_start) and first.owner_pid != os.getpid():
                try:  # past its deadline: stop it, children too
                    os.killpg(first.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            out.append(Stale(run_id, tuple(leases), "expired",
                             f"its lease expired at {_clock(first.deadline)} before it finished"))
        elif first.owner_pid:
            out.append(Stale(run_id, tuple(leases), "interrupted",
                             f"the apply that ran it (pid {first.owner_pid} on {first.owner_host}) stopped before "
                             "it finished"))
        else:
            out.append(Stale(run_id, tuple(leases), "ended", f"its detached command (pid {first.pid}) ended"))
    return out


def settle(store: StateStore, project: Project, stale: list[Stale], current: Plan, now: datetime,
           blocked: Callable[[str, list[str], str, str], None] | None = None) -> list[tuple[str, str]]:
    """Record how the given-up runs ended, judged by ``current`` (observed after they were given up);
    returns the partitions they failed to produce."""
    unsettled = {(s.asset, s.key) for s in current.statuses if s.condition != "present"}
    failed: list[tuple[str, str]] = []
    for item in stale:
        if store.leases(item.run_id):  # not settled meanwhile (by a report, say)
            failed += _settle(store, project, item.run_id, list(item.leases), unsettled, item.kind, item.why, now,
                              blocked)
    return failed


def _settle(store: StateStore, project: Project, run_id: str, leases: list[Lease], unsettled: set[tuple[str, str]],
            kind: str, why: str, now: datetime,
            blocked: Callable[[str, list[str], str, str], None] | None) -> list[tuple[str, str]]:
    asset = project.assets.get(leases[0].asset)
    done = [x for x in leases if (x.asset, x.key) not in unsettled]
    missed = [x for x in leases if (x.asset, x.key) in unsettled]
    ended = exit_status(run_id, project.state.parent / "logs") if kind == "ended" else None
    ago = _ended_ago(project, run_id) if kind == "ended" else None
    end = now - ago if ago is not None else None  # on this apply's clock (``--now`` shifts it)
    if ended is not None and not ended.ok:  # it said it failed: nothing it left counts as built
        done, missed, why = [], leases, ended.error or why
    run = store.run(run_id)
    version = run.action_version if run is not None else (
        asset.action.version if asset is not None and asset.action is not None else "")
    with store.transaction():
        if done:
            store.record_built(leases[0].asset, [(x.key, x.vals) for x in done], version, run_id, at=now)
        error = None
        if missed and ended is not None and not ended.ok:
            error = why
        elif missed:
            error = f"{why}; {'its partition is' if len(leases) == 1 else f'{len(missed)} of its partitions are'} " \
                    "still not produced"
            store.record_failure(leases[0].asset, [(x.key, x.vals) for x in missed], run_id, error, version,
                                 backoff=backoff_for(asset, now) if asset is not None else None)
        if run is not None and run.outcome == "running":
            store.finish_run(run_id, "failed" if missed else "succeeded", at=end or now, error=error,
                             exit_code=ended.exit_code if ended else None,
                             stdout_tail=ended.stdout_tail if ended else None,
                             stderr_tail=ended.stderr_tail if ended else None)
        store.release(run_id)
        store.event(kind, leases[0].asset, format_partition(leases[0].asset, leases[0].key)
                    if len(leases) == 1 else f"{len(leases)} partitions", run_id, {"reason": why}, at=now)
    if missed and blocked is not None:
        blocked(leases[0].asset, [x.key for x in missed], run_id, error or why)
    return [(leases[0].asset, x.key) for x in missed]


def _ended_ago(project: Project, run_id: str) -> timedelta | None:
    """How long ago a detached command ended: its exit status was written then (not when it was noticed)."""
    try:
        stamp = (project.state.parent / "logs" / f"{run_id}.exit").stat().st_mtime
    except OSError:
        return None
    return max(timedelta(0), datetime.now(timezone.utc) - datetime.fromtimestamp(stamp, timezone.utc))
