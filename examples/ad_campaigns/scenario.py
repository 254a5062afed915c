"""Build an ad-campaigns scenario of any size: the project, the files and the warehouse.

    python examples/ad_campaigns/scenario.py DIR --campaigns 1000 --days 365 [--missing-csv 0.02]

Everything is generated in bulk (the sets in DuckDB, one write per CSV file).
Campaign ids are 501, 502, …; the first day is --start. A fraction of the CSVs
(and with them their loaded rows and results) and of the exchange-rate days can
be left missing, chosen by a stable hash so that a scenario is reproducible.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
PROJECT_FILES = ("setpoint.yaml", "assets", "rules", "scripts")
FIRST_CAMPAIGN = 501


def copy_project(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = HERE / name
        if src.is_dir():
            shutil.copytree(src, target / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(src, target / name)


def set_range(target: Path, start: date, end: date) -> None:
    """Rewrite the shared &days window of the pipeline."""
    path = target / "assets" / "pipeline.yaml"
    text = path.read_text()
    text, n = re.subn(r"daily: \{start: [0-9-]+, end: [0-9-]+\}", f"daily: {{start: {start}, end: {end}}}", text)
    assert n == 1, "assets/pipeline.yaml must hold exactly one daily window"
    path.write_text(text)


def empty(target: Path, campaigns: int = 5, days: int = 7, start: date = date(2024, 1, 1)) -> list[str]:
    """Write the project and its campaign list only: nothing downloaded, loaded or built yet."""
    target = Path(target)
    copy_project(target)
    set_range(target, start, start + timedelta(days=days - 1))
    (target / "data").mkdir(exist_ok=True)
    ids = [str(FIRST_CAMPAIGN + i) for i in range(campaigns)]
    (target / "data" / "campaigns.txt").write_text("\n".join(ids) + "\n")
    return ids


def build(target: Path, campaigns: int = 5, days: int = 7, start: date = date(2024, 1, 1),
          missing_csv: float = 0.0, missing_fx: float = 0.0) -> dict[str, int]:
    """Write a converged scenario (minus the requested missing fractions); returns counts."""
    target = Path(target)
    copy_project(target)
    end = start + timedelta(days=days - 1)
    set_range(target, start, end)
    data = target / "data"
    data.mkdir(exist_ok=True)
    ids = [str(FIRST_CAMPAIGN + i) for i in range(campaigns)]
    (data / "campaigns.txt").write_text("\n".join(ids) + "\n")

    con = duckdb.connect(str(target / "warehouse.duckdb"))
    con.execute("""CREATE TEMP TABLE grid AS
        SELECT CAST(c AS VARCHAR) AS campaign, CAST(? AS DATE) + CAST(d AS INTEGER) AS day,
               (hash(c, d, 'csv') % 1000000) / 1000000.0 >= ? AS present
        FROM range(?, ?) a(c), range(0, ?) b(d)""",
                [start, missing_csv, FIRST_CAMPAIGN, FIRST_CAMPAIGN + campaigns, days])
    con.execute("""CREATE TEMP TABLE fx AS SELECT CAST(? AS DATE) + CAST(d AS INTEGER) AS day
                   FROM range(0, ?) b(d) WHERE (hash(d, 'fx') % 1000000) / 1000000.0 >= ?""",
                [start, days, missing_fx])
    rows = con.execute("SELECT campaign, strftime(day, '%Y-%m-%d') FROM grid WHERE present ORDER BY 2, 1").fetchall()
    sys.path.insert(0, str(HERE / "scripts"))
    from adnet import report

    made: set[str] = set()
    for campaign, day in rows:
        folder = data / "csv" / day
        if day not in made:
            folder.mkdir(parents=True, exist_ok=True)
            made.add(day)
        (folder / f"{campaign}.csv").write_text(report(campaign, day))

    loaded = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=1)
    wh = con
    wh.execute("""CREATE OR REPLACE TABLE ad_stats AS
        SELECT campaign, day, 0 AS impressions, 0 AS clicks, CAST(0 AS DOUBLE) AS spend,
               CAST(? AS TIMESTAMP) AS loaded_at FROM grid WHERE present""", [loaded])
    wh.execute("""CREATE OR REPLACE TABLE fx_rates AS
        SELECT day, 1.1 AS eur_usd, CAST(? AS TIMESTAMP) AS built_at FROM fx""", [loaded])
    wh.execute("""CREATE OR REPLACE TABLE results AS
        SELECT s.campaign, s.day, CAST(0 AS DOUBLE) AS spend_usd, CAST(? AS TIMESTAMP) AS built_at
        FROM ad_stats s JOIN fx_rates USING (day)""", [loaded + timedelta(seconds=1)])
    counts = {
        "csv": len(rows),
        "ad_stats": wh.execute("SELECT count(*) FROM ad_stats").fetchone()[0],
        "fx_rates": wh.execute("SELECT count(*) FROM fx_rates").fetchone()[0],
        "results": wh.execute("SELECT count(*) FROM results").fetchone()[0],
    }
    con.close()
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("directory", type=Path)
    ap.add_argument("--campaigns", type=int, default=5)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1))
    ap.add_argument("--missing-csv", type=float, default=0.0)
    ap.add_argument("--missing-fx", type=float, default=0.0)
    args = ap.parse_args(argv)
    counts = build(args.directory, args.campaigns, args.days, args.start, args.missing_csv, args.missing_fx)
    print(", ".join(f"{k}: {v:,}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
