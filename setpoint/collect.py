"""Each asset's frontier partitions, brought from the workspace into Python when something asks for them.

:func:`frontier_table` finds each frontier partition once, with what is on
record about it, in one table, ``f_A``, seen through ``c_A``. The status rules
(:mod:`setpoint.solver.evaluate`) read it in SQL; Python reads the rows of the
partitions it must look at one by one (the runnable ones, usually), and the
whole table only when something asks for every partition (clingo's facts,
``why``, the SLO forecast, the statuses of ``--json`` and ``apply``). At
60,000 frontier partitions, most waiting for an upstream one, making an object
for each was a third of a plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone

from .adapters.base import key_columns, quote_ident, sql_literal
from .frontier import (_PLAIN_SQL, PLAIN_VALUE, AssetFrontier, Frontier, FrontierPartition, Workspace, _cols, _key_sql,
                       _on_vals, mapping_join)
from .partition import format_key
from .project.model import Asset

#: what is on record about a frontier partition, as ``c_A`` holds it: (table alias, column, name, type)
_RECORD = (("v", "old", "_old", "VARCHAR"), ("l", "attempts", "_att", "INTEGER"),
           ("l", "last_error", "_err", "VARCHAR"), ("l", "last_run", "_run", "VARCHAR"), ("l", "retry_at", "_retry", "TIMESTAMP"),
           ("x", "run_id", "_lease", "VARCHAR"), ("x", "started_at", "_since", "TIMESTAMP"),
           ("x", "deadline", "_until", "TIMESTAMP"), ("u", "ut", "_ut", "TIMESTAMP"), ("u", "ua", "_ua", "VARCHAR"),
           ("u", "uk", "_uk", "VARCHAR[]"), ("a", "_expires", "_expires", "TIMESTAMP"),
           ("a", "_expired", "_expired", "BOOLEAN"))

#: most frontier partitions are absent or downstream of the gap, with nothing on record: what a few
#: have (a version, failures, a lease, an upstream change, an age) comes as one value, else NULL
_EXTRA = ", ".join(f"f.{name}" for _, _, name, _ in _RECORD)
_RARE = " OR ".join(f"f.{name} IS NOT NULL" for name in ("_old", "_att", "_lease", "_ua", "_expires"))


def plain(ws: Workspace, asset: Asset) -> bool:
    """Whether every value of every dimension of the asset is written as it is in a key, so that DuckDB
    builds its keys (a few hundred values are checked once per plan, not every partition)."""
    found = ws.plain.get(asset.name)
    if found is None:
        found = ws.plain[asset.name] = all(
            _every_value(ws, asset, i, lambda v: _PLAIN.fullmatch(v) is not None,
                         lambda c: f"regexp_full_match({c}, {_PLAIN_SQL})") for i in range(len(asset.dims)))
    return found


def value_ordered(ws: Workspace, asset: Asset) -> bool:
    """Whether the asset's plain keys sort as their values do, dimension by dimension: unless a value of
    a dimension but the last holds ``+``, the one character of a plain value that sorts before the ``,``
    between two values of a key. Then the first key of many partitions is the key of their first values,
    found without writing every key."""
    found = ws.ordered.get(asset.name)
    if found is None:
        found = ws.ordered[asset.name] = all(
            _every_value(ws, asset, i, lambda v: "+" not in v, lambda c: f"NOT contains({c}, '+')")
            for i in range(len(asset.dims) - 1))
    return found


def _every_value(ws: Workspace, asset: Asset, i: int, test: Callable[[str], bool], sql: Callable[[str], str]) -> bool:
    """Whether every value of the asset's dimension ``i`` passes ``test``: in Python for values handed to
    DuckDB as a list, else in DuckDB (``sql`` of the column) over the dimension's value table."""
    params = ws.space[asset.name][i][1]
    if len(params) == 1 and isinstance(params[0], list):
        return all(test(v) for v in params[0])
    return ws.con.execute(f"SELECT coalesce(bool_and({sql(quote_ident(asset.dims[i]))}), TRUE) "
                          f"FROM d{i}_e_{asset.name}").fetchone()[0]


_PLAIN = re.compile(PLAIN_VALUE)


def key_sql(ws: Workspace, asset: Asset, alias: str) -> str:
    """A frontier partition's key built in DuckDB from the key columns of ``alias``, or NULL when Python
    must format it (see :func:`setpoint.frontier._key_sql`)."""
    return _key_sql(asset, alias, plain(ws, asset))


def frontier_table(ws: Workspace, asset: Asset, seeds: list[str], step: str | None) -> int:
    """Make ``f_A``, each frontier partition once with whether it is absent (``_ab``) and what is on
    record about it (the columns of :data:`_RECORD` that have rows at all), and ``c_A``, the view the
    status rules and readers use: every column of ``_RECORD``, and the partition's row number ``_rn``
    (the table's ``rowid``: in no order, readers order by key). The number of partitions.

    ``seeds`` select the key columns of the partitions on the frontier besides the absent ones
    (``a_A``); ``step``, if any, the recursive step (over ``r``) through the asset's own windows."""
    con, n = ws.con, asset.name
    cols = _cols(asset)
    absent = f"SELECT {cols}, TRUE AS _ab FROM a_{n}"
    if step:  # the closure runs forward through time from every seed, the absent ones too
        closure = " UNION ".join([f"SELECT {cols} FROM a_{n}", *seeds])
        seeds = [f"WITH RECURSIVE r AS ({closure} UNION {step}) SELECT * FROM r"]
    # one pass: a partition reached from several seeds is one row, absent if any says so
    marked = " UNION ALL ".join([absent, *(f"SELECT *, FALSE FROM ({s})" for s in seeds)])
    source = f"SELECT {cols}, bool_or(_ab) AS _ab FROM ({marked}) GROUP BY ALL" if seeds else absent
    # what is on record about it (a table with no rows is not joined: c_A shows its columns as NULL)
    filled = ws.filled[n]
    joins = {"v": f" LEFT JOIN v_{n} v USING ({cols})", "u": f" LEFT JOIN u_{n} u USING ({cols})",
             "l": f" LEFT JOIN fl_{n} l ON {_on_vals(asset, 'l', 'f')}",
             "a": f" LEFT JOIN age_{n} a USING ({cols})",
             "x": f" LEFT JOIN leases x ON x.asset = {sql_literal(n)} AND {_on_vals(asset, 'x', 'f')}"}
    joined = {"v": "v" in filled, "u": "u" in filled, "l": bool(ws.failed.get(n)), "a": "a" in filled,
              "x": any(x.asset == n for x in ws.leases)}
    picked = "".join(f", {alias}.{c} AS {name}" for alias, c, name, _ in _RECORD if joined[alias])
    size = con.execute(f"CREATE TABLE f_{n} AS SELECT {_cols(asset, 'f')}, f._ab{picked} FROM ({source}) f"
                       + "".join(j for c, j in joins.items() if joined[c])).fetchone()[0]
    record = ", ".join(name if joined[alias] else f"CAST(NULL AS {kind}) AS {name}" for alias, _, name, kind in _RECORD)
    con.execute(f"CREATE OR REPLACE VIEW c_{n} AS SELECT rowid AS _rn, {cols}, _ab, {record} FROM f_{n}")
    return size


def collect(ws: Workspace, asset: Asset, frontier: Frontier, with_edges: bool = True) -> None:
    """Make the asset's :class:`AssetFrontier` (its partitions read on first use), and with ``with_edges``
    its edges into upstream frontier partitions as Python tuples."""
    con, n = ws.con, asset.name
    # failures on record of partitions present and off the frontier (usually none are on record at all)
    cleared = con.execute(f"SELECT l.key FROM fl_{n} l SEMI JOIN p_{n} p ON {_on_vals(asset, 'l', 'p')} "
                          f"ANTI JOIN f_{n} f ON {_on_vals(asset, 'l', 'f')} ORDER BY l.key").fetchall() \
        if ws.failed.get(n) else []
    if cleared:
        frontier.cleared[n] = [k for (k,) in cleared]
    expected, present = ws.counts[n]
    size = ws.sizes[n]
    plain(ws, asset)  # now: its dimensions' values are not kept for a reader after the workspace closes
    if not size:
        frontier.assets[n] = AssetFrontier(n, expected, present, [])
    else:
        done, unit_values = ws.owe(), frontier.unit_values  # (not the frontier itself, which refers to it)

        def read() -> tuple[list[FrontierPartition], list[int]]:
            parts, tails = read_partitions(ws, asset, unit_values, more="f._rn")
            done()
            return parts, [rn for (rn,) in tails]
        frontier.assets[n] = AssetFrontier(n, expected, present, size=size, read=read)
    for dep in asset.dependencies:
        if dep.mapping.kind == "all" and size:
            frontier.needs_all.append((n, dep.asset))
    if with_edges:
        _edges(ws, asset, frontier)


def read_partitions(ws: Workspace, asset: Asset, unit_values: dict[tuple[str, str], dict[str, str]], join: str = "",
                    where: str = "", more: str = "") -> tuple[list[FrontierPartition], list[tuple]]:
    """Frontier partitions of ``c_A`` (alias ``f``) in value order (by key), with the columns ``more`` of each
    (after ``join``, ``where`` selects rows), and the units of those with an action in
    ``unit_values`` (the frontier's). Loops once per partition: kept lean."""
    n, dims = asset.name, list(asset.dims)
    kc = key_columns(asset)
    cols = _cols(asset, "f")
    rows = ws.fetch(
        f"SELECT {cols}, {key_sql(ws, asset, 'f')}, f._ab, CASE WHEN {_RARE} THEN ROW({_EXTRA}) END"
        f"{', ' + more if more else ''} FROM c_{n} f{join}{' WHERE ' + where if where else ''} ORDER BY {cols}")
    grain = asset.action.grain if asset.action else tuple(dims)
    coarse = asset.action is not None and grain != tuple(dims)
    has_action = asset.action is not None
    gidx = [dims.index(g) for g in grain]
    single, g0 = len(gidx) == 1, (gidx[0] if gidx else 0)
    parts = []
    tails = []
    units: dict[object, str] = {}  # grain values → unit key (many partitions share a unit)
    assets = ws.project.assets
    nk = len(kc)
    for row in rows:  # one pass per frontier partition
        values = row[:nk] if dims else ()
        key = row[nk]
        if key is None:
            key = format_key(dims, values) if dims else ""
        if coarse:
            gk = values[g0] if single else tuple([values[i] for i in gidx])
            unit = units.get(gk)
            if unit is None:
                gv = (gk,) if single else gk
                unit = units[gk] = format_key(grain, gv) if grain else ""
                if (n, unit) not in unit_values:
                    unit_values[(n, unit)] = dict(zip(grain, gv))
        else:
            unit = key
            if has_action and (n, unit) not in unit_values:
                unit_values[(n, unit)] = dict(zip(dims, values))
        if more:
            tails.append(row[nk + 3:])
        extra = row[nk + 2]
        if extra is None:
            parts.append(FrontierPartition(key, values, row[nk + 1], None, unit))
            continue
        old, failures, error, run, retry_at, lease_run, lease_start, lease_end, outdated_at, ua, uk, expires, \
            expired = extra  # as _RECORD lists them
        outdated = (ua, format_key(assets[ua].dims, uk) if assets[ua].dims else "") if ua else None
        parts.append(FrontierPartition(
            key, values, row[nk + 1], outdated, unit, old, failures or 0, error, run,
            retry_at and _aware(retry_at), (lease_run, _aware(lease_start), _aware(lease_end)) if lease_run else None,
            outdated_at and _aware(outdated_at), expires and _aware(expires), bool(expired)))
    return parts, tails


def _edges(ws: Workspace, asset: Asset, frontier: Frontier) -> None:
    """The asset's edges into upstream frontier partitions (and windows not due yet), as tuples."""
    con, n, dims = ws.con, asset.name, list(asset.dims)
    mine = ws.keys[n] = {p.values: p.key for p in frontier.assets[n].partitions}
    for dep in asset.dependencies:
        b = ws.project.assets[dep.asset]
        if dep.mapping.kind == "all":
            continue
        cond_from, cond = mapping_join(asset, b, dep)
        edges = con.execute(
            f"SELECT DISTINCT {_cols(asset, 'a')}, {_cols(b, 'b')}, b._not_due FROM f_{n} a{cond_from} "
            f"JOIN g_{b.name} b ON {cond} ORDER BY ALL").fetchall()
        ka, kb = len(key_columns(asset)), len(key_columns(b))
        theirs, bdims = ws.keys.setdefault(b.name, {}), list(b.dims)
        for e in edges:
            p = (mine.get(e[:ka]) or format_key(dims, e[:ka])) if dims else ""
            q = (theirs.get(e[ka : ka + kb]) or format_key(bdims, e[ka : ka + kb])) if b.dims else ""
            frontier.edges.append((n, p, b.name, q))
            if e[-1]:
                frontier.not_due.add((b.name, q))


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=timezone.utc) if moment is not None else None
