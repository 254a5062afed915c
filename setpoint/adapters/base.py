"""What every observer promises, and the SQL it shares for normalizing keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import duckdb

from ..project.model import Asset, Dimension
from ..project.timewindows import TimeWindows

#: formats accepted for time values read from data; the canonical one is written back
_TIME_INPUTS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H",
                "%Y-%m-%d", "%Y-%m"]


@dataclass(frozen=True)
class Observation:
    """What one observer saw of one asset."""

    asset: str
    source: str          # e.g. "table results", "files data/csv/{day}.csv"
    present: int         # partitions present (rows landed in the workspace)
    skipped: int = 0     # entries that did not parse as a partition of the asset
    note: str = ""       # e.g. "table does not exist yet"
    #: the kept snapshot (:mod:`.snapshot`) whose rows are exactly the rows landed, if any: what was
    #: derived from them may be kept under this name too
    generation: str = ""


class Observer(Protocol):
    def observe(self, con: duckdb.DuckDBPyConnection, target: str) -> Observation:
        """Insert the present partitions into ``target`` (dims..., updated_at) and say what was seen."""


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


#: a string that ends in a zone after a time of day: 2024-03-25T13:00:00Z, … 13:00+02:00
_ZONED = r"\d\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|[+-]\d\d(:?\d\d)?)$"


def normalize_sql(expr: str, dim: Dimension, given_format: str | None = None) -> str:
    """SQL turning a raw value into the dimension's canonical value text (NULL when it cannot).

    Time values without a zone (DATE, TIMESTAMP, plain strings) are wall-clock
    time in the dimension's timezone; values with a zone (TIMESTAMPTZ, strings
    ending in Z or an offset) are converted to it. The workspace runs in UTC.
    """
    if not isinstance(dim.space, TimeWindows):  # NUL cannot be part of a key: such a value is skipped
        return f"CASE WHEN contains(CAST({expr} AS VARCHAR), chr(0)) THEN NULL ELSE CAST({expr} AS VARCHAR) END"
    fmt = sql_literal(dim.space.format)
    if given_format:
        return f"strftime(try_strptime(CAST({expr} AS VARCHAR), {sql_literal(given_format)}), {fmt})"
    tz = sql_literal(dim.space.timezone)
    text = f"CAST({expr} AS VARCHAR)"
    fmts = "[" + ", ".join(sql_literal(f) for f in _TIME_INPUTS) + "]"
    local = (
        f"CASE WHEN typeof({expr}) = 'TIMESTAMP WITH TIME ZONE' THEN timezone({tz}, try_cast({expr} AS TIMESTAMPTZ)) "
        f"WHEN typeof({expr}) IN ('DATE', 'TIMESTAMP', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP_NS') "
        f"THEN try_cast({expr} AS TIMESTAMP) "
        f"WHEN regexp_matches({text}, {sql_literal(_ZONED)}) THEN timezone({tz}, try_cast({text} AS TIMESTAMPTZ)) "
        f"ELSE coalesce(try_cast({text} AS TIMESTAMP), try_strptime({text}, {fmts})) END"
    )
    return f"strftime({local}, {fmt})"


def key_columns(asset: Asset) -> list[str]:
    """Workspace columns holding an asset's key; an unpartitioned asset has the one column ``_all``."""
    return list(asset.dims) or ["_all"]


def land(con: duckdb.DuckDBPyConnection, target: str, asset: Asset, raw: dict[str, list[str]],
         updated: list[float | None], formats: dict[str, str] | None = None, dirs: list[str] | None = None) -> int:
    """Insert raw captured values (one list per dimension) and epoch mtimes, normalized in SQL.

    Values that do not parse as the dimension's kind are dropped. ``dirs``, one
    per value, lands first as ``_dir`` (a file inventory keeps rows per directory).
    Returns the number of rows in ``target``.
    """
    cols = key_columns(asset)
    n = len(updated)
    if n == 0:
        return con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
    params = [raw[c] if c in raw else [""] * n for c in cols] + [updated]
    unnest = ", ".join(f"unnest(${i + 1}::VARCHAR[]) AS c{i}" for i in range(len(cols)))
    select = []
    for i, c in enumerate(cols):
        select.append(normalize_sql(f"c{i}", asset.dimension(c), (formats or {}).get(c)) if asset.dims else f"c{i}")
    u = len(cols) + 1
    first = ""
    if dirs is not None:
        params.append(dirs)
        unnest += f", unnest(${u + 1}::VARCHAR[]) AS _d"
        first = "_d, "
    sql = (f"INSERT INTO {target} SELECT {first}{', '.join(select)}, max(CASE WHEN u IS NULL THEN NULL "
           f"ELSE make_timestamp(CAST(u * 1000000 AS BIGINT)) END) FROM "
           f"(SELECT {unnest}, unnest(${u}::DOUBLE[]) AS u) WHERE {' AND '.join(f'({s}) IS NOT NULL' for s in select)} "
           f"GROUP BY ALL")
    con.execute(sql, params)
    return con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
