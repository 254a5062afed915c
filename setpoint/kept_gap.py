"""An asset's gap kept between plans: the expected partitions that were not observed, and the counts.

Finding them is an anti-join of the expected partitions with the observed
ones: the one step of a plan that reads every partition of history (about
60 ms at 365,000 partitions, three times that at 1.1 million). Its answer is
a function of two things, both known before it runs: the observed rows, and
the values of the asset's dimensions. When the rows are exactly those of a
kept snapshot (:attr:`~setpoint.adapters.base.Observation.generation`: the
observer reused it, or wrote it from these rows) and the values are those
the gap was computed with, the kept gap is the gap.

The gap is kept as a :class:`~setpoint.adapters.snapshot.Snapshot` named
``<asset>.gap`` beside the observation's, so it is written and read as
safely: a reader gets the rows its manifest names or nothing. Its manifest
holds a digest of what it was computed from (the generation, the dimensions'
value relations with their parameters, the key columns and the DuckDB
version); any difference computes the gap again and keeps the new one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb

from .adapters.snapshot import HeldRows, Snapshot


class KeptGap:
    """The kept gap of one asset, for one observation and one partition space."""

    def __init__(self, directory: Path, asset_name: str, generation: str, space: list[tuple[str, list]],
                 key_columns: list[str], held: HeldRows | None = None) -> None:
        self.snapshot = Snapshot(directory, f"{asset_name}.gap", "gap", held)  # (read in place with ``held``)
        text = json.dumps([generation, duckdb.__version__, key_columns, space], default=str, separators=(",", ":"))
        self.digest = hashlib.sha256(text.encode("ascii")).hexdigest()

    def load(self, con: duckdb.DuckDBPyConnection, target: str, cols: str) -> tuple[int, int, int] | None:
        """Fill the empty ``target`` with the kept absent partitions (or make it a view of them, see
        :class:`~.adapters.snapshot.HeldRows`) and return (observed, present, expected); None, with
        ``target`` left an empty table, if no gap was kept for this observation and space."""
        doc = self.snapshot.read()
        if doc is None or doc.get("digest") != self.digest:
            return None
        try:
            observed, present, expected, rows = (int(doc[k]) for k in ("observed", "present", "expected", "rows"))
        except (KeyError, TypeError, ValueError):
            return None
        if rows != expected - present or not self.snapshot.fill(con, target, cols, str(doc["generation"]), rows):
            return None
        return observed, present, expected

    def keep(self, con: duckdb.DuckDBPyConnection, source: str, cols: str, observed: int, present: int,
             expected: int) -> None:
        """Keep the absent partitions in ``source`` with the counts (nothing is lost if it cannot be written)."""
        self.snapshot.write(con, f"SELECT {cols} FROM {source}", {
            "digest": self.digest, "observed": observed, "present": present, "expected": expected,
            "rows": expected - present})
