"""Running setpoint on a schedule: the crontab line, installing it, and a loop where there is no cron.

The line changes into the project, runs ``setpoint apply --quiet`` (which
prints only problems) and appends to ``.setpoint/logs/cron.log``. It ends
with a marker comment naming the project, so that installing again replaces
it instead of adding a second one.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from .errors import UsageError

_EVERY = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")


@dataclass(frozen=True)
class Every:
    """A schedule: every N minutes, hours or days."""

    n: int
    unit: str  # m, h or d

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=self.n) if self.unit == "m" else (
            timedelta(hours=self.n) if self.unit == "h" else timedelta(days=self.n))

    @property
    def cron(self) -> str:
        """The five schedule fields."""
        if self.unit == "m":
            return "* * * * *" if self.n == 1 else f"*/{self.n} * * * *"
        if self.unit == "h":
            return "0 * * * *" if self.n == 1 else f"0 */{self.n} * * *"
        return "0 0 * * *"


def every(text: str) -> Every:
    """``5m``, ``2h``, ``1d`` → a schedule cron can express."""
    m = _EVERY.match(text)
    limits = {"m": 59, "h": 23, "d": 1}
    if not m or not 1 <= int(m.group(1)) <= limits[m.group(2)]:
        raise UsageError(f"cannot schedule every {text!r}",
                         hint="write a number of minutes (1m–59m), hours (1h–23h) or 1d, e.g. --every 5m")
    return Every(int(m.group(1)), m.group(2))


def executable() -> list[str]:
    """How to run this setpoint from cron, whose PATH knows nothing of a virtualenv."""
    beside = Path(sys.executable).parent / "setpoint"
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-m", "setpoint.cli"]


def marker(root: Path) -> str:
    return f"# setpoint {root}"


def command(root: Path) -> str:
    """The shell command the crontab line runs."""
    q = shlex.quote
    exe = " ".join(q(part) for part in executable())
    return (f"cd {q(str(root))} && mkdir -p .setpoint/logs && {exe} apply -p {q(str(root))} --quiet "
            ">> .setpoint/logs/cron.log 2>&1")


def cron_line(root: Path, schedule: Every) -> str:
    return f"{schedule.cron} {command(root)}  {marker(root)}"


def _crontab() -> list[str]:
    return shlex.split(os.environ.get("SETPOINT_CRONTAB", "crontab"))


def install(root: Path, schedule: Every) -> bool:
    """Put the line into the user's crontab, replacing this project's previous one; whether it replaced one."""
    try:
        current = subprocess.run([*_crontab(), "-l"], capture_output=True, text=True)
    except FileNotFoundError:
        raise UsageError("there is no crontab command on this machine",
                         hint="install cron, or run `setpoint run --every 5m` under a process supervisor") from None
    lines = current.stdout.splitlines() if current.returncode == 0 else []
    kept = [line for line in lines if not line.rstrip().endswith(marker(root))]
    written = subprocess.run([*_crontab(), "-"], input="\n".join([*kept, cron_line(root, schedule)]) + "\n",
                             capture_output=True, text=True)
    if written.returncode != 0:
        raise UsageError(f"crontab refused the new table: {written.stderr.strip()}",
                         hint="check `crontab -l`; the line to add is printed by `setpoint cron`")
    return len(kept) != len(lines)
