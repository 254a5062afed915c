from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from setpoint.project.timewindows import TimeWindows, parse_duration, shift

UTC = timezone.utc


def test_a_day_is_expected_once_it_has_closed() -> None:
    w = TimeWindows("daily", datetime(2024, 3, 1), None, timedelta(0), "UTC")
    assert w.bounds(datetime(2024, 3, 3, 0, 0, tzinfo=UTC)) == (datetime(2024, 3, 1), datetime(2024, 3, 2))
    assert w.bounds(datetime(2024, 3, 2, 23, 59, tzinfo=UTC)) == (datetime(2024, 3, 1), datetime(2024, 3, 1))
    assert w.bounds(datetime(2024, 3, 1, 12, tzinfo=UTC)) is None


def test_lag_delays_expectation() -> None:
    w = TimeWindows("hourly", datetime(2024, 4, 1, 8), None, timedelta(minutes=30), "UTC")
    assert w.bounds(datetime(2024, 4, 1, 12, 29, tzinfo=UTC))[1] == datetime(2024, 4, 1, 10)
    assert w.bounds(datetime(2024, 4, 1, 12, 30, tzinfo=UTC))[1] == datetime(2024, 4, 1, 11)


def test_end_caps_the_range_and_timezone_moves_midnight() -> None:
    w = TimeWindows("daily", datetime(2024, 3, 1), datetime(2024, 3, 5), timedelta(0), "UTC")
    assert w.bounds(datetime(2024, 6, 1, tzinfo=UTC))[1] == datetime(2024, 3, 5)
    berlin = TimeWindows("daily", datetime(2024, 3, 1), None, timedelta(0), "Europe/Berlin")
    # 23:30 UTC on March 3rd is already March 4th in Berlin: March 3rd has closed there
    assert berlin.bounds(datetime(2024, 3, 3, 23, 30, tzinfo=UTC))[1] == datetime(2024, 3, 3)


def test_monthly_shift_and_values() -> None:
    assert shift(datetime(2024, 12, 1), "monthly", 1) == datetime(2025, 1, 1)
    assert shift(datetime(2024, 1, 1), "monthly", -1) == datetime(2023, 12, 1)
    w = TimeWindows("monthly", datetime(2024, 1, 1), None, timedelta(0), "UTC")
    assert w.value(datetime(2024, 2, 1)) == "2024-02"
    assert w.contains("2024-02", datetime(2024, 4, 1, tzinfo=UTC))
    assert not w.contains("2024-04", datetime(2024, 4, 15, tzinfo=UTC))


@pytest.mark.parametrize("text,seconds", [("6h", 21600), ("30m", 1800), ("1d12h", 129600), ("45s", 45)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "6", "h6", "6 hours", "1x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
