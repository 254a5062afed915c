"""`setpoint apply` and `setpoint history` through the CLI: output, progress lines and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .conftest import NOW_TEXT, ProjectDir


def files_asset(last_day: str, shell: str, max_attempts: int, backoff: str = "0s") -> str:
    """Asset ``a``: files data/{day}.csv from 2024-03-01, made by a shell command (retried at once)."""
    return (f"name: a\nfiles: data/{{day}}.csv\npartitions:\n  day:\n    daily: {{start: 2024-03-01, end: {last_day}}}\n"
            f"action:\n  shell: {shell}\n  max_attempts: {max_attempts}\n  backoff: {backoff}\n")


def normalized(text: str) -> list[str]:
    """Output lines with durations and clock times made stable."""
    text = re.sub(r"in \d+\.\d s", "in 0.0 s", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "TIME", text)
    text = re.sub(r"  \d\.\d  ", "  0.0  ", text)  # the seconds column of history
    return text.splitlines()


def test_apply_converges_the_quickstart_and_exits_0(cli, quickstart: Path) -> None:
    result = cli("apply", "-p", str(quickstart), "--now", NOW_TEXT, "--concurrency", "1")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "applied quickstart: 15 runs (15 succeeded, 0 failed) in 3 passes",
        "",
        "asset         expected  satisfied  missing  stale  in_progress  waiting  blocked",
        "events              14         14        0      0            0        0        0",
        "daily_totals        14         14        0      0            0        0        0",
        "report               1          1        0      0            0        0        0",
        "",
        "converged: every expected partition is satisfied.",
    ]
    log = normalized(result.stderr)  # not a terminal: plain log lines
    assert log[:4] == ["pass 1: 14 actions to run", "started r-1 daily_totals[2024-03-01]",
                       "succeeded r-1 daily_totals[2024-03-01] in 0.0 s", "started r-2 daily_totals[2024-03-02]"]
    assert log[-3:] == ["pass 2: 1 action to run", "started r-15 report", "succeeded r-15 report in 0.0 s"]
    again = cli("apply", "-p", str(quickstart), "--now", NOW_TEXT)
    assert again.exit_code == 0 and again.stderr == ""
    assert again.stdout.splitlines()[0] == "applied quickstart: 0 runs (0 succeeded, 0 failed) in 1 pass"


def test_apply_json(cli, quickstart: Path) -> None:
    result = cli("apply", "-p", str(quickstart), "--now", NOW_TEXT, "--json")
    doc = json.loads(result.stdout)
    assert (doc["converged"], doc["passes"], len(doc["runs"]), doc["statuses"]) == (True, 3, 15, [])
    assert doc["runs"][-1] == {**doc["runs"][-1], "asset": "report", "range": "report", "outcome": "succeeded",
                               "attempt": 1, "partitions": 1, "error": None}


def test_an_action_that_never_produces_its_partition_is_blocked_after_max_attempts(cli, project: ProjectDir) -> None:
    project.write("assets/a.yaml", files_asset("2024-03-01", '["true"]', 2))
    result = cli("apply", "-p", str(project.root), "--now", NOW_TEXT)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == "applied test: 2 runs (2 succeeded, 0 failed) in 3 passes"
    assert result.stdout.splitlines()[-3:] == [
        "  a  1 blocked  failed 2 of 2 attempts, last error: run r-2 exited 0 but did not produce it (still absent)"
        "  e.g. a[2024-03-01]",
        "",
        "not converged: 1 partition blocked (see `setpoint history` for the runs).",
    ]


def test_a_config_error_exits_2_before_anything_runs(cli, project: ProjectDir) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\naction:\n  sql: SELECT $nope\n")
    result = cli("apply", "-p", str(project.root))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: assets/a.yaml:4: the SQL of the action of asset 'a' uses $nope")
    assert not (project.root / ".setpoint").exists()


def test_history_lists_runs_and_events(cli, waiting: ProjectDir) -> None:
    assert cli("history", "-p", str(waiting.root)).stdout == "no runs recorded yet.\n"
    waiting.write("assets/a.yaml", files_asset("2024-03-02", """[sh, -c, 'echo "no route to host" >&2; exit 5']""", 1))
    assert cli("apply", "-p", str(waiting.root), "--now", NOW_TEXT, "--concurrency", "1").exit_code == 1
    out = normalized(cli("history", "-p", str(waiting.root)).stdout)
    assert out == [
        "run  started              asset  partitions     attempt  outcome  seconds  error",
        "r-1  TIME  a      a[2024-03-01]  1        failed   0.0      exit 5: no route to host",
        "r-2  TIME  a      a[2024-03-02]  1        failed   0.0      exit 5: no route to host",
    ]
    events = normalized(cli("history", "-p", str(waiting.root), "--events", "--asset", "a").stdout)
    kinds = [line.split()[1] for line in events]
    assert kinds == ["planned", "planned", "started", "failed", "blocked", "started", "failed", "blocked",
                     "blocked"]
    assert events[-1] == ("TIME  blocked    a[2024-03-01]  partitions=2, reason=failed 1 of 1 attempts, "
                          "last error: exit 5: no route to host")
    doc = json.loads(cli("history", "-p", str(waiting.root), "--json", "--limit", "1").stdout)
    assert [(r["id"], r["exit_code"], r["stderr_tail"]) for r in doc["runs"]] == [("r-2", 5, "no route to host\n")]


def test_history_of_an_unknown_asset_is_a_usage_error(cli, quickstart: Path) -> None:
    result = cli("history", "-p", str(quickstart), "--asset", "daily_total")
    assert result.exit_code == 2
    assert result.stderr == "error: unknown asset 'daily_total' (did you mean 'daily_totals'?)\n"


def test_progress_on_a_terminal_is_one_rewritten_line(quickstart: Path) -> None:
    import io

    from setpoint import apply
    from setpoint.render import ProgressLog

    stream = io.StringIO()
    apply(quickstart, concurrency=1, progress=ProgressLog(stream, terminal=True))
    frames = stream.getvalue().split("\r\x1b[K")
    assert "\n" not in stream.getvalue()
    assert frames[1] == "pass 1: 0 running, 0 done, 0 failed, 14 left  "
    assert frames[2] == "pass 1: 1 running, 0 done, 0 failed, 13 left  daily_totals[2024-03-01]"
    assert frames[-2] == "pass 2: 0 running, 1 done, 0 failed, 0 left  report"
    assert frames[-1] == ""  # cleared at the end, before the summary is printed


def test_actions_that_undo_each_other_end_blocked_instead_of_looping(cli, project: ProjectDir) -> None:
    """Each run replaces the whole table with its own day: every other day is gone again."""
    project.write("assets/a.yaml", """
        name: a
        table: {name: a, updated_at: built_at}
        partitions:
          day:
            daily: {start: 2024-03-01, end: 2024-03-03}
        action:
          sql: CREATE OR REPLACE TABLE a AS SELECT $day AS day, now() AT TIME ZONE 'UTC' AS built_at
          max_attempts: 2
          backoff: 0s
    """)
    result = cli("apply", "-p", str(project.root), "--now", NOW_TEXT)
    assert result.exit_code == 1
    assert "gone again 2 times during this apply: another action may overwrite it" in result.stdout
    assert len(json.loads(cli("history", "-p", str(project.root), "--json").stdout)["runs"]) < 20


def test_a_changed_action_gets_fresh_attempts(cli, project: ProjectDir) -> None:
    project.write("assets/a.yaml", files_asset("2024-03-01", """[sh, -c, 'echo "bad flag" >&2; exit 2']""", 1))
    assert cli("apply", "-p", str(project.root), "--now", NOW_TEXT).exit_code == 1
    text = (project.root / "assets/a.yaml").read_text()
    (project.root / "assets/a.yaml").write_text(
        text.replace("""[sh, -c, 'echo "bad flag" >&2; exit 2']""", """[sh, -c, 'mkdir -p data; touch "data/$SETPOINT_DAY.csv"']"""))
    result = cli("apply", "-p", str(project.root), "--now", NOW_TEXT)
    assert result.exit_code == 0, result.stdout
    runs = json.loads(cli("history", "-p", str(project.root), "--json").stdout)["runs"]
    assert [(r["attempt"], r["outcome"]) for r in runs] == [(1, "failed"), (1, "succeeded")]


def test_observed_changes_are_logged_once_per_change(cli, quickstart: Path) -> None:
    cli("apply", "-p", str(quickstart), "--now", NOW_TEXT)
    events = json.loads(cli("history", "-p", str(quickstart), "--events", "--json", "--limit", "1000").stdout)["events"]
    observed = [(e["asset"], e["detail"]) for e in events if e["kind"] == "observed"]
    assert observed == [("daily_totals", {"present": 14, "was": 0}), ("report", {"present": 1, "was": 0})]


def test_status_is_one_screen_and_exits_by_what_is_blocked(cli, quickstart: Path) -> None:
    result = cli("status", "-p", str(quickstart), "--now", NOW_TEXT)
    assert (result.exit_code, result.stdout) == (0, """\
status of quickstart at 2024-04-01 12:00 UTC

asset         expected  satisfied  missing  stale  in_progress  waiting  blocked
events              14         14        0      0            0        0        0
daily_totals        14          0       14      0            0        0        0
report               1          0        0      0            0        1        0

running now: nothing

recent failures: none
""")
    (quickstart / "data/events/2024-03-02.csv").unlink()
    (quickstart / "data/events/2024-03-05.csv").unlink()
    blocked = cli("status", "-p", str(quickstart), "--now", NOW_TEXT)
    assert blocked.exit_code == 1
    lines = blocked.stdout.splitlines()
    assert lines[lines.index("blocked:") + 1:] == [
        "  events        2 blocked  no action declared to produce it              e.g. events[2024-03-02]",
        "  daily_totals  2 blocked  no action declared to produce it (at events)  e.g. daily_totals[2024-03-02]",
        "  report        1 blocked  no action declared to produce it (at events)  e.g. report"]
