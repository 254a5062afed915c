"""The schedule: least slack first, SLO predictions, pools with running work, forbidden windows, guardrails.

Real project directories, real files and the real state store; apply runs
real shell actions. Times are fixed with ``now`` so that deadlines are exact.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from setpoint.apply import apply
from setpoint.controller import plan, why
from setpoint.lock import this_process
from setpoint.state import StateStore
from setpoint.status import status

NOW = datetime(2024, 4, 1, 12, 0, tzinfo=timezone.utc)  # a Monday


def one_day(name: str, *, pool: str = "one", estimate: str = "30m", slo: str = "", extra: str = "",
            days: tuple[str, str] = ("2024-03-31", "2024-03-31"), depends: str = "") -> str:
    """A files asset with daily partitions (all missing) made by a shell action in ``pool``."""
    return (f"name: {name}\nfiles: out/{name}/{{day}}.csv\npartitions:\n  day: {{daily: {{start: {days[0]}, "
            f"end: {days[1]}}}}}\n{depends}action:\n  shell: [sh, -c, 'mkdir -p out/{name} && touch "
            f"out/{name}/$SETPOINT_DAY.csv']\n  pool: {pool}\n  estimate: {estimate}\n{slo}{extra}")


def labels(actions) -> list[str]:
    return [a.label for a in actions]


# -- least slack first ------------------------------------------------------------------------
@pytest.mark.parametrize("urgent", ["aa", "zz"])
def test_with_capacity_for_one_the_one_with_less_slack_starts(project, urgent: str) -> None:
    relaxed = "zz" if urgent == "aa" else "aa"
    project.write("setpoint.yaml", "name: t\npools: {one: 1}\n")
    project.write("assets/a.yaml", one_day(relaxed, slo="slo: {deadline: '23:00'}\n"))
    project.write("assets/b.yaml", one_day(urgent, slo="slo: {deadline: '13:00'}\n"))
    got = plan(project.root, now=NOW, record=False)
    assert labels(got.schedule.start) == [f"{urgent}[2024-03-31]"]
    assert labels(got.schedule.queued) == [f"{relaxed}[2024-03-31]"]
    assert got.schedule.optimal and got.schedule.pools["one"] == (1, 0, 1)


def test_an_upstream_without_an_slo_inherits_the_urgency_of_what_needs_it(project) -> None:
    project.write("setpoint.yaml", "name: t\npools: {one: 1}\n")
    project.write("assets/a.yaml", one_day("feed", estimate="1h"))
    project.write("assets/b.yaml", one_day("other", estimate="1m", slo="slo: {deadline: '23:00'}\n"))
    project.write("assets/c.yaml", one_day("report", estimate="30m", depends="depends_on: [feed]\n",
                                           slo="slo: {deadline: '13:00'}\n"))
    got = plan(project.root, now=NOW, record=False)
    assert labels(got.schedule.start) == ["feed[2024-03-31]"]  # report's deadline runs through it
    report = next(s for s in got.statuses if s.asset == "report")
    assert report.status == "waiting" and report.slo.state == "at_risk"
    assert report.slo.predicted == datetime(2024, 4, 1, 13, 30, tzinfo=timezone.utc)  # feed 1h, then 30m


def test_older_partitions_start_before_newer_ones_in_a_backfill(project) -> None:
    project.write("setpoint.yaml", "name: t\npools: {one: 2}\n")
    project.write("assets/a.yaml", one_day("a", days=("2024-03-01", "2024-03-10")))
    got = plan(project.root, now=NOW, record=False)
    assert labels(got.schedule.start) == ["a[2024-03-01]", "a[2024-03-02]"]
    assert labels(got.schedule.queued)[0] == "a[2024-03-03]" and len(got.schedule.queued) == 8


def test_a_rule_raises_a_priority_above_slack_and_age(project) -> None:
    project.write("setpoint.yaml", "name: t\npools: {one: 1}\n")
    project.write("assets/a.yaml", one_day("a", days=("2024-03-01", "2024-03-10"),
                                           slo="slo: {deadline: '13:00'}\n"))
    project.write("rules/vip.lp", 'priority(a, "2024-03-07", 3) :- runnable(a, "2024-03-07").\n')
    got = plan(project.root, now=NOW, record=False)
    assert labels(got.schedule.start) == ["a[2024-03-07]"]


# -- predictions ------------------------------------------------------------------------------
def test_at_risk_is_predicted_before_the_deadline_and_violated_after(project, cli) -> None:
    project.write("setpoint.yaml", "name: t\npools: {one: 1}\n")
    project.write("assets/a.yaml", one_day("slow", estimate="2h", slo="slo: {deadline: '13:00'}\n"))
    project.write("assets/b.yaml", one_day("quick", estimate="10m", slo="slo: {deadline: '23:00'}\n"))
    before = plan(project.root, now=NOW, record=False)
    slow = next(s for s in before.statuses if s.asset == "slow")
    assert (slow.slo.state, slow.slo.deadline, slow.slo.predicted) == (
        "at_risk", datetime(2024, 4, 1, 13, 0, tzinfo=timezone.utc), datetime(2024, 4, 1, 14, 0, tzinfo=timezone.utc))
    quick = next(s for s in before.statuses if s.asset == "quick")
    assert quick.slo.state == "on_track"  # after slow (less slack) in the one slot: 14:10, before 23:00
    assert quick.slo.predicted == datetime(2024, 4, 1, 14, 10, tzinfo=timezone.utc)
    assert before.slo == {"slow": {"on_track": 0, "at_risk": 1, "violated": 0},
                          "quick": {"on_track": 1, "at_risk": 0, "violated": 0}}
    after = plan(project.root, now=NOW + timedelta(hours=1, minutes=30), record=False)
    assert next(s for s in after.statuses if s.asset == "slow").slo.state == "violated"
    text = cli("plan", "-p", str(project.root), "--now", "2024-04-01T12:00Z").stdout
    assert ("SLO: quick 0 violated, 0 at risk, 1 on track; slow 0 violated, 1 at risk, 0 on track\n"
            "  slow[2024-03-31]  at risk: predicted ready 2024-04-01 14:00 UTC, after its deadline "
            "2024-04-01 13:00 UTC\n") in text
    doc = plan(project.root, now=NOW, record=False).to_json()
    assert doc["statuses"][1]["slo"] == {"state": "at_risk", "deadline": "2024-04-01T13:00:00+00:00",
                                         "predicted": "2024-04-01T14:00:00+00:00",
                                         "slo": "ready by 13:00 UTC after its window closes"}
    st = status(project.root, now=NOW + timedelta(hours=2))
    assert st.slo["slow"]["violated"] == 1 and not st.ok  # a violated SLO is a problem for monitoring
    explained = why(project.root, "slow[2024-03-31]", now=NOW)
    first = explained.nodes[explained.root].causes[0]
    assert first.kind == "slo" and first.file == "assets/a.yaml" and first.line == 9
    assert first.text == ("SLO at risk: predicted ready 2024-04-01 14:00 UTC, after its deadline 2024-04-01 "
                          "13:00 UTC (assets/a.yaml:9: ready by 13:00 UTC after its window closes)")


def test_deadlines_follow_the_named_timezone_and_freshness_the_upstream_change(project) -> None:
    project.write("setpoint.yaml", "name: t\n")
    project.write("assets/a.yaml", one_day("a", pool="default",
                                           slo="slo: {deadline: '08:00', timezone: Europe/Berlin}\n"))
    got = plan(project.root, now=NOW, record=False)
    # the window closes 2024-04-01 00:00 UTC, 02:00 in Berlin (summer time): ready by 08:00 Berlin = 06:00 UTC
    assert got.statuses[0].slo.deadline == datetime(2024, 4, 1, 6, 0, tzinfo=timezone.utc)
    assert got.statuses[0].slo.state == "violated"


def test_max_age_refreshes_an_unpartitioned_asset_before_it_is_too_old(project) -> None:
    project.write("setpoint.yaml", "name: t\n")
    project.write("assets/a.yaml", "name: rates\nfiles: rates.csv\naction:\n  shell: [touch, rates.csv]\n"
                                   "  estimate: 10m\nslo: {max_age: 6h}\n")
    project.touch("rates.csv", (NOW - timedelta(hours=5)).timestamp())  # 1 h of its age left: plenty
    assert plan(project.root, now=NOW, record=False).converged
    project.touch("rates.csv", (NOW - timedelta(hours=5, minutes=55)).timestamp())  # 5 min left < a 10 min run
    got = plan(project.root, now=NOW, record=False)
    assert (got.statuses[0].status, got.statuses[0].reasons[0].kind) == ("stale", "expired")
    assert got.statuses[0].slo.deadline == NOW + timedelta(minutes=5)
    assert got.statuses[0].slo.state == "at_risk"  # a 10-minute run cannot make it in 5


# -- pools ------------------------------------------------------------------------------------
def test_running_work_holds_its_pool_slots(project) -> None:
    project.write("setpoint.yaml", "name: t\npools: {net: 2}\n")
    project.write("assets/a.yaml", one_day("a", pool="net", days=("2024-03-01", "2024-03-05")))
    with StateStore(project.root / ".setpoint" / "state.db") as store:
        store.start_run("a", "shell", "a[2024-03-01]", ["2024-03-01"], "v", 1, at=NOW,
                        lease=[("2024-03-01", ["2024-03-01"])], deadline=NOW + timedelta(hours=6),
                        owner=this_process())
    got = plan(project.root, now=NOW, record=False)
    assert got.summary["a"]["in_progress"] == 1
    assert got.schedule.pools["net"] == (2, 1, 1)
    assert labels(got.schedule.start) == ["a[2024-03-02]"]
    assert len(got.schedule.queued) == 3


def _overlap(log: Path) -> int:
    """The most runs that were running at once, from their start/end lines."""
    most = now = 0
    for line in log.read_text().split():
        now += 1 if line == "start" else -1
        most = max(most, now)
    return most


@pytest.mark.parametrize("capacity", [1, 2])
def test_apply_never_runs_more_at_once_in_a_pool_than_its_capacity(project, capacity: int) -> None:
    project.write("setpoint.yaml", f"name: t\npools: {{net: {capacity}}}\napply: {{concurrency: 8}}\n")
    project.write("assets/a.yaml", "name: a\nfiles: out/{day}.csv\npartitions:\n  day: {daily: {start: 2024-03-01, "
                                   "end: 2024-03-06}}\naction:\n  shell: [sh, -c, 'echo start >> log; sleep 0.3; "
                                   "mkdir -p out; touch out/$SETPOINT_DAY.csv; echo end >> log']\n  pool: net\n")
    result = apply(project.root, now=NOW)
    assert result.converged and len(result.runs) == 6
    assert _overlap(project.root / "log") == capacity


# -- forbidden windows ------------------------------------------------------------------------
BUSINESS_HOURS = ('forbid(a, P, "no downloads from the ad network in business hours") :-\n'
                  '    runnable(a, P), now_local(W, H, _), W <= 5, H >= 9, H < 17.\n')


def test_a_forbidden_time_window_is_honoured(project, cli) -> None:
    project.write("setpoint.yaml", "name: t\ntimezone: Europe/Berlin\n")
    project.write("assets/a.yaml", one_day("a", pool="default"))
    project.write("rules/window.lp", BUSINESS_HOURS)
    during = plan(project.root, now=NOW, record=False)  # Monday 14:00 in Berlin
    assert during.actions == [] and len(during.schedule.deferred) == 1
    assert during.schedule.deferred[0].reason == ("forbidden now by a rule: no downloads from the ad network in "
                                                  "business hours")
    assert during.statuses[0].status == "missing"  # deferred, not blocked
    out = cli("plan", "-p", str(project.root), "--now", "2024-04-01T12:00Z").stdout
    assert ("deferred to a later apply: 1 run\n"
            "  a  1 run  forbidden now by a rule: no downloads from the ad network in business hours\n") in out
    result = apply(project.root, now=NOW)
    assert result.runs == [] and result.ok
    assert not (project.root / "out" / "a" / "2024-03-31.csv").exists()
    evening = plan(project.root, now=NOW + timedelta(hours=6), record=False)  # 20:00 in Berlin
    saturday = plan(project.root, now=NOW + timedelta(days=5), record=False)
    assert labels(evening.actions) == labels(saturday.actions) == ["a[2024-03-31]"]


# -- guardrails -------------------------------------------------------------------------------
def test_each_limit_defers_work_with_its_reason(project) -> None:
    project.write("assets/a.yaml", one_day("a", pool="default", estimate="10m", days=("2024-03-01", "2024-03-05"),
                                           extra="guardrails: {max_partitions: 3}\n"))
    project.write("assets/b.yaml", one_day("b", pool="default", estimate="10m", days=("2024-03-01", "2024-03-05")))
    cases = {
        "guardrails: {max_actions: 4}": (4, "over the limit of 4 actions per apply (guardrails in setpoint.yaml)"),
        "guardrails: {max_partitions: 6}": (6, "over the limit of 6 partitions per apply (guardrails in "
                                               "setpoint.yaml)"),
        "guardrails: {max_compute: 1h}": (6, "over the limit of 1:00:00 of estimated compute per apply "
                                             "(guardrails in setpoint.yaml)"),
    }
    for setting, (runs, reason) in cases.items():
        project.write("setpoint.yaml", f"name: t\n{setting}\n")
        got = plan(project.root, now=NOW, record=False)
        assert len(got.actions) == runs, setting
        reasons = {d.reason for d in got.schedule.deferred}
        assert reason in reasons, (setting, reasons)
        assert len(got.schedule.deferred) == 10 - runs
    project.write("setpoint.yaml", "name: t\n")
    got = plan(project.root, now=NOW, record=False)  # a's own limit only
    assert [d.reason for d in got.schedule.deferred] == [
        "over the limit of 3 partitions per apply (guardrails of a, assets/a.yaml:9)"] * 2
    assert sum(1 for a in got.actions if a.asset == "a") == 3


def test_limits_hold_for_the_whole_apply_and_the_rest_waits_for_the_next(project) -> None:
    project.write("setpoint.yaml", "name: t\nguardrails: {max_actions: 2}\n")
    project.write("assets/a.yaml", one_day("a", pool="default", days=("2024-03-01", "2024-03-05")))
    first = apply(project.root, now=NOW)
    assert len(first.runs) == 2 and first.ok and not first.converged
    assert len(first.plan.schedule.deferred) == 3
    assert len(apply(project.root, now=NOW).runs) == 2
    assert len(apply(project.root, now=NOW).runs) == 1


def test_a_mass_rebuild_needs_confirmation(project, cli) -> None:
    project.write("setpoint.yaml", "name: t\nguardrails: {rebuild_min: 3, rebuild_share: 0.5}\n")
    asset = one_day("a", pool="default", days=("2024-03-01", "2024-03-04"))
    project.write("assets/a.yaml", asset)
    assert apply(project.root, now=NOW).converged
    project.write("assets/a.yaml", asset + "  version: '2'\n")  # the action changed: all 4 are superseded
    got = plan(project.root, now=NOW, record=False)
    assert [r.describe() for r in got.schedule.rebuilds] == [
        "a would rebuild 4 of its 4 present partitions (100%)"]
    assert got.actions == [] and {d.kind for d in got.schedule.deferred} == {"rebuild"}
    refused = cli("apply", "-p", str(project.root), "--now", "2024-04-01T12:00Z")
    assert refused.exit_code == 1
    assert "confirm: a would rebuild 4 of its 4 present partitions (100%); `setpoint apply --yes` rebuilds them" \
        in refused.stdout
    assert "not converged: a mass rebuild waits for confirmation (`setpoint apply --yes`)." in refused.stdout
    done = cli("apply", "-p", str(project.root), "--now", "2024-04-01T12:00Z", "--yes")
    assert done.exit_code == 0 and "applied t: 4 runs (4 succeeded, 0 failed)" in done.stdout
    project.write("setpoint.yaml", "name: t\nguardrails: {rebuild_min: 3, confirm_rebuild: false}\n")
    project.write("assets/a.yaml", asset + "  version: '3'\n")
    assert plan(project.root, now=NOW, record=False).schedule.rebuilds == []
    assert len(apply(project.root, now=NOW).runs) == 4


# -- estimates --------------------------------------------------------------------------------
def test_estimates_come_from_the_run_history_else_the_declaration_else_the_default(project) -> None:
    from setpoint.estimate import estimate_for
    from setpoint.project.loader import load_project

    project.write("setpoint.yaml", "name: t\nschedule: {estimate: 2m}\n")
    project.write("assets/a.yaml", one_day("a", pool="default", estimate="5m", days=("2024-03-01", "2024-03-04")))
    project.write("assets/b.yaml", "name: b\nfiles: b/{day}\npartitions:\n  day: {daily: {start: 2024-03-01}}\n"
                                   "action: {shell: ['true']}\n")
    p = load_project(project.root)
    runs = [(60.0, 1), (62.0, 1), (3600.0, 1), (120.0, 2)]  # one odd slow run does not move the median
    assert estimate_for(p, p.assets["a"], runs).seconds(3) == 3 * 61  # per partition: 60, 62, 3600, 60
    assert estimate_for(p, p.assets["a"], []).seconds(3, units=3) == 3 * 300
    assert estimate_for(p, p.assets["b"], []).seconds(1) == 120
    project.write("assets/a.yaml", one_day("a", pool="default", days=("2024-03-01", "2024-03-02")).replace(
        "mkdir -p", "sleep 0.2; mkdir -p"))
    project.write("assets/b.yaml", "name: b\nfiles: b.csv\n")
    project.touch("b.csv")
    assert apply(project.root, now=NOW).converged
    project.write("assets/a.yaml", one_day("a", pool="default", days=("2024-03-01", "2024-03-04")).replace(
        "mkdir -p", "sleep 0.2; mkdir -p"))
    learned = plan(project.root, now=NOW, record=False).to_json()["schedule"]["estimates"]["a"]
    assert learned["source"] == "history" and learned["runs"] == 2 and 0.2 <= learned["per_partition_s"] < 5


def test_concurrency_sets_the_default_pool_for_one_apply(project) -> None:
    project.write("setpoint.yaml", "name: t\napply: {concurrency: 1}\n")
    project.write("assets/a.yaml", "name: a\nfiles: out/{day}.csv\npartitions:\n  day: {daily: {start: 2024-03-01, "
                                   "end: 2024-03-06}}\naction:\n  shell: [sh, -c, 'echo start >> log; sleep 0.3; "
                                   "mkdir -p out; touch out/$SETPOINT_DAY.csv; echo end >> log']\n")
    assert apply(project.root, now=NOW, concurrency=3).converged
    assert _overlap(project.root / "log") == 3


def test_priority_and_forbid_must_follow_from_the_facts(project, cli) -> None:
    project.write("setpoint.yaml", "name: t\n")
    project.write("assets/a.yaml", one_day("a", pool="default"))
    project.write("rules/r.lp", '{ forbid(a, P, "maybe") } :- runnable(a, P).\n')
    result = cli("plan", "-p", str(project.root), "--now", "2024-04-01T12:00Z")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: rules/r.lp: the rules make statuses depend on a choice or on "
                                    'non-stratified negation (e.g. forbid(a,"2024-03-31","maybe"))')


def test_apply_quiet_still_warns_of_slo_misses(project, cli) -> None:
    project.write("setpoint.yaml", "name: t\n")
    project.write("assets/a.yaml", one_day("a", pool="default", slo="slo: {deadline: '13:00'}\n"))
    project.write("rules/hold.lp", 'forbid(a, P, "the vendor is down") :- runnable(a, P).\n')
    quiet = cli("apply", "-p", str(project.root), "--now", "2024-04-01T12:00Z", "--quiet")
    assert (quiet.exit_code, quiet.stdout) == (0, (
        "SLO: a 0 violated, 1 at risk, 0 on track\n"
        "  a[2024-03-31]  at risk: deadline 2024-04-01 13:00 UTC; no prediction: it cannot start as things stand "
        "(blocked, forbidden now, or awaiting confirmation)\n"))


def test_a_pool_or_asset_named_like_a_keyword_is_refused(project) -> None:
    from setpoint.errors import ConfigError
    from setpoint.project.loader import load_project

    project.write("setpoint.yaml", "name: t\npools: {not: 2}\n")
    project.write("assets/a.yaml", "name: not\nfiles: a.csv\n")
    with pytest.raises(ConfigError) as caught:
        load_project(project.root)
    assert [(p.message, p.line) for p in caught.value.problems] == [
        ("asset name 'not' is a reserved word of the rule language", 1),
        ("bad pool name 'not'", 2)]


def test_a_detached_run_keeps_its_pool_slot(project) -> None:
    project.write("setpoint.yaml", "name: t\npools: {net: 2}\n")
    project.write("assets/a.yaml", "name: a\nfiles: out/{day}.csv\npartitions:\n  day: {daily: {start: 2024-03-01, "
                                   "end: 2024-03-06}}\naction:\n  shell: [sh, -c, 'sleep 2; mkdir -p out; "
                                   "touch out/$SETPOINT_DAY.csv']\n  pool: net\n  detach: true\n")
    first = apply(project.root, now=NOW)
    assert len(first.runs) == 2 and first.plan.summary["a"]["in_progress"] == 2
    assert first.plan.schedule.pools["net"] == (2, 2, 0)


def test_freshness_lags_from_the_oldest_change_not_reflected(project) -> None:
    project.write("setpoint.yaml", "name: t\n")
    project.write("assets/up.yaml", "name: up\nfiles: up/{day}.csv\npartitions:\n  day: {daily: {start: 2024-03-30, "
                                    "end: 2024-03-31}}\n")
    project.write("assets/down.yaml", "name: down\nfiles: down.csv\ndepends_on:\n  - {asset: up, mapping: all}\n"
                                      "action: {shell: [touch, down.csv]}\nslo: {freshness: 2h}\n")
    at = lambda h: (NOW.replace(hour=h)).timestamp()  # noqa: E731
    project.touch("down.csv", at(7))
    project.touch("up/2024-03-30.csv", at(8))
    project.touch("up/2024-03-31.csv", at(10))
    got = plan(project.root, now=NOW.replace(hour=11), record=False)
    (down,) = [s for s in got.statuses if s.asset == "down"]
    assert (down.slo.deadline, down.slo.state) == (NOW.replace(hour=10), "violated")  # 08:00 + 2h
    assert down.reasons[0].upstream == "up[2024-03-31]"  # the newest change is the one named


def test_a_pause_stops_what_a_running_pass_would_start_next(project) -> None:
    import subprocess
    import sys
    import time

    project.write("setpoint.yaml", "name: t\npools: {net: 1}\n")
    project.write("assets/a.yaml", "name: a\nfiles: out/{day}.csv\npartitions:\n  day: {daily: {start: 2024-03-01, "
                                   "end: 2024-03-04}}\naction:\n  shell: [sh, -c, 'sleep 1; mkdir -p out; "
                                   "touch out/$SETPOINT_DAY.csv']\n  pool: net\n")
    proc = subprocess.Popen([sys.executable, "-m", "setpoint.cli", "apply", "-p", str(project.root)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 30
    while not (project.root / ".setpoint" / "state.db").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    from setpoint.pause import pause

    pause(project.root, "a", reason="stop")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    made = sorted(p.name for p in (project.root / "out").iterdir())
    assert len(made) <= 2, (made, out)  # the one running (and at most one starting as the pause lands)


def test_why_an_asset_sums_up_its_slo(project, cli) -> None:
    project.write("setpoint.yaml", "name: t\n")
    project.write("assets/a.yaml", one_day("a", pool="default", estimate="2h", slo="slo: {deadline: '13:00'}\n"))
    out = cli("why", "a", "-p", str(project.root), "--now", "2024-04-01T12:00Z").stdout
    assert out.splitlines()[:2] == [
        "a: 1 expected: 1 missing",
        "SLO (assets/a.yaml:9: ready by 13:00 UTC after its window closes): 0 violated, 1 at risk, 0 on track"]


def test_freshness_counts_from_a_change_two_steps_upstream(project) -> None:
    project.write("setpoint.yaml", "name: t\n")
    project.write("assets/raw.yaml", "name: raw\nfiles: raw.csv\n")
    project.write("assets/mid.yaml", "name: mid\nfiles: mid.csv\ndepends_on: [raw]\naction: {shell: [touch, mid.csv], "
                                     "estimate: 3h}\n")
    project.write("assets/report.yaml", "name: report\nfiles: report.csv\ndepends_on: [mid]\naction: {shell: [touch, "
                                        "report.csv], estimate: 5m}\nslo: {freshness: 2h}\n")
    for name, hour in (("mid.csv", 6), ("report.csv", 7), ("raw.csv", 8)):
        project.touch(name, NOW.replace(hour=hour).timestamp())
    got = plan(project.root, now=NOW, record=False)
    (report,) = [s for s in got.statuses if s.asset == "report"]
    assert report.status == "waiting"  # present, waiting for mid, which raw outdated at 08:00
    assert (report.slo.deadline, report.slo.state) == (NOW.replace(hour=10), "violated")
    assert report.slo.predicted == NOW.replace(hour=15, minute=5)


def test_an_absent_asset_with_a_max_age_is_past_its_deadline(project) -> None:
    project.write("setpoint.yaml", "name: t\n")
    project.write("assets/a.yaml", "name: rates\nfiles: rates.csv\naction: {shell: ['false']}\nslo: {max_age: 6h}\n")
    (st,) = plan(project.root, now=NOW, record=False).statuses
    assert (st.status, st.slo.state) == ("missing", "violated")


def test_within_one_urgency_level_least_slack_starts_first(project) -> None:
    project.write("setpoint.yaml", "name: t\npools: {one: 1}\n")
    project.write("assets/a.yaml", one_day("aa", slo="slo: {deadline: '12:50'}\n", estimate="10m"))  # 40 min slack
    project.write("assets/b.yaml", one_day("zz", slo="slo: {deadline: '12:30'}\n", estimate="10m"))  # 20 min slack
    got = plan(project.root, now=NOW, record=False)
    assert labels(got.schedule.start) == ["zz[2024-03-31]"]


def test_work_that_can_still_make_it_comes_before_work_that_is_late_anyway(project) -> None:
    project.write("setpoint.yaml", "name: t\npools: {one: 1}\n")
    project.write("assets/a.yaml", one_day("late", slo="slo: {deadline: '11:00'}\n", estimate="10m",
                                           days=("2024-03-01", "2024-03-05")))
    project.write("assets/b.yaml", one_day("today", slo="slo: {deadline: '13:00'}\n", estimate="10m"))
    got = plan(project.root, now=NOW, record=False)
    assert labels(got.schedule.start) == ["today[2024-03-31]"]
    today = next(s for s in got.statuses if s.asset == "today")
    assert (today.slo.state, today.slo.predicted) == ("on_track", NOW + timedelta(minutes=10))


def test_running_work_delays_the_prediction(project) -> None:
    project.write("setpoint.yaml", "name: t\npools: {one: 1}\n")
    project.write("assets/a.yaml", one_day("a", estimate="30m", days=("2024-03-30", "2024-03-31"),
                                           slo="slo: {deadline: '23:00'}\n"))
    with StateStore(project.root / ".setpoint" / "state.db") as store:  # a started 10 minutes ago
        store.start_run("a", "shell", "a[2024-03-30]", ["2024-03-30"], "v", 1, at=NOW - timedelta(minutes=10),
                        lease=[("2024-03-30", ["2024-03-30"])], deadline=NOW + timedelta(hours=6),
                        owner=this_process())
    got = plan(project.root, now=NOW, record=False)
    second = next(s for s in got.statuses if s.key == "2024-03-31")
    assert second.slo.predicted == NOW + timedelta(minutes=20 + 30)  # after the running one ends
    assert got.schedule.start == [] and labels(got.schedule.queued) == ["a[2024-03-31]"]


def test_per_asset_action_and_compute_limits_defer_with_their_reason(project) -> None:
    project.write("setpoint.yaml", "name: t\n")
    project.write("assets/a.yaml", one_day("a", pool="default", estimate="20m", days=("2024-03-01", "2024-03-05"),
                                           extra="guardrails: {max_actions: 2}\n"))
    project.write("assets/b.yaml", one_day("b", pool="default", estimate="20m", days=("2024-03-01", "2024-03-05"),
                                           extra="guardrails: {max_compute: 1h}\n"))
    got = plan(project.root, now=NOW, record=False)
    assert sorted({(d.action.asset, d.reason) for d in got.schedule.deferred}) == [
        ("a", "over the limit of 2 actions per apply (guardrails of a, assets/a.yaml:9)"),
        ("b", "over the limit of 1:00:00 of estimated compute per apply (guardrails of b, assets/b.yaml:9)")]
    assert sum(1 for a in got.actions if a.asset == "a") == 2 and sum(1 for a in got.actions if a.asset == "b") == 3


def test_a_run_too_big_for_a_guardrail_is_a_problem_not_a_wait(project, cli) -> None:
    project.write("setpoint.yaml", "name: t\nguardrails: {max_compute: 30m}\n")
    project.write("assets/a.yaml", one_day("a", pool="default", estimate="1h"))
    got = plan(project.root, now=NOW, record=False)
    assert [d.kind for d in got.schedule.deferred] == ["too_big"]
    result = cli("apply", "-p", str(project.root), "--now", "2024-04-01T12:00Z")
    assert result.exit_code == 1 and "larger than a guardrail allows on its own" in result.stdout


def test_a_partial_rebuild_below_the_share_goes_ahead_and_above_it_waits(project) -> None:
    project.write("setpoint.yaml", "name: t\nguardrails: {rebuild_min: 1, rebuild_share: 0.5}\n")
    asset = one_day("a", pool="default", days=("2024-03-01", "2024-03-04"))
    project.write("assets/a.yaml", asset)
    assert apply(project.root, now=NOW).converged
    project.touch("out/a/2024-03-01.csv", (NOW - timedelta(days=30)).timestamp())
    with StateStore(project.root / ".setpoint" / "state.db") as store:  # one built by an older version
        store.record_built("a", [("2024-03-01", ["2024-03-01"])], "old", "r-0", at=NOW)
    got = plan(project.root, now=NOW, record=False)
    assert got.schedule.rebuilds == [] and labels(got.actions) == ["a[2024-03-01]"]  # 1 of 4: 25%
    project.write("assets/a.yaml", asset + "  version: '2'\n")
    assert [r.partitions for r in plan(project.root, now=NOW, record=False).schedule.rebuilds] == [4]


def test_priorities_are_clamped_to_nine(project) -> None:
    project.write("setpoint.yaml", "name: t\npools: {one: 1}\n")
    project.write("assets/a.yaml", one_day("a", days=("2024-03-01", "2024-03-02")))
    project.write("rules/p.lp", 'priority(a, "2024-03-02", 50) :- runnable(a, "2024-03-02").\n'
                                'priority(a, "2024-03-01", 9) :- runnable(a, "2024-03-01").\n')
    got = plan(project.root, now=NOW, record=False)
    assert labels(got.schedule.start) == ["a[2024-03-01]"]  # 50 counts as 9: then the older one first


def test_out_of_time_before_a_first_model_the_greedy_choice_starts(project) -> None:
    project.write("setpoint.yaml", "name: t\npools: {one: 2}\nschedule: {time_limit: 0.000001}\n")
    project.write("assets/a.yaml", one_day("a", days=("2024-03-01", "2024-03-05")))
    got = plan(project.root, now=NOW, record=False)
    assert labels(got.schedule.start) == ["a[2024-03-01]", "a[2024-03-02]"]
