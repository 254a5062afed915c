"""The ad-campaigns story under `setpoint apply`: the real CLI, real files, real DuckDB, real downloads.

Three campaigns × four days. The downloader is examples/ad_campaigns/scripts/adnet.py,
run as a subprocess; data/adnet_refused.txt makes it refuse a campaign.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("scenario", ROOT / "examples/ad_campaigns/scenario.py")
scenario = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scenario)
_adnet_spec = importlib.util.spec_from_file_location("adnet", ROOT / "examples/ad_campaigns/scripts/adnet.py")
adnet = importlib.util.module_from_spec(_adnet_spec)
_adnet_spec.loader.exec_module(adnet)
_rates_spec = importlib.util.spec_from_file_location("rates", ROOT / "examples/ad_campaigns/scripts/adnet_rates.py")
rates = importlib.util.module_from_spec(_rates_spec)
_rates_spec.loader.exec_module(rates)

NOW = "2024-06-01T00:00Z"
CAMPAIGNS = ["501", "502", "503"]
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
REFUSED = "auth failed: the password changed"


def apply(cli, root: Path, code: int = 0) -> str:
    result = cli("apply", "-p", str(root), "--now", NOW)
    assert result.exit_code == code, result.output
    return result.stdout


def runs(cli, root: Path) -> list[dict]:
    result = cli("history", "-p", str(root), "--json", "--limit", "100000")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["runs"]


def new_runs(cli, root: Path, before: int) -> list[tuple[str, str, str]]:
    """(asset, range, outcome) of the runs since ``before`` runs were on record, in a stable order."""
    return sorted((r["asset"], r["range"], r["outcome"]) for r in runs(cli, root)[before:])


def plan_json(cli, root: Path) -> dict:
    result = cli("plan", "-p", str(root), "--json", "--now", NOW)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def rows(root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def csv_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root / "data/csv").as_posix() for p in (root / "data/csv").rglob("*.csv"))


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    target = tmp_path / "ads"
    scenario.empty(target, campaigns=3, days=4)
    return target


@pytest.fixture(scope="module")
def _converged(tmp_path_factory) -> Path:
    from click.testing import CliRunner

    from setpoint.cli import main

    target = tmp_path_factory.mktemp("converged") / "ads"
    scenario.empty(target, campaigns=3, days=4)
    result = CliRunner().invoke(main, ["apply", "-p", str(target), "--now", NOW])
    assert result.exit_code == 0, result.output
    return target


@pytest.fixture
def converged(_converged: Path, tmp_path: Path) -> Path:
    """A copy of a project one apply brought from empty to converged, run record included."""
    target = tmp_path / "ads"
    shutil.copytree(_converged, target)
    return target


def test_1_from_empty_one_apply_converges(cli, empty: Path) -> None:
    out = apply(cli, empty)
    assert out.splitlines()[0] == "applied ad_campaigns: 15 runs (15 succeeded, 0 failed) in 4 passes"
    assert out.splitlines()[-1] == "converged: every expected partition is satisfied."
    assert csv_files(empty) == [f"{d}/{c}.csv" for d in DAYS for c in CAMPAIGNS]
    assert rows(empty, "SELECT count(*), count(DISTINCT campaign), count(DISTINCT day) FROM ad_stats") == [(12, 3, 4)]
    assert rows(empty, "SELECT strftime(day, '%Y-%m-%d'), eur_usd FROM fx_rates ORDER BY day") == [
        (d, rates.rate(d)) for d in DAYS]
    # results are the loaded spend in USD: the whole pipeline ran, in order
    assert rows(empty, "SELECT count(*) FROM results r JOIN ad_stats s USING (campaign, day) JOIN fx_rates f "
                       "USING (day) WHERE abs(r.spend_usd - s.spend * f.eur_usd) < 1e-9") == [(12,)]
    done = runs(cli, empty)
    assert sorted((r["asset"], r["range"]) for r in done if r["asset"] in ("csv", "ad_stats")) == sorted(
        [("csv", f"csv[campaign={c},day=2024-01-01..2024-01-04]") for c in CAMPAIGNS]
        + [("ad_stats", f"ad_stats[day={d}]") for d in DAYS])
    assert {r["outcome"] for r in done} == {"succeeded"} and {r["attempt"] for r in done} == {1}
    assert all(len(r["action_version"]) == 12 for r in done)


def test_2_a_refused_download_is_retried_then_blocked_with_its_error(cli, empty: Path) -> None:
    (empty / "data/adnet_refused.txt").write_text("502\n")
    out = apply(cli, empty, code=1)
    assert "not converged: 12 partitions blocked (see `setpoint history` for the runs)." in out
    refused = [r for r in runs(cli, empty) if r["range"].startswith("csv[campaign=502")]
    assert [(r["attempt"], r["outcome"], r["exit_code"], r["error"]) for r in refused] == [
        (n, "failed", 3, f"exit 3: {REFUSED}") for n in (1, 2, 3)]
    assert refused[0]["stderr_tail"] == REFUSED + "\n"
    doc = plan_json(cli, empty)
    blocked = {s["id"]: s for s in doc["statuses"]}
    assert sorted(blocked) == sorted(f"{a}[campaign=502,day={d}]" for a in ("csv", "ad_stats", "results") for d in DAYS)
    csv = blocked["csv[campaign=502,day=2024-01-02]"]
    assert csv["status"] == "blocked"
    assert csv["reasons"] == [{"kind": "failed", "text": f"exit 3: {REFUSED}", "attempts": 3, "run": refused[-1]["id"]}]
    result = blocked["results[campaign=502,day=2024-01-02]"]
    assert result["cause"] == {**csv["reasons"][0], "at": "csv[campaign=502,day=2024-01-02]"}
    # what needs the blocked CSVs was blocked with that cause, never attempted
    assert not [r for r in runs(cli, empty) if r["asset"] != "csv" and any("campaign=502" in k for k in r["partitions"])]
    # everything else converged
    assert rows(empty, "SELECT DISTINCT campaign FROM results ORDER BY 1") == [("501",), ("503",)]
    assert {a: c["satisfied"] for a, c in doc["summary"].items()} == {"csv": 8, "ad_stats": 8, "fx_rates": 4,
                                                                      "results": 8}
    # a second apply does not try again: the attempts are spent
    before = len(runs(cli, empty))
    apply(cli, empty, code=1)
    assert len(runs(cli, empty)) == before


def test_3_files_copied_in_by_hand_are_used_without_downloading(cli, empty: Path) -> None:
    (empty / "data/adnet_refused.txt").write_text("502\n")
    apply(cli, empty, code=1)
    before = len(runs(cli, empty))
    for day in DAYS:  # the administrator fetched the reports some other way
        (empty / f"data/csv/{day}/502.csv").write_text(adnet.report("502", day))
    out = apply(cli, empty)
    assert out.splitlines()[-1] == "converged: every expected partition is satisfied."
    assert new_runs(cli, empty, before) == sorted(
        [("ad_stats", f"ad_stats[day={d}]", "succeeded") for d in DAYS]
        + [("results", f"results[day={d}]", "succeeded") for d in DAYS])
    assert rows(empty, "SELECT count(*) FROM results WHERE campaign = '502'") == [(4,)]
    events = json.loads(cli("history", "-p", str(empty), "--events", "--asset", "csv", "--json").stdout)["events"]
    cleared = [e["target"] for e in events if e["kind"] == "observed" and "failures" in e["detail"]]
    assert cleared == [f"csv[campaign=502,day={d}]" for d in DAYS]


def test_4_deleted_results_rows_rebuild_exactly_that_day(cli, converged: Path) -> None:
    before = len(runs(cli, converged))
    con = duckdb.connect(str(converged / "warehouse.duckdb"))
    con.execute("DELETE FROM results WHERE campaign = '501' AND day = '2024-01-03'")
    con.close()
    apply(cli, converged)
    assert new_runs(cli, converged, before) == [("results", "results[day=2024-01-03]", "succeeded")]
    assert rows(converged, "SELECT count(*) FROM results") == [(12,)]


def test_5_a_new_campaign_is_downloaded_and_only_what_it_affects_is_rebuilt(cli, converged: Path) -> None:
    before = len(runs(cli, converged))
    with open(converged / "data/campaigns.txt", "a") as f:
        f.write("504\n")
    apply(cli, converged)
    assert new_runs(cli, converged, before) == sorted(
        [("csv", "csv[campaign=504,day=2024-01-01..2024-01-04]", "succeeded")]
        + [("ad_stats", f"ad_stats[day={d}]", "succeeded") for d in DAYS]
        + [("results", f"results[day={d}]", "succeeded") for d in DAYS])
    assert rows(converged, "SELECT count(*) FROM results WHERE campaign = '504'") == [(4,)]


def test_6_moving_the_end_of_the_range_produces_only_the_new_day(cli, converged: Path) -> None:
    before = len(runs(cli, converged))
    scenario.set_range(converged, date(2024, 1, 1), date(2024, 1, 5))
    apply(cli, converged)
    assert new_runs(cli, converged, before) == sorted(
        [("csv", f"csv[campaign={c},day=2024-01-05]", "succeeded") for c in CAMPAIGNS]
        + [("ad_stats", "ad_stats[day=2024-01-05]", "succeeded"), ("fx_rates", "fx_rates[2024-01-05]", "succeeded"),
           ("results", "results[day=2024-01-05]", "succeeded")])


def test_7_a_second_apply_after_convergence_starts_nothing(cli, converged: Path) -> None:
    before = len(runs(cli, converged))
    out = apply(cli, converged)
    assert out.splitlines()[0] == "applied ad_campaigns: 0 runs (0 succeeded, 0 failed) in 1 pass"
    assert len(runs(cli, converged)) == before


def test_8_a_changed_action_makes_its_partitions_stale_and_apply_rebuilds_them(cli, converged: Path) -> None:
    pipeline = converged / "assets/pipeline.yaml"
    text = pipeline.read_text()
    assert text.count("s.spend * r.eur_usd") == 1
    pipeline.write_text(text.replace("s.spend * r.eur_usd", "round(s.spend * r.eur_usd, 2)"))
    doc = plan_json(cli, converged)
    assert doc["summary"]["results"] == {"expected": 12, "satisfied": 0, "missing": 0, "stale": 12, "in_progress": 0,
                                         "waiting": 0, "blocked": 0}
    first = doc["statuses"][0]
    assert first["id"] == "results[campaign=501,day=2024-01-01]" and first["condition"] == "outdated"
    assert first["reasons"][0]["kind"] == "superseded" and len(first["reasons"][0]["version"]) == 12
    assert [g["reason"] for g in doc["groups"]] == ["built by an older version of its action"]
    before = len(runs(cli, converged))
    apply(cli, converged)
    assert new_runs(cli, converged, before) == [("results", f"results[day={d}]", "succeeded") for d in DAYS]
    assert plan_json(cli, converged)["statuses"] == []
    assert rows(converged, "SELECT count(*) FROM results WHERE spend_usd = round(spend_usd, 2)") == [(12,)]
