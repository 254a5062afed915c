"""The CLI: exact output and exit codes (errors: tests/test_cli_errors.py)."""

from __future__ import annotations

import json
from pathlib import Path

from setpoint.scaffold import template_files

NOW = "2024-04-01T12:00Z"

QUICKSTART_PLAN = """\
plan for quickstart at 2024-04-01 12:00 UTC

asset         expected  satisfied  missing  stale  in_progress  waiting  blocked
events              14         14        0      0            0        0        0
daily_totals        14          0       14      0            0        0        0
report               1          0        0      0            0        1        0

not satisfied:
  daily_totals  14 missing  absent from table daily_totals                                 e.g. daily_totals[2024-03-01]
  report        1 waiting   needs every partition of daily_totals, some are not satisfied  e.g. report

actions that would run: 14
  daily_totals[day=2024-03-01..2024-03-14]  (sql, 14 runs, 14 partitions)
dry run: nothing was executed.
"""


def test_init_scaffolds_the_quickstart(cli, tmp_path: Path) -> None:
    target = tmp_path / "new"
    result = cli("init", str(target))
    assert result.exit_code == 0
    assert result.output == f"created {len(template_files())} files in {target}\nnext: setpoint plan -p {target}\n"
    assert (target / "setpoint.yaml").exists() and (target / "data/events/2024-03-14.csv").exists()


def test_init_refuses_a_non_empty_directory(cli, tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    result = cli("init", str(tmp_path / "x"))
    assert result.exit_code == 2
    assert "is not empty (choose a new directory; init never overwrites files)" in result.output
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_plan_text(cli, quickstart: Path) -> None:
    result = cli("plan", "-p", str(quickstart), "--now", NOW)
    assert result.exit_code == 0
    assert result.output == QUICKSTART_PLAN


def test_plan_json(cli, quickstart: Path) -> None:
    result = cli("plan", "-p", str(quickstart), "--now", NOW, "--json")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert {"project", "now", "summary", "statuses", "actions", "groups", "runs", "observations",
            "warnings", "facts", "timings"} <= set(doc)
    assert doc["now"] == "2024-04-01T12:00:00+00:00"
    assert doc["summary"]["daily_totals"] == {"expected": 14, "satisfied": 0, "missing": 14, "stale": 0,
                                              "in_progress": 0, "waiting": 0, "blocked": 0}
    first = doc["statuses"][0]
    assert first == {"asset": "daily_totals", "partition": {"day": "2024-03-01"}, "id": "daily_totals[2024-03-01]",
                     "status": "missing", "condition": "absent", "runnable": True,
                     "reasons": [{"kind": "absent", "source": "table daily_totals"}]}
    assert doc["actions"][0] == {"asset": "daily_totals", "kind": "sql", "partitions": [{"day": "2024-03-01"}],
                                 "range": "daily_totals[2024-03-01]", "covers": 1}
    report = [s for s in doc["statuses"] if s["asset"] == "report"][0]
    assert report["cause"] == {"kind": "absent", "source": "table daily_totals", "at": "daily_totals[2024-03-01]"}
    # each status, action and group on a line of its own, between the indented top-level keys
    lines = result.output.splitlines()
    assert lines[0] == "{" and lines[-1] == "}" and lines[1] == '  "project": "quickstart",'
    start = lines.index('  "statuses": [')
    assert [json.loads(line.strip().rstrip(",")) for line in lines[start + 1:start + 16]] == doc["statuses"]
    assert lines[start + 16] == "  ],"


def test_plan_never_touches_the_warehouse_tables(cli, quickstart: Path) -> None:
    import duckdb

    cli("plan", "-p", str(quickstart), "--now", NOW)
    con = duckdb.connect(str(quickstart / "warehouse.duckdb"))
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
    con.close()


def test_bad_now_is_a_usage_error(cli, quickstart: Path) -> None:
    result = cli("plan", "-p", str(quickstart), "--now", "yesterday")
    assert result.exit_code == 2
    assert "error: bad --now 'yesterday' (write an ISO time such as 2024-03-26T08:00Z)" in result.output


def test_now_from_the_environment(quickstart: Path) -> None:
    from click.testing import CliRunner

    from setpoint.cli import main

    result = CliRunner().invoke(main, ["plan", "-p", str(quickstart)], env={"SETPOINT_NOW": NOW})
    assert result.output.startswith("plan for quickstart at 2024-04-01 12:00 UTC")


def test_validate_ok(cli, quickstart: Path) -> None:
    result = cli("validate", "-p", str(quickstart))
    assert (result.exit_code, result.output) == (0, "ok: 3 assets, 1 rule files\n")


def test_plan_all_lists_satisfied_partitions_too(cli, quickstart: Path) -> None:
    doc = json.loads(cli("plan", "-p", str(quickstart), "--now", NOW, "--json", "--all").output)
    events = [s for s in doc["statuses"] if s["asset"] == "events"]
    assert len(events) == 14 and {s["status"] for s in events} == {"satisfied"}
    assert events[0] == {"asset": "events", "partition": {"day": "2024-03-01"}, "id": "events[2024-03-01]",
                         "status": "satisfied", "condition": "present", "runnable": False, "reasons": []}
    assert len(doc["statuses"]) == 29 and len(doc["groups"]) == 2
