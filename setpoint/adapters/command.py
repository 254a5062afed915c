"""Observe anything else: a user command prints the present partitions as JSON lines.

Each line is an object with one key per dimension and optionally
``updated_at`` (ISO 8601 or epoch seconds). The command runs once per asset,
from the project directory, with argv passed as a list (no shell).
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone

import duckdb

from ..errors import ObserveError
from ..project.model import Asset, CommandLocation
from .base import Observation, land

TIMEOUT_S = 300


def _epoch(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


class CommandObserver:
    def __init__(self, asset: Asset, location: CommandLocation) -> None:
        self.asset = asset
        self.location = location

    def _fail(self, message: str, hint: str | None = None) -> ObserveError:
        return ObserveError(f"observer command of asset {self.asset.name!r} {message}",
                            file=self.asset.origin.file, line=self.asset.origin.line, hint=hint)

    def observe(self, con: duckdb.DuckDBPyConnection, target: str) -> Observation:
        argv = list(self.location.argv)
        try:
            proc = subprocess.run(argv, cwd=self.location.cwd, capture_output=True, text=True,
                                  timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise self._fail(f"could not start: {argv[0]!r} not found", hint="check `command:` in the asset file") from None
        except subprocess.TimeoutExpired:
            raise self._fail(f"did not finish within {TIMEOUT_S} s") from None
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-3:]
            raise self._fail(f"exited with code {proc.returncode}: {' | '.join(tail) or 'no output'}")
        dims = list(self.asset.dims)
        raw: dict[str, list[str]] = {d: [] for d in dims}
        updated: list[float | None] = []
        for n, line in enumerate(proc.stdout.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not an object")
                values = [row[d] if isinstance(row[d], str) else json.dumps(row[d]) for d in dims]
                stamp = _epoch(row.get("updated_at"))
            except (ValueError, KeyError, TypeError) as exc:
                raise self._fail(f"printed a bad line {n}: {line[:80]!r} ({exc})",
                                 hint=f"print one JSON object per line with keys {', '.join(dims) or '(none)'} "
                                      "and optionally updated_at") from None
            for d, v in zip(dims, values):
                raw[d].append(v)
            updated.append(stamp)
        landed = land(con, target, self.asset, raw, updated)
        return Observation(self.asset.name, f"command {' '.join(argv)}", landed)
