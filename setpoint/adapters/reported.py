"""Observe an asset setpoint cannot poll: what ``setpoint report --ok`` said exists.

Some state is only known to an outside system (a model trained elsewhere, a
vendor's confirmation). Such an asset is declared ``reported: true``; its
present partitions are those reported present, each updated when reported.
"""

from __future__ import annotations

import duckdb

from ..project.model import Asset, ReportedLocation
from ..state import StateStore, recorded
from .base import Observation, key_columns, land


class ReportedObserver:
    def __init__(self, asset: Asset, location: ReportedLocation) -> None:
        self.asset = asset
        self.location = location

    def observe(self, con: duckdb.DuckDBPyConnection, target: str) -> Observation:
        source = "reports (setpoint report)"
        state = self.location.state
        if state is None or not recorded(state):
            return Observation(self.asset.name, source, 0)
        with StateStore(state, read_only=True) as store:
            rows = store.reported(self.asset.name)
        cols = key_columns(self.asset)
        raw = {c: [vals[i] if i < len(vals) else "" for vals, _ in rows] for i, c in enumerate(cols)}
        present = land(con, target, self.asset, raw, [at.timestamp() for _, at in rows])
        return Observation(self.asset.name, source, present)
