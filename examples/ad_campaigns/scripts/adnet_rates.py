"""Publishes the day's exchange rates (deterministic stand-in for a finance feed)."""

from __future__ import annotations

from datetime import datetime, timezone


def rate(day: str) -> float:
    return round(1.05 + (int(day.replace("-", "")) % 97) / 1000, 4)


def publish_rates(con, partitions: list[dict[str, str]]) -> None:
    """Write fx_rates rows for the given days into the warehouse connection ``con``."""
    con.execute("CREATE TABLE IF NOT EXISTS fx_rates (day DATE, eur_usd DOUBLE, built_at TIMESTAMP)")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    for p in partitions:
        con.execute("DELETE FROM fx_rates WHERE day = CAST(? AS DATE)", [p["day"]])
        con.execute("INSERT INTO fx_rates VALUES (CAST(? AS DATE), ?, ?)", [p["day"], rate(p["day"]), now])
