"""The state store (DuckDB). It carries a schema version and migrates itself forward.

It holds what setpoint has seen and done: observations, runs, the append-only
event log, and the ledger — per partition, the action version that built it
and the failed attempts since. Connections are short-lived (open, write,
close) so that other processes can read between writes; DuckDB allows one
writer process at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from ..errors import ObserveError

SCHEMA_VERSION = 2

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
    1: [
        "CREATE SEQUENCE IF NOT EXISTS run_ids START 1",
        """CREATE TABLE IF NOT EXISTS runs (
               id VARCHAR PRIMARY KEY,
               asset VARCHAR NOT NULL,
               kind VARCHAR NOT NULL,
               label VARCHAR NOT NULL,
               partitions VARCHAR[] NOT NULL,
               action_version VARCHAR NOT NULL,
               attempt INTEGER NOT NULL,
               started_at TIMESTAMP NOT NULL,
               ended_at TIMESTAMP,
               outcome VARCHAR NOT NULL,
               exit_code INTEGER,
               error VARCHAR,
               stdout_tail VARCHAR,
               stderr_tail VARCHAR)""",
        "CREATE SEQUENCE IF NOT EXISTS event_ids START 1",
        """CREATE TABLE IF NOT EXISTS events (
               seq BIGINT PRIMARY KEY,
               "at" TIMESTAMP NOT NULL,
               kind VARCHAR NOT NULL,
               asset VARCHAR,
               target VARCHAR,
               run_id VARCHAR,
               detail VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS ledger (
               asset VARCHAR NOT NULL,
               key VARCHAR NOT NULL,
               vals VARCHAR[] NOT NULL,
               version VARCHAR,
               built_by VARCHAR,
               built_at TIMESTAMP,
               attempts INTEGER NOT NULL DEFAULT 0,
               last_error VARCHAR,
               last_run VARCHAR,
               failed_version VARCHAR,
               PRIMARY KEY (asset, key))""",
    ],
}


def _utc(moment: datetime | None) -> datetime:
    """Naive UTC, as the store keeps times."""
    return (moment or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=timezone.utc) if moment is not None else None


@dataclass(frozen=True)
class RunRecord:
    """One run of an action, as the store keeps it."""

    id: str
    asset: str
    kind: str
    label: str
    partitions: tuple[str, ...]   # the partitions it was started to produce (canonical keys)
    action_version: str
    attempt: int
    started_at: datetime
    ended_at: datetime | None
    outcome: str                  # running, succeeded or failed
    exit_code: int | None = None
    error: str | None = None
    stdout_tail: str | None = None
    stderr_tail: str | None = None

    @property
    def duration_s(self) -> float | None:
        return (self.ended_at - self.started_at).total_seconds() if self.ended_at else None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "asset": self.asset, "kind": self.kind, "range": self.label,
                "partitions": list(self.partitions), "action_version": self.action_version,
                "attempt": self.attempt, "started_at": self.started_at.isoformat(),
                "ended_at": self.ended_at.isoformat() if self.ended_at else None,
                "outcome": self.outcome, "exit_code": self.exit_code, "error": self.error,
                "stdout_tail": self.stdout_tail, "stderr_tail": self.stderr_tail}


@dataclass(frozen=True)
class Event:
    """One entry of the append-only decision log."""

    seq: int
    at: datetime
    kind: str            # planned, started, succeeded, failed, blocked, observed
    asset: str | None
    target: str | None   # a partition, a range of runs, or a group
    run_id: str | None
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at.isoformat(), "kind": self.kind, "asset": self.asset,
                "target": self.target, "run_id": self.run_id, "detail": self.detail}


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
        moment = _utc(at)
        self.con.executemany("INSERT INTO observations VALUES (?, ?, ?, ?, ?)",
                             [(moment, a, s, n, note or None) for a, s, n, note in rows])

    def last_observed(self) -> dict[str, int]:
        """The present count of each asset at its latest observation."""
        rows = self.con.execute("SELECT asset, arg_max(present, rowid) FROM observations GROUP BY asset")
        return dict(rows.fetchall())

    # -- events -------------------------------------------------------------------------------
    def event(self, kind: str, asset: str | None = None, target: str | None = None, run_id: str | None = None,
              detail: dict[str, Any] | None = None, at: datetime | None = None) -> None:
        """Append one decision to the event log."""
        self.con.execute("INSERT INTO events VALUES (nextval('event_ids'), ?, ?, ?, ?, ?, ?)",
                         [_utc(at), kind, asset, target, run_id, json.dumps(detail or {}, sort_keys=True)])

    def event_many(self, kind: str, rows: Sequence[tuple[str | None, str | None, dict[str, Any]]],
                   at: datetime | None = None) -> None:
        """Append many decisions of one kind at once: (asset, target, detail) each, in order."""
        if rows:
            self.con.execute(
                "INSERT INTO events SELECT nextval('event_ids'), ?, ?, a, t, NULL, d FROM "
                "(SELECT unnest(CAST(? AS VARCHAR[])) AS a, unnest(CAST(? AS VARCHAR[])) AS t, "
                "unnest(CAST(? AS VARCHAR[])) AS d, generate_subscripts(CAST(? AS VARCHAR[]), 1) AS i) ORDER BY i",
                [_utc(at), kind, [r[0] for r in rows], [r[1] for r in rows],
                 [json.dumps(r[2], sort_keys=True) for r in rows], [r[1] for r in rows]])

    def events(self, asset: str | None = None, limit: int | None = None) -> list[Event]:
        """The newest ``limit`` events (all by default), oldest first."""
        where, params = ("WHERE asset = ?", [asset]) if asset else ("", [])
        rows = self.con.execute(f"SELECT * FROM (SELECT * FROM events {where} ORDER BY seq DESC"
                                f"{' LIMIT ' + str(int(limit)) if limit else ''}) ORDER BY seq", params).fetchall()
        return [Event(r[0], _aware(r[1]), r[2], r[3], r[4], r[5], json.loads(r[6] or "{}")) for r in rows]

    # -- runs ---------------------------------------------------------------------------------
    def start_run(self, asset: str, kind: str, label: str, partitions: Sequence[str], version: str,
                  attempt: int, at: datetime | None = None) -> str:
        """Record a run as started; returns its id (``r-1``, ``r-2``, …)."""
        seq = self.con.execute("SELECT nextval('run_ids')").fetchone()[0]
        run_id = f"r-{seq}"
        self.con.execute("INSERT INTO runs (id, asset, kind, label, partitions, action_version, attempt, started_at, "
                         "outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running')",
                         [run_id, asset, kind, label, list(partitions), version, attempt, _utc(at)])
        self.event("started", asset, label, run_id, {"partitions": len(partitions), "attempt": attempt}, at)
        return run_id

    def finish_run(self, run_id: str, outcome: str, at: datetime | None = None, exit_code: int | None = None,
                   error: str | None = None, stdout_tail: str | None = None, stderr_tail: str | None = None) -> None:
        """Record how a run ended (succeeded or failed) and log it."""
        self.con.execute("UPDATE runs SET ended_at = ?, outcome = ?, exit_code = ?, error = ?, stdout_tail = ?, "
                         "stderr_tail = ? WHERE id = ?",
                         [_utc(at), outcome, exit_code, error, stdout_tail, stderr_tail, run_id])
        asset, label = self.con.execute("SELECT asset, label FROM runs WHERE id = ?", [run_id]).fetchone()
        detail = {"error": error} if error else {}
        if exit_code is not None:
            detail["exit_code"] = exit_code
        self.event(outcome, asset, label, run_id, detail, at)

    def runs(self, asset: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """The newest ``limit`` runs (all by default), oldest first."""
        where, params = ("WHERE asset = ?", [asset]) if asset else ("", [])
        rows = self.con.execute(
            "SELECT id, asset, kind, label, partitions, action_version, attempt, started_at, ended_at, outcome, "
            f"exit_code, error, stdout_tail, stderr_tail FROM (SELECT *, CAST(substr(id, 3) AS BIGINT) AS n FROM runs "
            f"{where} ORDER BY n DESC{' LIMIT ' + str(int(limit)) if limit else ''}) ORDER BY n", params).fetchall()
        return [RunRecord(r[0], r[1], r[2], r[3], tuple(r[4]), r[5], r[6], _aware(r[7]), _aware(r[8]), *r[9:])
                for r in rows]

    # -- the ledger ---------------------------------------------------------------------------
    def attempts(self, asset: str, keys: Sequence[str], version: str | None = None) -> dict[str, int]:
        """Failed attempts since the last success (of action ``version``, if given), for those of ``keys``
        that have any."""
        rows = self.con.execute("SELECT key, attempts FROM ledger WHERE asset = ? AND attempts > 0 AND "
                                "list_contains(?, key) AND (? IS NULL OR failed_version IS NULL OR failed_version = ?)",
                                [asset, list(keys), version, version]).fetchall()
        return dict(rows)

    def record_built(self, asset: str, rows: Sequence[tuple[str, Sequence[str]]], version: str, run_id: str,
                     at: datetime | None = None) -> None:
        """These partitions were built by ``run_id`` with action ``version``.

        Failed attempts are kept: they are forgotten once the partitions are
        observed present (:meth:`clear_failures`), as a run may succeed without
        producing what it was started for.
        """
        if rows:
            self.con.execute(
                "INSERT INTO ledger (asset, key, vals, version, built_by, built_at, attempts) "
                "SELECT ?, unnest(CAST(? AS VARCHAR[])), unnest(CAST(? AS VARCHAR[][])), ?, ?, ?, 0 "
                "ON CONFLICT DO UPDATE SET version = excluded.version, built_by = excluded.built_by, "
                "built_at = excluded.built_at, last_run = excluded.built_by",
                [asset, [k for k, _ in rows], [list(v) for _, v in rows], version, run_id, _utc(at)])

    def record_failure(self, asset: str, rows: Sequence[tuple[str, Sequence[str]]], run_id: str, error: str,
                       version: str, attempts: int | None = None) -> None:
        """One more failed attempt (or exactly ``attempts``) for each of these partitions, by action ``version``.

        Failures of another version of the action do not count: a changed
        action starts afresh.
        """
        if rows:
            self.con.execute(
                "INSERT INTO ledger (asset, key, vals, attempts, last_error, last_run, failed_version) "
                "SELECT ?, unnest(CAST(? AS VARCHAR[])), unnest(CAST(? AS VARCHAR[][])), coalesce(?, 1), ?, ?, ? "
                "ON CONFLICT DO UPDATE SET attempts = coalesce(?, CASE WHEN ledger.failed_version IS DISTINCT FROM "
                "excluded.failed_version THEN 1 ELSE ledger.attempts + 1 END), last_error = excluded.last_error, "
                "last_run = excluded.last_run, failed_version = excluded.failed_version",
                [asset, [k for k, _ in rows], [list(v) for _, v in rows], attempts, error, run_id, version, attempts])

    def note_run(self, run_id: str, error: str) -> None:
        """Add what was learnt after a run ended (it exited 0 but did not produce its partitions)."""
        self.con.execute("UPDATE runs SET error = ? WHERE id = ?", [error, run_id])

    def clear_failures(self, asset: str, keys: Sequence[str]) -> None:
        """These partitions exist now (made by hand, or by another run): their failures no longer count."""
        if keys:
            self.con.execute("UPDATE ledger SET attempts = 0, last_error = NULL WHERE asset = ? AND "
                             "list_contains(?, key)", [asset, list(keys)])

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
