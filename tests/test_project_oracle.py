"""Two engines agree on whole projects: setpoint's plan against the oracle fed from the declarations.

Hypothesis draws a project — 1–4 file assets partitioned by day (1–3 days)
and maybe by region, each needing earlier ones through identity, ``on: [day]``,
the previous day or all of them — and an observed state: files present with
times that often tie (only an upstream strictly newer makes it outdated),
failed attempts on record, leases live or expired, pauses, rule blocks. The
oracle computes the expected partitions, the dependency edges and the
conditions in plain Python from the same declarations (not from setpoint's
DuckDB frontier), derives statuses with the pyDatalog rules of
``tests/oracle``, and must agree with ``setpoint plan`` on every partition's
status and reason kinds. A failing example is written out as a runnable
project directory.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from setpoint import plan
from setpoint.partition import format_key
from setpoint.project.loader import load_project
from setpoint.state import StateStore

pytest.importorskip("pyDatalog")
from tests.failing import keep  # noqa: E402
from tests.oracle.datalog import Facts, derive  # noqa: E402

EXAMPLES = 150 if os.environ.get("SETPOINT_LONG") else 25
NOW = datetime(2024, 4, 1, 12, 0, tzinfo=timezone.utc)
REGIONS = ("eu", "us")


@dataclass(frozen=True)
class Asset:
    name: str
    regional: bool
    acts: bool
    deps: tuple[tuple[int, str], ...]  # (upstream index, mapping)


@dataclass(frozen=True)
class World:
    days: int
    assets: tuple[Asset, ...]
    present: dict  # (asset, key) → minutes after 2024-03-20 (often equal)
    failed: dict   # (asset, key) → attempts
    leases: dict   # (asset, key) → live?
    paused: frozenset[str]
    blocked: frozenset[tuple[str, str]]


def keys(a: Asset, days: int) -> list[tuple[str, dict[str, str]]]:
    out = []
    for d in range(days):
        day = f"2024-03-0{d + 1}"
        for region in (REGIONS if a.regional else (None,)):
            values = {"region": region, "day": day} if region else {"day": day}
            out.append((format_key(list(values), list(values.values())), values))
    return out


@st.composite
def worlds(draw) -> World:
    days = draw(st.integers(1, 3))
    assets: list[Asset] = []
    for i in range(draw(st.integers(1, 4))):
        regional = draw(st.booleans())
        deps = []
        for up in sorted(set(draw(st.lists(st.integers(0, i - 1), max_size=2)) if i else [])):
            options = ["on_day", "all", "previous"]
            if assets[up].regional == regional:
                options.append("identity")
            if assets[up].regional and not regional:
                options.remove("previous")  # a previous-day mapping keeps the upstream's other dimensions
            deps.append((up, draw(st.sampled_from(options))))
        assets.append(Asset(f"a{i}", regional, draw(st.integers(0, 4)) > 0, tuple(deps)))
    everyone = [(a.name, k) for a in assets for k, _ in keys(a, days)]
    present_nodes = [n for n in everyone if draw(st.booleans())]
    minutes = [draw(st.integers(0, 2)) for _ in present_nodes]  # ties too: the same time is not "after"
    present = {n: m for n, m in zip(present_nodes, minutes)}
    failed, leases, blocked = {}, {}, set()
    for n in everyone:
        if n not in present and draw(st.integers(0, 3)) == 0:
            failed[n] = draw(st.integers(1, 3))
        if draw(st.integers(0, 6)) == 0:
            leases[n] = draw(st.booleans())
        if draw(st.integers(0, 8)) == 0:
            blocked.add(n)
    paused = frozenset(a.name for a in assets if draw(st.integers(0, 6)) == 0)
    return World(days, tuple(assets), present, failed, leases, paused, frozenset(blocked))


def write(w: World, root: Path) -> None:
    (root / "assets").mkdir(parents=True)
    (root / "rules").mkdir()
    (root / "setpoint.yaml").write_text("name: oracle\n")
    for a in w.assets:
        lines = [f"name: {a.name}", f"files: data/{a.name}/" + ("{region}/" if a.regional else "") + "{day}.csv",
                 "partitions:"]
        if a.regional:
            lines.append(f"  region: [{', '.join(REGIONS)}]")
        lines.append(f"  day: {{daily: {{start: 2024-03-01, end: 2024-03-0{w.days}}}}}")
        if a.deps:
            lines.append("depends_on:")
            for up, mapping in a.deps:
                target = w.assets[up].name
                lines.append({"identity": f"  - {target}",
                              "on_day": f"  - {{asset: {target}, mapping: {{on: [day]}}}}",
                              "previous": f"  - {{asset: {target}, mapping: {{previous: 1, dimension: day}}}}",
                              "all": f"  - {{asset: {target}, mapping: all}}"}[mapping])
        if a.acts:
            lines += ["action:", "  shell: [make-it]", "  max_attempts: 2", "  backoff: 0s"]
        (root / "assets" / f"{a.name}.yaml").write_text("\n".join(lines) + "\n")
    rules = [f'block({a}, "{k}", "held by a rule").' for a, k in sorted(w.blocked)]
    (root / "rules" / "blocks.lp").write_text("\n".join(rules) + "\n" if rules else "% none\n")
    by_name = {a.name: a for a in w.assets}
    for (name, key), minute in w.present.items():
        values = dict(keys(by_name[name], w.days))[key]
        path = root / "data" / name / (f"{values['region']}/" if "region" in values else "") / f"{values['day']}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
        moment = (datetime(2024, 3, 20, tzinfo=timezone.utc) + timedelta(minutes=minute)).timestamp()
        os.utime(path, (moment, moment))
    project = load_project(root)
    with StateStore(project.state) as store:
        for (name, key), n in w.failed.items():
            action = project.assets[name].action
            if action is not None:
                values = list(dict(keys(by_name[name], w.days))[key].values())
                store.record_failure(name, [(key, values)], "r-0", "exit 1: it broke", action.version, attempts=n)
        for (name, key), live in w.leases.items():
            values = list(dict(keys(by_name[name], w.days))[key].values())
            start = NOW - timedelta(hours=1)
            store.start_run(name, "shell", f"{name}[{key}]", [key], "v", 1, at=start, lease=[(key, values)],
                            deadline=NOW + timedelta(hours=1 if live else -0.5), owner=None)
        for name in sorted(w.paused):
            store.pause(name, None, "maintenance", "ada", at=NOW - timedelta(hours=2))


def oracle_facts(w: World, root: Path) -> Facts:
    """The solver's input over the whole space, from the declarations and the world — no DuckDB."""
    project = load_project(root)
    by_index = {i: a for i, a in enumerate(w.assets)}
    f = Facts(assets={a.name for a in w.assets}, has_action={a.name for a in w.assets if a.acts})
    space = {a.name: keys(a, w.days) for a in w.assets}
    for a in w.assets:
        for up, mapping in a.deps:
            b = by_index[up]
            if mapping == "all":
                f.needs_all.add((a.name, b.name))
                continue
            for (p, pv), (q, qv) in itertools.product(space[a.name], space[b.name]):
                if mapping == "identity" and pv == qv or mapping == "on_day" and pv["day"] == qv["day"]:
                    f.depends.add((a.name, p, b.name, q))
                elif mapping == "previous":
                    before = (datetime.strptime(pv["day"], "%Y-%m-%d") - timedelta(days=1)).strftime("%Y-%m-%d")
                    if qv["day"] == before and all(pv.get(d) == v for d, v in qv.items() if d != "day"):
                        f.depends.add((a.name, p, b.name, q))
    for a in w.assets:
        for p, _ in space[a.name]:
            node = (a.name, p)
            f.frontier.add(node)
            if node not in w.present:
                f.absent.add(node)
            else:
                newer = [(w.present[(b, q)], b, q) for x, y, b, q in f.depends if (x, y) == node
                         and (b, q) in w.present and w.present[(b, q)] > w.present[node]]
                for x, b in f.needs_all:
                    if x == a.name:
                        newer += [(w.present[(b, q)], b, q) for q, _ in space[b]
                                  if (b, q) in w.present and w.present[(b, q)] > w.present[node]]
                if newer:
                    _, b, q = max(newer)
                    f.outdated.add((a.name, p, b, q))
            if node in w.failed and a.acts:
                f.failed[node] = w.failed[node]
                f.max_attempts[a.name] = project.assets[a.name].action.max_attempts
            if w.leases.get(node):
                f.leased.add(node)
            if node in w.blocked:
                f.block.add((a.name, p, "held by a rule"))
        if a.name in w.paused:
            f.paused[a.name] = "paused by ada at 2024-04-01 10:00 UTC because maintenance"
    return f


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_plan_agrees_with_the_oracle_fed_from_the_declarations(w: World) -> None:
    root = Path(tempfile.mkdtemp(prefix="setpoint-oracle-")) / "project"
    try:
        write(w, root)
        ours = plan(root, now=NOW, record=False, include_satisfied=True)
        theirs, reasons = derive(oracle_facts(w, root))
        mine = {(s.asset, s.key): (s.status, {r.kind for r in s.reasons}) for s in ours.statuses}
        expected = {n: (s, {k for k, _ in reasons.get(n, ())}) for n, s in theirs.items()}
        if mine != expected:
            keep(root, "replay: setpoint plan -p {root} --now 2024-04-01T12:00Z --all")
            diff = {n: (mine.get(n), expected.get(n)) for n in set(mine) | set(expected)
                    if mine.get(n) != expected.get(n)}
            raise AssertionError(f"setpoint vs oracle: {diff}")
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def _reordered(root: Path) -> None:
    """The same project, declared in another order: every asset in one file, last first; rules reversed
    and split over two files."""
    files = sorted((root / "assets").glob("*.yaml"), reverse=True)
    docs = [f.read_text() for f in files]
    for f in files:
        f.unlink()
    (root / "assets" / "all.yaml").write_text("assets:\n" + "".join(
        "  - " + doc.replace("\n", "\n    ").rstrip() + "\n" for doc in docs))
    rules = (root / "rules" / "blocks.lp").read_text().splitlines()[::-1]
    (root / "rules" / "blocks.lp").write_text("\n".join(rules[: len(rules) // 2]) + "\n% first half\n")
    (root / "rules" / "more.lp").write_text("\n".join(rules[len(rules) // 2:]) + "\n% second half\n")


def _plan_doc(root: Path) -> dict:
    doc = plan(root, now=NOW, record=False, include_satisfied=True).to_json()
    doc.pop("timings")
    doc["schedule"].pop("solve_s")
    return doc


@settings(max_examples=max(3, EXAMPLES // 3), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_the_order_of_files_assets_and_rules_does_not_change_the_plan(w: World) -> None:
    base = Path(tempfile.mkdtemp(prefix="setpoint-order-"))
    try:
        write(w, base / "one")
        write(w, base / "two")
        _reordered(base / "two")
        first, second = _plan_doc(base / "one"), _plan_doc(base / "two")
        assert first == second
    finally:
        shutil.rmtree(base, ignore_errors=True)
