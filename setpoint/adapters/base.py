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


class Observer(Protocol):
    def observe(self, con: duckdb.DuckDBPyConnection, target: str) -> Observation:
        """Insert the present partitions into ``target`` (dims..., updated_at) and say what was seen."""


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def normalize_sql(expr: str, dim: Dimension, given_format: str | None = None) -> str:
    """SQL turning a raw value into the dimension's canonical value text (NULL when it cannot)."""
    if not isinstance(dim.space, TimeWindows):  # NUL cannot be part of a key: such a value is skipped
        return f"CASE WHEN contains(CAST({expr} AS VARCHAR), chr(0)) THEN NULL ELSE CAST({expr} AS VARCHAR) END"
    formats = [given_format] if given_format else _TIME_INPUTS
    fmts = "[" + ", ".join(sql_literal(f) for f in formats) + "]"
    return f"strftime(try_strptime(CAST({expr} AS VARCHAR), {fmts}), {sql_literal(dim.space.format)})"


def key_columns(asset: Asset) -> list[str]:
    """Workspace columns holding an asset's key; an unpartitioned asset has the one column ``_all``."""
    return list(asset.dims) or ["_all"]


def land(con: duckdb.DuckDBPyConnection, target: str, asset: Asset, raw: dict[str, list[str]],
         updated: list[float | None], formats: dict[str, str] | None = None) -> int:
    """Insert raw captured values (one list per dimension) and epoch mtimes, normalized in SQL.

    Values that do not parse as the dimension's kind are dropped. Returns the
    number of distinct partitions landed.
    """
    cols = key_columns(asset)
    n = len(updated)
    if n == 0:
        return 0
    params = [raw[c] if c in raw else [""] * n for c in cols] + [updated]
    unnest = ", ".join(f"unnest(${i + 1}::VARCHAR[]) AS c{i}" for i in range(len(cols)))
    select = []
    for i, c in enumerate(cols):
        select.append(normalize_sql(f"c{i}", asset.dimension(c), (formats or {}).get(c)) if asset.dims else f"c{i}")
    u = len(cols) + 1
    sql = (f"INSERT INTO {target} SELECT {', '.join(select)}, max(CASE WHEN u IS NULL THEN NULL "
           f"ELSE make_timestamp(CAST(u * 1000000 AS BIGINT)) END) FROM "
           f"(SELECT {unnest}, unnest(${u}::DOUBLE[]) AS u) WHERE {' AND '.join(f'({s}) IS NOT NULL' for s in select)} "
           f"GROUP BY ALL")
    con.execute(sql, params)
    return con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
