"""Time-window dimensions: hourly, daily or monthly windows from a start to an end or to now.

A window is expected once it has closed (plus an optional lag): the daily
window 2024-03-25 closes at 2024-03-26 00:00 in the dimension's timezone.
Values are written canonically (``2024-03-25T13:00``, ``2024-03-25``, ``2024-03``)
so that the same window always has the same key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

GRAINS = ("hourly", "daily", "monthly")

#: canonical value format per grain (strftime and DuckDB strftime agree on these)
FORMATS = {"hourly": "%Y-%m-%dT%H:00", "daily": "%Y-%m-%d", "monthly": "%Y-%m"}
#: the shape of each canonical value, which ``datetime.fromisoformat`` reads as ``strptime`` does
_CANONICAL = {"hourly": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:00"),
              "daily": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"), "monthly": re.compile(r"[0-9]{4}-[0-9]{2}")}
#: DuckDB interval unit per grain
SQL_UNITS = {"hourly": "HOUR", "daily": "DAY", "monthly": "MONTH"}

_DURATION = re.compile(r"(\d+)\s*(d|h|m|s)")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """``6h``, ``30m``, ``1d12h`` → timedelta; ValueError on anything else."""
    text = text.strip()
    pos, seconds = 0, 0
    for m in _DURATION.finditer(text):
        if m.start() != pos and text[pos : m.start()].strip():
            raise ValueError(text)
        seconds += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos == 0 or text[pos:].strip():
        raise ValueError(text)
    return timedelta(seconds=seconds)


def floor(moment: datetime, grain: str) -> datetime:
    """The start of the window holding ``moment`` (naive local time)."""
    if grain == "hourly":
        return moment.replace(minute=0, second=0, microsecond=0)
    if grain == "daily":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def shift(start: datetime, grain: str, n: int) -> datetime:
    """The start of the window ``n`` windows after (or before) ``start``."""
    if grain == "hourly":
        return start + timedelta(hours=n)
    if grain == "daily":
        return start + timedelta(days=n)
    months = start.year * 12 + start.month - 1 + n
    return start.replace(year=months // 12, month=months % 12 + 1)


def parse_moment(text: str) -> datetime:
    """Parse a window start as written in YAML or on the command line."""
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H", "%Y-%m-%d", "%Y-%m"):
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    raise ValueError(text)


@dataclass(frozen=True)
class TimeWindows:
    """Windows of one grain from ``start`` to ``end`` (inclusive) or, when ``end`` is None, to now."""

    grain: str
    start: datetime
    end: datetime | None
    lag: timedelta
    timezone: str

    @property
    def format(self) -> str:
        return FORMATS[self.grain]

    def value(self, moment: datetime) -> str:
        return moment.strftime(self.format)

    def parse(self, value: str) -> datetime:
        """The start of the window a canonical value names (ValueError if it names none); read without
        ``strptime`` when it has the canonical shape (ten times faster: a backfill reads every day's)."""
        if _CANONICAL[self.grain].fullmatch(value):
            return datetime.fromisoformat(value if self.grain != "monthly" else value + "-01")
        return datetime.strptime(value, self.format)

    def last_closed(self, now: datetime) -> datetime:
        """Start of the newest window that has closed, lag included, at ``now`` (aware)."""
        local = now.astimezone(ZoneInfo(self.timezone)).replace(tzinfo=None)
        return shift(floor(local - self.lag, self.grain), self.grain, -1)

    def bounds(self, now: datetime) -> tuple[datetime, datetime] | None:
        """First and last expected window starts at ``now``, or None when none has closed."""
        first = floor(self.start, self.grain)
        last = self.last_closed(now)
        if self.end is not None:
            last = min(last, floor(self.end, self.grain))
        return (first, last) if last >= first else None

    def contains(self, value: str, now: datetime) -> bool:
        try:
            moment = datetime.strptime(value, self.format)
        except ValueError:
            return False
        b = self.bounds(now)
        return b is not None and b[0] <= moment <= b[1]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def local_hours(space: TimeWindows, first: datetime, last: datetime) -> list[str]:
    """Hourly window values between two local starts, as the clock in ``space.timezone`` shows them.

    Walking real (UTC) hours skips the hour a spring-forward change removes; the
    hour a fall-back change repeats is one value covering both.
    """
    zone = ZoneInfo(space.timezone)
    start = first.replace(tzinfo=zone).astimezone(timezone.utc)
    end = last.replace(tzinfo=zone).astimezone(timezone.utc)
    values: dict[str, None] = {}
    moment = start
    while moment <= end:
        values.setdefault(moment.astimezone(zone).strftime(space.format))
        moment += timedelta(hours=1)
    return list(values)
