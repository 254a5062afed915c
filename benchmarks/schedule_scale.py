"""Scheduling at scale: N runnable partitions across P pools, against a plain Python greedy baseline.

    python benchmarks/schedule_scale.py --partitions 10000 --pools 5 [--json]

It writes a project in a temporary directory: 2 × P file assets (``--assets``)
partitioned by ``day`` × ``region`` (10 regions), none of whose files exist, so
every partition is missing and runnable. Their actions name the pools (``p1``
… with 4, 8, 2, 10, 6, … slots), some declare an estimate, some a batch or a
coarser grain, and some an SLO (deadline at a clock time or after the window
closes, freshness), so that several urgency levels occur; a rule file raises
the priority of some partitions (``priority/3``). ``now`` is fixed a few hours
after the last window closed.

Three scenarios, each with its own project:

- ``pools``: only the pools bound what starts now;
- ``guardrails``: ``guardrails: {max_actions: 20, max_partitions: 500,
  max_compute: 2h}`` in setpoint.yaml and an asset's own ``max_partitions``
  too, so that budgets bind and the optimization has to prove it;
- ``compute``: only ``guardrails: {max_compute: 100m}``, smaller than what the
  free slots would start: a knapsack, where the optimum may start more runs
  than the greedy does (``agree`` false is then expected, not an error).

For each, in this one process:

- makes a plan (``setpoint.controller.plan``, ``record=False``): its timings
  (load, observe, frontier, solve, decode, schedule, total) and its schedule
  (candidates, solve time, models found, optimality proven, started, queued,
  deferred), the runnable partitions and the SLO states;
- times the scheduling step alone again on the same inputs (``choose`` and,
  within it, the clingo part ``_solve``), ``--repeat`` times, and takes the
  median;
- runs the baseline: the same candidates, shuffled, sorted by the same rank
  key and taken greedily while pool slots and budgets last;
- checks that setpoint starts as many actions as the greedy (``agree``; they
  must when no knapsack-type limit binds) and whether it starts the same ones
  (``same``).

It prints a table, or with ``--json`` one JSON object per scenario (one a line).
It exits 1 when the ``pools`` scenario does not agree with the greedy.
Timings are for the machine it runs on; the ratio to the baseline, measured in
the same run, is what to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

START = date(2024, 1, 1)
REGIONS = 10
CAPACITIES = (4, 8, 2, 10, 6)

#: the project's guardrails of each scenario (and whether the day-grained asset gets its own)
SCENARIOS = {"pools": (None, False),
             "guardrails": ("{max_actions: 20, max_partitions: 500, max_compute: 2h}", True),
             "compute": ("{max_compute: 100m}", False)}

#: the assets' declarations, by index (cycled): (slo, estimate, action extras, comment)
PROFILES = (
    ('{deadline: "08:00"}', "15m", "", "deadline at 08:00 the day after; recent days raised by a rule"),
    ("{freshness: 30h}", "5m", "", "ready within 30 h of the window closing"),
    ('{deadline: "03:30"}', "20m", "", "deadline at 03:30: the last day has minutes to spare"),
    ("{deadline: 2d}", "2m", "", "ready 2 days after the window closes"),
    (None, "10m", "", "no SLO"),
    (None, None, "", "no SLO; one region raised by a rule"),
    ("{freshness: 6h}", None, "", "ready within 6 h of the window closing"),
    (None, "1m", "", "no SLO"),
    (None, "30m", "grain: [day]", "no SLO; one run builds every region of a day"),
    (None, "3m", "batch: {dimension: day, max: 7}", "no SLO; one run covers up to 7 days of a region"),
)


def layout(partitions: int, assets: int) -> int:
    """Days per asset so that assets × regions × days ≥ partitions."""
    return max(1, -(-partitions // (assets * REGIONS)))


def generate(root: Path, partitions: int, pools: int, assets: int, scenario: str,
             time_limit: float | None, capacities: tuple[int, ...] = CAPACITIES) -> dict:
    """Write setpoint.yaml, the asset files and a rule file; no data file exists (all missing)."""
    days = layout(partitions, assets)
    first, last = START, START + timedelta(days=days - 1)
    root.mkdir(parents=True)
    (root / "data").mkdir()
    names = [f"p{i + 1}" for i in range(pools)]
    caps = {p: capacities[i % len(capacities)] for i, p in enumerate(names)}
    project = ["name: schedule_bench", "timezone: UTC", "apply: {concurrency: 4}",
               "pools: {" + ", ".join(f"{p}: {c}" for p, c in caps.items()) + "}"]
    if time_limit is not None:
        project.append(f"schedule: {{time_limit: {time_limit}}}")
    guardrails, own = SCENARIOS[scenario]
    if guardrails:
        project.append(f"guardrails: {guardrails}")
    (root / "setpoint.yaml").write_text("\n".join(project) + "\n")
    regions = ", ".join(f"r{i:02d}" for i in range(REGIONS))
    (root / "assets").mkdir()
    for i in range(assets):
        name = f"a{i + 1}"
        slo, estimate, extra, comment = PROFILES[i % len(PROFILES)]
        out = "{day_from}_{day_to}/{region}" if extra.startswith("batch") else \
            "{day}" if extra.startswith("grain") else "{day}/{region}"
        lines = [f"# {comment}", f"name: {name}", f"files: data/{name}/{{day}}/{{region}}.csv", "partitions:",
                 f"  day: {{daily: {{start: {first}, end: {last}}}}}", f"  region: {{values: [{regions}]}}",
                 "action:", f'  shell: [touch, "out/{name}/{out}.csv"]', f"  pool: {names[i % pools]}"]
        if estimate:
            lines.append(f"  estimate: {estimate}")
        if extra:
            lines.append(f"  {extra}")
        if slo:
            lines.append(f"slo: {slo}")
        if own and extra.startswith("grain"):
            lines.append("guardrails: {max_partitions: 30}")
        (root / "assets" / f"{name}.yaml").write_text("\n".join(lines) + "\n")
    recent = first + timedelta(days=int(days * 0.8))
    rules = ["% the newest fifth of a1's days first, and region r00 of a6 before the rest of a6",
             f'priority(a1, P, 5) :- runnable(a1, P), key(a1, P, day, D), D >= "{recent}".']
    if assets >= 6:
        rules.append('priority(a6, P, 2) :- runnable(a6, P), key(a6, P, region, "r00").')
    (root / "rules").mkdir()
    (root / "rules" / "priority.lp").write_text("\n".join(rules) + "\n")
    now = datetime.combine(last + timedelta(days=1), datetime.min.time(), timezone.utc) + timedelta(hours=3)
    return {"days": days, "partitions": assets * REGIONS * days, "pools": caps, "now": now}


class Capture:
    """Wraps setpoint's schedule step at runtime (nothing in setpoint/ is changed) to keep its inputs."""

    def __init__(self) -> None:
        from setpoint import controller, schedule

        self.controller, self.schedule = controller, schedule
        self.choose_args: tuple | None = None
        self.solve_args: tuple | None = None
        self.forecast_s: float = 0.0
        self._choose, self._solve, self._forecast = controller.choose, schedule._solve, schedule.forecast

    def __enter__(self) -> Capture:
        def choose(project, frontier, result, plan, now, spent=None, confirmed=False):
            # the plan's actions and statuses as choose saw them (the controller replaces them after)
            self.choose_args = (project, frontier, result, replace(plan, actions=list(plan.actions),
                                                                  statuses=list(plan.statuses)), now, spent, confirmed)
            return self._choose(project, frontier, result, plan, now, spent, confirmed)

        def solve(project, candidates, free, spent, out):
            self.solve_args = (project, list(candidates), dict(free), spent)
            return self._solve(project, candidates, free, spent, out)

        def forecast(*args, **kwargs):
            t = time.perf_counter()
            try:
                return self._forecast(*args, **kwargs)
            finally:
                self.forecast_s = time.perf_counter() - t

        self.controller.choose, self.schedule._solve, self.schedule.forecast = choose, solve, forecast
        return self

    def __exit__(self, *exc) -> None:
        self.controller.choose, self.schedule._solve, self.schedule.forecast = \
            self._choose, self._solve, self._forecast


def greedy(project, candidates: list, free: dict[str, int], spent) -> tuple[float, list]:
    """The baseline: sort by setpoint's rank key, then take each candidate whose pool has a slot and
    whose cost fits what is left of every budget. Returns (seconds, the candidates taken)."""
    from setpoint.schedule import _limits, age, time_names

    times = time_names(project)

    shuffled = list(candidates)
    random.Random(0).shuffle(shuffled)
    t = time.perf_counter()
    order = sorted(shuffled, key=lambda c: (-c.level, c.slack if c.slack is not None else float("inf"),
                                            age(times[c.action.asset], c.action.units[0] if c.action.units else {}),
                                            c.action.label))
    slots = dict(free)
    left = {k: v - {"actions": spent.actions, "partitions": spent.partitions, "compute": spent.compute}[k]
            for k, v in _limits(project.schedule.limits)}
    mine = {}
    for name, asset in project.assets.items():
        used = spent.by_asset.get(name, (0, 0, 0.0))
        mine[name] = {k: v - {"actions": used[0], "partitions": used[1], "compute": used[2]}[k]
                      for k, v in _limits(asset.limits)}
    taken = []
    for c in order:
        if slots.get(c.pool, 0) <= 0:
            continue
        cost = {"actions": 1, "partitions": c.action.covers, "compute": c.seconds}
        own = mine.get(c.action.asset, {})
        if any(cost[k] > v for k, v in left.items()) or any(cost[k] > v for k, v in own.items()):
            continue
        slots[c.pool] -= 1
        for k in left:
            left[k] -= cost[k]
        for k in own:
            own[k] -= cost[k]
        taken.append(c)
    return time.perf_counter() - t, taken


def measure(root: Path, now: datetime, repeat: int) -> dict:
    """Plan once; time the schedule step (and its clingo part) alone ``repeat`` times; the greedy baseline."""
    from setpoint.controller import plan
    from setpoint.schedule import Schedule

    with Capture() as cap:
        t = time.perf_counter()
        result = plan(root, now=now, record=False)
        total = time.perf_counter() - t
        forecast_s = cap.forecast_s
    s = result.schedule
    runnable = sum(1 for st in result.statuses if st.runnable)
    slo_states = {k: sum(row[k] for row in result.slo.values()) for k in ("on_track", "at_risk", "violated")}
    project, candidates, free, spent = cap.solve_args or (None, [], {}, None)
    levels: dict[int, int] = {}
    for c in candidates:
        levels[c.level] = levels.get(c.level, 0) + 1
    groups = len({(c.pool, c.action.asset, c.level) for c in candidates})
    # the schedule step alone, on the same inputs: all of choose (forecast, ranking, solve, settle), and _solve
    choose_times, solve_times, solve_stats = [], [], []
    for _ in range(repeat):
        t = time.perf_counter()
        cap._choose(*cap.choose_args)
        choose_times.append(time.perf_counter() - t)
        if not candidates:
            continue
        out = Schedule()
        t = time.perf_counter()
        cap._solve(project, candidates, free, spent, out)
        solve_times.append(time.perf_counter() - t)
        solve_stats.append((out.optimal, out.models, out.solve_s))
    # the baseline, best of `repeat` (it is fast: the minimum is its cost without noise)
    base_runs = [greedy(project, candidates, free, spent) if candidates else (0.0, []) for _ in range(max(1, repeat))]
    base_s, taken = min(base_runs, key=lambda r: r[0])
    started = {a.label for a in s.start}
    ours = {c.action.label for c in candidates if c.action.label in started}
    schedule_med = statistics.median(choose_times) if choose_times else 0.0
    solve_med = statistics.median(solve_times) if solve_times else 0.0
    started_levels: dict[int, int] = {}
    for c in candidates:
        if c.action.label in started:
            started_levels[c.level] = started_levels.get(c.level, 0) + 1
    greedy_levels: dict[int, int] = {}
    for c in taken:
        greedy_levels[c.level] = greedy_levels.get(c.level, 0) + 1
    return {
        "runnable": runnable, "actions": len(cap.choose_args[3].actions), "candidates": s.candidates, "groups": groups,
        "levels": dict(sorted(levels.items(), reverse=True)),
        "solve_s": round(s.solve_s, 4), "schedule_s": round(result.timings.get("schedule", 0.0), 4),
        "forecast_s": round(forecast_s, 4),
        "models": s.models, "optimal": s.optimal, "started": len(s.start), "queued": len(s.queued),
        "deferred": len(s.deferred), "slo_states": slo_states,
        "deferred_by": dict(Counter(d.reason for d in s.deferred).most_common()),
        "started_partitions": sum(a.covers for a in s.start),
        "started_compute_s": round(sum(s.seconds.get(a.label, 0.0) for a in s.start)),
        "baseline_compute_s": round(sum(c.seconds for c in taken)),
        "schedule_median_s": round(schedule_med, 4), "solve_median_s": round(solve_med, 4),
        "repeat_optimal": all(o for o, _, _ in solve_stats), "repeat_models": [m for _, m, _ in solve_stats],
        "baseline_s": round(base_s, 5), "baseline_started": len(taken),
        "ratio": round(schedule_med / base_s, 1) if base_s else None,
        "ratio_solve": round(solve_med / base_s, 1) if base_s else None,
        "agree": len(taken) == len(s.start), "same": {c.action.label for c in taken} == ours,
        "started_levels": dict(sorted(started_levels.items(), reverse=True)),
        "baseline_levels": dict(sorted(greedy_levels.items(), reverse=True)),
        "plan_s": round(total, 4), "timings": {k: round(v, 4) for k, v in result.timings.items()},
        "proof": s.proof,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--partitions", type=int, default=10000, help="runnable partitions in all (rounded up)")
    ap.add_argument("--pools", type=int, default=5)
    ap.add_argument("--assets", type=int, default=None, help="file assets (default: 2 per pool)")
    ap.add_argument("--repeat", type=int, default=5, help="times the schedule step is timed alone")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="schedule.time_limit in setpoint.yaml (default: setpoint's, 1 s)")
    ap.add_argument("--capacities", default=",".join(map(str, CAPACITIES)),
                    help="slots of p1, p2, … (cycled over --pools)")
    ap.add_argument("--scenario", choices=(*SCENARIOS, "all"), default="all")
    ap.add_argument("--dir", type=Path, help="where to write the projects (default: a temporary directory)")
    ap.add_argument("--json", action="store_true", help="print one JSON object per scenario")
    args = ap.parse_args(argv)
    assets = args.assets or 2 * args.pools
    scenarios = tuple(SCENARIOS) if args.scenario == "all" else (args.scenario,)
    rows = []
    with tempfile.TemporaryDirectory(prefix="setpoint-bench-") as tmp:
        base = args.dir or Path(tmp)
        for name in scenarios:
            t = time.perf_counter()
            info = generate(base / name, args.partitions, args.pools, assets, name, args.time_limit,
                            tuple(int(c) for c in args.capacities.split(",")))
            generated = time.perf_counter() - t
            out = {"scenario": name, "partitions": info["partitions"], "pools": len(info["pools"]),
                   "capacity": sum(info["pools"].values()), "assets": assets, "days": info["days"],
                   "now": info["now"].isoformat(), "generate_s": round(generated, 3), "nproc": os.cpu_count(),
                   **measure(base / name, info["now"], args.repeat)}
            rows.append(out)
    if args.json:
        for out in rows:
            print(json.dumps(out))
    else:
        for out in rows:
            t = out["timings"]
            print(f"{out['scenario']}: {out['partitions']:,} partitions ({out['assets']} assets × {REGIONS} regions × "
                  f"{out['days']} days), {out['runnable']:,} runnable, {out['pools']} pools with "
                  f"{out['capacity']} slots; {out['candidates']:,} candidates in {out['groups']} groups, levels "
                  f"{out['levels']}")
            parts = ("load", "observe", "frontier", "solve", "decode", "schedule")
            lines = [("plan total", out["plan_s"])] + [(f"  {k}", t[k]) for k in parts if k in t]
            lines += [("    forecast (SLOs)", out["forecast_s"]), ("    clingo (_solve)", out["solve_s"]),
                      ("schedule alone, median", out["schedule_median_s"]),
                      ("clingo alone, median", out["solve_median_s"]), ("greedy baseline", out["baseline_s"])]
            for label, value in lines:
                print(f"{label:<26} {value:>9.4f} s")
            print(f"models {out['models']} · optimal {out['optimal']} (repeats: {out['repeat_optimal']}) · started "
                  f"{out['started']} · queued {out['queued']:,} · deferred {out['deferred']:,} · SLO "
                  f"{out['slo_states']}")
            print(f"started {out['started_partitions']:,} partitions, {out['started_compute_s']:,} s of compute "
                  f"(greedy: {out['baseline_compute_s']:,} s); deferred by {out['deferred_by'] or 'nothing'}")
            print(f"ratio {out['ratio']}× (clingo alone {out['ratio_solve']}×) · greedy started "
                  f"{out['baseline_started']} · agree {out['agree']} · same {out['same']}\n")
    # where no knapsack-type budget binds, the optimum starts exactly what the greedy starts
    return 0 if all(r["agree"] for r in rows if r["scenario"] == "pools") else 1


if __name__ == "__main__":
    sys.exit(main())
