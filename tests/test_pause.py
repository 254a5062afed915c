"""``setpoint pause`` and ``resume``: paused assets are never acted on, downstream says why, until it ends."""

from __future__ import annotations

import getpass
import json
from datetime import timedelta

from setpoint.apply import apply
from setpoint.controller import plan

from .conftest import NOW, NOW_TEXT

WHO = getpass.getuser()


def statuses(project, now=NOW) -> dict[str, tuple[str, str]]:
    got = plan(project.root, now=now, record=False)
    return {s.partition: (s.status, s.cause.describe() if s.cause else s.reasons[0].describe()) for s in got.statuses}


def test_pause_blocks_the_asset_and_everything_downstream_until_resumed(waiting, cli) -> None:
    root = str(waiting.root)
    done = cli("pause", "a", "-p", root, "--reason", "vendor outage", "--now", NOW_TEXT)
    assert (done.exit_code, done.stdout) == (0, "paused a until resumed: vendor outage\n")
    why = f"paused by {WHO} at 2024-04-01 12:00 UTC because vendor outage"
    assert statuses(waiting) == {"a[2024-03-01]": ("blocked", why), "a[2024-03-02]": ("blocked", why),
                                 "b[2024-03-01]": ("blocked", why), "b[2024-03-02]": ("blocked", why)}
    text = cli("plan", "-p", root, "--now", NOW_TEXT).stdout
    assert f"  a  2 blocked  {why}" in text
    assert f"  b  2 blocked  {why} (at a)" in text
    result = apply(waiting.root, now=NOW)
    assert result.runs == [] and result.ok  # a pause is deliberate: not a problem for cron
    st = cli("status", "-p", root, "--now", NOW_TEXT)
    assert st.exit_code == 0 and f"  a  by {WHO}  since 2024-04-01 12:00 UTC  until resumed: vendor outage" in st.stdout
    assert json.loads(cli("status", "-p", root, "--now", NOW_TEXT, "--json").stdout)["pauses"] == [
        {"asset": "a", "since": "2024-04-01T12:00:00+00:00", "until": None, "reason": "vendor outage", "by": WHO}]
    explained = cli("why", "b[2024-03-01]", "-p", root, "--now", NOW_TEXT).stdout
    assert f"blocked: {why} (`setpoint resume a` ends it)" in explained
    resumed = cli("resume", "a", "-p", root)
    assert (resumed.exit_code, resumed.stdout) == (0, f"resumed a\nnext: setpoint apply -p {root}\n")
    assert statuses(waiting)["a[2024-03-01]"][0] == "missing"
    assert cli("resume", "a", "-p", root).stdout == "a was not paused.\n"


def test_a_pause_until_a_time_ends_by_itself(waiting, cli) -> None:
    root = str(waiting.root)
    done = cli("pause", "a", "-p", root, "--until", "2h", "--now", NOW_TEXT)
    assert done.stdout == "paused a until 2024-04-01 14:00 UTC\n"
    assert statuses(waiting)["a[2024-03-01]"] == (
        "blocked", f"paused by {WHO} at 2024-04-01 12:00 UTC until 2024-04-01 14:00 UTC")
    later = statuses(waiting, NOW + timedelta(hours=2))
    assert later["a[2024-03-01]"][0] == "missing" and later["b[2024-03-01]"][0] == "waiting"
    at = cli("pause", "b", "-p", root, "--until", "2024-04-02T08:00Z", "--now", NOW_TEXT)
    assert at.stdout == "paused b until 2024-04-02 08:00 UTC\n"


def test_pause_all_and_resume_all(waiting, cli) -> None:
    root = str(waiting.root)
    assert cli("pause", "--all", "-p", root, "--now", NOW_TEXT).stdout == "paused every asset until resumed\n"
    assert statuses(waiting)["a[2024-03-01]"] == (
        "blocked", f"paused (all assets) by {WHO} at 2024-04-01 12:00 UTC")
    one = cli("resume", "a", "-p", root)
    assert one.exit_code == 2
    assert one.stderr == "error: a would stay paused: every asset is paused (`setpoint resume --all` ends that " \
                         "pause (and every other))\n"
    assert cli("resume", "--all", "-p", root).stdout == f"resumed every asset\nnext: setpoint apply -p {root}\n"
    assert statuses(waiting)["a[2024-03-01]"][0] == "missing"


def test_pause_refuses_bad_input(waiting, cli) -> None:
    root = str(waiting.root)
    cases = {
        ("pause", "-p", root): "error: pause needs an asset or --all, not neither (e.g. `setpoint pause results` or "
                               "`setpoint pause --all`)\n",
        ("pause", "a", "--all", "-p", root): "error: pause needs an asset or --all, not both (e.g. `setpoint pause "
                                             "results` or `setpoint pause --all`)\n",
        ("pause", "nosuch", "-p", root): "error: unknown asset 'nosuch' (the assets are a, b)\n",
        ("pause", "a", "--until", "soon", "-p", root): "error: bad --until 'soon' (write an ISO time such as "
                                                       "2024-03-26T08:00Z, or a duration such as 2h)\n",
        ("pause", "a", "--until", "2024-01-01T00:00Z", "-p", root, "--now", NOW_TEXT):
            "error: --until 2024-01-01 00:00 UTC has passed (give a time in the future, or a duration such as 2h)\n",
    }
    for args, error in cases.items():
        result = cli(*args)
        assert (result.exit_code, result.stderr) == (2, error), args
    assert statuses(waiting)["a[2024-03-01]"][0] == "missing"  # nothing was paused


def test_work_under_way_when_paused_finishes_and_shows_in_progress(waiting, cli) -> None:
    from setpoint.state import StateStore

    with StateStore(waiting.root / ".setpoint" / "state.db") as store:
        store.start_run("a", "shell", "a[2024-03-01]", ["2024-03-01"], "v", 1, at=NOW,
                        lease=[("2024-03-01", ["2024-03-01"])], deadline=NOW + timedelta(hours=1), owner=None)
    cli("pause", "a", "-p", str(waiting.root), "--now", NOW_TEXT)
    got = statuses(waiting)
    assert got["a[2024-03-01]"][0] == "in_progress" and got["a[2024-03-02]"][0] == "blocked"
    assert got["b[2024-03-01]"][0] == "waiting" and got["b[2024-03-02]"][0] == "blocked"
