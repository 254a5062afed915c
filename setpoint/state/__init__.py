"""The state store: what setpoint has seen and done, in a SQLite file under ``.setpoint/``."""

from __future__ import annotations

from .store import SCHEMA_VERSION, Event, Lease, LeaseTaken, RunRecord, StateStore

__all__ = ["SCHEMA_VERSION", "Event", "Lease", "LeaseTaken", "RunRecord", "StateStore"]
