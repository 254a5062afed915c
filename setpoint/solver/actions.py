"""The runs a plan would start: grain units batched into ranges, and ranges for display.

The solver says which units of each asset's action run (``run(A,U)``); here
consecutive windows are merged into batches of at most the action's
``batch.max``, and into maximal ranges for reading.
"""

from __future__ import annotations

from datetime import datetime
from operator import itemgetter

from ..frontier import Frontier
from ..partition import format_key, format_partition, quote_value
from ..plan import Action, RunRange
from ..project.model import Asset, Project
from ..project.timewindows import TimeWindows, shift

Unit = tuple[str, dict[str, str]]  # (unit key, {grain dimension: value})


def _range_dimension(asset: Asset) -> str | None:
    """The time dimension runs are ranged over: the batch dimension, else the grain's only time dimension."""
    action = asset.action
    if action is None:
        return None
    if action.batch_dimension:
        return action.batch_dimension
    times = [d.name for d in asset.time_dimensions if d.name in action.grain]
    return times[0] if len(times) == 1 else None


def batches(asset: Asset, units: list[Unit], limit: int) -> list[list[Unit]]:
    """Merge units that differ only in consecutive windows of the range dimension, ``limit`` at most."""
    bd = _range_dimension(asset)
    if asset.action is None or limit <= 1 or bd is None:
        return [[u] for u in units]
    space = asset.dimension(bd).space
    assert isinstance(space, TimeWindows)
    others = [g for g in asset.action.grain if g != bd]
    group = itemgetter(*others) if others else (lambda values: ())  # the values that must be equal
    out: list[list[Unit]] = []
    following: dict[str, str] = {}  # window → the next one (a backfill asks about the same days again and again)
    last_group: object = None
    for unit in sorted(units, key=lambda u: (group(u[1]), u[1][bd])):
        values = unit[1]
        mine = group(values)
        if out:
            last = out[-1][-1][1]
            nxt = following.get(last[bd])
            if nxt is None:
                nxt = following[last[bd]] = space.value(shift(datetime.strptime(last[bd], space.format),
                                                              space.grain, 1))
            if last_group == mine and nxt == values[bd] and len(out[-1]) < limit:
                out[-1].append(unit)
                continue
        out.append([unit])
        last_group = mine
    return out


def label(asset: Asset, batch: list[Unit]) -> str:
    """``results[day=2024-03-25]``; a batch shows its range ``csv[campaign=501,day=2024-03-01..2024-03-31]``."""
    grain = list(asset.action.grain) if asset.action else list(asset.dims)
    if not grain:  # one run rebuilds the whole asset
        return asset.name
    first, last = batch[0][1], batch[-1][1]
    if len(batch) == 1 and tuple(grain) == asset.dims:
        return format_partition(asset.name, format_key(grain, [first[g] for g in grain]))
    bd = _range_dimension(asset)
    parts = [f"{g}={quote_value(first[g])}" + (f"..{quote_value(last[g])}" if g == bd and len(batch) > 1 else "")
             for g in grain]
    return f"{asset.name}[{','.join(parts)}]"


def plan_actions(project: Project, frontier: Frontier, runs: list[tuple[str, str]],
                 runnable: list[tuple[str, str, dict[str, str], str]]) -> list[Action]:
    """One action per batch of the units the solver chose to run, with the partitions each covers
    (``runnable``: (asset, key, values, unit) of each runnable partition; its unit is the key of the
    run that produces it: its own key, or its grain's values when one run produces several)."""
    targets: dict[tuple[str, str], list[tuple[str, dict[str, str]]]] = {}
    for a, key, values, unit in runnable:
        targets.setdefault((a, unit), []).append((key, values))
    chosen: dict[str, list[Unit]] = {}
    for a, u in sorted(runs):
        chosen.setdefault(a, []).append((u, frontier.unit_values[(a, u)]))
    actions = []
    for name, asset in project.assets.items():
        if name not in chosen or asset.action is None:
            continue
        for batch in batches(asset, chosen[name], asset.action.batch_max):
            covered = tuple(t for u, _ in batch for t in targets.get((name, u), ()))
            actions.append(Action(name, asset.action.kind, tuple(v for _, v in batch), label(asset, batch),
                                  len(covered), covered, tuple(u for u, _ in batch if (name, u) in targets)))
    return actions


def run_ranges(project: Project, actions: list[Action]) -> list[RunRange]:
    """Consecutive runs of each asset as one line; a batch never straddles two ranges, as ranges are maximal."""
    out = []
    for name, asset in project.assets.items():
        mine = [a for a in actions if a.asset == name]
        if not mine:
            continue
        units = [(str(i), v) for i, a in enumerate(mine) for v in a.units]  # keyed by the action they belong to
        for rng in batches(asset, units, limit=len(units) + 1):
            members = {int(i) for i, _ in rng}
            out.append(RunRange(name, asset.action.kind, label(asset, rng), len(members),
                                sum(mine[i].covers for i in members)))
    return out
