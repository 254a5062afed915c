"""Pause and resume: the operator's brake.

A paused asset is never acted on: its partitions that need work, and
everything that needs them, are blocked with the pause as their root cause
("paused by ada at … until … because …"), until it is resumed or its
``until`` passes. Work already running finishes; nothing new starts. Pauses
live in the state store, so every apply, cron-started or not, sees them.
"""

from __future__ import annotations

import getpass
from datetime import datetime, timezone
from pathlib import Path

from .errors import UsageError
from .project.loader import load_project
from .project.model import Project
from .project.timewindows import parse_duration
from .state import Pause, StateStore, recorded

ALL = "*"


def parse_until(text: str, now: datetime) -> datetime:
    """``--until``: an ISO time (UTC unless it says otherwise) or a duration from now (``2h``, ``1d``)."""
    try:
        return now + parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"bad --until {text!r}",
                         hint="write an ISO time such as 2024-03-26T08:00Z, or a duration such as 2h") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "an operator"


def pause(path: str | Path | Project, asset: str | None, until: datetime | None = None, reason: str | None = None,
          by: str | None = None, now: datetime | None = None) -> Pause:
    """Pause one asset (``asset=None``: all of them) until ``until`` (None: until resumed)."""
    project = path if isinstance(path, Project) else load_project(path)
    moment = now or datetime.now(timezone.utc)
    name = ALL if asset is None else project.asset(asset).name
    if until is not None:
        until = until.astimezone(timezone.utc)
    if until is not None and until <= moment:
        raise UsageError(f"--until {until:%Y-%m-%d %H:%M UTC} has passed", hint="give a time in the future, or a "
                                                                                 "duration such as 2h")
    with StateStore(project.state) as store:
        store.pause(name, until, reason, by or _who(), at=moment)
    return Pause(name, moment, until, reason, by or _who())


def resume(path: str | Path | Project, asset: str | None, now: datetime | None = None) -> list[str]:
    """End the pause of one asset (``asset=None``: every pause); returns what was paused ('*': all).

    Resuming one asset while all are paused is refused: it would stay paused.
    """
    project = path if isinstance(path, Project) else load_project(path)
    if asset is not None:
        asset = project.asset(asset).name
    if not recorded(project.state):
        return []
    moment = now or datetime.now(timezone.utc)
    with StateStore(project.state) as store:
        active = {p.asset for p in store.pauses() if p.active(moment)}
        if asset is None:
            return [a for a in store.resume(None) if a in active]
        if ALL in active:  # refused before anything changes: it would stay paused
            raise UsageError(f"{asset} would stay paused: every asset is paused",
                             hint="`setpoint resume --all` ends that pause (and every other)")
        store.resume(asset)
        return [asset] if asset in active else []


def pauses(path: str | Path | Project, now: datetime | None = None) -> list[Pause]:
    """The pauses in force at ``now``."""
    project = path if isinstance(path, Project) else load_project(path)
    if not recorded(project.state):
        return []
    moment = now or datetime.now(timezone.utc)
    with StateStore(project.state, read_only=True) as store:
        return [p for p in store.pauses() if p.active(moment)]


