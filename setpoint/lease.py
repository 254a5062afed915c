"""Leases: who is producing a partition, until when, and whether anyone still is.

Every run holds a lease on the partitions it was started for, from its start
until it ends or its deadline passes (start + the action's ``timeout``, or
:data:`DEFAULT_LEASE`). While a lease is live, every invocation sees those
partitions as ``in_progress`` and what needs them as waiting, and starts
nothing for them.

A lease is live until its deadline — unless, on this machine, both the apply
that took it and the process doing the work are gone (the apply was killed,
say): then nobody is producing the partition and the lease is *orphaned*. An
expired or orphaned lease is given up by the next apply, the attempt counted,
and the partition is runnable again. Outside work reported started
(``setpoint report --started``) is live until its deadline.
"""

from __future__ import annotations

import socket
from datetime import datetime, timedelta

from .lock import alive
from .project.model import Asset
from .state import Lease

#: how long a run of an action without a ``timeout`` may hold its partitions
DEFAULT_LEASE = timedelta(hours=6)

LIVE, EXPIRED, ORPHANED = "live", "expired", "orphaned"


def deadline(asset: Asset, start: datetime) -> datetime:
    timeout = asset.action.timeout if asset.action is not None else None
    return start + (timeout or DEFAULT_LEASE)


def lease_state(lease: Lease, now: datetime) -> str:
    """``live``, ``expired`` (past its deadline) or ``orphaned`` (its apply and its process are gone)."""
    if lease.deadline <= now:
        return EXPIRED
    if lease.owner_host is None or lease.owner_host != socket.gethostname():
        return LIVE  # outside work, or another machine: only the deadline tells
    if alive(lease.owner_pid, lease.owner_start) or alive(lease.pid, lease.pid_start):
        return LIVE
    return ORPHANED
