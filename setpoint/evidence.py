"""The evidence under an explanation: what was observed, declared and recorded about one partition.

The solver says *why* a partition has its status (its reasons); the leaves of
that derivation are input facts, and this module finds where each came from:
the observed row or file and its update time, the declaration that makes the
partition expected, the run record's ledger. It reads the tables of the plan's
own workspace, so an explanation and the plan it explains see the same state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from .adapters.base import key_columns, quote_ident
from .errors import ObserveError
from .frontier import Workspace, mapping_join
from .partition import format_key, format_partition, quote_value
from .project.model import (
    Asset,
    CommandLocation,
    Dependency,
    FilesLocation,
    FileValues,
    Origin,
    Project,
    ReportedLocation,
    StaticValues,
    TableLocation,
    TableValues,
)
from .project.timewindows import TimeWindows, floor, shift
from .state import StateStore, recorded


#: lookups of one asset answered one query each; past this, its whole table is read once
_OFTEN = 32


@dataclass(frozen=True)
class Built:
    """What the run record's ledger says about a partition."""

    version: str | None
    built_by: str | None
    built_at: datetime | None


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=timezone.utc) if moment is not None else None


def clock(moment: datetime | None) -> str:
    """A time as explanations print it, in UTC."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "an unknown time"


class Evidence:
    """Lookups for one partition at a time in an open plan workspace."""

    def __init__(self, project: Project, ws: Workspace, now: datetime) -> None:
        self.project = project
        self.con = ws.con
        self.now = now
        self._asked: dict[str, int] = {}
        self._store: StateStore | None = None
        if recorded(project.state):
            try:
                self._store = StateStore(project.state, read_only=True)
            except ObserveError:  # the plan has warned already; the rest can still be explained
                self._store = None
        self._observed: dict[str, dict[tuple[str, ...], datetime | None]] = {}

    def _where(self, asset: Asset, values: dict[str, str], alias: str = "") -> tuple[str, list[str]]:
        cols = key_columns(asset)
        vals = [values[c] for c in asset.dims] or [""]
        prefix = f"{alias}." if alias else ""
        return " AND ".join(f"{prefix}{quote_ident(c)} = ?" for c in cols), vals

    def observed(self, asset: Asset, values: dict[str, str]) -> tuple[bool, datetime | None]:
        """(present, update time) as the observer saw it. An asset asked about often (``why --all`` over
        thousands) has its observations read once, whole."""
        vals = tuple(values[d] for d in asset.dims) or ("",)
        self._asked[asset.name] = self._asked.get(asset.name, 0) + 1
        if self._asked[asset.name] > _OFTEN:
            if asset.name not in self._observed:
                self._observed[asset.name] = {tuple(k): t for k, t in self.con.execute(
                    f"SELECT [{_cols(asset, 'o')}], o.updated_at FROM o_{asset.name} o").fetchall()}
            table = self._observed[asset.name]
            row = (table[vals],) if vals in table else None
        else:
            where, params = self._where(asset, values)
            row = self.con.execute(f"SELECT updated_at FROM o_{asset.name} WHERE {where} LIMIT 1",
                                   params).fetchone()
        return (row is not None, _utc(row[0]) if row else None)

    def expectation(self, asset: Asset, values: dict[str, str]) -> str:
        """``expected``, ``not_due`` (a dependent already needs it, its window has not closed) or ``outside``."""
        where, params = self._where(asset, values)
        if self.con.execute(f"SELECT 1 FROM e_{asset.name} WHERE {where} LIMIT 1", params).fetchone():
            return "expected"
        if asset.dims and self.con.execute(f"SELECT 1 FROM n_{asset.name} WHERE {where} LIMIT 1",
                                           params).fetchone():
            return "not_due"
        return "outside"

    def built(self, asset: Asset, values: dict[str, str]) -> Built | None:
        """What the run record says built the partition, if setpoint did."""
        if self._store is None:
            return None
        key = format_key(list(asset.dims), [values[d] for d in asset.dims]) if asset.dims else ""
        found = self._store.built(asset.name, [key]).get(key)
        return Built(*found) if found else None

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def maps(self, asset: Asset, values: dict[str, str], dep: Dependency, b: Asset, upstream: dict[str, str]) -> bool:
        """Whether ``dep``'s mapping selects the upstream partition for this one."""
        if dep.mapping.kind == "all":
            return True
        extra, cond = mapping_join(asset, b, dep)

        def row(x: Asset) -> str:
            return "SELECT " + ", ".join(f"CAST(? AS VARCHAR) AS {quote_ident(c)}" for c in key_columns(x))

        params = [values[c] for c in asset.dims] or [""]
        params += [upstream[c] for c in b.dims] or [""]
        return self.con.execute(f"SELECT 1 FROM ({row(asset)}) a{extra} JOIN ({row(b)}) b ON {cond} LIMIT 1",
                                params).fetchone() is not None

    def newest_upstream(self, asset: Asset, values: dict[str, str]) -> tuple[str, datetime] | None:
        """The most recently updated present partition this one needs through its declared mappings."""
        best: tuple[str, datetime] | None = None
        where, params = self._where(asset, values, "a")
        for dep in asset.dependencies:
            b = self.project.assets[dep.asset]
            if dep.mapping.kind == "all":
                sql = f"SELECT [{_cols(b, 'b')}], b.updated_at FROM p_{b.name} b"
                rows = self.con.execute(f"{sql} ORDER BY b.updated_at DESC NULLS LAST, 1 LIMIT 1").fetchall()
            else:
                extra, cond = mapping_join(asset, b, dep)
                rows = self.con.execute(
                    f"SELECT [{_cols(b, 'b')}], b.updated_at FROM (SELECT * FROM e_{asset.name} a WHERE {where}) a"
                    f"{extra} JOIN p_{b.name} b ON {cond} ORDER BY b.updated_at DESC NULLS LAST, 1 LIMIT 1",
                    params).fetchall()
            for key_values, moment in rows:
                if moment is None:
                    continue
                moment = _utc(moment)
                if best is None or moment > best[1]:
                    key = format_key(list(b.dims), key_values) if b.dims else ""
                    best = (format_partition(b.name, key), moment)
        return best

    def outside(self, asset: Asset, values: dict[str, str], warnings: list[str]) -> list[tuple[Origin, str]]:
        """Why a partition is not expected: (where the dimension is declared, text) per value outside it.

        ``warnings`` are the plan's warnings about the asset: a dimension whose
        values cannot be read yet leaves the asset with no partitions at all.
        """
        if not self.con.execute(f"SELECT 1 FROM e_{asset.name} LIMIT 1").fetchone():
            why = "; ".join(warnings) or "one of its dimensions has no values yet"
            return [(asset.origin, f"no partition of {asset.name} is expected yet: {why}")]
        out = []
        for d in asset.dimensions:
            v, space, where = values[d.name], d.space, d.origin
            if self.con.execute(f"SELECT 1 FROM e_{asset.name} WHERE {quote_ident(d.name)} = ? LIMIT 1",
                                [v]).fetchone():
                continue
            shown = quote_value(v)
            if isinstance(space, TimeWindows):
                out.append((where, _outside_window(space, d.name, v, self.now)))
            else:
                out.append((where, f"{d.name} {shown} is not among {describe_space(space)}"))
        return out

    # -- texts ---------------------------------------------------------------------------------
    def place(self, asset: Asset, values: dict[str, str], present: bool) -> str:
        """Where the observer found the partition, or looked and found nothing, in the asset's own terms."""
        loc = asset.location
        if isinstance(loc, TableLocation):
            rows = "rows" if present else "no rows"
            cond = " and ".join(f"{loc.columns.get(d, d)}={quote_value(values[d])}" for d in asset.dims)
            return f"{rows} with {cond} in table {loc.table}" if cond else f"table {loc.table} has {rows}"
        if isinstance(loc, FilesLocation):
            return f"{'file' if present else 'no file'} {fill_template(loc.template, asset, values)}"
        if isinstance(loc, CommandLocation):
            return f"{'listed' if present else 'not listed'} by `{' '.join(loc.argv)}`"
        if isinstance(loc, ReportedLocation):
            return "reported present by `setpoint report`" if present else "not reported present"
        return "observed" if present else "not observed"


def _cols(asset: Asset, alias: str) -> str:
    return ", ".join(f"{alias}.{quote_ident(c)}" for c in key_columns(asset))


def fill_template(template: str, asset: Asset, values: dict[str, str]) -> str:
    """A file template with one partition's values in it: ``data/csv/{day:%Y/%m}/{campaign}.csv`` → a path."""
    from .adapters.files import _PLACEHOLDER

    def one(m) -> str:
        name, fmt = m.group(1), m.group(2)
        value = values.get(name, m.group(0))
        if fmt and name in asset.dims and isinstance(asset.dimension(name).space, TimeWindows):
            space = asset.dimension(name).space
            return datetime.strptime(value, space.format).strftime(fmt)
        return value

    return _PLACEHOLDER.sub(one, template)


def _outside_window(space: TimeWindows, dim: str, value: str, now: datetime) -> str:
    """Why a time value is not an expected window: not canonical, before the start, after the end,
    not closed yet, or an hour the clocks skip."""
    shown = quote_value(value)
    try:
        moment = datetime.strptime(value, space.format)
    except ValueError:
        moment = None
    if moment is None or space.value(moment) != value:
        return f"{shown} is not a {space.grain} window (they are written like {space.value(space.start)})"
    if moment < floor(space.start, space.grain):
        return f"{dim} {shown} is before {space.value(space.start)}, where {dim} starts"
    if space.end is not None and moment > floor(space.end, space.grain):
        return f"{dim} {shown} is after {space.value(space.end)}, where {dim} ends"
    when = closes_at(space, value)
    if when > now:
        return f"the window {shown} is expected from {clock(when)}, once it has closed (lag included)"
    if space.grain == "hourly" and space.timezone != "UTC":
        return f"the hour {shown} does not exist in {space.timezone}: the clocks skip it"
    return f"{shown} is not an expected window of {dim}"


def closes_at(space: TimeWindows, value: str) -> datetime:
    """When a window is expected: its end plus the lag, in UTC."""
    start = datetime.strptime(value, space.format)
    end = shift(start, space.grain, 1).replace(tzinfo=ZoneInfo(space.timezone)) + space.lag
    return end.astimezone(timezone.utc)


def declares(asset: Asset) -> str:
    """The declaration that makes an asset's partitions expected: ``day: daily from 2024-01-01 (lag 2h)``."""
    if not asset.dims:
        return f"{asset.name}, unpartitioned: its one partition is always expected"
    return "; ".join(f"{d.name}: {describe_space(d.space)}" for d in asset.dimensions)


def describe_space(space: object) -> str:
    if isinstance(space, TimeWindows):
        text = f"{space.grain} from {space.value(space.start)}"
        text += f" to {space.value(space.end)}" if space.end is not None else " to now"
        if space.lag:
            text += f", each window expected {_duration(space.lag)} after it closes"
        if space.timezone != "UTC":
            text += f" ({space.timezone})"
        return text
    if isinstance(space, StaticValues):
        shown = ", ".join(quote_value(v) for v in space.values[:5]) + (", …" if len(space.values) > 5 else "")
        return f"the {len(space.values)} listed values ({shown})"
    if isinstance(space, TableValues):
        return f"the values of {space.table}.{space.column}"
    if isinstance(space, FileValues):
        return f"the values listed in {space.display}"
    return "unknown values"


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    parts = [(seconds // 86400, "d"), (seconds % 86400 // 3600, "h"), (seconds % 3600 // 60, "m")]
    return "".join(f"{n}{u}" for n, u in parts if n) or f"{seconds}s"
