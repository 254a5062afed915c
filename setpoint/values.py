"""Many partitions in a few words: ``campaign 1–998; day 2024-03-01..2024-03-31``.

Explanations summarize groups of partitions (everything a partition waits for,
an asset's blocked days) by the values they span, per dimension, with
consecutive windows and numbers merged into ranges.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .partition import quote_value
from .project.model import Asset
from .project.timewindows import TimeWindows, shift

#: ranges shown per dimension before the rest is counted
SHOWN = 3


def _runs(values: list[str], space: object) -> list[tuple[str, str]]:
    """Sorted distinct values merged into (first, last) runs of consecutive windows or integers."""
    if isinstance(space, TimeWindows):
        def after(v: str) -> str:
            return space.value(shift(datetime.strptime(v, space.format), space.grain, 1))
        ordered = sorted(values)
    elif all(v.isascii() and v.isdecimal() for v in values):
        def after(v: str) -> str:
            return str(int(v) + 1)
        ordered = sorted(values, key=int)
    else:
        return [(v, v) for v in sorted(values)]
    out: list[list[str]] = []
    for v in ordered:
        if out and after(out[-1][1]) == v:
            out[-1][1] = v
        else:
            out.append([v, v])
    return [(a, b) for a, b in out]


def _span(first: str, last: str, space: object) -> str:
    if first == last:
        return quote_value(first)
    sep = ".." if isinstance(space, TimeWindows) else "–"
    return f"{quote_value(first)}{sep}{quote_value(last)}"


def describe_values(asset: Asset, rows: Sequence[dict[str, str]], only_varying: bool = False) -> str:
    """The values ``rows`` take in each of the asset's dimensions, as ranges; ``only_varying`` leaves
    out dimensions where every row has the same value (unless that is all there is)."""
    parts = []
    for d in asset.dimensions:
        distinct = list(dict.fromkeys(r[d.name] for r in rows))
        if only_varying and len(distinct) == 1 and len(asset.dimensions) > 1:
            continue
        runs = _runs(distinct, d.space)
        shown = ", ".join(_span(a, b, d.space) for a, b in runs[:SHOWN])
        if len(runs) > SHOWN:
            shown += f", … ({len(distinct):,} values)"
        parts.append(f"{d.name} {shown}")
    if not parts and rows:  # one partition: every dimension has one value
        return describe_values(asset, rows)
    return "; ".join(parts)
