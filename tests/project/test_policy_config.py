"""Errors in SLOs, pools and guardrails name the file, the line and the fix."""

from __future__ import annotations

from datetime import timedelta

from setpoint.errors import Problem
from setpoint.project.loader import load_project

from .test_config_errors import problems_of

DAILY = "partitions:\n  day: {daily: {start: 2024-03-01}}\n"


def test_slo_pool_and_guardrails_are_read(project) -> None:
    project.write("setpoint.yaml", "name: t\npools: {net: 3}\nschedule: {estimate: 5m, time_limit: 0.5}\n"
                                   "guardrails: {max_actions: 10, max_compute: 2h, rebuild_share: 25%}\n")
    project.write("assets/a.yaml", f"name: a\nfiles: a/{{day}}\n{DAILY}action: {{shell: [\"true\"], pool: net, "
                                   "estimate: 90s}\nslo: {deadline: '08:00', freshness: 6h, timezone: Europe/Berlin}\n"
                                   "guardrails: {max_partitions: 100}\n")
    p = load_project(project.root)
    a = p.assets["a"]
    assert (a.action.pool, a.action.estimate) == ("net", timedelta(seconds=90))
    assert (a.slo.at, a.slo.freshness, a.slo.timezone) == (480, timedelta(hours=6), "Europe/Berlin")
    assert a.limits.partitions == 100 and a.limits.actions is None
    s = p.schedule
    assert (s.pools, s.estimate, s.time_limit, s.rebuild_share) == ({"net": 3}, timedelta(minutes=5), 0.5, 0.25)
    assert (s.limits.actions, s.limits.compute) == (10, timedelta(hours=2))
    assert p.capacity("net") == 3 and p.capacity("default") == 4


def test_mistakes_in_slos_pools_and_guardrails(project) -> None:
    project.write("setpoint.yaml", "name: t\npools: {net: 3}\nguardrails: {max_actions: 0, rebuild_share: 2}\n")
    project.write("assets/a.yaml", f"name: a\nfiles: a/{{day}}\n{DAILY}action: {{shell: [\"true\"], pool: nett}}\n"
                                   "slo: {deadline: soon, max_age: 1d}\n")
    project.write("assets/b.yaml", "name: b\nfiles: b.csv\nslo: {deadline: '08:00', timezone: Mars/Olympus}\n")
    assert problems_of(project) == [
        Problem("the action of asset 'a' names pool 'nett', which is not declared", "assets/a.yaml", 5,
                "did you mean 'net'? or declare it in setpoint.yaml: `pools: {nett: 4}`"),
        Problem("max_age in 'slo' of asset 'a' is for unpartitioned assets", "assets/a.yaml", 6,
                "a partitioned asset says freshness: (lag behind upstream) or deadline: instead"),
        Problem("bad duration 'soon' for 'deadline' in 'slo' of asset 'a'", "assets/a.yaml", 6,
                "write a clock time such as 08:00, or a duration after the window closes such as 45m"),
        Problem("unknown timezone 'Mars/Olympus' in 'slo' of asset 'b'", "assets/b.yaml", 3,
                "use an IANA name such as Europe/Berlin"),
        Problem("deadline in 'slo' of asset 'b' needs a time dimension (daily, hourly, …)", "assets/b.yaml", 3,
                "an asset without time partitions says freshness: or max_age: instead"),
        Problem("'max_actions' in 'guardrails' must be at least 1, got 0", "setpoint.yaml", 3, None),
        Problem("'rebuild_share' in 'guardrails' must be a share above 0 and at most 1, got '2'", "setpoint.yaml",
                3, "e.g. rebuild_share: 0.5 (or 50%)"),
    ]
