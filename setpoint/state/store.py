"""The state store (DuckDB). It carries a schema version and migrates itself forward.

Connections are short-lived (open, write, close) so that other processes can
read between writes; DuckDB allows one writer process at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from ..errors import ObserveError

SCHEMA_VERSION = 1

#: migrations[n] upgrades a store from version n to n + 1
MIGRATIONS: dict[int, list[str]] = {
    0: [
        "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        """CREATE TABLE IF NOT EXISTS observations (
               observed_at TIMESTAMP NOT NULL,
               asset VARCHAR NOT NULL,
               source VARCHAR NOT NULL,
               present BIGINT NOT NULL,
               note VARCHAR)""",
    ],
}


class StateStore:
    """Open with ``with StateStore(path) as store:``; the file and its folder are created if absent."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        try:
            if not read_only:
                path.parent.mkdir(parents=True, exist_ok=True)
            self.con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            raise ObserveError(f"cannot open the state store {path}: {str(exc).splitlines()[0]}",
                               hint="another setpoint process may be writing it; try again") from exc
        except OSError as exc:
            raise ObserveError(f"cannot create the state store {path}: {exc.strerror}",
                               hint="check `state:` in setpoint.yaml") from exc
        if not read_only:
            self._migrate()

    def _version(self) -> int:
        exists = self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'meta' AND schema_name = 'main'").fetchone()[0]
        if not exists:
            return 0
        row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        version = self._version()
        if version > SCHEMA_VERSION:
            raise ObserveError(f"the state store {self.path} has schema version {version}, newer than this "
                               f"setpoint understands ({SCHEMA_VERSION})", hint="upgrade setpoint")
        while version < SCHEMA_VERSION:
            self.con.execute("BEGIN")
            for statement in MIGRATIONS[version]:
                self.con.execute(statement)
            version += 1
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)])
            self.con.execute("COMMIT")

    @property
    def version(self) -> int:
        return self._version()

    def record_observations(self, rows: Iterable[tuple[str, str, int, str]], at: datetime | None = None) -> None:
        """Append what each observer saw: (asset, source, present partitions, note)."""
        moment = (at or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
        self.con.executemany("INSERT INTO observations VALUES (?, ?, ?, ?, ?)",
                             [(moment, a, s, n, note or None) for a, s, n, note in rows])

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
