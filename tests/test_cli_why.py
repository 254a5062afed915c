"""``setpoint why`` and ``setpoint graph`` through the CLI: exact output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

NOW = "2024-04-01T12:00Z"

WHY_REPORT = """\
report: waiting
├─ absent: table report has no rows (observed 2024-04-01 12:00:00 UTC)
│  └─ expected: assets/report.yaml:1 declares report, unpartitioned: its one partition is always expected
└─ needs every partition of daily_totals; 14 are not satisfied yet (declared at assets/report.yaml:8, all)
   └─ 14 daily_totals missing (day 2024-03-01..2024-03-14): absent from table daily_totals
      └─ e.g. daily_totals[2024-03-01] (missing)
         └─ absent: no rows with day=2024-03-01 in table daily_totals (observed 2024-04-01 12:00:00 UTC)
            └─ expected: assets/daily_totals.yaml:8 declares day: daily from 2024-03-01 to 2024-03-14
(14 upstream partitions summarized by shared cause; --all lists each)
"""

GRAPH_MERMAID = """\
flowchart LR
    a_events["events<br/>[day]<br/>no action"]
    a_daily_totals["daily_totals<br/>[day]"]
    a_report["report<br/>unpartitioned"]
    a_events -- "identity" --> a_daily_totals
    a_daily_totals -- "all" --> a_report
"""

GRAPH_DOT_STATUS = """\
digraph "quickstart" {
    rankdir=LR;
    node [shape=box];
    "events" [label="events\\n[day]\\nno action\\n14 expected: 14 satisfied", style=filled, fillcolor="#d6efd6"];
    "daily_totals" [label="daily_totals\\n[day]\\n14 expected: 14 missing", style=filled, fillcolor="#fdf0c8"];
    "report" [label="report\\nunpartitioned\\n1 expected: 1 waiting", style=filled, fillcolor="#fdf0c8"];
    "events" -> "daily_totals" [label="identity"];
    "daily_totals" -> "report" [label="all"];
}
"""


def test_why_prints_the_tree_and_exits_0(cli, quickstart: Path) -> None:
    result = cli("why", "report", "-p", str(quickstart), "--now", NOW)
    assert (result.exit_code, result.output) == (0, WHY_REPORT)


def test_why_all_lists_every_upstream_partition(cli, quickstart: Path) -> None:
    result = cli("why", "report", "-p", str(quickstart), "--now", NOW, "--all")
    assert result.exit_code == 0
    assert [line.split("needs ")[1] for line in result.output.splitlines() if "─ needs daily_totals[" in line] == [
        f"daily_totals[2024-03-{d:02d}] (missing)" for d in range(1, 15)]
    assert "summarized" not in result.output


def test_why_json_is_the_same_tree_as_data(cli, quickstart: Path) -> None:
    result = cli("why", "daily_totals[2024-03-05]", "-p", str(quickstart), "--now", NOW, "--json")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc == {
        "format": 1, "target": "daily_totals[2024-03-05]", "kind": "partition", "now": "2024-04-01T12:00:00+00:00",
        "root": "daily_totals[2024-03-05]", "status": "missing",
        "nodes": {"daily_totals[2024-03-05]": {
            "asset": "daily_totals", "partition": {"day": "2024-03-05"}, "status": "missing", "condition": "absent",
            "causes": [{"kind": "absent", "source": "observation",
                        "text": "absent: no rows with day=2024-03-05 in table daily_totals "
                                "(observed 2024-04-01 12:00:00 UTC)",
                        "at": "2024-04-01T12:00:00+00:00",
                        "because": [{"kind": "expected", "source": "declaration",
                                     "text": "expected: assets/daily_totals.yaml:8 declares day: daily from "
                                             "2024-03-01 to 2024-03-14",
                                     "file": "assets/daily_totals.yaml", "line": 8, "asset": "daily_totals"}]}]}},
    }


def test_why_an_asset_groups_its_partitions(cli, quickstart: Path) -> None:
    result = cli("why", "daily_totals", "-p", str(quickstart), "--now", NOW)
    assert (result.exit_code, result.output) == (0, """\
daily_totals: 14 expected: 14 missing
  14 missing  absent from table daily_totals  day 2024-03-01..2024-03-14  e.g. daily_totals[2024-03-01]
explain one: setpoint why daily_totals[2024-03-01]
""")


def test_why_a_satisfied_asset_says_so(cli, quickstart: Path) -> None:
    result = cli("why", "events", "-p", str(quickstart), "--now", NOW)
    assert (result.exit_code, result.output) == (0, "events: 14 expected, all satisfied\n")


def test_why_an_unknown_asset_is_a_usage_error(cli, quickstart: Path) -> None:
    result = cli("why", "daily_total[2024-03-05]", "-p", str(quickstart))
    assert result.exit_code == 2
    assert result.output == "error: unknown asset 'daily_total' (did you mean 'daily_totals'?)\n"


def test_why_a_malformed_partition_is_a_usage_error(cli, quickstart: Path) -> None:
    result = cli("why", 'daily_totals[day="2024-03-05]', "-p", str(quickstart))
    assert result.exit_code == 2
    assert result.output == ("error: unterminated quote in daily_totals[day=\"2024-03-05] "
                             "(close the quote; a value holding a quote is quoted and escaped: \"it\\\"s\")\n")


def test_graph_prints_mermaid_by_default(cli, quickstart: Path) -> None:
    result = cli("graph", "-p", str(quickstart))
    assert (result.exit_code, result.output) == (0, GRAPH_MERMAID)


def test_graph_dot_with_status_counts(cli, quickstart: Path) -> None:
    result = cli("graph", "-p", str(quickstart), "--format", "dot", "--status", "--now", NOW)
    assert (result.exit_code, result.output) == (0, GRAPH_DOT_STATUS)


def test_graph_json_lists_assets_and_edges(cli, quickstart: Path) -> None:
    result = cli("graph", "-p", str(quickstart), "--format", "json")
    doc = json.loads(result.output)
    assert doc["edges"] == [{"upstream": "events", "downstream": "daily_totals", "mapping": "identity"},
                            {"upstream": "daily_totals", "downstream": "report", "mapping": "all"}]
    assert [a["name"] for a in doc["assets"]] == ["events", "daily_totals", "report"]
