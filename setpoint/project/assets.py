"""Turn one asset's YAML mapping into an :class:`Asset`, recording every problem.

Checks that need other assets (unknown dependencies, mapping dimensions,
cycles) happen in :mod:`setpoint.project.graph` once all assets are read.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from .model import (
    Action,
    Asset,
    CommandLocation,
    Dependency,
    Dimension,
    FilesLocation,
    FileValues,
    Mapping as DepMapping,
    Origin,
    StaticValues,
    TableLocation,
    TableValues,
)
from .schema import NAME, Reader
from .timewindows import GRAINS, TimeWindows
from .yamlfile import Mapping, Scalar, Sequence, line_of

ASSET_KEYS = ("name", "description", "owner", "table", "files", "command", "partitions", "depends_on", "action")
ACTION_KINDS = ("sql", "sql_file", "shell", "python")
ACTION_KEYS = (*ACTION_KINDS, "grain", "batch")


def read_asset(doc: Mapping, r: Reader, root: Path, timezone: str) -> Asset | None:
    """Read one asset declaration; returns None when it is too broken to use."""
    r.keys(doc, ASSET_KEYS, "an asset")
    name = r.name(doc, "name", "an asset", "asset")
    where = f"asset {name!r}" if name else "an asset"
    origin = Origin(r.file, doc.line)
    dimensions = _dimensions(doc, r, root, timezone, where)
    location = _location(doc, r, root, where, [d.name for d in dimensions])
    dependencies = _dependencies(doc, r, where)
    action = _action(doc, r, root, where, [d.name for d in dimensions])
    if name is None or location is None:
        return None
    return Asset(
        name=str(name),
        location=location,
        dimensions=tuple(dimensions),
        dependencies=tuple(dependencies),
        action=action,
        origin=origin,
        description=str(r.string(doc, "description", where) or ""),
        owner=str(r.string(doc, "owner", where) or ""),
    )


def _location(doc: Mapping, r: Reader, root: Path, where: str, dims: list[str]):
    given = [k for k in ("table", "files", "command") if k in doc]
    if len(given) != 1:
        r.problem(
            f"{where} must say where it lives with exactly one of table, files or command"
            + (f" (found {', '.join(given)})" if given else ""),
            doc,
            hint="e.g. `table: daily_totals` or `files: data/{day}.csv`",
        )
        return None
    kind = given[0]
    value = doc[kind]
    if kind == "table":
        if isinstance(value, Scalar):
            return TableLocation(str(value), {d: d for d in dims})
        m = r.mapping(value, f"'table' of {where}", doc)
        if m is None:
            return None
        r.keys(m, ("name", "columns", "updated_at"), f"'table' of {where}")
        table = r.string(m, "name", f"'table' of {where}", required=True)
        columns = {d: d for d in dims}
        cols = m.get("columns")
        if cols is not None:
            cm = r.mapping(cols, f"'columns' of {where}")
            for dim, col in (cm or {}).items():
                if dim not in dims:
                    r.problem(f"'columns' names {dim!r}, which is not a partition dimension of {where}",
                              line=cm.key_lines[dim], hint=f"dimensions are {', '.join(dims) or 'none'}")
                elif isinstance(col, Scalar):
                    columns[dim] = str(col)
        updated = r.string(m, "updated_at", f"'table' of {where}")
        return TableLocation(str(table or ""), columns, str(updated) if updated else None)
    if kind == "files":
        template = r.string(doc, "files", where)
        if template is None:
            return None
        from ..adapters.files import check_template

        for message in check_template(str(template), dims):
            r.problem(f"{message} in files template of {where}", template,
                      hint="use placeholders like {campaign} or {day:%Y/%m/%d}, one per dimension")
        return FilesLocation(str(template), root)
    argv = value
    if isinstance(value, Scalar):
        argv = shlex.split(value)
    else:
        argv = [str(v) for v in r.strings(value, f"'command' of {where}", doc)]
    if not argv:
        r.problem(f"'command' of {where} is empty", doc)
        return None
    return CommandLocation(tuple(argv), root)


def _dimensions(doc: Mapping, r: Reader, root: Path, timezone: str, where: str) -> list[Dimension]:
    spec = doc.get("partitions")
    if spec is None:
        return []
    m = r.mapping(spec, f"'partitions' of {where}", doc)
    if m is None:
        return []
    out = []
    for dim, body in m.items():
        line = m.key_lines[dim]
        if not NAME.fullmatch(dim):
            r.problem(f"bad dimension name {dim!r}", line=line, hint="use lowercase letters, digits and _")
            continue
        dwhere = f"dimension {dim!r} of {where}"
        space = _space(body, r, root, timezone, dwhere, line)
        if space is not None:
            out.append(Dimension(dim, space, Origin(r.file, line)))
    return out


def _space(body: object, r: Reader, root: Path, timezone: str, where: str, line: int):
    if isinstance(body, Sequence):  # shorthand: a plain list of static values
        return StaticValues(tuple(str(v) for v in r.strings(body, where)))
    m = r.mapping(body, where, line)
    if m is None:
        return None
    kinds = [k for k in (*GRAINS, "values", "values_from") if k in m]
    if len(kinds) != 1:
        r.keys(m, (*GRAINS, "values", "values_from"), where)
        r.problem(f"{where} needs exactly one of {', '.join((*GRAINS, 'values', 'values_from'))}", m,
                  hint="e.g. `daily: {start: 2024-01-01}` or `values: [eu, us]`")
        return None
    kind = kinds[0]
    r.keys(m, (kind,), where)
    if kind == "values":
        values = [str(v) for v in r.strings(m["values"], f"'values' of {where}", m)]
        if len(set(values)) != len(values):
            r.problem(f"'values' of {where} lists a value twice", m["values"])
        return StaticValues(tuple(values))
    if kind == "values_from":
        src = r.mapping(m["values_from"], f"'values_from' of {where}", m)
        if src is None:
            return None
        r.keys(src, ("table", "column", "file"), f"'values_from' of {where}")
        if "file" in src:
            f = r.string(src, "file", where, required=True)
            return FileValues((root / str(f)).resolve(), str(f)) if f else None
        table = r.string(src, "table", f"'values_from' of {where}", required=True)
        column = r.string(src, "column", f"'values_from' of {where}", required=True)
        if table is None or column is None:
            return None
        return TableValues(str(table), str(column))
    window = m[kind]
    if isinstance(window, Scalar):  # shorthand: `daily: 2024-01-01`
        window = Mapping({"start": window})
        window.line, window.key_lines = line_of(m[kind]), {"start": line_of(m[kind])}
    w = r.mapping(window, f"{kind!r} of {where}", m)
    if w is None:
        return None
    wwhere = f"{kind!r} of {where}"
    r.keys(w, ("start", "end", "lag", "timezone"), wwhere)
    start = r.moment(w, "start", wwhere, required=True)
    end = None
    end_text = r.string(w, "end", wwhere)
    if end_text is not None and str(end_text) != "now":
        end = r.moment(w, "end", wwhere)
    lag = r.duration(w, "lag", wwhere)
    tz = str(r.string(w, "timezone", wwhere) or timezone)
    if not _valid_timezone(tz):
        r.problem(f"unknown timezone {tz!r} in {wwhere}", w.get("timezone", w), hint="use an IANA name such as UTC or Europe/Berlin")
        tz = "UTC"
    if start is None:
        return None
    if end is not None and end < start:
        r.problem(f"'end' is before 'start' in {wwhere}", w.get("end"))
    return TimeWindows(kind, start, end, lag, tz)


def _valid_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False


def _dependencies(doc: Mapping, r: Reader, where: str) -> list[Dependency]:
    spec = doc.get("depends_on")
    if spec is None:
        return []
    items = spec if isinstance(spec, Sequence) else [spec]
    out = []
    for item in items:
        if isinstance(item, Scalar):
            out.append(Dependency(str(item), DepMapping("default"), Origin(r.file, item.line)))
            continue
        m = r.mapping(item, f"a dependency of {where}", spec)
        if m is None:
            continue
        r.keys(m, ("asset", "mapping"), f"a dependency of {where}")
        asset = r.string(m, "asset", f"a dependency of {where}", required=True)
        mapping = _mapping(m.get("mapping"), r, f"the mapping to {asset!s} in {where}", m)
        if asset is not None and mapping is not None:
            out.append(Dependency(str(asset), mapping, Origin(r.file, m.line)))
    return out


def _mapping(spec: object, r: Reader, where: str, at: Mapping) -> DepMapping | None:
    if spec is None:
        return DepMapping("default")
    if isinstance(spec, Scalar):
        if spec in ("identity", "all"):
            return DepMapping(str(spec))
        r.problem(f"unknown mapping {str(spec)!r} for {where}", spec,
                  hint="use identity, all, {on: [dims]}, {offset: -1} or {previous: N}")
        return None
    m = r.mapping(spec, where, at)
    if m is None:
        return None
    r.keys(m, ("on", "offset", "previous", "dimension"), where)
    if "on" in m:
        return DepMapping("on", on=tuple(str(v) for v in r.strings(m["on"], f"'on' of {where}", m)))
    if "offset" in m or "previous" in m:
        dim = r.string(m, "dimension", where)
        if "offset" in m:
            k = r.integer(m, "offset", where, default=-1)
            if k == 0:
                r.problem(f"'offset' of {where} must not be 0", m.get("offset"), hint="use identity for the same window")
            offsets = (k,)
        else:
            n = r.integer(m, "previous", where, default=1, minimum=1)
            offsets = tuple(range(-1, -n - 1, -1))
        return DepMapping("offset", dimension=str(dim) if dim else None, offsets=offsets)
    r.problem(f"{where} needs one of on, offset or previous", m)
    return None


def _action(doc: Mapping, r: Reader, root: Path, where: str, dims: list[str]) -> Action | None:
    spec = doc.get("action")
    if spec is None:
        return None
    awhere = f"the action of {where}"
    m = r.mapping(spec, awhere, doc)
    if m is None:
        return None
    r.keys(m, ACTION_KEYS, awhere)
    kinds = [k for k in ACTION_KINDS if k in m]
    if len(kinds) != 1:
        r.problem(f"{awhere} needs exactly one of {', '.join(ACTION_KINDS)}", m,
                  hint="e.g. `sql: INSERT INTO ...` or `shell: [python, fetch.py]`")
        return None
    kind = kinds[0]
    definition: str | tuple[str, ...]
    if kind == "shell":
        value = m["shell"]
        definition = tuple(shlex.split(value)) if isinstance(value, Scalar) else tuple(
            str(v) for v in r.strings(value, f"'shell' of {awhere}", m))
    elif kind == "sql_file":
        path = r.string(m, "sql_file", awhere) or ""
        try:
            definition = (root / str(path)).read_text(encoding="utf-8")
        except OSError:
            r.problem(f"cannot read sql_file {str(path)!r} of {awhere}", m.get("sql_file"),
                      hint="the path is relative to the project directory")
            definition = ""
        kind = "sql"
    else:
        definition = str(r.string(m, kind, awhere) or "")
        if kind == "python" and ":" not in definition:
            r.problem(f"'python' of {awhere} must be module:function, got {definition!r}", m.get("python"))
    grain = tuple(dims)
    if "grain" in m:
        grain = tuple(str(g) for g in r.strings(m["grain"], f"'grain' of {awhere}", m))
        for g in grain:
            if g not in dims:
                r.problem(f"'grain' of {awhere} names {g!r}, which is not a dimension", m["grain"],
                          hint=f"dimensions are {', '.join(dims) or 'none'}")
        grain = tuple(d for d in dims if d in grain)  # declared order
    batch_max, batch_dim = 1, None
    if "batch" in m:
        b = r.mapping(m["batch"], f"'batch' of {awhere}", m)
        if b is not None:
            r.keys(b, ("max", "dimension"), f"'batch' of {awhere}")
            batch_max = r.integer(b, "max", f"'batch' of {awhere}", default=1, minimum=1)
            bd = r.string(b, "dimension", f"'batch' of {awhere}")
            batch_dim = str(bd) if bd else None
    return Action(kind, definition, grain, batch_max, batch_dim, Origin(r.file, m.line))
