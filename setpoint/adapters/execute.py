"""What every executor promises: run one action for some partitions, say how it went.

Executors are thin: they bind the run's parameters (see
:mod:`setpoint.project.action`), run the action, and report an
:class:`Outcome`. Recording, retrying and deciding what runs belong to the
controller.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..project.model import Asset, Project

if TYPE_CHECKING:
    from .sql import DuckDBWarehouse

#: how much of a run's stdout and stderr the run record keeps
TAIL = 2000


@dataclass(frozen=True)
class RunRequest:
    """One run to execute: the grain units it covers and the partitions it must produce."""

    run_id: str
    asset: Asset
    units: tuple[dict[str, str], ...]
    partitions: tuple[dict[str, str], ...]
    attempt: int


@dataclass(frozen=True)
class Outcome:
    """How a run ended. ``error`` is one line a person can act on."""

    ok: bool
    error: str | None = None
    exit_code: int | None = None
    stdout_tail: str | None = None
    stderr_tail: str | None = None
    #: the work goes on after ``run`` returned (a detached action): its outcome is recorded later
    detached: bool = False


class Executor(Protocol):
    def run(self, request: RunRequest) -> Outcome:
        """Run the action of ``request.asset`` once; never raise for the action's own failures."""


@dataclass
class Context:
    """What executors share during one apply: the project, where logs go, and the warehouse's writer lock.

    DuckDB lets one connection write at a time without conflicts, so SQL
    actions (apply holds the lock around them) and Python actions that take a
    warehouse connection run one after the other; shell actions run side by side.
    """

    project: Project
    log_dir: Path
    warehouse_lock: threading.Lock = field(default_factory=threading.Lock)
    #: told (run id, pid) when a run's work goes on in a process of its own, which may outlive the apply
    on_process: Callable[[str, int], None] | None = None
    #: detached runs still running, by run id: their exit status is collected on later passes
    detached: dict[str, subprocess.Popen] = field(default_factory=dict)
    warehouse: DuckDBWarehouse = field(init=False)

    def __post_init__(self) -> None:
        from .sql import DuckDBWarehouse

        self.warehouse = DuckDBWarehouse(self.project)

    def close(self) -> None:
        """Release the warehouse, so that observers (and other processes) can open it."""
        with self.warehouse_lock:
            self.warehouse.close()


def tail(text: str | bytes | None, size: int = TAIL) -> str | None:
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text[-size * 4:].decode("utf-8", errors="replace")
    text = text[-size:]
    return text or None


def last_line(text: str | None) -> str | None:
    """The last non-empty line, which is where most programs say what went wrong."""
    for line in reversed((text or "").splitlines()):
        if line.strip():
            return line.strip()
    return None


def executor_for(asset: Asset, context: Context) -> Executor:
    """The executor that runs an asset's action."""
    from .python_call import PythonExecutor
    from .shell import ShellExecutor
    from .sql import SQLExecutor

    action = asset.action
    if action is None:
        raise ValueError(f"asset {asset.name!r} has no action")
    if action.kind == "sql":
        return SQLExecutor(context.warehouse)
    if action.kind == "shell":
        return ShellExecutor(context)
    if action.kind == "python":
        return PythonExecutor(context)
    raise ValueError(f"no executor for {action.kind!r} actions")
