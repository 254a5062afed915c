"""Observe a warehouse table with one query: its distinct partition keys and last update."""

from __future__ import annotations

import duckdb

from ..errors import ObserveError
from ..project.model import Asset, TableLocation
from .base import Observation, normalize_sql, quote_ident, sql_literal

WAREHOUSE = "wh"  # the alias the frontier workspace attaches the warehouse under


def table_ref(table: str) -> tuple[str, str, str]:
    """(schema, table, quoted SQL reference in the attached warehouse)."""
    schema, _, name = table.rpartition(".")
    schema = schema or "main"
    return schema, name, f"{WAREHOUSE}.{quote_ident(schema)}.{quote_ident(name)}"


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name, _ = table_ref(table)
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? AND table_name = ?",
        [WAREHOUSE, schema, name],
    ).fetchone()
    if row[0]:
        return True
    row = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE database_name = ? AND schema_name = ? AND view_name = ?",
        [WAREHOUSE, schema, name],
    ).fetchone()
    return bool(row[0])


class DuckDBTableObserver:
    """``SELECT DISTINCT <partition columns>, max(updated_at)`` — one query per asset."""

    def __init__(self, asset: Asset, location: TableLocation) -> None:
        self.asset = asset
        self.location = location

    def observe(self, con: duckdb.DuckDBPyConnection, target: str) -> Observation:
        loc = self.location
        source = f"table {loc.table}"
        if not table_exists(con, loc.table):
            return Observation(self.asset.name, source, 0, note="table does not exist yet")
        _, _, ref = table_ref(loc.table)
        updated = f"max(CAST({quote_ident(loc.updated_at)} AS TIMESTAMP))" if loc.updated_at else "CAST(NULL AS TIMESTAMP)"
        if self.asset.dims:
            # one pass: rows grouped by their normalized key, those without a valid key kept aside and counted
            keys = [normalize_sql(quote_ident(loc.columns[d]), self.asset.dimension(d)) for d in self.asset.dims]
            valid = " AND ".join(f"_k{i} IS NOT NULL" for i in range(len(keys)))
            sql = (f"CREATE OR REPLACE TEMP TABLE _observed AS SELECT "
                   f"{', '.join(f'{k} AS _k{i}' for i, k in enumerate(keys))}, {updated} AS _u, count(*) AS _n "
                   f"FROM {ref} GROUP BY ALL")
        else:
            sql = f"INSERT INTO {target} SELECT '', {updated} FROM {ref} HAVING count(*) > 0"
        try:
            con.execute(sql)
        except duckdb.Error as exc:
            detail = str(exc).splitlines()[0]
            raise ObserveError(
                f"cannot observe asset {self.asset.name!r} in table {loc.table}: {detail}",
                file=self.asset.origin.file,
                line=self.asset.origin.line,
                hint="check the table's column names; map dimensions to columns with `table: {name: ..., columns: {dim: column}}`",
            ) from exc
        skipped, note = 0, ""
        if self.asset.dims:
            names = ", ".join(f"_k{i}" for i in range(len(keys)))
            con.execute(f"INSERT INTO {target} SELECT {names}, _u FROM _observed WHERE {valid}")
            bad = con.execute(f"SELECT coalesce(sum(_n), 0) FROM _observed WHERE NOT ({valid})").fetchone()[0]
            con.execute("DROP TABLE _observed")
            if bad:
                skipped, note = self._unreadable(con, ref, bad)
        present = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
        return Observation(self.asset.name, source, present, skipped, note)

    def _unreadable(self, con: duckdb.DuckDBPyConnection, ref: str, count: int) -> tuple[int, str]:
        """The note on ``count`` rows whose key is not a partition of the asset (NULL, or not a time for a
        time dimension), with one of them as an example."""
        loc, dims = self.location, self.asset.dims
        keys = {d: normalize_sql(quote_ident(loc.columns[d]), self.asset.dimension(d)) for d in dims}
        bad = " OR ".join(f"({k}) IS NULL" for k in keys.values())
        example = " || ', ' || ".join(
            f"{sql_literal(d + '=')} || coalesce(CAST({quote_ident(loc.columns[d])} AS VARCHAR), 'NULL')" for d in dims)
        sample = con.execute(f"SELECT any_value({example}) FROM {ref} WHERE {bad}").fetchone()[0]
        rows = "1 row has" if count == 1 else f"{count:,} rows have"
        return count, f"{rows} no valid partition key (e.g. {sample}) and count for no partition"


def distinct_values(con: duckdb.DuckDBPyConnection, table: str, column: str,
                    where: tuple[str, str, int | None] = ("", "", None)) -> list[str] | None:
    """The distinct non-null values of a column as text, or None when the table does not exist.

    ``where`` (what the values are for, file, line) places an error in the user's project.
    """
    if not table_exists(con, table):
        return None
    _, _, ref = table_ref(table)
    col = quote_ident(column)
    try:
        rows = con.execute(f"SELECT DISTINCT CAST({col} AS VARCHAR) AS v FROM {ref} WHERE {col} IS NOT NULL "
                           f"AND NOT contains(v, chr(0)) ORDER BY 1").fetchall()
    except duckdb.Error as exc:
        what, file, line = where
        raise ObserveError(f"cannot read the values of {what or 'a dimension'} from column {column!r} of table "
                           f"{table}: {str(exc).splitlines()[0]}", file=file or None, line=line,
                           hint="fix `values_from` of that dimension: name an existing table and column") from exc
    return [r[0] for r in rows]


__all__ = ["DuckDBTableObserver", "distinct_values", "sql_literal", "table_exists"]
