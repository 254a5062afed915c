"""The runs a plan would start: grain units batched into ranges, and ranges for display.

The solver says which units of each asset's action run (``run(A,U)``); here
consecutive windows are merged into batches of at most the action's
``batch.max``, and into maximal ranges for reading.
"""

from __future__ import annotations

from collections.abc import Callable
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


def _consecutive(asset: Asset, bd: str) -> tuple[Callable[[dict[str, str]], object], Callable[[str], str]]:
    """What must be equal for two units to share a range (their grain values but the range dimension's),
    and the window that follows one (a backfill asks about the same days again and again)."""
    assert asset.action is not None
    space = asset.dimension(bd).space
    assert isinstance(space, TimeWindows)
    others = [g for g in asset.action.grain if g != bd]
    group = itemgetter(*others) if others else (lambda values: ())
    following: dict[str, str] = {}

    def after(window: str) -> str:
        nxt = following.get(window)
        if nxt is None:
            nxt = following[window] = space.value(shift(space.parse(window), space.grain, 1))
        return nxt

    return group, after


def batches(asset: Asset, units: list[Unit], limit: int) -> list[list[Unit]]:
    """Merge units that differ only in consecutive windows of the range dimension, ``limit`` at most."""
    bd = _range_dimension(asset)
    if asset.action is None or limit <= 1 or bd is None:
        return [[u] for u in units]
    group, after = _consecutive(asset, bd)
    out: list[list[Unit]] = []
    last_group: object = None
    for unit in sorted(units, key=lambda u: (group(u[1]), u[1][bd])):
        values = unit[1]
        mine = group(values)
        if out and last_group == mine and after(out[-1][-1][1][bd]) == values[bd] and len(out[-1]) < limit:
            out[-1].append(unit)
            continue
        out.append([unit])
        last_group = mine
    return out


def label(asset: Asset, batch: list[Unit]) -> str:
    """``results[day=2024-03-25]``; a batch shows its range ``csv[campaign=501,day=2024-03-01..2024-03-31]``."""
    grain = asset.action.grain if asset.action else asset.dims
    if not grain:  # one run rebuilds the whole asset
        return asset.name
    first, last = batch[0][1], batch[-1][1]
    if len(batch) == 1 and grain == asset.dims:
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
        kind = asset.action.kind
        fine = bool(asset.dims) and asset.action.grain == asset.dims  # a unit's key is its partition's
        for batch in batches(asset, chosen[name], asset.action.batch_max):
            if len(batch) == 1:  # most runs are one unit
                (u, values), = batch
                covered = tuple(targets.get((name, u), ()))
                actions.append(Action(name, kind, (values,), format_partition(name, u) if fine else label(asset, batch),
                                      len(covered), covered, (u,) if covered else ()))
                continue
            covered = tuple(t for u, _ in batch for t in targets.get((name, u), ()))
            actions.append(Action(name, kind, tuple(v for _, v in batch), label(asset, batch),
                                  len(covered), covered, tuple(u for u, _ in batch if (name, u) in targets)))
    return actions


def run_ranges(project: Project, actions: list[Action]) -> list[RunRange]:
    """Consecutive runs of each asset as one line: runs whose windows follow on from each other merge
    (a batch never straddles two ranges, as ranges are maximal). Each run is itself consecutive, so runs
    are merged whole, in the order of their first window."""
    out = []
    by_asset: dict[str, list[Action]] = {}
    for a in actions:
        by_asset.setdefault(a.asset, []).append(a)
    for name, asset in project.assets.items():
        mine = by_asset.get(name)
        if not mine:
            continue
        bd = _range_dimension(asset)
        if bd is None:  # nothing to range over: each run is a line
            out += [RunRange(name, a.kind, a.label, 1, a.covers) for a in mine]
            continue
        group, after = _consecutive(asset, bd)
        mine.sort(key=lambda a: (group(a.units[0]), a.units[0][bd]))
        ranges: list[list[Action]] = []
        for action in mine:
            if ranges:
                last = ranges[-1][-1].units[-1]
                first = action.units[0]
                if group(last) == group(first) and after(last[bd]) == first[bd]:
                    ranges[-1].append(action)
                    continue
            ranges.append([action])
        for rng in ranges:  # one run keeps its label; a longer range is labelled by its ends
            shown = rng[0].label if len(rng) == 1 else label(asset, [("", rng[0].units[0]), ("", rng[-1].units[-1])])
            out.append(RunRange(name, rng[0].kind, shown, len(rng),
                                rng[0].covers if len(rng) == 1 else sum(a.covers for a in rng)))
    return out
