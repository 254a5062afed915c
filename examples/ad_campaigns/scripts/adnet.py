"""A stand-in for the ad network's report API, writing CSVs where a download would.

    python3 scripts/adnet.py download      (SETPOINT_CAMPAIGN, SETPOINT_DAY_VALUES)

Campaigns listed in data/adnet_refused.txt fail with "auth failed: the password
changed"; campaigns in data/adnet_late.txt fail with "report not ready yet".
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def listed(name: str) -> set[str]:
    path = Path("data") / name
    return set(path.read_text().split()) if path.exists() else set()


def report(campaign: str, day: str) -> str:
    """The same deterministic numbers the scenario builder writes."""
    c = int(campaign) if campaign.isdigit() else sum(map(ord, campaign))
    d = int(day.replace("-", "")) % 1000
    impressions = (c * 37 + d * 11) % 10_000
    clicks = impressions // 50
    spend = round(clicks * 0.35, 2)
    return f"campaign,day,impressions,clicks,spend\n{campaign},{day},{impressions},{clicks},{spend}\n"


def download(campaign: str, days: list[str]) -> int:
    if campaign in listed("adnet_refused.txt"):
        print("auth failed: the password changed", file=sys.stderr)
        return 3
    if campaign in listed("adnet_late.txt"):
        print("report not ready yet", file=sys.stderr)
        return 4
    for day in days:
        path = Path("data/csv") / day / f"{campaign}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(report(campaign, day))
        tmp.replace(path)  # atomic: a reader never sees half a report
    return 0


def main(argv: list[str]) -> int:
    if argv[1:2] != ["download"]:
        print(__doc__, file=sys.stderr)
        return 2
    campaign = os.environ["SETPOINT_CAMPAIGN"]
    days = os.environ["SETPOINT_DAY_VALUES"].split("\n")  # one day per line
    return download(campaign, days)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
