"""Checks across assets: dependencies name real assets, mappings fit both sides,
no cycles; and the dependency order every later stage walks in.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import Problem
from .model import Asset, Dependency, Mapping, UnknownValues
from .schema import suggest
from .timewindows import TimeWindows


def _problem(problems: list[Problem], dep_or_asset, message: str, hint: str | None = None) -> None:
    o = dep_or_asset.origin
    problems.append(Problem(message, o.file, o.line, hint))


def _same_kind(a: Asset, b: Asset, dim: str) -> bool:
    sa, sb = a.dimension(dim).space, b.dimension(dim).space
    if isinstance(sa, UnknownValues) or isinstance(sb, UnknownValues):
        return True  # already reported where it is declared
    if isinstance(sa, TimeWindows) or isinstance(sb, TimeWindows):
        return isinstance(sa, TimeWindows) and isinstance(sb, TimeWindows) and sa.grain == sb.grain
    return True


def resolve_mapping(a: Asset, b: Asset, dep: Dependency, problems: list[Problem]) -> Mapping | None:
    """Fill in the default mapping and check the mapping against both assets' dimensions."""
    m = dep.mapping
    da, db = set(a.dims), set(b.dims)
    where = f"{a.name} → {b.name}"
    if _unsure(a) or _unsure(b):
        return m  # a broken dimension is reported where it is declared; checking against it misleads
    if m.kind == "default":
        if da == db:
            m = Mapping("identity")
        else:
            m = Mapping("on", on=tuple(d for d in b.dims if d in da)) if da & db else Mapping("all")
    if m.kind == "identity" and da != db:
        shared = [d for d in b.dims if d in da]
        _problem(problems, dep, f"identity mapping {where} needs the same dimensions on both sides: "
                 f"{a.name} has {', '.join(a.dims) or 'none'}, {b.name} has {', '.join(b.dims) or 'none'}",
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
            if m.dimension and m.dimension not in times:
                message = f"offset mapping {where} shifts {m.dimension!r}, which is not a time dimension of both"
            else:
                message = f"offset mapping {where} needs a time dimension both assets have"
            if len(times) > 1:
                hint = f"name one with `dimension: {times[0]}` (both have {', '.join(times)})"
            elif times:
                hint = f"use `dimension: {times[0]}`"
            else:
                hint = ("an offset shifts hourly, daily or monthly windows; "
                        "use identity, all or {on: [...]} for other dimensions")
            _problem(problems, dep, message, hint=hint)
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


def _unsure(asset: Asset) -> bool:
    """Whether a dimension of the asset could not be read (its problem is already recorded)."""
    return any(isinstance(d.space, UnknownValues) for d in asset.dimensions)


def link(assets: dict[str, Asset], problems: list[Problem], broken: set[str] | frozenset[str] = frozenset()
         ) -> dict[str, Asset]:
    """Resolve every dependency and return the assets in dependency order (upstream first).

    ``broken`` names assets declared with errors already reported: depending on
    one is not also reported as depending on an unknown asset.
    """
    resolved: dict[str, Asset] = {}
    for a in assets.values():
        deps = []
        for dep in a.dependencies:
            b = assets.get(dep.asset)
            if b is None and dep.asset in broken:
                continue
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
        resolved[a.name] = replace(a, dependencies=tuple(deps))
    return _order(resolved, problems)


def _order(assets: dict[str, Asset], problems: list[Problem]) -> dict[str, Asset]:
    """Assets upstream first; each cycle reported once, at the dependency that closes it.

    Iterative depth-first search: a long chain of assets must not hit Python's recursion limit.
    """
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []
    reported: set[frozenset[str]] = set()

    for root in sorted(assets):
        if root in state:
            continue
        state[root] = 1
        stack.append(root)
        work = [iter(assets[root].dependencies)]
        while work:
            name = stack[-1]
            for dep in work[-1]:
                if dep.asset == name:
                    continue  # a previous window of itself: not a cycle between partitions
                s = state.get(dep.asset)
                if s == 1:
                    _report_cycle(stack[stack.index(dep.asset):] + [dep.asset], dep, reported, problems)
                elif s is None:
                    state[dep.asset] = 1
                    stack.append(dep.asset)
                    work.append(iter(assets[dep.asset].dependencies))
                    break
            else:
                work.pop()
                stack.pop()
                state[name] = 2
                order.append(name)
    return {n: assets[n] for n in order}


def _report_cycle(cycle: list[str], dep: Dependency, reported: set[frozenset[str]],
                  problems: list[Problem]) -> None:
    key = frozenset(cycle)
    if key in reported:
        return
    reported.add(key)
    _problem(problems, dep, f"dependency cycle: {' → '.join(cycle)}, where → reads 'depends on'",
             hint="an asset cannot need itself through others; remove one of these dependencies")
