"""Adapters between setpoint and the outside world.

Observers read what exists, in bulk (one query per table, one walk per file
template, one run of a listing command per asset) and land it in the frontier
workspace as ``(dims..., updated_at)`` rows. Executors (running actions) come
with ``setpoint apply``.
"""

from __future__ import annotations

from ..project.model import Asset, CommandLocation, FilesLocation, ReportedLocation, TableLocation
from .base import Observation, Observer
from .command import CommandObserver
from .duckdb_table import DuckDBTableObserver
from .files import FilesObserver
from .inventory import InventoryPolicy, Marks
from .reported import ReportedObserver


def observer_for(asset: Asset, inventory: tuple[InventoryPolicy, Marks] | None = None) -> Observer:
    """The observer that reads an asset's location (files: with an inventory, only what changed is listed)."""
    loc = asset.location
    if isinstance(loc, TableLocation):
        return DuckDBTableObserver(asset, loc, inventory[0] if inventory else None)
    if isinstance(loc, FilesLocation):
        return FilesObserver(asset, loc, inventory)
    if isinstance(loc, CommandLocation):
        return CommandObserver(asset, loc)
    if isinstance(loc, ReportedLocation):
        return ReportedObserver(asset, loc)
    raise TypeError(f"no observer for {type(loc).__name__}")


__all__ = ["Observation", "Observer", "observer_for"]
