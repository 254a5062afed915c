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


#: intervals cron repeats evenly: divisors of an hour, of a day, and one day
_EVEN = {"m": (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30), "h": (1, 2, 3, 4, 6, 8, 12), "d": (1,)}


def every(text: str) -> Every:
    """``5m``, ``2h``, ``1d`` → a schedule cron repeats evenly."""
    m = _EVERY.match(text)
    if not m or int(m.group(1)) not in _EVEN[m.group(2)]:
        raise UsageError(f"cannot schedule every {text!r} evenly",
                         hint="write minutes that divide an hour (1m, 2m, 5m, 10m, 15m, 30m, …), hours that "
                              "divide a day (1h, 2h, 3h, 4h, 6h, 8h, 12h) or 1d, e.g. --every 5m")
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
    """The crontab line. cron reads ``%`` in a command as a newline, so it is escaped."""
    return f"{schedule.cron} {command(root).replace('%', chr(92) + '%')}  {marker(root)}"


def _crontab() -> list[str]:
    return shlex.split(os.environ.get("SETPOINT_CRONTAB", "crontab"))


def install(root: Path, schedule: Every) -> bool:
    """Put the line into the user's crontab, replacing this project's previous one; whether it replaced one."""
    try:
        current = subprocess.run([*_crontab(), "-l"], capture_output=True, text=True)
    except FileNotFoundError:
        raise UsageError("there is no crontab command on this machine",
                         hint="install cron, or run `setpoint run --every 5m` under a process supervisor") from None
    if current.returncode != 0 and "no crontab" not in current.stderr.lower():
        raise UsageError(f"cannot read your crontab: {current.stderr.strip() or f'exit {current.returncode}'}",
                         hint="fix `crontab -l` first; nothing was changed")
    lines = current.stdout.splitlines() if current.returncode == 0 else []
    kept = [line for line in lines if not line.rstrip().endswith(marker(root))]
    written = subprocess.run([*_crontab(), "-"], input="\n".join([*kept, cron_line(root, schedule)]) + "\n",
                             capture_output=True, text=True)
    if written.returncode != 0:
        raise UsageError(f"crontab refused the new table: {written.stderr.strip()}",
                         hint="check `crontab -l`; the line to add is printed by `setpoint cron`")
    return len(kept) != len(lines)
