"""The shipped status rules (``rules/status.lp``), evaluated directly over the frontier.

status.lp is stratified: every status and reason it derives is a function of
the input facts. When the project's own rules read nothing but input facts and
define no dependency (:func:`setpoint.solver.userrules.input_reads`), they can
affect the statuses only through ``block/3`` and ``unrecoverable/3``. Then
clingo grounds just the user's rules over the facts they read
(:func:`setpoint.solver.session.solve_rules`), and this module derives the
rest, rule for rule.

The part that grows with the gap is evaluated column-wise in the workspace
DuckDB, beside the frontier tables it reads, one asset at a time upstream first:
the closure of ``blocked`` over the declared edges (recursive for an asset
needing its own earlier windows), ``upstream_pending``, each partition's
status, and which edges become ``needs``/``not_due``/``upstream_blocked``
reasons. Python then reads the partitions it must look at one by one (the
runnable ones, usually) with their reasons, and hands ``decode`` each asset's
in value order with their status, condition and reasons
(``SolveResult.evaluated``); the partitions waiting for upstream ones and
nothing of their own are counted and grouped by their top reason in SQL, and
read when a plan's statuses are looked at (:class:`Waiting`,
``SolveResult.waiting``). At 60,000 unsatisfied partitions this replaces about
3.5 s of clingo grounding (170,000 facts in, 185,000 atoms out) and 0.5 s of
set algebra over tuples in Python. Rules that
read derived predicates (``status/3``, ``blocked/2`` …) or add dependencies
keep the full grounding; ``why`` takes the same path as ``plan``.
``tests/solver/test_engines.py`` holds both to the same answer on every golden
case and on random projects.

Comments name the status.lp rules each step evaluates.
"""

from __future__ import annotations

from collections import Counter
from datetime import timezone

from ..adapters.base import key_columns, quote_ident, sql_literal
from ..collect import key_sql, plain, read_partitions, value_ordered
from ..frontier import Frontier, FrontierPartition, Workspace, _cols, _parse_canonical, mapping_join
from ..partition import format_key
from ..project.model import Asset, Project
from .facts import describe_pause
from .session import SolveResult


#: status codes the workspace computes; 0 is a partition on the frontier with none (never expected)
_STATUS = (None, "missing", "stale", "in_progress", "waiting", "blocked")
#: an upstream partition's status in a reason, by code: off the frontier (or on it with none), satisfied
UPSTREAM_STATUS = ("satisfied", *_STATUS[1:])


def _upstream_cols(b: Asset) -> str:
    """An upstream partition's key in an edge table: ``b.<dim> AS _u0, …``."""
    return ", ".join(f"b.{quote_ident(c)} AS _u{i}" for i, c in enumerate(key_columns(b)))


class _Tables:
    """The workspace tables of one evaluation: ``st_A`` (each frontier partition with its flags,
    ``_blocked`` and status code) and ``sx_A_i`` (the edges of each declared dependency). Every column
    of setpoint's own starts with ``_``: a dimension name cannot, so the two never collide."""

    def __init__(self, ws: Workspace, project: Project, frontier: Frontier) -> None:
        self.ws, self.con, self.project, self.frontier = ws, ws.con, project, frontier
        self.ruled = SolveResult()
        self.deps: dict[str, tuple[list[tuple[int, Asset]], list[str]]] = {}
        self.blocked_any: dict[str, bool] = {}
        self.pending_any: dict[str, bool] = {}
        self.troubled_any: dict[str, bool] = {}
        #: by asset, its upstream assets in the order of their partitions' names, when ``st_A._top`` says a
        #: waiting partition's top reason (see :func:`_top_order`); else None
        self.tops: dict[str, list[str] | None] = {}
        self.tally: dict[str, list[int]] = {}

    def _ruled_rows(self, asset: Asset) -> list[int]:
        """Row numbers of the frontier partitions a rule blocks or declares unrecoverable."""
        named = {p for (a, p) in (*self.ruled.blocks, *self.ruled.unrecoverable) if a == asset.name}
        values = [v for v in (_parse_canonical(asset, key) for key in sorted(named)) if v is not None]
        if not values:
            return []
        kc = key_columns(asset)
        unnest = ", ".join(f"unnest(CAST(${i + 1} AS VARCHAR[])) AS {quote_ident(c)}" for i, c in enumerate(kc))
        return [rn for (rn,) in self.ws.fetch(f"SELECT _rn FROM c_{asset.name} SEMI JOIN (SELECT {unnest}) "
                                              f"USING ({_cols(asset)})", [list(col) for col in zip(*values)])]

    def prepare(self, asset: Asset) -> None:
        """The tables of one asset that what the user's rules derive does not change: the edge tables
        ``sx_A_i``."""
        con, n = self.con, asset.name
        # the declared edges between frontier partitions (and not-due upstream windows): depends(A,P,B,Q)
        deps = []
        all_of = []
        for i, dep in enumerate(asset.dependencies):
            b = self.project.assets[dep.asset]
            if dep.mapping.kind == "all":
                all_of.append(b.name)
                continue
            extra, cond = mapping_join(asset, b, dep)
            # the frontier's rows are distinct, and g_B's too: only offsets may reach one pair twice
            distinct = "DISTINCT " if dep.mapping.kind == "offset" else ""
            # (the upstream partition's key, and its row number when it is on the frontier: statuses are
            # looked up by number)
            con.execute(f"CREATE OR REPLACE TEMP TABLE sx_{n}_{i} AS SELECT {distinct}a._rn, {_upstream_cols(b)}, "
                        f"b._not_due AS _nd, b._rn AS _ub FROM c_{n} a{extra} JOIN g_{b.name} b ON {cond}")
            deps.append((i, b))
        self.deps[n] = (deps, all_of)

    def _flags(self, asset: Asset) -> str:
        """Each frontier partition (as ``c_A`` holds it, read by :mod:`setpoint.collect` too) with the
        flags the status rules start from, as a subquery: computed where they are read."""
        con, n = self.con, asset.name
        action = asset.action
        paused = (self.frontier.paused.get(n) or self.frontier.paused.get("*")) is not None
        now = sql_literal(self.frontier.now.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" "))
        # root_blocked(A,P) :- block(A,P,_).  root_blocked(A,P) :- unrecoverable(A,P,_).
        ruled = self._ruled_rows(asset)
        if ruled:
            con.execute(f"CREATE OR REPLACE TEMP TABLE sr_{n} AS SELECT unnest(CAST(? AS BIGINT[])) AS _rn", [ruled])
        # needs_work(A,P) :- absent / outdated / superseded / expired.  exhausted(A,P) :- needs_work, failed N >= M.
        # root_blocked(A,P) :- paused and not leased; needs_work and no action; exhausted
        max_attempts = action.max_attempts if action is not None else 0
        return (
            f"(SELECT *, ({paused} AND NOT _ls) "
            f"OR (_nw AND NOT {action is not None}) OR (_nw AND {action is not None} AND _att > 0 AND _att >= "
            f"{int(max_attempts)})" + (f" OR _rn IN (SELECT _rn FROM sr_{n})" if ruled else "")
            + f" AS _root FROM (SELECT _rn, "
            f"(_ab OR _ua IS NOT NULL OR coalesce(_expired, FALSE) OR _old IS NOT NULL) AS _nw, "
            f"coalesce(_att, 0) AS _att, coalesce(_att, 0) > 0 AND coalesce(_retry > CAST({now} AS TIMESTAMP), FALSE) "
            f"AS _bo, _lease IS NOT NULL AS _ls, _ab FROM c_{n} f) t)")

    def build(self, asset: Asset) -> list[tuple[int, Asset]]:
        """The status tables of one asset (prepared, and its upstream's built); its dependencies with
        edges, by index."""
        con, n = self.con, asset.name
        deps, all_of = self.deps[n]
        st0 = self._flags(asset)
        # blocked(A,P) :- root_blocked(A,P).  blocked(A,P) :- depends(A,P,B,Q), blocked(B,Q).
        # blocked(A,P) :- needs_all(A,B), known(A,P), blocked_asset(B).  (an asset's own windows: recursively)
        # (partitions by row number, also through the closure of its own windows)
        own = [i for i, b in deps if b.name == n]
        parts = [f"SELECT t._rn FROM {st0} t WHERE _root"]
        if any(self.blocked_any.get(b, False) for b in all_of):  # never itself: the loader refuses that cycle
            parts.append(f"SELECT t._rn FROM {st0} t")
        for i, b in deps:
            if b.name != n and self.blocked_any.get(b.name):
                parts.append(f"SELECT e._rn FROM sx_{n}_{i} e JOIN st_{b.name} s ON s._rn = e._ub WHERE s._blocked")
        union = " UNION ".join(parts)
        if own:
            # one recursive term (DuckDB takes no more): the edges of every self-dependency together
            edges = " UNION ALL ".join(f"SELECT * FROM sx_{n}_{i}" for i in own)
            union = (f"WITH RECURSIVE r AS ({union} UNION SELECT e._rn FROM ({edges}) e "
                     f"JOIN r ON r._rn = e._ub) SELECT * FROM r")
        if len(parts) == 1 and not own:  # (usually) blocked is root_blocked: no closure to take
            closure, flag, marked = None, "t._root", f"{st0} t"
        else:
            closure = con.execute(f"CREATE OR REPLACE TEMP TABLE sb_{n} AS {union}").fetchone()[0]
            flag = "b._rn IS NOT NULL" if closure else "FALSE"
            marked = f"{st0} t LEFT JOIN sb_{n} b ON b._rn = t._rn" if closure else f"{st0} t"
        # upstream_pending(A,P) :- depends(A,P,B,Q), pending(B,Q).  … depends(A,P,B,Q), not_due(B,Q).
        # … needs_all(A,B), known(A,P), pending_asset(B), not blocked(A,P).
        # with it, when each declared edge reaches one upstream partition, the top reason of a partition
        # waiting for upstream ones (needs before not_due, then by upstream), for waiting_groups
        top = _top_order(asset, deps) if not own else None
        self.tops[n] = top
        ups = ["SELECT e._rn, "
               + (f"CAST(e._nd AS INTEGER) * 65536 + {top.index(b.name)} * 8 + coalesce(s._code, 0)" if top else "NULL")
               + f" AS _top FROM sx_{n}_{i} e LEFT JOIN st_{b.name} s ON s._rn = e._ub "
               f"WHERE e._nd OR NOT s._blocked" for i, b in deps]
        all_pending = any(self.pending_any.get(b, False) for b in all_of)
        up = f"SELECT _rn, min(_top) AS _top FROM ({' UNION ALL '.join(ups)}) GROUP BY _rn" if ups else \
            "SELECT CAST(NULL AS BIGINT) AS _rn, CAST(NULL AS INTEGER) AS _top WHERE FALSE"
        # status(A,P,…): blocked; in_progress (leased); waiting (held: upstream pending, or backoff); missing; stale
        code = (f"CASE WHEN _blocked THEN 5 WHEN _ls THEN 3 WHEN p._rn IS NOT NULL OR {all_pending} OR _bo "
                f"THEN 4 WHEN _ab THEN 1 WHEN _nw THEN 2 ELSE 0 END AS _code")
        if own:  # the pending windows of itself are read from its own table: first who is blocked, then the rest
            con.execute(f"CREATE OR REPLACE TEMP TABLE st_{n} AS SELECT t.*, {flag} AS _blocked FROM {marked}")
            con.execute(f"CREATE OR REPLACE TEMP TABLE st_{n} AS SELECT t.*, {code}, p._top FROM st_{n} t "
                        f"LEFT JOIN ({up}) p ON p._rn = t._rn")
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE st_{n} AS SELECT t.*, {code}, p._top FROM (SELECT t.*, {flag} "
                        f"AS _blocked FROM {marked}) t LEFT JOIN ({up}) p ON p._rn = t._rn")
        tally = self.tally[n] = [0] * len(_STATUS)  # partitions by status code
        for c, k in con.execute(f"SELECT _code, count(*) FROM st_{n} GROUP BY _code").fetchall():
            tally[c] = k
        self.blocked_any[n] = tally[5] > 0
        self.troubled_any[n] = sum(tally) > 0
        self.pending_any[n] = sum(tally) > tally[5]
        return deps

    def deferrable(self, asset: Asset, pending_all: bool) -> str | None:
        """Which of the asset's partitions are left for later (:class:`Waiting`), as a condition on
        ``st_A t``: those waiting for upstream partitions through declared edges and for nothing of
        their own (no backoff, no outdated condition, no ``all`` upstream pending). None when build
        found no top reason for them (see :func:`_top_order`), or DuckDB cannot write their keys."""
        if pending_all or not self.tops.get(asset.name) or not plain(self.ws, asset):
            return None
        return "t._code = 4 AND NOT t._bo AND NOT (t._nw AND NOT t._ab)"

    def waiting_groups(self, asset: Asset, where: str) -> list[tuple]:
        """The rows :meth:`deferrable` leaves for later, by their top reason (the first by kind, then by
        upstream partition, as :mod:`.decode` orders reasons), which build packed in an integer: (absent,
        not due, upstream asset, upstream status code, how many, the first key)."""
        n, top = asset.name, self.tops[asset.name]
        assert top is not None
        # the first key of each group: that of its first values, when keys sort as their values do
        by_values = len(asset.dims) > 1 and value_ordered(self.ws, asset)
        lowest = f"min(({_cols(asset, 'f')}))" if by_values else f"min({key_sql(self.ws, asset, 'f')})"
        dims = list(asset.dims)
        return [(absent, packed >> 16, top[(packed >> 3) & 8191], packed & 7, count,
                 format_key(dims, first) if by_values else first)
                for absent, packed, count, first in self.ws.fetch(
                    f"SELECT t._ab, t._top, count(*), {lowest} AS _first FROM st_{n} t "
                    f"JOIN c_{n} f USING (_rn) WHERE {where} GROUP BY ALL ORDER BY _first")]


def _rows(ws: Workspace, frontier: Frontier, asset: Asset, where: str) -> list[tuple[FrontierPartition, int, bool, int]]:
    """(frontier partition, status code, root_blocked, row number) of the rows of ``st_A t`` that
    ``where`` selects, in value order."""
    n = asset.name
    af = frontier.assets[n]
    if af.loaded:
        at = af.by_row()
        return [(at[rn], code, root, rn) for code, root, rn in
                ws.fetch(f"SELECT t._code, t._root, t._rn FROM st_{n} t JOIN c_{n} f USING (_rn) WHERE {where} "
                         f"ORDER BY {_cols(asset, 'f')}")]
    parts, tails = read_partitions(ws, asset, frontier.unit_values, join=f" JOIN st_{n} t USING (_rn)", where=where,
                                   more="t._code, t._root, t._rn")
    return [(x, *tail) for x, tail in zip(parts, tails)]


def _reasons(ws: Workspace, asset: Asset, deps: list[tuple[int, Asset]], where: str) -> dict[int, list[tuple[str, object]]]:
    """The reasons through edges of the rows of ``st_A t`` that ``where`` selects, by row number."""
    n = asset.name
    edges: dict[int, list[tuple[str, object]]] = {}
    for i, b in deps:
        # reason(A,P,needs,up(B,Q)) :- waiting, pending(B,Q); or root_blocked, not needs_work, troubled(B,Q).
        # reason(A,P,not_due,up(B,Q)) :- waiting or (root_blocked, not needs_work), not_due(B,Q).
        # reason(A,P,upstream_blocked,up(B,Q)) :- blocked, not root_blocked, blocked(B,Q).
        nk = len(key_columns(b))
        ucols = ", ".join(f"e._u{j}" for j in range(nk))
        # (an edge table's rows are distinct, so these are: a reason found twice would be merged below)
        found = ws.fetch(
            f"SELECT t._rn, CASE WHEN t._code = 4 OR (t._root AND NOT t._nw) THEN "
            f"(CASE WHEN e._nd THEN 'not_due' WHEN t._code = 4 AND s._blocked THEN NULL ELSE 'needs' END) "
            f"WHEN NOT t._root AND NOT e._nd AND s._blocked THEN 'upstream_blocked' END AS _kind, "
            f"{_upstream_key(ws, b)}, coalesce(s._code, 0) AS _uc, {ucols} FROM sx_{n}_{i} e "
            f"JOIN st_{n} t ON t._rn = e._rn LEFT JOIN st_{b.name} s ON s._rn = e._ub "
            f"WHERE t._code IN (4, 5) AND _kind IS NOT NULL AND {where}")
        # the reason carries the upstream's status, so that nothing looks it up by key
        bdims = list(b.dims)
        for row in found:
            q = row[2]
            if q is None:
                q = format_key(bdims, row[4:]) if bdims else ""
            reason = (row[1], ("up", b.name, q, UPSTREAM_STATUS[row[3]]))
            mine = edges.get(row[0])
            if mine is None:
                edges[row[0]] = [reason]
            else:
                mine.append(reason)
    return edges


def _top_order(asset: Asset, deps: list[tuple[int, Asset]]) -> list[str] | None:
    """The upstream assets of ``asset`` in the order decode ranks reasons on their partitions (by
    ``B[key]`` as text, which orders by ``B[`` whatever the key: an asset name holds no ``[``), when
    each declared edge of a partition reaches one upstream partition, and each upstream asset is
    reached by one dependency; else None (several upstream partitions of one asset rank by key)."""
    names = [b.name for _, b in deps]
    if len(set(names)) != len(names):
        return None
    for i, b in deps:
        m = asset.dependencies[i].mapping
        if m.kind == "offset" or (m.kind == "on" and not set(b.dims) <= set(m.on)):
            return None
    # an unpartitioned upstream is written without brackets
    return [b.name for _, b in sorted(deps, key=lambda d: d[1].name + "[" if d[1].dims else d[1].name)]


def _upstream_key(ws: Workspace, b: Asset) -> str:
    """An upstream partition's key from the columns ``e._u0…`` of an edge table, built in DuckDB when
    its values are plain; NULL otherwise (Python formats it)."""
    if not b.dims:
        return "''"
    if not plain(ws, b):
        return "CAST(NULL AS VARCHAR)"
    if len(b.dims) == 1:
        return "e._u0"
    return " || ',' || ".join(f"{sql_literal(d + '=')} || e._u{i}" for i, d in enumerate(b.dims))


class Waiting:
    """An asset's partitions waiting for upstream partitions and nothing else (most, at scale): counted and
    grouped in SQL by the evaluation, and made one by one only when a plan's statuses are looked at."""

    def __init__(self, ws: Workspace, frontier: Frontier, asset: Asset, deps: list[tuple[int, Asset]], where: str,
                 groups: list[tuple], count: int) -> None:
        self.ws, self.frontier, self.asset, self.deps, self.where = ws, frontier, asset, deps, where
        self.groups, self.count = groups, count
        self._entries: list[tuple[FrontierPartition, str, str, list[tuple[str, object]]]] | None = None
        self._paid = ws.owe()

    def entries(self) -> list[tuple[FrontierPartition, str, str, list[tuple[str, object]]]]:
        """(frontier partition, "waiting", condition, reasons) of each, in value order."""
        if self._entries is None:
            asset = self.asset
            edges = _reasons(self.ws, asset, self.deps, self.where)
            out = []
            for x, _, _, rn in _rows(self.ws, self.frontier, asset, self.where):
                out.append((x, "waiting", _condition(x), _settled(asset.name, x, "waiting", edges.get(rn) or [])))
            self._entries = out
            self._paid()
        return self._entries

    def keys(self) -> list[str]:
        """The keys of these partitions (all waiting)."""
        if self._entries is not None:
            return [x.key for x, _, _, _ in self._entries]
        n = self.asset.name
        return [k for (k,) in self.ws.fetch(f"SELECT {key_sql(self.ws, self.asset, 'f')} FROM st_{n} t "
                                            f"JOIN c_{n} f USING (_rn) WHERE {self.where}")]


def _condition(x: FrontierPartition) -> str:
    """condition(A,P,absent|outdated|present): outdated is needs_work(A,P) but not absent."""
    if x.absent:
        return "absent"
    return "outdated" if x.outdated_by is not None or x.expired or x.superseded is not None else "present"


def _settled(n: str, x: FrontierPartition, status: str, why: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """A partition's reasons, each once, in a fixed order; a waiting partition has at least one."""
    if len(why) > 1:
        return sorted(set(why), key=repr)
    if not why and status == "waiting":
        raise AssertionError(f"{n}[{x.key}]: waiting without a reason")
    return why


def prepare(ws: Workspace, project: Project, frontier: Frontier) -> _Tables | None:
    """What :func:`evaluate` computes before it needs what the user's rules derived: the larger part
    of its SQL, done while clingo grounds them in its child process. None when nothing is unsatisfied."""
    if not any(af.size for af in frontier.assets.values()):
        return None
    tables = _Tables(ws, project, frontier)
    for asset in project.assets.values():
        tables.prepare(asset)
    return tables


def evaluate(ws: Workspace, project: Project, frontier: Frontier, ruled: SolveResult,
             tables: _Tables | None = None) -> SolveResult:
    """Statuses, conditions, reasons and runs of every known partition; ``ruled`` holds what the user's
    rules derived (blocks, unrecoverable partitions, priorities, forbidden starts) and is filled in.
    Reads the frontier tables of ``ws``, which must be the workspace ``frontier`` was built in;
    ``tables``, if given, were made by :func:`prepare` for this frontier."""
    result = ruled
    evaluated: list[tuple[str, list[tuple[FrontierPartition, str, str, list[tuple[str, object]]]]]] = []
    if not any(af.size for af in frontier.assets.values()):  # nothing is unsatisfied
        result.runs, result.evaluated, result.evaluated_counts = [], [(n, []) for n in project.assets], Counter()
        result.waiting = {}
        return result
    if tables is None:
        tables = prepare(ws, project, frontier)
    assert tables is not None
    tables.ruled = ruled
    runs: dict[str, set[str]] = {}  # asset → the units that run
    waiting: dict[str, Waiting] = {}  # asset → its partitions left for later
    counts: Counter = Counter()  # (asset, status) → partitions
    all_of: dict[str, list[str]] = {}
    for a, b in frontier.needs_all:
        all_of.setdefault(a, []).append(b)
    for asset in project.assets.values():
        n = asset.name
        deps = tables.build(asset)
        mine = all_of.get(n, ())
        pending_all = [("needs_all", b) for b in mine if tables.pending_any.get(b)]
        tally = tables.tally[n]
        if sum(tally) != frontier.assets[n].size:  # both are the frontier table
            raise AssertionError(f"{n}: {sum(tally)} evaluated partitions for {frontier.assets[n].size} on the frontier")
        later = tables.deferrable(asset, bool(pending_all)) if tally[4] else None
        left = 0  # partitions left for later
        if later:
            groups = tables.waiting_groups(asset, later)
            if groups:
                left = sum(g[4] for g in groups)
                waiting[n] = Waiting(ws, frontier, asset, deps, later, groups, left)
        eager = f"t._code > 0 AND NOT ({later})" if later else "t._code > 0"
        rows = _rows(ws, frontier, asset, eager) if sum(tally[1:]) > left else []
        edges = _reasons(ws, asset, deps, eager) if tally[4] + tally[5] > left else {}
        pause = frontier.paused.get(n) or frontier.paused.get("*")
        paused = describe_pause(pause) if pause is not None else None
        coarse = asset.action is not None and asset.action.grain != asset.dims
        max_attempts = asset.action.max_attempts if asset.action is not None else 0
        troubled_all = [("needs_all", b) for b in mine if tables.troubled_any.get(b)]
        blocked_all = [("upstream_all_blocked", b) for b in mine if tables.blocked_any.get(b)]
        leased_units = {x.unit for x, _, _, _ in rows if x.lease is not None} if coarse else set()
        units = runs[n] = set()
        entries: list[tuple[FrontierPartition, str, str, list[tuple[str, object]]]] = []
        evaluated.append((n, entries))
        for x, code, root, i in rows:
            condition = _condition(x)
            needs_work = condition != "present"
            status = _STATUS[code]
            why: list[tuple[str, object]]
            if code == 5:  # blocked
                why = edges.get(i) or []  # this partition's own list
                if root:
                    node = (n, x.key)
                    why += [("rule", r) for r in ruled.blocks.get(node, ())]
                    why += [("unrecoverable", r) for r in ruled.unrecoverable.get(node, ())]
                    if paused is not None:
                        why.append(("paused", paused))
                    if needs_work and asset.action is None:
                        why.append(("no_action", "none"))
                    if needs_work and x.failures and asset.action is not None and x.failures >= max_attempts:
                        why.append(("failed", str(x.failures)))
                    if not needs_work:
                        why += troubled_all
                else:
                    why += blocked_all
            elif code == 3:  # in_progress
                why = [("leased", "none"), ("absent", "none")] if x.absent else [("leased", "none")]
            elif code == 4:  # waiting
                why = edges.get(i) or []  # this partition's own list
                if x.failures and x.retry_at is not None and x.retry_at > frontier.now:
                    why.append(("backoff", str(x.failures)))
                why += pending_all
            else:  # missing or stale: runnable
                if code == 1:
                    why = [("absent", "none")]
                else:
                    why = []
                    if x.outdated_by is not None:
                        why.append(("outdated", ("up", *x.outdated_by)))
                    if x.superseded is not None:
                        why.append(("superseded", "none"))
                    if x.expired and x.outdated_by is None:
                        why.append(("expired", "none"))
                if x.failures:
                    why.append(("retrying", str(x.failures)))
                # run(A,U) :- runnable(A,P), unit(A,P,U), not leased_unit(A,U).
                if not coarse:
                    units.add(x.key)
                elif x.unit not in leased_units:
                    units.add(x.unit)
            entries.append((x, status, condition, _settled(n, x, status, why)))
        counts.update({(n, _STATUS[code]): k for code, k in enumerate(tally) if code and k})
    result.runs = [(n, u) for n in sorted(runs) for u in sorted(runs[n])]  # as sorted(tuples), but faster
    result.evaluated, result.evaluated_counts, result.waiting = evaluated, counts, waiting
    return result

