"""Retries: when a failed partition may be tried again, and trying blocked ones again on request.

The n-th retry waits about ``backoff`` × 2^(n-1) (at most an hour), times a
random factor between 0.5 and 1 ("jitter"), so that partitions that failed
together — a whole day of downloads refused by a vendor — do not all retry in
the same second.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .partition import format_partition, key_of
from .project.loader import load_project
from .project.model import Asset, Project
from .state import StateStore, recorded

MAX_BACKOFF = timedelta(hours=1)


def backoff_for(asset: Asset, now: datetime) -> Callable[[int], datetime | None]:
    """The backoff of one failed run: attempts → when to try again. Its partitions share one random
    factor, so that they come due together and stay one batch."""
    factor = random.uniform(0.5, 1.0)
    return lambda attempts: backoff_until(asset, attempts, now, factor)


def backoff_until(asset: Asset, attempts: int, now: datetime, factor: float = 1.0) -> datetime | None:
    """When a partition of ``asset`` that failed ``attempts`` times may be tried again; None: at once."""
    base = asset.action.backoff if asset.action is not None else timedelta(0)
    if not base or attempts < 1:
        return None
    doublings = min(attempts - 1, 40)  # 2^40 × any base is past the cap; more would overflow
    return now + min(base * 2 ** doublings, MAX_BACKOFF) * factor


@dataclass(frozen=True)
class Retried:
    """What ``setpoint retry`` reset: the partitions whose failed attempts were forgotten."""

    asset: str
    partitions: list[str]


def retry(path: str | Path | Project, target: str) -> Retried:
    """Forget the failed attempts of ``asset`` or ``asset[key]`` so that the next apply tries it again
    (from its first attempt, without a backoff)."""
    from .controller import resolve_target

    project = path if isinstance(path, Project) else load_project(path)
    asset, values = resolve_target(project, target, "retry")
    name = asset.name
    keys = None if values is None else [key_of(asset.dims, values) if asset.dims else ""]
    if not recorded(project.state):
        return Retried(name, [])
    with StateStore(project.state) as store:
        found = store.reset_attempts(name, keys)
        for key in found:
            store.event("retry", name, format_partition(name, key), None, {"attempts": "reset"})
    return Retried(name, [format_partition(name, k) for k in found])
