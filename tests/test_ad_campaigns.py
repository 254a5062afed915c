"""The ad-campaigns story, end to end through the real CLI on real files and DuckDB."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("scenario", ROOT / "examples/ad_campaigns/scenario.py")
scenario = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scenario)

NOW = "2024-06-01T00:00Z"
DAYS = [f"2024-01-0{d}" for d in range(1, 8)]


@pytest.fixture
def ads(tmp_path: Path) -> Path:
    target = tmp_path / "ads"
    counts = scenario.build(target, campaigns=5, days=7)
    assert counts == {"csv": 35, "ad_stats": 35, "fx_rates": 7, "results": 35}
    return target


def plan_json(cli, root: Path) -> dict:
    result = cli("plan", "-p", str(root), "--json", "--now", NOW)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def sql(root: Path, statement: str) -> None:
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute(statement)
    con.close()


def test_converged_scenario_plans_nothing(cli, ads: Path) -> None:
    doc = plan_json(cli, ads)
    assert doc["statuses"] == [] and doc["actions"] == []
    assert {a: c["satisfied"] for a, c in doc["summary"].items()} == {
        "csv": 35, "ad_stats": 35, "fx_rates": 7, "results": 35}
    assert doc["facts"] == 4  # the rules read key/4 only: the asset facts, and nothing on the frontier


def test_deleted_results_rows_rebuild_exactly_that_day(cli, ads: Path) -> None:
    sql(ads, "DELETE FROM results WHERE campaign = '501' AND day = '2024-01-03'")
    doc = plan_json(cli, ads)
    assert [(s["id"], s["status"]) for s in doc["statuses"]] == [
        ("results[campaign=501,day=2024-01-03]", "missing")]
    assert doc["statuses"][0]["reasons"] == [{"kind": "absent", "source": "table results"}]
    assert [(a["asset"], a["partitions"]) for a in doc["actions"]] == [("results", [{"day": "2024-01-03"}])]


def test_deleted_csv_is_missing_and_what_was_built_from_it_waits_to_be_refreshed(cli, ads: Path) -> None:
    (ads / "data/csv/2024-01-05/502.csv").unlink()
    doc = plan_json(cli, ads)
    got = {s["id"]: (s["status"], s["condition"], [r.get("upstream") for r in s["reasons"]]) for s in doc["statuses"]}
    assert got == {
        "csv[campaign=502,day=2024-01-05]": ("missing", "absent", [None]),
        "ad_stats[campaign=502,day=2024-01-05]": ("waiting", "present", ["csv[campaign=502,day=2024-01-05]"]),
        "results[campaign=502,day=2024-01-05]": ("waiting", "present", ["ad_stats[campaign=502,day=2024-01-05]"]),
    }
    assert [a["range"] for a in doc["actions"]] == ["csv[campaign=502,day=2024-01-05]"]
    text = cli("plan", "-p", str(ads), "--now", NOW).output
    assert "present; will be refreshed after csv (missing)" in text


def test_new_campaign_is_missing_for_every_day(cli, ads: Path) -> None:
    with open(ads / "data/campaigns.txt", "a") as f:
        f.write("506\n")
    doc = plan_json(cli, ads)
    by_asset: dict[str, set] = {}
    for s in doc["statuses"]:
        assert s["partition"]["campaign"] == "506"
        by_asset.setdefault((s["asset"], s["status"]), set()).add(s["partition"]["day"])
    assert by_asset == {("csv", "missing"): set(DAYS), ("ad_stats", "waiting"): set(DAYS),
                        ("results", "waiting"): set(DAYS)}
    # one download run covers the whole week (batch max 31), shown as one range
    assert [(a["range"], a["covers"]) for a in doc["actions"]] == [
        ("csv[campaign=506,day=2024-01-01..2024-01-07]", 7)]
    assert doc["runs"] == [{"asset": "csv", "kind": "shell", "range": "csv[campaign=506,day=2024-01-01..2024-01-07]",
                            "runs": 1, "covers": 7}]
    text = cli("plan", "-p", str(ads), "--now", NOW).output
    assert "actions that would run: 1\n  csv[campaign=506,day=2024-01-01..2024-01-07]  (shell, 1 run, 7 partitions)\n" in text


def test_campaign_blocked_by_rule_blocks_everything_that_needs_it(cli, ads: Path) -> None:
    for day in DAYS:
        (ads / f"data/csv/{day}/503.csv").unlink()
    sql(ads, "DELETE FROM ad_stats WHERE campaign = '503'; DELETE FROM results WHERE campaign = '503'")
    with open(ads / "rules/retired.lp", "a") as f:
        f.write('retired("503").\n')
    doc = plan_json(cli, ads)
    assert doc["actions"] == []
    assert {(s["asset"], s["status"]) for s in doc["statuses"]} == {
        ("csv", "blocked"), ("ad_stats", "blocked"), ("results", "blocked")}
    assert len(doc["statuses"]) == 21
    for s in doc["statuses"]:
        assert s["cause"]["kind"] == "rule"
        assert s["cause"]["text"] == "campaign 503 is retired"
        assert s["cause"]["at"] == f"csv[campaign=503,day={s['partition']['day']}]"
    results = [s for s in doc["statuses"] if s["asset"] == "results"][0]
    assert results["reasons"][0]["kind"] == "upstream_blocked"
    text = cli("plan", "-p", str(ads), "--now", NOW).output
    assert "blocked by a rule: campaign 503 is retired" in text


def test_plan_changes_nothing(cli, ads: Path) -> None:
    """A dry run: the warehouse and the files are untouched."""
    sql(ads, "DELETE FROM results WHERE day = '2024-01-02'")
    before = sorted(p.relative_to(ads) for p in (ads / "data").rglob("*"))
    con = duckdb.connect(str(ads / "warehouse.duckdb"))
    rows_before = con.execute("SELECT count(*) FROM results").fetchone()
    con.close()
    assert plan_json(cli, ads)["actions"]
    con = duckdb.connect(str(ads / "warehouse.duckdb"))
    assert con.execute("SELECT count(*) FROM results").fetchone() == rows_before
    con.close()
    assert sorted(p.relative_to(ads) for p in (ads / "data").rglob("*")) == before


def test_facts_grow_with_the_gap_not_with_history(cli, tmp_path: Path) -> None:
    """The same one-row gap costs the same facts at 5 x 7 and at 60 x 90 partitions."""
    facts = []
    for campaigns, days in ((5, 7), (60, 90)):
        root = tmp_path / f"s{campaigns}"
        scenario.build(root, campaigns=campaigns, days=days)
        sql(root, "DELETE FROM results WHERE campaign = '501' AND day = '2024-01-03'")
        doc = plan_json(cli, root)
        assert [s["id"] for s in doc["statuses"]] == ["results[campaign=501,day=2024-01-03]"]
        facts.append(doc["facts"])
    assert facts[0] == facts[1]
