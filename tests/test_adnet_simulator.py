"""The ad network stand-in of examples/ad_campaigns: writes reports, refuses some, is late for others."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "examples/ad_campaigns/scripts/adnet.py"


def download(root: Path, campaign: str, days: str):
    env = {**os.environ, "SETPOINT_CAMPAIGN": campaign, "SETPOINT_DAY_VALUES": days}
    return subprocess.run([sys.executable, str(SCRIPT), "download"], cwd=root, env=env, capture_output=True, text=True)


def test_downloads_a_range_of_days(tmp_path: Path) -> None:
    done = download(tmp_path, "501", "2024-01-01\n2024-01-02")
    assert done.returncode == 0
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.csv")) == [
        "data/csv/2024-01-01/501.csv", "data/csv/2024-01-02/501.csv"]
    assert (tmp_path / "data/csv/2024-01-01/501.csv").read_text().startswith("campaign,day,impressions,clicks,spend\n501,")


def test_refuses_and_is_late(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data/adnet_refused.txt").write_text("502\n")
    (tmp_path / "data/adnet_late.txt").write_text("503\n")
    refused = download(tmp_path, "502", "2024-01-01")
    assert (refused.returncode, refused.stderr) == (3, "auth failed: the password changed\n")
    late = download(tmp_path, "503", "2024-01-01")
    assert (late.returncode, late.stderr) == (4, "report not ready yet\n")
    assert not list(tmp_path.rglob("*.csv"))
