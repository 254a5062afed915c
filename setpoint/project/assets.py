"""Turn one asset's YAML mapping into an :class:`Asset`, recording every problem.

Checks that need other assets (unknown dependencies, mapping dimensions,
cycles) happen in :mod:`setpoint.project.graph` once all assets are read.
"""

from __future__ import annotations

import ast
import importlib.util
import shlex
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from .action import parameter_names, placeholders, version_of
from .model import (
    DEFAULT_BACKOFF,
    Action,
    Asset,
    CommandLocation,
    Dependency,
    Dimension,
    FilesLocation,
    FileValues,
    Origin,
    ReportedLocation,
    StaticValues,
    TableLocation,
    TableValues,
    UnknownValues,
)
from .model import (
    Mapping as DepMapping,
)
from .policy import read_asset_limits, read_slo
from .schema import NAME, Reader, suggest
from .timewindows import GRAINS, TimeWindows
from .yamlfile import Mapping, Scalar, Sequence, line_of

ASSET_KEYS = ("name", "description", "owner", "table", "files", "command", "reported", "partitions", "depends_on",
              "action", "slo", "guardrails")
ACTION_KINDS = ("sql", "sql_file", "shell", "python")
ACTION_KEYS = (*ACTION_KINDS, "grain", "batch", "max_attempts", "timeout", "backoff", "detach", "version", "pool",
               "estimate")


def read_asset(doc: Mapping, r: Reader, root: Path, timezone: str) -> Asset | None:
    """Read one asset declaration; returns None when it is too broken to use."""
    r.keys(doc, ASSET_KEYS, "an asset")
    name = r.name(doc, "name", "an asset", "asset")
    where = f"asset {name!r}" if name else "an asset"
    origin = Origin(r.file, doc.line)
    dimensions = _dimensions(doc, r, root, timezone, where)
    location = _location(doc, r, root, where, dimensions)
    dependencies = _dependencies(doc, r, where)
    action = _action(doc, r, root, where, dimensions)
    slo = read_slo(doc, r, where, dimensions, timezone)
    limits = read_asset_limits(doc, r, where)
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
        slo=slo,
        limits=limits,
    )


def _location(doc: Mapping, r: Reader, root: Path, where: str, dimensions: list[Dimension]):
    dims = [d.name for d in dimensions]
    given = [k for k in ("table", "files", "command", "reported") if k in doc]
    if len(given) != 1:
        r.problem(
            f"{where} must say where it lives with exactly one of table, files, command or reported"
            + (f" (found {', '.join(given)})" if given else ""),
            doc,
            hint="e.g. `table: daily_totals` or `files: data/{day}.csv`",
        )
        return None
    kind = given[0]
    value = doc[kind]
    if kind == "reported":
        if _truth(value) is not True:
            r.problem(f"'reported' of {where} must be true", value if value is not None else doc,
                      hint="write `reported: true` for an asset whose partitions only `setpoint report` tells about")
            return None
        return ReportedLocation()
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

        for message in check_template(str(template), dims, {d.name for d in dimensions if d.is_time}):
            r.problem(f"{message} in files template of {where}", template, hint=_template_hint(message, dims))
        return FilesLocation(str(template), root)
    argv = _argv(value, r, f"'command' of {where}", doc)
    if not argv:
        if argv is not None:
            r.problem(f"'command' of {where} is empty", value if value is not None else doc,
                      hint="e.g. `command: [python, list_partitions.py]`")
        return None
    return CommandLocation(tuple(argv), root)


def _template_hint(message: str, dims: list[str]) -> str:
    """The fix for a files-template problem: the placeholders it must hold."""
    if not dims:
        return "an asset without partitions names one file, without placeholders"
    wanted = ", ".join("{" + d + "}" for d in dims)
    name = message.split("{", 1)[1].split("}", 1)[0] if message.startswith("placeholder {") else None
    close = suggest(name, dims) if name else None
    return (f"{close} " if close else "") + f"write one placeholder per dimension: {wanted}; " + \
        "a time dimension may carry a format, e.g. {day:%Y/%m/%d}"


def _argv(value: object, r: Reader, where: str, at: object) -> list[str] | None:
    """A command as argv: a list, or one string split like a shell would (no shell runs it).
    None when it cannot be read (the problem is recorded)."""
    if isinstance(value, Scalar):
        try:
            return shlex.split(value)
        except ValueError as exc:  # "No closing quotation"
            r.problem(f"{where} cannot be split into arguments: {str(exc).lower()}", value,
                      hint="close the quote, or write the command as a list: [prog, arg, ...]")
            return None
    if value is None:
        return []
    return [str(v) for v in r.strings(value, where, at)]


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
        if dim == "updated_at":  # beside the key columns, where setpoint keeps each partition's update time
            r.problem("dimension name 'updated_at' is taken: setpoint keeps each partition's update time under it",
                      line=line, hint="choose another name, e.g. updated_day; a table column named updated_at "
                                      "can still hold the dimension: `table: {name: ..., columns: {updated_day: "
                                      "updated_at}}`")
            continue
        dwhere = f"dimension {dim!r} of {where}"
        space = _space(body, r, root, timezone, dwhere, line)
        out.append(Dimension(dim, space, Origin(r.file, line)))
    return out


def _space(body: object, r: Reader, root: Path, timezone: str, where: str, line: int):
    """The dimension's space; an :class:`UnknownValues` (or windows with a stand-in start)
    when its declaration is broken, so that the dimension still exists for later checks."""
    if isinstance(body, Sequence):  # shorthand: a plain list of static values
        return _static([str(v) for v in r.strings(body, where)], r, where, body)
    m = r.mapping(body, where, line)
    if m is None:
        return UnknownValues()
    kinds = [k for k in (*GRAINS, "values", "values_from") if k in m]
    if len(kinds) != 1:
        # an unknown key already says what is wrong ("dayly" → did you mean 'daily'?)
        if r.keys(m, (*GRAINS, "values", "values_from"), where) or kinds:
            r.problem(f"{where} needs exactly one of {', '.join((*GRAINS, 'values', 'values_from'))}"
                      + (f" (found {', '.join(kinds)})" if kinds else ""), m,
                      hint="e.g. `daily: {start: 2024-01-01}` or `values: [eu, us]`")
        return UnknownValues()
    kind = kinds[0]
    r.keys(m, (kind,), where)
    if kind == "values":
        return _static([str(v) for v in r.strings(m["values"], f"'values' of {where}", m)], r, where, m["values"])
    if kind == "values_from":
        return _values_from(m, r, root, where)
    return _windows(kind, m, r, timezone, where)


def _static(values: list[str], r: Reader, where: str, at: object) -> StaticValues:
    """Static values; one listed twice would be two names for one partition."""
    twice = sorted(v for v, n in Counter(values).items() if n > 1)
    if any("\0" in v for v in values):
        r.problem(f"{where} lists a value with a NUL character", at,
                  hint="a partition value reaches commands as an argument or variable, which cannot hold NUL")
    if twice:
        r.problem(f"{where} lists {', '.join(repr(v) for v in twice)} twice", at,
                  hint="each value names one partition; list it once")
    return StaticValues(tuple(dict.fromkeys(values)))


def _values_from(m: Mapping, r: Reader, root: Path, where: str) -> FileValues | TableValues | UnknownValues:
    """Values read from data: a listing file, or the distinct values of a warehouse column."""
    src = r.mapping(m["values_from"], f"'values_from' of {where}", m)
    if src is None:
        return UnknownValues()
    r.keys(src, ("table", "column", "file"), f"'values_from' of {where}")
    if "file" in src and ("table" in src or "column" in src):
        r.problem(f"'values_from' of {where} names both a file and a table", src,
                  hint="read the values either from `file:` or from `table:` and `column:`")
        return UnknownValues()
    if "file" in src:
        f = r.string(src, "file", where, required=True)
        return FileValues((root / str(f)).resolve(), str(f)) if f else UnknownValues()
    table = r.string(src, "table", f"'values_from' of {where}", required=True)
    column = r.string(src, "column", f"'values_from' of {where}", required=True)
    if table is None or column is None:
        return UnknownValues()
    return TableValues(str(table), str(column))


#: stands in for an unreadable start, so the dimension keeps its grain for later checks
_NO_START = datetime(1970, 1, 1)


def _windows(kind: str, m: Mapping, r: Reader, timezone: str, where: str) -> TimeWindows:
    """Time windows of one grain; a broken start keeps the grain (mappings and batches check it)."""
    window = m[kind]
    if isinstance(window, Scalar):  # shorthand: `daily: 2024-01-01`
        window = Mapping({"start": window})
        window.line, window.key_lines = line_of(m[kind]), {"start": line_of(m[kind])}
    w = r.mapping(window, f"{kind!r} of {where}", m)
    if w is None:
        return TimeWindows(kind, _NO_START, None, timedelta(0), timezone)
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
        return TimeWindows(kind, _NO_START, None, lag, tz)
    if end is not None and end < start:
        r.problem(f"'end' is before 'start' in {wwhere}", w.get("end"), hint="the range includes both ends")
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
    kinds = [k for k in ("on", "offset", "previous") if k in m]
    if len(kinds) > 1:
        r.problem(f"{where} names {' and '.join(kinds)}; a mapping is one of them", m,
                  hint="match on dimensions with `on`, or shift a time dimension with `offset` or `previous`")
        return None
    if "on" in m:
        on = tuple(str(v) for v in r.strings(m["on"], f"'on' of {where}", m)) if m["on"] is not None else ()
        return DepMapping("on", on=on) if on else DepMapping("all")  # matching on nothing: every partition
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


def _action(doc: Mapping, r: Reader, root: Path, where: str, dimensions: list[Dimension]) -> Action | None:
    spec = doc.get("action")
    if spec is None:
        return None
    awhere = f"the action of {where}"
    at = doc.key_lines.get("action", doc.line)
    m = r.mapping(spec, awhere, at)
    if m is None:
        return None
    r.keys(m, ACTION_KEYS, awhere)
    kinds = [k for k in ACTION_KINDS if k in m]
    if len(kinds) != 1:
        found = f" (found {' and '.join(kinds)})" if kinds else ""
        r.problem(f"{awhere} needs exactly one of {', '.join(ACTION_KINDS)}{found}", line=at,
                  hint="one action per asset, e.g. `sql: INSERT INTO ...` or `shell: [python, fetch.py]`")
        return None
    kind = kinds[0]
    definition = _definition(kind, m, r, root, awhere)
    if not definition:
        if definition is not None:
            r.problem(f"{kind!r} of {awhere} is empty", line=m.key_lines[kind],
                      hint="say what to run, or leave out `action:` for an asset setpoint only observes")
        return None
    grain = _grain(m, r, awhere, [d.name for d in dimensions])
    batch_max, batch_dim = _batch(m, r, awhere, dimensions, grain)
    timeout = r.duration(m, "timeout", awhere) if "timeout" in m else None
    backoff = r.duration(m, "backoff", awhere) if "backoff" in m else DEFAULT_BACKOFF
    detach = _detach(m, r, awhere, kind)
    declared = r.string(m, "version", awhere)
    pool = r.name(m, "pool", awhere, "pool") if "pool" in m else None
    estimate = r.duration(m, "estimate", awhere) if "estimate" in m else None
    kind = "sql" if kind == "sql_file" else kind
    action = Action(kind, definition, grain, batch_max, batch_dim, Origin(r.file, at),
                    version=version_of(kind, definition, str(declared) if declared is not None else None),
                    max_attempts=r.integer(m, "max_attempts", awhere, default=3, minimum=1),
                    timeout=timeout or None, backoff=backoff, detach=detach, pool=str(pool or "default"),
                    estimate=estimate or None)
    _check_parameters(action, m, r, awhere, kinds[0], root)
    return action


def _check_parameters(action: Action, m: Mapping, r: Reader, awhere: str, key: str, root: Path) -> None:
    """SQL must parse and name only the run's parameters; argv placeholders likewise."""
    allowed = parameter_names(action)
    line = m.key_lines.get(key)
    shown = ", ".join(f"${n}" if action.kind == "sql" else f"{{{n}}}" for n in allowed) or "none"
    if action.kind == "sql":
        try:
            statements = duckdb.extract_statements(str(action.definition))
        except duckdb.Error as exc:
            r.problem(f"the SQL of {awhere} does not parse: {_first_line(exc)}", line=line,
                      hint="check the statement; partition values are $parameters, e.g. $day")
            return
        for st in statements:
            if st.type == duckdb.StatementType.TRANSACTION:
                r.problem(f"the SQL of {awhere} controls the transaction ({st.query.strip().rstrip(';')})", line=line,
                          hint="leave out BEGIN, COMMIT and ROLLBACK: setpoint runs each action in one transaction")
            for name in sorted(set(st.named_parameters) - set(allowed)):
                r.problem(f"the SQL of {awhere} uses ${name}, which is not a parameter of its runs", line=line,
                          hint=_parameter_hint(name, action, allowed, shown, "$"))
        return
    if action.kind == "python":
        problem = _callable_problem(root, str(action.definition))
        if problem:
            r.problem(f"{awhere}: {problem}", line=line,
                      hint="write module:function, the module as a dotted path from the project directory "
                           "(scripts.rates is scripts/rates.py) or an installed module")
        return
    if action.kind == "shell":
        argv = list(action.definition)
        if Path(argv[0]).name in _SCRIPTED and "-c" in argv[1:-1]:
            script = argv[argv.index("-c", 1) + 1]
            for name in placeholders(script):
                r.problem(f"the command of {awhere} puts {{{name}}} inside a {Path(argv[0]).name} -c script, "
                          "where the value would be parsed as code", line=line,
                          hint=f"read it from the environment instead, e.g. \"$SETPOINT_{name.upper()}\" "
                               f"(or sys.argv after the script)")
        for item in action.definition:
            for name in placeholders(item):
                if name not in allowed:
                    r.problem(f"the command of {awhere} uses {{{name}}}, which is not a parameter of its runs",
                              line=line, hint=_parameter_hint(name, action, allowed, shown, "") +
                              f"; write {{{{{name}}}}} for the literal text {{{name}}}")
                elif name.endswith("_values") and item != f"{{{name}}}":
                    r.problem(f"{{{name}}} in the command of {awhere} must be a whole argv item", line=line,
                              hint=f"it expands to one item per value; write it alone, e.g. [..., \"{{{name}}}\"]")


#: programs whose ``-c`` argument is code: a value placed there would be parsed, not passed
_SCRIPTED = {"sh", "bash", "zsh", "dash", "ksh", "fish", "python", "python3"}


def _callable_problem(root: Path, reference: str) -> str | None:
    """Why ``module:function`` does not name a function, checked without running the module."""
    module, _, function = reference.partition(":")
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (OSError, SyntaxError, UnicodeDecodeError) as exc:
                return f"{path.relative_to(root)} cannot be read as Python ({exc})"
            if function not in _top_level_names(tree):
                return f"{path.relative_to(root)} defines no {function!r}"
            return None
    if importlib.util.find_spec(module.split(".")[0]) is None:
        file = "/".join(module.split(".")) + ".py"
        return f"no module {module!r}: neither {file} in the project nor an installed module"
    return None


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _parameter_hint(name: str, action: Action, allowed: dict[str, str], shown: str, sigil: str) -> str:
    if action.batch_dimension and name == action.batch_dimension and action.batch_max > 1:
        d = name
        return f"a batched run covers several {d} values: use {sigil}{d}_from, {sigil}{d}_to or {sigil}{d}_values"
    close = suggest(name, allowed)
    return f"{close} Its parameters are {shown}" if close else f"its parameters are {shown}"


def _first_line(exc: Exception) -> str:
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines[:1]).replace("Parser Error: ", "")


def _truth(value: object) -> bool | None:
    """A YAML true or false (unquoted), or None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Scalar) and not getattr(value, "quoted", False) and str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    return None


def _detach(m: Mapping, r: Reader, awhere: str, kind: str) -> str | None:
    """``detach: true`` (in progress while its process lives) or ``detach: report`` (until a report)."""
    if "detach" not in m or _truth(m["detach"]) is False:
        return None
    value = _truth(m["detach"])
    if value is None:
        value = str(m["detach"])
    if kind != "shell":
        r.problem(f"{awhere}: only shell actions can be detached", line=m.key_lines["detach"],
                  hint="run the work from a shell command, or leave out `detach:`")
        return None
    if value is True:
        return "process"
    if value == "report":
        return "report"
    r.problem(f"'detach' of {awhere} must be true or report", line=m.key_lines["detach"],
              hint="`detach: true`: in progress while the command runs; `detach: report`: until "
                   "`setpoint report` says how it went")
    return None


def _definition(kind: str, m: Mapping, r: Reader, root: Path, awhere: str) -> str | tuple[str, ...] | None:
    """What the action runs: argv for shell, text for sql (sql_file is read now), module:function."""
    if kind == "shell":
        argv = _argv(m["shell"], r, f"'shell' of {awhere}", m)
        return tuple(argv) if argv is not None else None
    if kind == "sql_file":
        path = r.string(m, "sql_file", awhere)
        if path is None:
            return ""
        try:
            return (root / str(path)).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            r.problem(f"cannot read sql_file {str(path)!r} of {awhere}", path,
                      hint="the path is relative to the project directory")
            return None
    text = str(r.string(m, kind, awhere) or "")
    if kind == "python" and text and ":" not in text:
        r.problem(f"'python' of {awhere} must be module:function, got {text!r}", m.get("python"),
                  hint="e.g. `python: pipeline.fetch:run`")
        return None
    return text.strip() and text


def _grain(m: Mapping, r: Reader, awhere: str, dims: list[str]) -> tuple[str, ...]:
    """The dimensions one run is keyed on, in declared order (default: all of them)."""
    if "grain" not in m:
        return tuple(dims)
    grain = [str(g) for g in r.strings(m["grain"], f"'grain' of {awhere}", m)]
    for g in grain:
        if g not in dims:
            r.problem(f"'grain' of {awhere} names {g!r}, which is not a dimension", m["grain"],
                      hint=suggest(g, dims) or f"dimensions are {', '.join(dims) or 'none'}")
    return tuple(d for d in dims if d in grain)


def _batch(m: Mapping, r: Reader, awhere: str, dimensions: list[Dimension],
           grain: tuple[str, ...]) -> tuple[int, str | None]:
    """(max windows per run, the time dimension batched); a batch needs a time dimension of the grain."""
    if "batch" not in m:
        return 1, None
    b = r.mapping(m["batch"], f"'batch' of {awhere}", m)
    if b is None:
        return 1, None
    r.keys(b, ("max", "dimension"), f"'batch' of {awhere}")
    batch_max = r.integer(b, "max", f"'batch' of {awhere}", default=1, minimum=1)
    named = r.string(b, "dimension", f"'batch' of {awhere}")
    times = [d.name for d in dimensions if d.name in grain and (d.is_time or isinstance(d.space, UnknownValues))]
    dim = str(named) if named else (times[0] if len(times) == 1 else None)
    if dim is None or dim not in times:
        if named:
            message = f"'batch' of {awhere} names {dim!r}, which is not a time dimension of its grain"
        elif times:
            message = f"'batch' of {awhere} must name one of its time dimensions ({', '.join(times)})"
        else:
            message = f"'batch' of {awhere} needs a time dimension (hourly, daily or monthly) in its grain"
        r.problem(message, line=m.key_lines["batch"],
                  hint=f"e.g. `batch: {{dimension: {times[0]}, max: 31}}`" if times else
                  "batching runs contiguous windows together; leave out `batch:` for static dimensions")
        return 1, None
    return batch_max, dim
