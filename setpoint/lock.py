"""One apply at a time per project, and telling a live process from a dead one.

The apply lock is an exclusive ``flock`` on ``.setpoint/apply.lock``. The
kernel drops it when its process dies, however it dies (``kill -9``
included), so a lock is never left behind: a stale holder written in the file
is only a note of who had it last. The file says who holds the lock and since
when, for the apply that finds it taken.

A process is identified by its pid *and* its start time, so that a pid the
system has reused for another process is not mistaken for the one that held a
lease.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces), where there is /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_start(pid: int) -> str | None:
    """When a process started, as the kernel counts it (Linux), or None where that cannot be read."""
    fields = _stat(pid)
    return fields[19] if fields else None  # field 22 of stat


def alive(pid: int | None, start: str | None = None) -> bool:
    """Whether process ``pid`` (started at ``start``, when known) still runs on this machine."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    fields = _stat(pid)
    if fields is not None and fields[0] in ("Z", "X"):
        return False  # it has exited; nobody has collected its status yet
    if start is not None and fields is not None:
        return fields[19] == start
    return True


def this_process() -> tuple[str, int, str | None]:
    """(host, pid, start) of the running process: what a lease records as its owner."""
    return socket.gethostname(), os.getpid(), process_start(os.getpid())


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the apply lock."""

    pid: int
    host: str
    since: datetime
    command: str

    def describe(self, now: datetime | None = None) -> str:
        moment = now or datetime.now(timezone.utc)
        minutes = max(0, int((moment - self.since).total_seconds() // 60))
        return (f"pid {self.pid} on {self.host}, since {self.since.strftime('%Y-%m-%d %H:%M:%S UTC')} "
                f"({minutes} min ago)")


class ApplyLock:
    """``with ApplyLock(path).held(wait) as holder:`` — holder is None when this process got the lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: IO[str] | None = None
        #: the holder noted in the file when this process took the lock over from a dead one
        self.took_over: Holder | None = None

    def acquire(self, wait: float = 0.0) -> Holder | None:
        """Take the lock, trying for up to ``wait`` seconds; None when taken, else who holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self._read(f)
                    f.close()
                    return holder or Holder(0, "?", datetime.now(timezone.utc), "?")
                time.sleep(0.1)
        previous = self._read(f)
        if previous is not None and previous.pid != os.getpid():
            self.took_over = previous  # its process is gone: the kernel dropped its lock
        host, pid, _ = this_process()
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": pid, "host": host, "since": datetime.now(timezone.utc).isoformat(),
                            "command": " ".join(sys.argv)}))
        f.flush()
        self.file = f
        return None

    @staticmethod
    def _read(f: IO[str]) -> Holder | None:
        try:
            f.seek(0)
            data = json.loads(f.read() or "null")
            return Holder(int(data["pid"]), str(data["host"]), datetime.fromisoformat(data["since"]),
                          str(data.get("command", "")))
        except (ValueError, TypeError, KeyError):
            return None

    def release(self) -> None:
        if self.file is not None:
            self.file.seek(0)
            self.file.truncate()
            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()
            self.file = None
