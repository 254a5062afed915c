"""The frontier: expected partitions that are not known to be satisfied, computed in DuckDB.

For each asset, upstream first:

    expected  = product of its dimensions' values (time windows closed by now, lists, data)
    absent    = expected ▷ observed                       (anti-join)
    outdated  = present partitions some upstream partition was updated after
    superseded = present partitions the run record says an older action version built
    frontier  = absent ∪ outdated ∪ superseded ∪ (expected partitions mapped onto an upstream frontier partition)

Everything off the frontier is satisfied, so the solver only sees the frontier
and the edges between frontier partitions: a plan costs what the gap costs.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from .adapters import Observation, observer_for
from .adapters.inventory import InventoryPolicy, Marks
from .adapters.snapshot import HeldRows
from .adapters.base import key_columns, quote_ident, sql_literal
from .adapters.duckdb_table import WAREHOUSE, distinct_values
from .errors import ObserveError, UsageError
from .partition import format_key, format_partition, parse_values
from .lease import LIVE, lease_state
from .estimate import Estimate, estimate_for
from .kept_gap import KeptGap
from .state import Lease, Pause, StateStore
from .state.legacy import legacy_source
from .project.model import Asset, Dependency, FileValues, Mapping, Project, StaticValues, TableValues
from .project.timewindows import SQL_UNITS, TimeWindows, floor, local_hours, shift


@dataclass(slots=True)
class FrontierPartition:
    """One partition on the frontier, with what DuckDB found wrong with it (not frozen, so that tens of
    thousands are cheap to make; nothing changes one after :meth:`Workspace._collect`)."""

    key: str
    values: tuple[str, ...]
    absent: bool
    outdated_by: tuple[str, str] | None  # (upstream asset, upstream key) updated after this partition
    unit: str                            # key of the action run that produces it (its grain)
    superseded: str | None = None        # the older action version that built it
    failures: int = 0                    # failed attempts since it was last built
    last_error: str | None = None
    last_run: str | None = None
    retry_at: datetime | None = None     # not tried again before (backoff after a failure)
    lease: tuple[str, datetime, datetime] | None = None  # (run, since, deadline) of a live lease
    outdated_at: datetime | None = None  # the oldest upstream change it does not reflect yet
    expires_at: datetime | None = None   # present, and too old from then on (``slo.max_age``)
    expired: bool = False                # refreshed now so that it is not too old by then


class AssetFrontier:
    """One asset's frontier: how many partitions it expects, has and lacks, and the frontier partitions,
    read from the workspace when something first asks for them (see :mod:`setpoint.collect`).

    At scale most frontier partitions wait for an upstream one; the plan counts and groups them in
    SQL, and only ``--json``, ``why``, ``apply`` and the clingo path look at them one by one."""

    __slots__ = ("asset", "expected", "present", "size", "_partitions", "_rows", "_read")

    def __init__(self, asset: str, expected: int, present: int, partitions: list[FrontierPartition] | None = None,
                 size: int | None = None,
                 read: Callable[[], tuple[list[FrontierPartition], list[int]]] | None = None) -> None:
        if partitions is None and read is None:
            raise ValueError("an asset's frontier needs its partitions or a way to read them")
        self.asset, self.expected, self.present = asset, expected, present
        self.size = len(partitions) if partitions is not None else (size or 0)
        self._partitions, self._read = partitions, read
        self._rows: list[int] = list(range(self.size)) if partitions is not None else []

    @property
    def partitions(self) -> list[FrontierPartition]:
        """The frontier partitions in value order (read on first use; two threads may both read them)."""
        parts = self._partitions
        if parts is None:
            read = self._read
            if read is None:  # another thread has just read them
                return self._partitions  # type: ignore[return-value]
            parts, self._rows = read()
            self._partitions, self._read = parts, None
        return parts

    def by_row(self) -> dict[int, FrontierPartition]:
        """The frontier partitions by their row number in the workspace (``_rn``, in no order)."""
        return dict(zip(self._rows, self.partitions))

    @property
    def loaded(self) -> bool:
        """Whether the partitions are in Python already."""
        return self._partitions is not None

    def __repr__(self) -> str:
        return f"AssetFrontier({self.asset!r}, expected={self.expected}, present={self.present}, size={self.size})"


@dataclass
class Frontier:
    """Everything the solver needs to know about the gap, and the counts around it."""

    now: datetime
    assets: dict[str, AssetFrontier] = field(default_factory=dict)
    edges: list[tuple[str, str, str, str]] = field(default_factory=list)  # (A, P) needs (B, Q)
    needs_all: list[tuple[str, str]] = field(default_factory=list)       # every A[P] needs all of B
    not_due: set[tuple[str, str]] = field(default_factory=set)           # B[Q] needed, its window not closed yet
    unit_values: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    observations: list[Observation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    observe_s: float = 0.0  # time spent in observers, part of computing the frontier
    satisfied: dict[str, list[tuple[str, ...]]] | None = None  # off-frontier keys, only when asked for
    #: partitions only rules named: the expected ones with their values, and the rest
    named: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    unnamed: set[tuple[str, str]] = field(default_factory=set)
    #: partitions with failed attempts on record that are now present and fresh, per asset
    cleared: dict[str, list[str]] = field(default_factory=dict)
    #: why the run record could not be read (attempts, versions and leases are then unknown)
    record_error: str | None = None
    #: pauses in force, by asset (``*``: every asset)
    paused: dict[str, Pause] = field(default_factory=dict)
    #: how long runs take, by asset (see :mod:`setpoint.estimate`)
    estimates: dict[str, Estimate] = field(default_factory=dict)
    #: every live lease (run work going on, counted against the pools)
    leases: list[Lease] = field(default_factory=list)


#: how long observing waits for a process writing the warehouse (an apply running SQL) to let go of it
WAREHOUSE_WAIT_S = 60.0
#: below this many absent partitions in all, the frontier and status statements run on one DuckDB thread:
#: on tables of tens of thousands of rows, handing work to a second thread costs more than it saves
#: (case 1 of benchmarks/plan_scale.py: 5-10% of a plan); a backfill's hundreds of thousands gain from two
SMALL_GAP = 200_000

#: the ledger columns after ``vals``, as the workspace types them
_LEDGER_TYPES = ("VARCHAR", "INTEGER", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "TIMESTAMP", "TIMESTAMP")


def _cols(asset: Asset, alias: str | None = None) -> str:
    return ", ".join(f"{alias}.{quote_ident(c)}" if alias else quote_ident(c) for c in key_columns(asset))


def _shift_sql(expr: str, space: TimeWindows, k: str) -> str:
    fn = {"HOUR": "to_hours", "DAY": "to_days", "MONTH": "to_months"}[SQL_UNITS[space.grain]]
    fmt = sql_literal(space.format)
    return f"strftime(strptime({expr}, {fmt}) + {fn}({k}), {fmt})"


def mapping_join(a: Asset, b: Asset, dep: Dependency, aa: str = "a", ba: str = "b") -> tuple[str, str]:
    """(extra FROM items after the dependent side, ON condition) selecting B partitions for A partitions."""
    m = dep.mapping
    q = quote_ident
    if m.kind == "all":
        return "", "TRUE"
    if m.kind == "identity":
        eqs = [f"{ba}.{q(c)} = {aa}.{q(c)}" for c in key_columns(b)]
        return "", " AND ".join(eqs)
    if m.kind == "on":
        return "", " AND ".join(f"{ba}.{q(c)} = {aa}.{q(c)}" for c in m.on) or "TRUE"
    # offset: the time dimension shifted by each offset, every other upstream dimension equal
    space = a.dimension(m.dimension).space
    extra = f" CROSS JOIN (SELECT unnest([{', '.join(str(o) for o in m.offsets)}]) AS k) o"
    eqs = [f"{ba}.{q(m.dimension)} = {_shift_sql(f'{aa}.{q(m.dimension)}', space, 'o.k')}"]
    eqs += [f"{ba}.{q(c)} = {aa}.{q(c)}" for c in b.dims if c != m.dimension]
    return extra, " AND ".join(eqs)


#: values that :func:`setpoint.partition.quote_value` leaves as they are (a subset of those, checkable in SQL)
PLAIN_VALUE = "[A-Za-z0-9_.:+/-]+"
_PLAIN_SQL = sql_literal(PLAIN_VALUE)


def _key_sql(asset: Asset, alias: str, plain: bool) -> str:
    """A partition's canonical key (:func:`setpoint.partition.format_key`), built in DuckDB when every
    value of the asset's dimensions is ``plain``; NULL otherwise (Python formats the keys then)."""
    if not asset.dims:
        return "''"
    if not plain:
        return "CAST(NULL AS VARCHAR)"
    q = quote_ident
    if len(asset.dims) == 1:
        return f"{alias}.{q(asset.dims[0])}"
    return " || ',' || ".join(f"{sql_literal(d + '=')} || {alias}.{q(d)}" for d in asset.dims)


def _on_vals(asset: Asset, vals: str, keys: str) -> str:
    """Join condition: a key list ``<vals>.vals`` (ledger, leases) equals the key columns of ``keys``,
    element by element, so that the large side is hashed on its plain columns (a list recorded for another
    layout of the asset's dimensions has another length, and matches nothing, as a list comparison)."""
    kc = key_columns(asset)
    return " AND ".join([f"len({vals}.vals) = {len(kc)}",
                         *(f"{vals}.vals[{i + 1}] = {keys}.{quote_ident(c)}" for i, c in enumerate(kc))])


def _mapped_forward(asset: Asset, b: Asset, dep: Dependency) -> str:
    """The expected partitions of ``asset`` an identity or ``on`` mapping joins to an upstream partition
    on the frontier (``g_B``): the upstream's matched values, kept where each is one of the asset's
    values, times every value of the asset's other dimensions. It costs what the upstream gap costs;
    joining the whole product (``e_A``) with it would cost what the history costs."""
    matched = list(b.dims) if dep.mapping.kind == "identity" else list(dep.mapping.on)
    index = {c: i for i, c in enumerate(asset.dims)}
    q = quote_ident
    inner = f"SELECT DISTINCT {', '.join(q(c) for c in matched)} FROM g_{b.name}"
    semi = " ".join(f"SEMI JOIN d{index[c]}_e_{asset.name} USING ({q(c)})" for c in matched)
    cross = " ".join(f"CROSS JOIN d{i}_e_{asset.name}" for i, c in enumerate(asset.dims) if c not in matched)
    return f"SELECT {_cols(asset)} FROM ({inner}) {semi} {cross}"


def _windows_sql(col: str, space: TimeWindows, bounds: tuple[datetime, datetime] | None) -> tuple[str, list]:
    """A relation of window values between two window starts (inclusive), or an empty one."""
    if bounds is None:
        return f"SELECT CAST(NULL AS VARCHAR) AS {col} WHERE FALSE", []
    first, last = bounds
    if space.grain == "hourly" and space.timezone != "UTC":
        return f"SELECT DISTINCT unnest(CAST(? AS VARCHAR[])) AS {col}", [local_hours(space, first, last)]
    return (f"SELECT strftime(ts, {sql_literal(space.format)}) AS {col} FROM generate_series("
            f"CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), INTERVAL 1 {SQL_UNITS[space.grain]}) t(ts)", [first, last])


def _due_later(space: TimeWindows, now: datetime, horizon: datetime) -> tuple[datetime, datetime] | None:
    """Windows from the start up to ``horizon`` (capped at the end): the expected ones plus those
    that have not closed yet but that dependents already expect."""
    last = min(horizon, floor(space.end, space.grain)) if space.end is not None else horizon
    first = floor(space.start, space.grain)
    return (first, last) if last >= first else None


def horizons(project: Project, now: datetime) -> dict[str, dict[str, datetime]]:
    """For each upstream asset and time dimension, the newest window a dependent expects through a
    mapping that matches that dimension — beyond the upstream's own windows, it is not due yet."""
    out: dict[str, dict[str, datetime]] = {}
    for a in project.assets.values():
        for dep in a.dependencies:
            b = project.assets[dep.asset]
            m = dep.mapping
            if b.name == a.name or m.kind == "all":
                continue
            matched = m.on if m.kind == "on" else b.dims  # identity and offset keep every upstream dimension
            for d in matched:
                space_b = b.dimension(d).space
                if not isinstance(space_b, TimeWindows) or d not in a.dims:
                    continue
                bounds = a.dimension(d).space.bounds(now)
                if bounds is None:
                    continue
                # the newest upstream window a dependent reaches: its own newest, shifted forward by an offset
                ahead = max(m.offsets) if m.kind == "offset" and d == m.dimension else 0
                reach = shift(bounds[1], space_b.grain, ahead) if ahead > 0 else bounds[1]
                mine = space_b.bounds(now)
                if mine is not None and reach <= mine[1]:
                    continue
                current = out.setdefault(b.name, {}).get(d)
                out[b.name][d] = reach if current is None else max(current, reach)
    return out


def _self_step(asset: Asset, deps: list[Dependency]) -> str:
    """The one recursive step of an asset needing previous windows of itself.

    A recursive CTE takes a single recursive term, so every self-offset is
    merged: one list of offsets per time dimension, and an OR of the shifts
    only when several time dimensions are shifted.
    """
    by_dim: dict[str, set[int]] = {}
    for d in deps:
        by_dim.setdefault(d.mapping.dimension, set()).update(d.mapping.offsets)
    merged = [Dependency(asset.name, Mapping("offset", dimension=dim, offsets=tuple(sorted(offsets))), deps[0].origin)
              for dim, offsets in sorted(by_dim.items())]
    if len(merged) == 1:
        extra, cond = mapping_join(asset, asset, merged[0])
        return f"SELECT {_cols(asset, 'a')} FROM e_{asset.name} a{extra} JOIN r b ON {cond}"
    q = quote_ident
    shifts = []
    for dep in merged:
        dim, space = dep.mapping.dimension, asset.dimension(dep.mapping.dimension).space
        for k in dep.mapping.offsets:
            eqs = [f"b.{q(dim)} = {_shift_sql(f'a.{q(dim)}', space, str(k))}"]
            eqs += [f"b.{q(c)} = a.{q(c)}" for c in asset.dims if c != dim]
            shifts.append("(" + " AND ".join(eqs) + ")")
    return f"SELECT {_cols(asset, 'a')} FROM e_{asset.name} a JOIN r b ON {' OR '.join(shifts)}"


class Workspace:
    """An in-memory DuckDB with the warehouse attached read-only; lives for one plan."""

    def __init__(self, project: Project, warehouse_wait: float | None = None, relist: bool = False) -> None:
        self.project = project
        self.warehouse_wait = WAREHOUSE_WAIT_S if warehouse_wait is None else warehouse_wait
        self.held = HeldRows()  # kept observations read in place, held open until close
        self.inventory = InventoryPolicy(project.state.parent / "inventory", project.observe.relist.total_seconds(),
                                         force=relist, held=self.held)
        self.marks: dict[str, Marks] = {}
        self.plain: dict[str, bool] = {}  # whether DuckDB writes an asset's keys (see collect.plain)
        self.ordered: dict[str, bool] = {}  # whether an asset's keys sort as its values (see collect.value_ordered)
        #: guards the connection: partitions and statuses read later may be read from another thread
        self.lock = threading.RLock()
        self.closed = False
        self._owed = 0  # readers that may still query the workspace (see :meth:`owe`)
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")  # update times are compared in UTC, whatever the machine's zone
        path = project.warehouse
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                duckdb.connect(str(path)).close()  # the warehouse is created if absent
            self._attach(path)
        except (duckdb.Error, OSError) as exc:
            raise ObserveError(f"cannot open the warehouse {project.display(path)}: {str(exc).splitlines()[0]}",
                               file=project.config_file,
                               hint="check `warehouse:` in setpoint.yaml; another process may hold it open for writing") from exc

    def _attach(self, path: Path) -> None:
        """Attach the warehouse read-only. DuckDB lets no other process open a file one process writes:
        while an apply runs a SQL action, wait for it (up to ``warehouse_wait`` seconds)."""
        deadline = time.monotonic() + self.warehouse_wait
        while True:
            try:
                self.con.execute(f"ATTACH {sql_literal(str(path))} AS {WAREHOUSE} (READ_ONLY)")
                return
            except duckdb.IOException as exc:
                if "lock" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        """Let go of the warehouse; the workspace itself stays open while a reader made by :meth:`owe` may
        still need its frontier and status tables, and closes after the last. What grows with the history
        (observed and present partitions, their ages) is dropped then; the rest grows with the gap."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            if not self._owed:
                self.con.close()
                self.held.close()
                return
            self.con.execute(f"DETACH DATABASE IF EXISTS {WAREHOUSE}")  # an apply may write the warehouse now
            self.con.execute("; ".join(f"DROP {kind} IF EXISTS {quote_ident(name)}" for kind, name in self._history()))
            self.held.close()  # (what read the files is gone)

    def _history(self) -> list[tuple[str, str]]:
        """The workspace's tables and views that grow with the history, and the views of files held
        open: (TABLE or VIEW, name)."""
        out = []
        for n in getattr(self, "counts", {}):
            out += [("VIEW" if self.present_is_view.get(n) else "TABLE", f"p_{n}"), ("TABLE", f"age_{n}"),
                    ("VIEW" if f"o_{n}" in self.held.views else "TABLE", f"o_{n}")]
            if f"a_{n}" in self.held.views:  # the kept gap read in place: its file is let go too
                out.append(("VIEW", f"a_{n}"))
        return out

    def owe(self) -> Callable[[], None]:
        """Count a reader that may query the workspace after :meth:`close`; it calls what this returns once
        it is done (or never, if it is never read: the connection then closes when nothing refers to it)."""
        with self.lock:
            self._owed += 1
        paid = False

        def done() -> None:
            nonlocal paid
            with self.lock:
                if paid:
                    return
                paid = True
                self._owed -= 1
                if self.closed and not self._owed:
                    self.con.close()
        return done

    def fetch(self, sql: str, params: list | None = None) -> list[tuple]:
        """Rows of a query, for a reader that may run after :meth:`close` or in another thread."""
        with self.lock:
            return self.con.execute(sql, params).fetchall()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_ledger(self, warnings: list[str], now: datetime) -> None:
        """Copy what the frontier needs of the run record's ledger into ``ledger``: partitions built by
        another version of their action, and partitions with failed attempts (the gap, not the history)."""
        con, path = self.con, self.project.state
        con.execute("CREATE TABLE ledger (asset VARCHAR, key VARCHAR, vals VARCHAR[], version VARCHAR, "
                    "attempts INTEGER, last_error VARCHAR, last_run VARCHAR, failed_version VARCHAR, "
                    "built_by VARCHAR, built_at TIMESTAMP, retry_at TIMESTAMP)")
        con.execute("CREATE TABLE leases (asset VARCHAR, vals VARCHAR[], run_id VARCHAR, started_at TIMESTAMP, "
                    "deadline TIMESTAMP)")
        self.leases: list[Lease] = []
        self.record_error: str | None = None
        self.pauses: dict[str, Pause] = {}
        self.durations: dict[str, list[tuple[float, int]]] = {}
        self.recorded: set[str] = set()  # assets with rows in the ledger
        if not path.exists() and legacy_source(path) is None:
            return
        try:  # a store in the old format is converted once
            with StateStore(path, read_only=True) as store:
                leases = store.leases()
                self.leases = [x for x in leases if lease_state(x, now) == LIVE]
                held = {x.asset for x in leases}
                self.marks = {a: Marks(n, a in held) for a, n in store.last_runs().items()}
                self.pauses = {x.asset: x for x in store.pauses() if x.active(now)}
                self.durations = {a.name: store.durations(a.name, a.action.version)
                                  for a in self.project.assets.values() if a.action is not None}
                for asset in self.project.assets.values():
                    rows = store.ledger_rows(asset.name, asset.action.version if asset.action else None)
                    if rows:
                        self.recorded.add(asset.name)
                        cols = [list(c) for c in zip(*rows)]
                        cols[1] = [json.loads(v) for v in cols[1]]
                        con.execute("INSERT INTO ledger SELECT ?, unnest(CAST(? AS VARCHAR[])), "
                                    "unnest(CAST(? AS VARCHAR[][])), "
                                    + ", ".join(f"unnest(CAST(? AS {t}[]))" for t in _LEDGER_TYPES),
                                    [asset.name, *cols])
            if self.leases:
                con.executemany("INSERT INTO leases VALUES (?, ?, ?, ?, ?)",
                                [(x.asset, list(x.vals), x.run_id, x.started_at.replace(tzinfo=None),
                                  x.deadline.replace(tzinfo=None)) for x in self.leases])
        except (ObserveError, sqlite3.Error) as exc:
            message = exc.message if isinstance(exc, ObserveError) else str(exc)
            self.record_error = message
            warnings.append(f"the run record {self.project.display(path)} could not be read "
                            f"({message}); failed attempts and action versions are not counted")

    # -- expected ---------------------------------------------------------------------------
    def _values(self, asset: Asset, now: datetime, warnings: list[str]) -> list[tuple[str, list]]:
        """One (SQL, params) value relation per dimension."""
        out = []
        for dim in asset.dimensions:
            col = quote_ident(dim.name)
            space = dim.space
            if isinstance(space, TimeWindows):
                out.append(_windows_sql(col, space, space.bounds(now)))
                continue
            if isinstance(space, StaticValues):
                values = list(space.values)
            elif isinstance(space, TableValues):
                found = distinct_values(self.con, space.table, space.column,
                                        (f"dimension {dim.name!r} of asset {asset.name!r}", dim.origin.file,
                                         dim.origin.line))
                if found is None:
                    warnings.append(f"{asset.name}: dimension {dim.name!r} reads values from table "
                                    f"{space.table}, which does not exist yet; no partitions expected")
                values = found or []
            else:
                values = _read_listing(space, asset, dim.name, warnings)
            out.append((f"SELECT unnest(CAST(? AS VARCHAR[])) AS {col}", [values]))
        return out

    def _create_product(self, name: str, parts: list[tuple[str, list]]) -> None:
        """The product of the dimensions' value relations; each is distinct (listings and static values are
        deduplicated, tables read with DISTINCT, local hours too), so their product is without a DISTINCT.
        Each relation is kept as ``d<i>_<name>``: whether an observed key is expected is then a lookup per
        dimension in a few hundred values, not a join with the product. The product itself is a view: the
        gap is usually found without it (see :func:`_mapped_forward`), and generating it where it is read
        costs less than storing it."""
        for i, (sql, params) in enumerate(parts):
            self.con.execute(f"CREATE OR REPLACE TABLE d{i}_{name} AS {sql}", params)
        self.con.execute(f"CREATE VIEW {name} AS SELECT * FROM "
                         + " CROSS JOIN ".join(f"d{i}_{name}" for i in range(len(parts))))

    def _expected(self, asset: Asset, now: datetime, warnings: list[str],
                  horizon: dict[str, datetime]) -> None:
        """``e_A``: the expected partitions; ``n_A``: those dependents already need but not due yet."""
        name = f"e_{asset.name}"
        cols = ", ".join(f"{quote_ident(c)} VARCHAR" for c in key_columns(asset))
        if not asset.dims:
            self.con.execute(f"CREATE TABLE {name} AS SELECT '' AS _all")
            self.con.execute(f"CREATE TABLE n_{asset.name} ({cols})")
            return
        parts = self._values(asset, now, warnings)
        self.space[asset.name] = parts
        self._create_product(name, parts)
        later = list(parts)
        for i, dim in enumerate(asset.dimensions):
            if dim.name in horizon:
                later[i] = _windows_sql(quote_ident(dim.name), dim.space, _due_later(dim.space, now, horizon[dim.name]))
        if later == parts:
            self.con.execute(f"CREATE TABLE n_{asset.name} ({cols})")
            return
        self._create_product(f"x_{asset.name}", later)
        self.con.execute(f"CREATE TABLE n_{asset.name} AS SELECT * FROM x_{asset.name} "
                         f"ANTI JOIN {name} USING ({_cols(asset)})")

    def _present(self, asset: Asset, seen: Observation) -> None:
        """``p_A``: the observed partitions that are expected, with their update times; ``a_A``: the
        expected ones not observed. Observed keys are unique (every observer groups by key), so when as
        many are present as expected, none is absent, and the product is not joined at all. When every
        observed partition is expected (usually), ``p_A`` is the observation itself, not a copy of it.
        When the observation is a kept snapshot's rows, the gap found for them is kept too
        (:mod:`.kept_gap`): the next plan that observes the same rows reads it instead of joining."""
        con, n, cols = self.con, asset.name, _cols(asset)
        if not asset.dims:
            con.execute(f"CREATE TABLE p_{n} AS SELECT e.*, o.updated_at FROM e_{n} e JOIN o_{n} o USING ({cols})")
            expected, present = 1, con.execute(f"SELECT count(*) FROM p_{n}").fetchone()[0]
            con.execute(f"CREATE TABLE a_{n} AS SELECT {cols} FROM e_{n} WHERE {present} = 0")
            self.counts[n] = (expected, present)
            return
        coldefs = ", ".join(f"{quote_ident(c)} VARCHAR" for c in key_columns(asset))
        con.execute(f"CREATE TABLE a_{n} ({coldefs})")
        kept = KeptGap(self.inventory.directory, n, seen.generation, self.space[n], key_columns(asset), self.held) \
            if seen.generation else None
        counts = kept.load(con, f"a_{n}", cols) if kept is not None else None
        semi = " ".join(f"SEMI JOIN d{i}_e_{n} USING ({quote_ident(c)})" for i, c in enumerate(asset.dims))
        if counts is None:
            found = con.execute(f"SELECT (SELECT count(*) FROM o_{n}), (SELECT count(*) FROM o_{n} {semi}), "
                                + ", ".join(f"(SELECT count(*) FROM d{i}_e_{n})" for i in range(len(asset.dims)))
                                ).fetchone()
            observed, present, expected = found[0], found[1], math.prod(found[2:])
        else:
            observed, present, expected = counts
        self.present_is_view[n] = present == observed
        if present == observed:
            con.execute(f"CREATE VIEW p_{n} AS SELECT * FROM o_{n}")
        else:
            con.execute(f"CREATE TABLE p_{n} AS SELECT * FROM o_{n} {semi}")
        if counts is None:
            if present < expected:
                con.execute(f"INSERT INTO a_{n} SELECT {cols} FROM e_{n} ANTI JOIN p_{n} USING ({cols})")
            if kept is not None:
                kept.keep(con, f"a_{n}", cols, observed, present, expected)
        self.counts[n] = (expected, present)

    # -- the whole computation ----------------------------------------------------------------
    def compute(self, now: datetime, include_satisfied: bool = False,
                extra: dict[str, list[tuple[str, ...]]] | None = None, edges: bool = True) -> Frontier:
        """Observe everything, then build the frontier (see :meth:`build_frontier`).

        ``edges=False`` leaves ``edges`` and ``not_due`` empty: the evaluated status rules read the
        edges in the workspace, and only clingo's facts, the SLO forecast and ``why`` need them as
        Python tuples (one per edge: tens of thousands at scale)."""
        frontier = Frontier(now=now, satisfied={} if include_satisfied else None)
        self._observe(now, frontier)
        if sum(expected - present for expected, present in self.counts.values()) < SMALL_GAP:
            self.con.execute("SET threads = 1")
        frontier.record_error = self.record_error
        frontier.paused, frontier.leases, frontier.estimates = self.pauses, self.leases, self.estimates
        return self.build_frontier(frontier, extra, edges)

    def _observe(self, now: datetime, frontier: Frontier) -> None:
        """Per asset: expected (e_), not due yet (n_), observed (o_), present (p_) and outdated (u_)."""
        project, con = self.project, self.con
        assets = project.assets
        later = horizons(project, now)
        self._read_ledger(frontier.warnings, now)
        self.counts: dict[str, tuple[int, int]] = {}  # expected and present partitions, by asset
        self.space: dict[str, list[tuple[str, list]]] = {}  # each dimension's values (SQL, parameters), by asset
        self.failed: dict[str, int] = {}  # partitions with failed attempts on record, by asset
        self.filled: dict[str, set[str]] = {}
        self.present_is_view: dict[str, bool] = {}  # whether p_A is a view of o_A (see _present)
        self.estimates = {a.name: estimate_for(project, a, self.durations.get(a.name, []))
                          for a in assets.values() if a.action is not None}
        for asset in assets.values():
            n = asset.name
            cols = _cols(asset)
            self._expected(asset, now, frontier.warnings, later.get(n, {}))
            coldefs = ", ".join(f"{quote_ident(c)} VARCHAR" for c in key_columns(asset))
            con.execute(f"CREATE TABLE o_{n} ({coldefs}, updated_at TIMESTAMP)")
            t = time.perf_counter()
            marks = self.marks.get(n, Marks()) if self.record_error is None else Marks(busy=True)
            seen = observer_for(asset, (self.inventory, marks)).observe(con, f"o_{n}")
            frontier.observe_s += time.perf_counter() - t
            frontier.observations.append(seen)
            if seen.skipped and seen.note:
                frontier.warnings.append(f"{n}: {seen.source}: {seen.note}")
            self._present(asset, seen)
            # superseded: built by another version of the action; failures: attempts on record
            version = sql_literal(asset.action.version if asset.action else "")
            self.filled[n] = set()  # which of v_, u_ and age_ have rows, by their alias in c_A (most have none)
            # (none is made for what cannot have rows: nothing on record, no dependency, no SLO)
            if n in self.recorded and asset.action and con.execute(
                    f"CREATE TABLE v_{n} AS SELECT {_cols(asset, 'a')}, l.version AS old FROM p_{n} a "
                    f"JOIN ledger l ON l.asset = {sql_literal(n)} AND {_on_vals(asset, 'l', 'a')} "
                    f"WHERE l.version IS NOT NULL AND l.version <> {version}").fetchone()[0]:
                self.filled[n].add("v")
            # failures of an older version of the action do not count: a changed action starts afresh
            self.failed[n] = con.execute(
                f"CREATE TABLE fl_{n} AS SELECT key, vals, attempts, last_error, last_run, retry_at FROM ledger "
                f"WHERE asset = {sql_literal(n)} AND attempts > 0 AND "
                f"(failed_version IS NULL OR failed_version = {version})").fetchone()[0] if n in self.recorded else 0
            # outdated: an upstream partition it maps to was updated after it
            ups = []
            for dep in asset.dependencies:
                b = assets[dep.asset]
                if dep.mapping.kind == "all":  # the newest upstream partition names it; the oldest change after
                    # it says since when it lags (ASOF: the first upstream time after this partition's)
                    ups.append(f"SELECT {_cols(asset, 'a')}, {sql_literal(b.name)} AS ua, b.uk, b.ut, f.ut AS ft "
                               f"FROM p_{n} a JOIN (SELECT [{_cols(b)}] AS uk, updated_at AS ut FROM p_{b.name} "
                               f"ORDER BY updated_at DESC NULLS LAST, uk LIMIT 1) b ON b.ut > a.updated_at "
                               f"ASOF JOIN (SELECT updated_at AS ut FROM p_{b.name} WHERE updated_at IS NOT NULL) f "
                               f"ON f.ut > a.updated_at")
                    continue
                cond_from, cond = mapping_join(asset, b, dep)
                ups.append(f"SELECT {_cols(asset, 'a')}, {sql_literal(b.name)} AS ua, "
                           f"[{_cols(b, 'b')}] AS uk, b.updated_at AS ut, b.updated_at AS ft FROM p_{n} a{cond_from} "
                           f"JOIN p_{b.name} b ON {cond} WHERE b.updated_at > a.updated_at")
            if ups:
                # the newest upstream partition says why; on a tie, the first by name and key (not any one)
                if con.execute(f"CREATE TABLE u_{n} AS SELECT {cols}, o.ua, o.uk, ut FROM (SELECT {cols}, "
                               f"arg_min({{'ua': ua, 'uk': uk}}, (-epoch_us(ut), ua, uk)) AS o, min(ft) AS ut "
                               f"FROM ({' UNION ALL '.join(ups)}) GROUP BY ALL)").fetchone()[0]:
                    self.filled[n].add("u")
            # too old (slo.max_age): refreshed once what is left of its age is no more than a run takes,
            # plus the SLO's refresh_ahead
            age = asset.slo.max_age if asset.slo is not None else None
            lead = self.estimates[n].seconds(1) if age is not None and n in self.estimates else 0.0
            refresh = (now - age + timedelta(seconds=lead) + asset.slo.lead).astimezone(timezone.utc) \
                .replace(tzinfo=None) if age is not None else None
            if age is not None and con.execute(
                    f"CREATE TABLE age_{n} AS SELECT {cols}, updated_at + to_seconds(?) AS _expires, "
                    f"updated_at <= ? AS _expired FROM p_{n} WHERE updated_at IS NOT NULL",
                    [age.total_seconds(), refresh]).fetchone()[0]:
                self.filled[n].add("a")

    def build_frontier(self, frontier: Frontier, extra: dict[str, list[tuple[str, ...]]] | None = None,
                       edges: bool = True) -> Frontier:
        """Build each asset's frontier (f_) and what dependents look up (g_), then collect the rows.

        ``extra`` adds seeds: partitions a rule's dependency made unsatisfied
        although DuckDB saw nothing wrong with them; their declared downstream
        joins the frontier with them. Calling it again replaces the frontier.
        """
        from .collect import collect, frontier_table  # (they build on this module)
        con, assets = self.con, self.project.assets
        again = hasattr(self, "sizes")  # its tables are made again
        self.sizes: dict[str, int] = {}  # partitions on each asset's frontier
        frontier.assets, frontier.edges, frontier.needs_all = {}, [], []
        frontier.unit_values, frontier.not_due, frontier.cleared = {}, set(), {}
        for asset in assets.values():
            n = asset.name
            cols = _cols(asset)
            if again:
                con.execute(f"DROP VIEW IF EXISTS c_{n}; DROP VIEW IF EXISTS g_{n}; DROP TABLE IF EXISTS f_{n}; "
                            f"DROP TABLE IF EXISTS s_{n}")
            rows = (extra or {}).get(n, [])
            if rows:
                coldefs = ", ".join(f"{quote_ident(c)} VARCHAR" for c in key_columns(asset))
                con.execute(f"CREATE TABLE s_{n} ({coldefs})")
                unnest = ", ".join(f"unnest(CAST(${i + 1} AS VARCHAR[]))" for i in range(len(key_columns(asset))))
                con.execute(f"INSERT INTO s_{n} SELECT {unnest}", [list(col) for col in zip(*rows)])
            # seeds: absent (a_A, see frontier_table), outdated, superseded, leased (being produced: what
            # needs it must wait, even when it is present), extra, and everything mapped onto an upstream
            # frontier partition
            filled = self.filled[n]
            seeds = [f"SELECT {cols} FROM u_{n}"] if "u" in filled else []
            seeds += [f"SELECT {cols} FROM age_{n} WHERE _expired"] if "a" in filled else []
            seeds += [f"SELECT {cols} FROM v_{n}"] if "v" in filled else []
            if rows:
                seeds.append(f"SELECT {cols} FROM e_{n} SEMI JOIN s_{n} USING ({cols})")
            if any(x.asset == n for x in self.leases):
                seeds.append(f"SELECT {_cols(asset, 'e')} FROM e_{n} e SEMI JOIN leases x ON x.asset = {sql_literal(n)} "
                             f"AND {_on_vals(asset, 'x', 'e')}")
            self_deps = []
            for dep in asset.dependencies:
                b = assets[dep.asset]
                if b.name == n:
                    self_deps.append(dep)
                    continue
                if dep.mapping.kind == "all":
                    seeds.append(f"SELECT {cols} FROM e_{n} WHERE EXISTS (SELECT 1 FROM f_{b.name})")
                    continue
                if asset.dims and (dep.mapping.kind == "identity" or (dep.mapping.kind == "on" and dep.mapping.on)):
                    seeds.append(_mapped_forward(asset, b, dep))
                    continue
                cond_from, cond = mapping_join(asset, b, dep)
                seeds.append(f"SELECT {_cols(asset, 'a')} FROM e_{n} a{cond_from} SEMI JOIN g_{b.name} b ON {cond}"
                             if not cond_from else
                             f"SELECT DISTINCT {_cols(asset, 'a')} FROM e_{n} a{cond_from} JOIN g_{b.name} b ON {cond}")
            # (a previous window of itself: the closure runs forward through time)
            step = _self_step(asset, self_deps) if self_deps else None
            self.sizes[n] = frontier_table(self, asset, seeds, step)
            # what dependents look up: the frontier, and the windows they need that are not due yet
            # (with the row number of a frontier partition: see c_A)
            con.execute(f"CREATE OR REPLACE VIEW g_{n} AS SELECT {cols}, FALSE AS _not_due, rowid AS _rn FROM f_{n} "
                        f"UNION ALL SELECT *, TRUE, NULL FROM n_{n}")
        self.keys: dict[str, dict[tuple, str]] = {}  # each asset's frontier keys by values, for the edges
        for asset in assets.values():
            collect(self, asset, frontier, edges)
            if frontier.satisfied is not None:
                cols = _cols(asset)
                frontier.satisfied[asset.name] = con.execute(
                    f"SELECT {cols} FROM e_{asset.name} ANTI JOIN f_{asset.name} USING ({cols}) ORDER BY ALL").fetchall()
        return frontier

    def check_named(self, frontier: Frontier, partitions: Iterable[tuple[str, str]]) -> None:
        """Sort the partitions that only rules named (off the frontier) into expected ones, with their
        values, and the rest: a key must be canonical and name a partition of the asset's space."""
        on = {(a, p.key) for a, af in frontier.assets.items() for p in af.partitions}
        candidates: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for a, key in partitions:
            node = (a, key)
            if node in on or node in frontier.named or node in frontier.unnamed:
                continue
            asset = self.project.assets.get(a)
            values = _parse_canonical(asset, key) if asset is not None else None
            if values is None:
                frontier.unnamed.add(node)
            else:
                candidates.setdefault(a, []).append((key, values))
        for a, items in candidates.items():
            asset = self.project.assets[a]
            kc = key_columns(asset)
            unnest = ", ".join(f"unnest(CAST(${i + 1} AS VARCHAR[])) AS {quote_ident(c)}" for i, c in enumerate(kc))
            rows = [list(col) for col in zip(*(v for _, v in items))]
            found = set(self.con.execute(f"SELECT * FROM (SELECT {unnest}) SEMI JOIN e_{a} USING ({_cols(asset)})",
                                         rows).fetchall())
            for key, values in items:
                if values in found:
                    frontier.named[(a, key)] = dict(zip(asset.dims, values))
                else:
                    frontier.unnamed.add((a, key))


def _parse_canonical(asset: Asset, key: str) -> tuple[str, ...] | None:
    """The key values of a partition written as text, if the text is that partition's canonical key."""
    if not asset.dims:
        return ("",) if key == "" else None
    try:
        values = parse_values(key, asset.dims, format_partition(asset.name, key))
    except UsageError:
        return None
    if set(values) != set(asset.dims) or format_key(asset.dims, [values[d] for d in asset.dims]) != key:
        return None
    return tuple(values[d] for d in asset.dims)


def _read_listing(space: FileValues, asset: Asset, dim: str, warnings: list[str]) -> list[str]:
    try:
        text = Path(space.path).read_text(encoding="utf-8")
    except FileNotFoundError:
        warnings.append(f"{asset.name}: dimension {dim!r} reads values from {space.display}, "
                        "which does not exist yet; no partitions expected")
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise ObserveError(f"cannot read values of dimension {dim!r} from {space.display}: {exc}",
                           file=asset.origin.file, line=asset.origin.line) from exc
    seen: dict[str, None] = {}
    for line in text.splitlines():
        value = line.strip()
        if value and not value.startswith("#") and "\0" not in value:  # NUL cannot reach a command
            seen.setdefault(value)
    return list(seen)


def compute_frontier(project: Project, now: datetime, include_satisfied: bool = False) -> Frontier:
    """Observe every asset and compute the frontier in one short-lived workspace.

    ``include_satisfied`` also lists the keys off the frontier (every satisfied
    partition): costly at scale, so only for ``plan --all``.
    """
    with Workspace(project) as ws:
        return ws.compute(now, include_satisfied)
