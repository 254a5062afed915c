"""The state store: what setpoint has seen and done, in a SQLite file under ``.setpoint/``."""

from __future__ import annotations

from pathlib import Path

from .legacy import legacy_source
from .store import SCHEMA_VERSION, Event, Lease, LeaseTaken, Pause, RunRecord, StateStore


def recorded(path: Path) -> bool:
    """Whether there is a state store to read at ``path`` (or one of an older setpoint to import)."""
    return path.exists() or legacy_source(path) is not None


__all__ = ["SCHEMA_VERSION", "Event", "Lease", "LeaseTaken", "Pause", "RunRecord", "StateStore", "recorded"]
