"""Checks across assets: dependencies name real assets, mappings fit both sides,
no cycles; and the dependency order every later stage walks in.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import Problem
from .model import Asset, Dependency, Mapping
from .schema import suggest
from .timewindows import TimeWindows


def _problem(problems: list[Problem], dep_or_asset, message: str, hint: str | None = None) -> None:
    o = dep_or_asset.origin
    problems.append(Problem(message, o.file, o.line, hint))


def _same_kind(a: Asset, b: Asset, dim: str) -> bool:
    sa, sb = a.dimension(dim).space, b.dimension(dim).space
    if isinstance(sa, TimeWindows) or isinstance(sb, TimeWindows):
        return isinstance(sa, TimeWindows) and isinstance(sb, TimeWindows) and sa.grain == sb.grain
    return True


def resolve_mapping(a: Asset, b: Asset, dep: Dependency, problems: list[Problem]) -> Mapping | None:
    """Fill in the default mapping and check the mapping against both assets' dimensions."""
    m = dep.mapping
    da, db = set(a.dims), set(b.dims)
    where = f"{a.name} → {b.name}"
    if m.kind == "default":
        if da == db:
            m = Mapping("identity")
        else:
            m = Mapping("on", on=tuple(d for d in b.dims if d in da)) if da & db else Mapping("all")
    if m.kind == "identity" and da != db:
        shared = [d for d in b.dims if d in da]
        _problem(problems, dep, f"identity mapping {where} needs the same dimensions "
                 f"({', '.join(a.dims) or 'none'} vs {', '.join(b.dims) or 'none'})",
                 hint=f"use `mapping: {{on: [{', '.join(shared)}]}}`" if shared else "use `mapping: all`")
        return None
    if m.kind == "on":
        for d in m.on:
            if d not in da or d not in db:
                _problem(problems, dep, f"mapping {where} matches on {d!r}, which "
                         f"{'is not a dimension of ' + (a.name if d not in da else b.name)}",
                         hint=f"shared dimensions: {', '.join(sorted(da & db)) or 'none'}")
                return None
    if m.kind == "offset":
        times = [d.name for d in b.time_dimensions if d.name in da]
        dim = m.dimension or (times[0] if len(times) == 1 else None)
        if dim is None or dim not in times:
            _problem(problems, dep, f"offset mapping {where} needs a time dimension both assets have",
                     hint="name it with `dimension: day`" if len(times) > 1 else None)
            return None
        rest = [d for d in b.dims if d != dim]
        if any(d not in da for d in rest):
            _problem(problems, dep, f"offset mapping {where}: {b.name} has dimensions {a.name} lacks",
                     hint="offset keeps every other dimension equal")
            return None
        m = replace(m, dimension=dim)
    for d in (m.on if m.kind == "on" else (m.dimension,) if m.kind == "offset" else ()):
        if not _same_kind(a, b, d):
            _problem(problems, dep, f"mapping {where} matches {d!r}, but its windows differ between the two assets",
                     hint="matched time dimensions must have the same grain (hourly, daily, monthly)")
            return None
    if m.kind == "identity":
        for d in a.dims:
            if not _same_kind(a, b, d):
                _problem(problems, dep, f"identity mapping {where}: dimension {d!r} differs in kind or grain")
                return None
    return m


def link(assets: dict[str, Asset], problems: list[Problem]) -> dict[str, Asset]:
    """Resolve every dependency and return the assets in dependency order (upstream first)."""
    resolved: dict[str, Asset] = {}
    for a in assets.values():
        deps = []
        for dep in a.dependencies:
            b = assets.get(dep.asset)
            if b is None:
                _problem(problems, dep, f"asset {a.name!r} depends on unknown asset {dep.asset!r}",
                         hint=suggest(dep.asset, assets) or f"known assets: {', '.join(sorted(assets))}")
                continue
            if b.name == a.name and not (dep.mapping.kind == "offset" and all(o < 0 for o in dep.mapping.offsets)):
                _problem(problems, dep, f"asset {a.name!r} depends on itself",
                         hint="only a previous window may be needed: `mapping: {offset: -1}`")
                continue
            mapping = resolve_mapping(a, b, dep, problems)
            if mapping is not None:
                deps.append(replace(dep, mapping=mapping))
        action = a.action
        if action is not None and action.batch_max > 1:
            times = [d.name for d in a.time_dimensions if d.name in action.grain]
            bd = action.batch_dimension or (times[0] if len(times) == 1 else None)
            if bd is None or bd not in times:
                _problem(problems, action, f"batch of asset {a.name!r} needs a time dimension of its grain",
                         hint="name it with `batch: {dimension: day, max: 31}`")
            action = replace(action, batch_dimension=bd)
        resolved[a.name] = replace(a, dependencies=tuple(deps), action=action)
    return _order(resolved, problems)


def _order(assets: dict[str, Asset], problems: list[Problem]) -> dict[str, Asset]:
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []
    reported: set[frozenset[str]] = set()

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for dep in assets[name].dependencies:
            if dep.asset == name:
                continue  # a previous window of itself: not a cycle between partitions
            s = state.get(dep.asset)
            if s == 1:
                cycle = stack[stack.index(dep.asset):] + [dep.asset]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    _problem(problems, dep, f"dependency cycle: {' → '.join(cycle)} (→ reads 'depends on')",
                             hint="an asset cannot need itself through others; remove one of these dependencies")
            elif s is None:
                visit(dep.asset)
        stack.pop()
        state[name] = 2
        order.append(name)

    for name in sorted(assets):
        if name not in state:
            visit(name)
    return {n: assets[n] for n in order}
