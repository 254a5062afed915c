"""Load a project directory: ``setpoint.yaml``, asset files, rule files → :class:`Project`.

Every problem in every file is collected and raised together as one
:class:`ConfigError`, so ``setpoint validate`` can list them all.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..errors import ConfigError, Problem
from .assets import ASSET_KEYS, read_asset
from .graph import link
from .model import ApplySettings, Asset, ObserveSettings, Project, ReportedLocation, Schedule, SolverLimits
from .policy import read_schedule
from .schema import NAME, Reader, suggest
from .yamlfile import Mapping, Scalar, Sequence, read_yaml

PROJECT_FILE = "setpoint.yaml"
PROJECT_KEYS = ("name", "description", "warehouse", "state", "timezone", "assets", "rules", "solver", "apply", "observe", "pools",
                "schedule", "guardrails")


def find_root(path: str | Path) -> Path:
    """The project directory: ``path`` itself if it holds setpoint.yaml, else the error says how to make one."""
    root = Path(path).resolve()
    if root.is_file() and root.name == PROJECT_FILE:
        root = root.parent
    if not (root / PROJECT_FILE).is_file():
        raise ConfigError(
            f"no {PROJECT_FILE} in {root}",
            hint="pass the project directory with -p DIR, or create one with `setpoint init DIR`",
        )
    return root


def _paths(spec: object, r: Reader, root: Path, default: str, suffixes: tuple[str, ...], key: str) -> list[Path]:
    """Files named by a project key: files, directories (searched recursively) or globs."""
    entries = [default] if spec is None else [str(s) for s in r.strings(spec, f"{key!r} of the project")]
    found: list[Path] = []
    for entry in entries:
        path = root / entry
        if any(ch in entry for ch in "*?["):
            found += sorted(p for p in root.glob(entry) if p.is_file() and p.suffix in suffixes)
        elif path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in suffixes)
        elif path.is_file():
            found.append(path)
        elif spec is not None:
            r.problem(f"{key} path {entry!r} does not exist", spec, hint="paths are relative to the project directory")
    return found


def _asset_docs(body: object, r: Reader) -> list[object]:
    """The asset declarations of one file: a mapping, a list of them, or a list under ``assets:``."""
    if body is None:
        return []
    if isinstance(body, Mapping) and "assets" in body and "name" not in body:
        docs = body["assets"]
        if not isinstance(docs, Sequence):
            r.problem("'assets' must be a list of asset mappings", docs if docs is not None else body,
                      hint="write each asset as a `- name: ...` item")
            return []
        return list(docs)
    if isinstance(body, Sequence):
        return list(body)
    return [body]


def _read_asset_file(file: Path, display: str, root: Path, timezone: str, assets: dict[str, Asset],
                     broken: set[str], problems: list[Problem]) -> None:
    """Read the assets one file declares into ``assets``; names of unusable ones go to ``broken``."""
    try:
        body = read_yaml(file, display)
    except ConfigError as exc:
        problems += exc.problems
        return
    r = Reader(display, problems)
    for item in _asset_docs(body, r):
        m = r.mapping(item, "an asset", body)
        if m is None:
            continue
        asset = read_asset(m, r, root, timezone)
        if asset is None:
            name = m.get("name")
            if isinstance(name, Scalar) and NAME.fullmatch(name):
                broken.add(str(name))
            continue
        if asset.name in assets:
            r.problem(f"asset {asset.name!r} is declared twice", m.get("name", m),
                      hint=f"the first declaration is at {assets[asset.name].origin}; rename or remove one")
            continue
        assets[asset.name] = asset


def load_project(path: str | Path = ".") -> Project:
    """Read and validate a whole project; raises ConfigError listing every problem found."""
    root = find_root(path)
    problems: list[Problem] = []
    r = Reader(PROJECT_FILE, problems)
    doc = read_yaml(root / PROJECT_FILE, PROJECT_FILE)
    if doc is None:
        doc = Mapping()
        doc.line, doc.key_lines = 1, {}
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{PROJECT_FILE} must be a mapping of settings", file=PROJECT_FILE, line=1,
                          hint="see docs/yaml-reference.md")
    r.keys(doc, PROJECT_KEYS, PROJECT_FILE,
           elsewhere=(ASSET_KEYS, "in an asset file under assets/, not in setpoint.yaml"))
    name = str(r.string(doc, "name", PROJECT_FILE) or root.name)
    timezone = str(r.string(doc, "timezone", PROJECT_FILE) or "UTC")
    from .assets import _valid_timezone

    if not _valid_timezone(timezone):
        r.problem(f"unknown timezone {timezone!r}", doc.get("timezone"), hint="use an IANA name such as UTC")
        timezone = "UTC"
    warehouse = root / str(r.string(doc, "warehouse", PROJECT_FILE) or "warehouse.duckdb")
    state = root / str(r.string(doc, "state", PROJECT_FILE) or ".setpoint/state.db")

    assets: dict[str, Asset] = {}
    broken: set[str] = set()
    for file in _paths(doc.get("assets"), r, root, "assets", (".yaml", ".yml"), "assets"):
        display = str(file.relative_to(root)) if file.is_relative_to(root) else str(file)
        _read_asset_file(file, display, root, timezone, assets, broken, problems)
    for n, a in list(assets.items()):  # reported assets read the state store
        if isinstance(a.location, ReportedLocation):
            assets[n] = replace(a, location=ReportedLocation(state))
    limits = SolverLimits()
    if doc.get("solver") is not None:
        sm = r.mapping(doc["solver"], "'solver' of the project", doc)
        if sm is not None:
            r.keys(sm, ("memory_mb", "timeout_s"), "'solver'")
            limits = SolverLimits(r.integer(sm, "memory_mb", "'solver'", 2048, minimum=64),
                                  float(r.integer(sm, "timeout_s", "'solver'", 60, minimum=1)))
    settings = ApplySettings()
    if doc.get("apply") is not None:
        am = r.mapping(doc["apply"], "'apply' of the project", doc)
        if am is not None:
            r.keys(am, ("concurrency", "retry_wait"), "'apply'")
            settings = ApplySettings(r.integer(am, "concurrency", "'apply'", 4, minimum=1),
                                     r.duration(am, "retry_wait", "'apply'") if "retry_wait" in am
                                     else ApplySettings.retry_wait)
    observe = ObserveSettings()
    if doc.get("observe") is not None:
        om = r.mapping(doc["observe"], "'observe' of the project", doc)
        if om is not None:
            r.keys(om, ("relist",), "'observe'")
            if "relist" in om:
                observe = ObserveSettings(r.duration(om, "relist", "'observe'"))
    schedule = read_schedule(doc, r, PROJECT_FILE)
    _check_pools(assets, schedule, problems)
    rule_files = _paths(doc.get("rules"), r, root, "rules", (".lp",), "rules")
    ordered = link(assets, problems, broken - set(assets))
    if problems:
        error = ConfigError(problems[0].message, problems=_sorted(problems))
        error.rule_files = tuple(rule_files)  # so that validate can check the rules in the same run
        raise error
    return Project(
        name=name,
        root=root,
        config_file=PROJECT_FILE,
        warehouse=warehouse,
        state=state,
        timezone=timezone,
        assets=ordered,
        rule_files=tuple(rule_files),
        limits=limits,
        apply=settings,
        observe=observe,
        schedule=schedule,
    )


def _check_pools(assets: dict[str, Asset], schedule: Schedule, problems: list[Problem]) -> None:
    """Every pool an action names is declared in setpoint.yaml (``default`` always exists)."""
    for asset in assets.values():
        action = asset.action
        if action is None or action.pool == "default" or action.pool in schedule.pools:
            continue
        declared = ", ".join(sorted(schedule.pools)) or "none"
        problems.append(Problem(f"the action of asset {asset.name!r} names pool {action.pool!r}, which is not "
                                "declared", action.origin.file if action.origin else None,
                                action.origin.line if action.origin else None,
                                (f"{suggest(action.pool, schedule.pools)} or" if suggest(action.pool, schedule.pools)
                                 else f"declared pools: {declared};")
                                + f" declare it in setpoint.yaml: `pools: {{{action.pool}: 4}}`"))


def _sorted(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in sorted(problems, key=lambda p: (p.file or "", p.line or 0)):
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out
