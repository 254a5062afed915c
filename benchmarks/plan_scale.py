"""Plan at scale: examples/ad_campaigns at N campaigns × D days, against a hand-written DuckDB baseline.

    python benchmarks/plan_scale.py --campaigns 1000 --days 365 --missing 0.02 [--json]

It generates the scenario in bulk (DuckDB computes which partitions exist;
``xargs`` creates the files; the warehouse tables are built by SQL), then, in
this one process:

- makes a plan with every file listed (``relist=True``: the first plan, or one
  after ``observe.relist``), then the plan a cron run makes next, with the file
  inventory in place; the second is split into load, observe, frontier, solve,
  decode, schedule and total, with the facts handed to the solver and the peak
  memory;
- runs a DuckDB SQL baseline that computes the same runnable set from the same
  files and tables (the floor: what a hand-written query costs);
- checks that both runnable sets agree;
- times ``setpoint plan`` as a whole process too (interpreter start and
  imports included).

It prints a table, or with ``--json`` one JSON object (``total_s``,
``baseline_s``, ``ratio``, ``facts``, ``peak_mib``, ``agree``, ``runnable`` and
more). Timings are for the machine it runs on; the ratio to the baseline,
measured in the same run, is what to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent


def _load_scenario():
    """examples/ad_campaigns/scenario.py, loaded from its file (sys.path stays as it is)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ad_campaigns_scenario",
                                                  ROOT / "examples" / "ad_campaigns" / "scenario.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scenario = _load_scenario()

START = date(2024, 1, 1)
FIRST = scenario.FIRST_CAMPAIGN
#: warm plans measured per scenario (their median is reported)
REPEAT = 5


def generate(root: Path, campaigns: int, days: int, missing: float = 0.02, missing_fx: float = 0.1,
             failed: float = 0.0, in_progress: float = 0.0) -> dict[str, int]:
    """Write the project, its files and warehouse; a fraction of CSVs (and what needs them) missing, a
    fraction of those failed for good, another being produced (leased)."""
    scenario.copy_project(root)
    scenario.set_range(root, START, START + timedelta(days=days - 1))
    data = root / "data"
    data.mkdir(exist_ok=True)
    (data / "campaigns.txt").write_text("\n".join(str(FIRST + i) for i in range(campaigns)) + "\n")
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("""CREATE TEMP TABLE grid AS
        SELECT CAST(c AS VARCHAR) AS campaign, CAST(? AS DATE) + CAST(d AS INTEGER) AS day,
               (hash(c, d, 'csv') % 1000000) / 1000000.0 AS r
        FROM range(?, ?) a(c), range(0, ?) b(d)""", [START, FIRST, FIRST + campaigns, days])
    con.execute("""CREATE TEMP TABLE fx AS SELECT CAST(? AS DATE) + CAST(d AS INTEGER) AS day
                   FROM range(0, ?) b(d) WHERE (hash(d, 'fx') % 1000000) / 1000000.0 >= ?""",
                [START, days, missing_fx])
    lists = root / ".bench"
    lists.mkdir(exist_ok=True)
    con.execute(f"COPY (SELECT DISTINCT 'data/csv/' || strftime(day, '%Y-%m-%d') FROM grid WHERE r >= {missing}) "
                f"TO '{lists / 'dirs.txt'}' (HEADER false, QUOTE '')")
    con.execute(f"COPY (SELECT 'data/csv/' || strftime(day, '%Y-%m-%d') || '/' || campaign || '.csv' FROM grid "
                f"WHERE r >= {missing}) TO '{lists / 'files.txt'}' (HEADER false, QUOTE '')")
    for command, listing in (("mkdir -p", "dirs.txt"), ("touch", "files.txt")):
        subprocess.run(f"xargs -r -a {lists / listing} {command}", shell=True, cwd=root, check=True)
    loaded = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=2)
    con.execute("""CREATE TABLE ad_stats AS SELECT campaign, day, 0 AS impressions, 0 AS clicks,
                   CAST(0 AS DOUBLE) AS spend, CAST(? AS TIMESTAMP) AS loaded_at FROM grid WHERE r >= ?""",
                [loaded, missing])
    con.execute("CREATE TABLE fx_rates AS SELECT day, 1.1 AS eur_usd, CAST(? AS TIMESTAMP) AS built_at FROM fx",
                [loaded])
    con.execute("""CREATE TABLE results AS SELECT s.campaign, s.day, CAST(0 AS DOUBLE) AS spend_usd,
                   CAST(? AS TIMESTAMP) AS built_at FROM ad_stats s JOIN fx_rates USING (day)""",
                [loaded + timedelta(seconds=1)])
    # the gap: failed for good (attempts used up) and being produced (a live lease), among the missing CSVs
    gone = con.execute(f"""SELECT campaign, strftime(day, '%Y-%m-%d'), r FROM grid WHERE r < {missing}
                           ORDER BY 2, 1""").fetchall()
    counts = {"csv": con.execute(f"SELECT count(*) FROM grid WHERE r >= {missing}").fetchone()[0],
              "fx_rates": con.execute("SELECT count(*) FROM fx").fetchone()[0]}
    con.close()
    _record(root, gone, missing, failed, in_progress)
    counts["failed"] = sum(1 for *_, r in gone if r < missing * failed)
    counts["in_progress"] = sum(1 for *_, r in gone if missing * failed <= r < missing * (failed + in_progress))
    return counts


def _record(root: Path, gone: list[tuple[str, str, float]], missing: float, failed: float,
            in_progress: float) -> None:
    """Failed and leased CSV partitions, written to the state store in bulk."""
    from setpoint.project.loader import load_project
    from setpoint.state import StateStore

    if not (failed or in_progress):
        return
    version = load_project(root).assets["csv"].action.version
    dead = [(f"campaign={c},day={d}", [c, d]) for c, d, r in gone if r < missing * failed]
    busy = [(f"campaign={c},day={d}", [c, d]) for c, d, r in gone if missing * failed <= r < missing * (failed + in_progress)]
    with StateStore(root / ".setpoint" / "state.db") as store:
        if dead:
            store.record_failure("csv", dead, "r-0", "exit 3: auth failed", version, attempts=3)
        if busy:
            now = datetime.now(timezone.utc)
            store.start_run("csv", "shell", "csv (benchmark)", [k for k, _ in busy], version, 1, lease=busy,
                            deadline=now + timedelta(days=30))


BASELINE = """
WITH files AS (
    SELECT regexp_extract(file, 'data/csv/([^/]+)/([^/]+)\\.csv$', 2) AS campaign,
           regexp_extract(file, 'data/csv/([^/]+)/([^/]+)\\.csv$', 1) AS day
    FROM glob('data/csv/*/*.csv')),
campaigns AS (SELECT trim(column0) AS campaign FROM read_csv('data/campaigns.txt', header = false,
                                                             columns = {'column0': 'VARCHAR'})),
days AS (SELECT strftime(CAST(? AS DATE) + CAST(d AS INTEGER), '%Y-%m-%d') AS day FROM range(0, ?) t(d)),
csv_missing AS (SELECT c.campaign, d.day FROM campaigns c CROSS JOIN days d
                ANTI JOIN files f ON f.campaign = c.campaign AND f.day = d.day),
csv_held AS (SELECT campaign, day FROM held),
fx_missing AS (SELECT d.day FROM days d ANTI JOIN fx_rates r ON strftime(r.day, '%Y-%m-%d') = d.day),
stats AS (SELECT campaign, strftime(day, '%Y-%m-%d') AS day FROM ad_stats),
res AS (SELECT campaign, strftime(day, '%Y-%m-%d') AS day FROM results),
stats_missing AS (SELECT c.campaign, d.day FROM campaigns c CROSS JOIN days d
                  ANTI JOIN stats s ON s.campaign = c.campaign AND s.day = d.day),
res_missing AS (SELECT c.campaign, d.day FROM campaigns c CROSS JOIN days d
                ANTI JOIN res s ON s.campaign = c.campaign AND s.day = d.day)
SELECT 'csv', 'campaign=' || campaign || ',day=' || day FROM csv_missing
  ANTI JOIN csv_held USING (campaign, day)
UNION ALL SELECT 'fx_rates', day FROM fx_missing
UNION ALL SELECT 'ad_stats', 'campaign=' || campaign || ',day=' || day FROM stats_missing
  ANTI JOIN csv_missing USING (campaign, day)
UNION ALL SELECT 'results', 'campaign=' || campaign || ',day=' || day FROM res_missing
  ANTI JOIN stats_missing USING (campaign, day) WHERE day NOT IN (SELECT day FROM fx_missing)
"""


def baseline(root: Path, days: int) -> tuple[float, set[tuple[str, str]]]:
    """The runnable set by one DuckDB query over the same files and tables: (seconds, set)."""
    con = duckdb.connect(":memory:")
    con.execute(f"ATTACH '{root / 'warehouse.duckdb'}' AS w (READ_ONLY)")
    con.execute("USE w")
    con.execute("CREATE TEMP TABLE held (campaign VARCHAR, day VARCHAR)")
    state = root / ".setpoint" / "state.db"
    if state.exists():  # failed for good, or being produced: not runnable
        db = sqlite3.connect(state)
        rows = db.execute("SELECT vals FROM ledger WHERE asset = 'csv' AND attempts >= 3 UNION ALL "
                          "SELECT vals FROM leases WHERE asset = 'csv'").fetchall()
        db.close()
        con.executemany("INSERT INTO held VALUES (?, ?)", [json.loads(v) for (v,) in rows])
    t = time.perf_counter()
    import os

    cwd = os.getcwd()
    os.chdir(root)
    try:
        rows = con.execute(BASELINE, [START, days]).fetchall()
    finally:
        os.chdir(cwd)
    seconds = time.perf_counter() - t
    con.close()
    return seconds, {(a, k) for a, k in rows}


def measure(root: Path, days: int, process: bool = True, repeat: int = REPEAT) -> dict:
    """Plan (in this process) and the baseline; whether they agree; optionally plan as a whole process.

    The warm plan runs ``repeat`` times and the baseline three times, each reported by its median: on a
    shared machine one run may land in a slow moment (±20%); ``totals_s`` lists every warm plan."""
    from setpoint import plan

    from setpoint.adapters.inventory import RACY_S

    now = datetime.combine(START + timedelta(days=days + 1), datetime.min.time(), timezone.utc)
    time.sleep(RACY_S)  # directories written in the last RACY_S seconds are listed again anyway
    t = time.perf_counter()
    plan(root, now=now, record=False, relist=True)  # cold: every file listed, the inventory written
    cold = time.perf_counter() - t
    runs = []
    result = None
    for _ in range(repeat):
        result = None  # one plan's objects alive at a time, as in a cron run
        t = time.perf_counter()
        result = plan(root, now=now, record=False)  # as the next cron run finds it: the inventory in place
        runs.append((time.perf_counter() - t, result.timings))
    assert result is not None
    total, timings = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ours = {(s.asset, s.key) for s in result.statuses if s.runnable}
    bases = [baseline(root, days) for _ in range(3)]
    base_s, theirs = sorted(bases, key=lambda b: b[0])[1]
    out = {"total_s": round(total, 4), "totals_s": sorted(round(r[0], 4) for r in runs), "cold_s": round(cold, 4),
           "baseline_s": round(base_s, 4), "ratio": round(total / base_s, 1),
           "facts": result.facts, "peak_mib": round(peak), "agree": ours == theirs, "runnable": len(ours),
           "baseline_runnable": len(theirs), "actions": len(result.actions),
           "timings": {k: round(v, 4) for k, v in timings.items()}}
    if process:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "setpoint.cli", "plan", "-p", str(root), "--json",
                        "--now", now.isoformat()], capture_output=True, check=True)
        out["process_s"] = round(time.perf_counter() - t, 3)
    _change(root, result)
    time.sleep(RACY_S)
    t = time.perf_counter()
    changed = plan(root, now=now, record=False)
    out["changed_s"] = round(time.perf_counter() - t, 4)
    out["changed_timings"] = {k: round(v, 4) for k, v in changed.timings.items()}
    out["summary"], out["changed_summary"] = result.summary, changed.summary
    return out


def _change(root: Path, result) -> None:
    """What the next cron run finds once the pipeline has done some work: one more CSV downloaded (its
    directory changed) and one day of ``ad_stats`` loaded again (the table changed; that day's
    results are then outdated)."""
    csv = next((values for a in result.actions if a.asset == "csv" for _, values in a.targets), None)
    if csv is not None:
        path = root / "data" / "csv" / csv["day"] / f"{csv['campaign']}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("campaign,day,impressions,clicks,spend\n")
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    try:
        con.execute("UPDATE ad_stats SET loaded_at = (SELECT max(built_at) FROM results) + INTERVAL 1 HOUR "
                    "WHERE day = (SELECT min(day) FROM ad_stats)")
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--campaigns", type=int, default=100)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--missing", type=float, default=0.02, help="fraction of CSVs missing")
    ap.add_argument("--missing-fx", type=float, default=0.1, help="fraction of exchange-rate days missing")
    ap.add_argument("--failed", type=float, default=0.0, help="fraction of the missing CSVs failed for good")
    ap.add_argument("--in-progress", type=float, default=0.0, help="fraction of the missing CSVs being produced")
    ap.add_argument("--dir", type=Path, help="where to build the scenario (default: a temporary directory)")
    ap.add_argument("--repeat", type=int, default=REPEAT, help="warm plans measured (their median is reported)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="setpoint-bench-") as tmp:
        root = args.dir or Path(tmp) / "ads"
        t = time.perf_counter()
        # generated in a child process, so that its memory does not count as the plan's
        subprocess.run([sys.executable, __file__, "--generate", str(root), str(args.campaigns), str(args.days),
                        str(args.missing), str(args.missing_fx), str(args.failed), str(args.in_progress)],
                       check=True)
        generated = time.perf_counter() - t
        out = {"campaigns": args.campaigns, "days": args.days, "partitions": args.campaigns * args.days,
               "missing": args.missing, "missing_fx": args.missing_fx, "failed": args.failed,
               "in_progress": args.in_progress, "generate_s": round(generated, 2),
               **measure(root, args.days, repeat=args.repeat)}
    if args.json:
        print(json.dumps(out))
    else:
        t = out["timings"]
        print(f"ad_campaigns {args.campaigns:,} campaigns × {args.days:,} days = {out['partitions']:,} CSV "
              f"partitions, {args.missing:.1%} missing (generated in {out['generate_s']} s)")
        rows = [("plan (median)", out["total_s"]), ("  load", t["load"]), ("  observe", t["observe"]),
                ("  frontier", t["frontier"]), ("  solve", t["solve"]), ("  decode", t["decode"]),
                ("  schedule", t["schedule"]), ("plan, files listed", out["cold_s"]),
                ("SQL baseline", out["baseline_s"]), ("plan as a process", out.get("process_s")),
                ("plan after a change", out["changed_s"])]
        for name, value in rows:
            print(f"{name:<18} {value:>9.3f} s")
        print(f"ratio {out['ratio']}× · facts {out['facts']:,} · peak {out['peak_mib']:,} MiB · runnable "
              f"{out['runnable']:,} · agree {out['agree']}")
    return 0 if out["agree"] else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        _, _, where, n, d, miss, miss_fx, fail, busy = sys.argv
        generate(Path(where), int(n), int(d), float(miss), float(miss_fx), float(fail), float(busy))
        sys.exit(0)
    sys.exit(main())
