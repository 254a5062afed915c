"""Observe a warehouse table with one query: its distinct partition keys and last update; or, when the
table's fingerprint shows nothing changed since the last plan, reuse what that plan observed."""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from ..errors import ObserveError
from ..project.model import Asset, TableLocation
from .base import Observation, key_columns, normalize_sql, quote_ident, sql_literal
from .inventory import InventoryPolicy
from .snapshot import Snapshot

WAREHOUSE = "wh"  # the alias the frontier workspace attaches the warehouse under


def table_ref(table: str) -> tuple[str, str, str]:
    """(schema, table, quoted SQL reference in the attached warehouse)."""
    schema, _, name = table.rpartition(".")
    schema = schema or "main"
    return schema, name, f"{WAREHOUSE}.{quote_ident(schema)}.{quote_ident(name)}"


def table_kind(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """"table", "view", or None when the warehouse has neither of that name."""
    schema, name, _ = table_ref(table)
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? AND table_name = ?",
        [WAREHOUSE, schema, name],
    ).fetchone()
    if row[0]:
        return "table"
    row = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE database_name = ? AND schema_name = ? AND view_name = ?",
        [WAREHOUSE, schema, name],
    ).fetchone()
    return "view" if row[0] else None


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return table_kind(con, table) is not None


#: column types whose values are equal exactly when their text is (hashed as they are; others as text:
#: DOUBLE hashes 0.0 and -0.0 alike, yet they are two keys as text)
_HASHED_AS_IS = {"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "UHUGEINT", "VARCHAR", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP_S",
                 "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE", "UUID", "DECIMAL"}


class DuckDBTableObserver:
    """``SELECT DISTINCT <partition columns>, max(updated_at)`` — one query per asset.

    With a policy (see :mod:`.inventory`), what a pass observed is kept as a
    :class:`~.snapshot.Snapshot` with the table's fingerprint: its row count and
    two sums of row hashes, one over the raw key columns and one over the key
    and ``updated_at`` as the observation reads them. The fingerprint is read in
    the observing pass's transaction, so it describes exactly the rows observed.
    The next plan computes the fingerprint alone (a scan without grouping, a
    fraction of the pass) and reuses the kept rows only when it matches exactly
    and the table's columns and types, the SQL that normalizes the keys, the
    time zone and the DuckDB version are those the rows were observed with. Any
    row deleted, added or changed, in its key or its time (later or earlier),
    changes a sum (but for a 64-bit hash collision). ``--relist`` observes in
    full; ``relist: 0s`` keeps nothing; views are observed in full every time.
    """

    def __init__(self, asset: Asset, location: TableLocation, policy: InventoryPolicy | None = None) -> None:
        self.asset = asset
        self.location = location
        self.policy = policy

    def observe(self, con: duckdb.DuckDBPyConnection, target: str) -> Observation:
        loc = self.location
        source = f"table {loc.table}"
        kind = table_kind(con, loc.table)
        if kind is None:
            return Observation(self.asset.name, source, 0, note="table does not exist yet")
        _, _, ref = table_ref(loc.table)
        stamp = f"CAST({quote_ident(loc.updated_at)} AS TIMESTAMP)" if loc.updated_at else "CAST(NULL AS TIMESTAMP)"
        updated = f"max({stamp})"
        if not self.asset.dims:
            self._run(con, f"INSERT INTO {target} SELECT '', {updated} FROM {ref} HAVING count(*) > 0")
            return Observation(self.asset.name, source, con.execute(f"SELECT count(*) FROM {target}").fetchone()[0])
        # one pass: rows grouped by their normalized key, those without a valid key kept aside and counted
        keys = [normalize_sql(quote_ident(loc.columns[d]), self.asset.dimension(d)) for d in self.asset.dims]
        kept = self._kept(con, kind, ref, stamp, keys)
        cols = ", ".join(quote_ident(c) for c in key_columns(self.asset))
        sql = (f"CREATE OR REPLACE TEMP TABLE _observed AS SELECT "
               f"{', '.join(f'{k} AS _k{i}' for i, k in enumerate(keys))}, {updated} AS _u, count(*) AS _n "
               f"FROM {ref} GROUP BY ALL")
        # the fingerprint and the pass in one transaction: what is kept is the fingerprint of the rows observed
        fingerprint = kept.begin(con) if kept else None
        if kept and fingerprint is not None and kept.matches(fingerprint):
            con.execute("COMMIT")  # the kept rows are read outside it: a bad file must not abort it
            if kept.load(con, target, cols):
                return Observation(self.asset.name, source, kept.rows, kept.skipped, kept.note, kept.generation)
            fingerprint = kept.begin(con)
        try:
            self._run(con, sql)
        except BaseException:
            if fingerprint is not None:
                con.execute("ROLLBACK")
            raise
        if fingerprint is not None:
            con.execute("COMMIT")
        valid = " AND ".join(f"_k{i} IS NOT NULL" for i in range(len(keys)))
        names = ", ".join(f"_k{i}" for i in range(len(keys)))
        con.execute(f"INSERT INTO {target} SELECT {names}, _u FROM _observed WHERE {valid}")
        bad = con.execute(f"SELECT coalesce(sum(_n), 0) FROM _observed WHERE NOT ({valid})").fetchone()[0]
        con.execute("DROP TABLE _observed")
        skipped, note = self._unreadable(con, ref, bad) if bad else (0, "")
        present = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
        generation = kept.keep(con, target, fingerprint, present, skipped, note) \
            if kept and fingerprint is not None else ""
        return Observation(self.asset.name, source, present, skipped, note, generation)

    def _run(self, con: duckdb.DuckDBPyConnection, sql: str) -> None:
        """Run the observing query; its error names the asset and the fix."""
        try:
            con.execute(sql)
        except duckdb.Error as exc:
            detail = str(exc).splitlines()[0]
            raise ObserveError(
                f"cannot observe asset {self.asset.name!r} in table {self.location.table}: {detail}",
                file=self.asset.origin.file,
                line=self.asset.origin.line,
                hint="check the table's column names; map dimensions to columns with `table: {name: ..., columns: {dim: column}}`",
            ) from exc

    def _kept(self, con: duckdb.DuckDBPyConnection, kind: str, ref: str, stamp: str, keys: list[str]) -> Kept | None:
        """What the last plan kept of this table, to be checked against its fingerprint now; None when
        nothing is kept (no policy, ``relist: 0s``, a view, or columns the catalog does not show)."""
        policy = self.policy
        if policy is None or policy.relist_s <= 0 or kind != "table":
            return None
        try:
            types = {name.lower(): str(t) for name, t, *_ in con.execute(f"DESCRIBE {ref}").fetchall()}
            zone = con.execute("SELECT current_setting('TimeZone')").fetchone()[0]  # text of TIMESTAMPTZ
        except duckdb.Error:
            return None
        raw = []
        for d in self.asset.dims:
            column = self.location.columns[d]
            kind_of = types.get(column.lower())
            if kind_of is None:
                return None  # the observing query reports it
            col = quote_ident(column)
            raw.append(col if kind_of.partition("(")[0] in _HASHED_AS_IS else f"CAST({col} AS VARCHAR)")
        meaning = json.dumps([duckdb.__version__, zone, ref, sorted(types.items()), key_columns(self.asset), keys,
                              stamp, raw])
        row_hash = f"hash(hash({', '.join(raw)}, {stamp}))"
        key_hash = f"hash({', '.join(raw)})"
        return Kept(Snapshot(policy.directory, self.asset.name, "table", policy.held), meaning, ref, row_hash, key_hash,
                    policy.force)

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


@dataclass
class Kept:
    """What a plan kept of a table's observation, and how to tell whether it still holds."""

    snapshot: Snapshot
    meaning: str        # the DuckDB version, the table, its columns and types, the SQL of the observation
    ref: str
    row_hash: str       # SQL: a row's hash over its raw key and its time as observed
    key_hash: str       # SQL: a row's hash over its raw key
    force: bool         # ``--relist``: observe in full (and keep that)
    rows: int = 0       # what the manifest of a match says: partitions, rows without a valid key, the note
    skipped: int = 0
    note: str = ""
    generation: str = ""

    def begin(self, con: duckdb.DuckDBPyConnection) -> list[int] | None:
        """Begin a transaction and read the table's fingerprint in it: its row count and the two sums of row
        hashes (one scan, no grouping). None, and no transaction, if either cannot be done (the observing
        query then reports why, or the caller's transaction is open: nothing is kept then)."""
        try:
            con.execute("BEGIN TRANSACTION")
        except duckdb.Error:
            return None
        try:
            row = con.execute(f"SELECT [count(*), coalesce(sum({self.row_hash}), 0), "
                              f"coalesce(sum({self.key_hash}), 0)] FROM {self.ref}").fetchone()
        except duckdb.Error:
            con.execute("ROLLBACK")
            return None
        return [int(x) for x in row[0]]

    def matches(self, fingerprint: list[int]) -> bool:
        """Whether the rows kept were observed with this meaning and fingerprint (never with ``--relist``)."""
        if self.force:
            return False
        doc = self.snapshot.read()
        if doc is None or doc.get("meaning") != self.meaning or doc.get("fingerprint") != fingerprint:
            return False
        try:
            self.rows, self.skipped, self.note = int(doc["rows"]), int(doc["skipped"]), str(doc["note"])
        except (KeyError, TypeError, ValueError):
            return False
        self.generation = str(doc["generation"])
        return True

    def load(self, con: duckdb.DuckDBPyConnection, target: str, cols: str) -> bool:
        """Fill ``target`` with the kept rows; False, with ``target`` left empty, if they cannot be read or are
        not as many as the manifest says."""
        return self.snapshot.fill(con, target, f"{cols}, updated_at", self.generation, self.rows)

    def keep(self, con: duckdb.DuckDBPyConnection, target: str, fingerprint: list[int], rows: int, skipped: int,
             note: str) -> str:
        """Keep ``target``'s rows with the fingerprint of the rows they were observed from; the generation
        written, or "" if it could not be."""
        return self.snapshot.write(con, f"SELECT * FROM {target}", {
            "meaning": self.meaning, "fingerprint": [int(x) for x in fingerprint], "rows": rows,
            "skipped": skipped, "note": note})


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
