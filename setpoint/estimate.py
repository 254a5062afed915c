"""How long a run will take: from the asset's own run history, else as declared, else the project default.

The statistic is the median seconds per partition of the newest successful
runs of the current action version (robust to the odd slow run; a batch of n
partitions is estimated as n times that). A coarse-grain action rewrites its
whole unit whatever part of it is stale, so it is estimated per run instead. An asset that never ran uses its
action's ``estimate:`` (per run of one grain unit), else ``schedule.estimate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from .project.model import Asset, Project

#: how many of the newest successful runs the estimate looks at
HISTORY = 20


@dataclass(frozen=True)
class Estimate:
    """Seconds per partition, and where the figure comes from (for ``why`` and ``plan --json``)."""

    per_partition: float
    per_unit: float
    source: str  # "history", "declared" or "default"
    runs: int = 0
    #: a coarse grain: a run rewrites its whole unit whatever it covers, so it is estimated per unit
    by_unit: bool = False

    def seconds(self, partitions: int, units: int = 1) -> float:
        """A run covering ``partitions`` partitions in ``units`` grain units."""
        if self.source == "history" and not self.by_unit:
            return self.per_partition * max(1, partitions)
        return self.per_unit * max(1, units)

    def describe(self) -> str:
        if self.source == "history":
            return f"median of the last {self.runs} successful runs: {self.per_partition:.1f} s per partition"
        return f"{self.source} estimate: {self.per_unit:.0f} s per run"

    def to_json(self) -> dict:
        return {"per_partition_s": round(self.per_partition, 3), "per_run_s": round(self.per_unit, 3),
                "source": self.source, "runs": self.runs}


def estimate_for(project: Project, asset: Asset, history: list[tuple[float, int]]) -> Estimate:
    """The estimate of one asset's runs, from (seconds, partitions) of its newest successful runs."""
    coarse = asset.action is not None and asset.action.grain != asset.dims
    if history:
        per = median(s / n for s, n in history)
        return Estimate(per, median(s for s, _ in history), "history", len(history), by_unit=coarse)
    if asset.action is not None and asset.action.estimate is not None:
        s = asset.action.estimate.total_seconds()
        return Estimate(s, s, "declared")
    s = project.schedule.estimate.total_seconds()
    return Estimate(s, s, "default")
