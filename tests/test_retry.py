"""Backoff: doubling per attempt, capped at an hour, scaled by a shared jitter, never overflowing."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from setpoint.project.model import Action, Asset, FilesLocation, Origin
from setpoint.retry import MAX_BACKOFF, backoff_until

NOW = datetime(2024, 4, 1, 12, 0, tzinfo=timezone.utc)
ASSET = Asset("a", FilesLocation("a.csv", None), (), (), Action("shell", ("true",), ()), Origin("a.yaml"))


def test_backoff_doubles_then_stops_at_the_cap() -> None:
    waits = [backoff_until(ASSET, n, NOW) - NOW for n in (1, 2, 3, 9, 10)]
    assert waits == [timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=40), timedelta(seconds=2560),
                     MAX_BACKOFF]


def test_jitter_scales_the_wait_and_huge_attempt_counts_do_not_overflow() -> None:
    assert backoff_until(ASSET, 2, NOW, factor=0.5) - NOW == timedelta(seconds=10)
    assert backoff_until(ASSET, 10_000, NOW) - NOW == MAX_BACKOFF


def test_no_backoff_means_at_once() -> None:
    instant = replace(ASSET, action=replace(ASSET.action, backoff=timedelta(0)))
    assert backoff_until(instant, 3, NOW) is None
