"""The state store: what setpoint has seen and done, in a SQLite file that migrates itself forward.

It holds observations, runs, the append-only event log, and the ledger — per
partition, the action version that built it and the failed attempts since.

SQLite in WAL mode, because setpoint runs from cron: any number of processes
read (``plan``, ``why``, ``history``, ``status``) while one writes (``apply``),
writers queue behind each other for the few milliseconds a transaction takes,
and a process killed at any moment leaves every committed transaction intact
and no half-written one. (The warehouse is DuckDB; a DuckDB file admits one
writing process and no reader beside it, which is right for data, not for a
record other processes must read while it is written.)
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ObserveError
from .legacy import import_duckdb_store, known_sqlite, legacy_source

SCHEMA_VERSION = 4

_EVENTS_BY_RUN = "CREATE INDEX IF NOT EXISTS events_by_run ON events (run_id, kind)"

_PAUSES = """CREATE TABLE IF NOT EXISTS pauses (
           asset TEXT PRIMARY KEY,
           since TEXT NOT NULL,
           until TEXT,
           reason TEXT,
           by TEXT)"""

#: the whole schema of a new store (SQLite stores start at version 3; 1 and 2 were DuckDB files)
SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
    """CREATE TABLE IF NOT EXISTS observations (
           observed_at TEXT NOT NULL,
           asset TEXT NOT NULL,
           source TEXT NOT NULL,
           present INTEGER NOT NULL,
           note TEXT)""",
    """CREATE TABLE IF NOT EXISTS runs (
           n INTEGER PRIMARY KEY AUTOINCREMENT,
           id TEXT GENERATED ALWAYS AS ('r-' || n) VIRTUAL,
           asset TEXT NOT NULL,
           kind TEXT NOT NULL,
           label TEXT NOT NULL,
           partitions TEXT NOT NULL,
           action_version TEXT NOT NULL,
           attempt INTEGER NOT NULL,
           started_at TEXT NOT NULL,
           ended_at TEXT,
           outcome TEXT NOT NULL,
           exit_code INTEGER,
           error TEXT,
           stdout_tail TEXT,
           stderr_tail TEXT)""",
    "CREATE INDEX IF NOT EXISTS runs_by_asset ON runs (asset, n)",
    """CREATE TABLE IF NOT EXISTS events (
           seq INTEGER PRIMARY KEY AUTOINCREMENT,
           at TEXT NOT NULL,
           kind TEXT NOT NULL,
           asset TEXT,
           target TEXT,
           run_id TEXT,
           detail TEXT)""",
    "CREATE INDEX IF NOT EXISTS events_by_asset ON events (asset, seq)",
    # the estimates leave out runs settled after their apply was gone: looked up per run, every plan
    _EVENTS_BY_RUN,
    """CREATE TABLE IF NOT EXISTS ledger (
           asset TEXT NOT NULL,
           key TEXT NOT NULL,
           vals TEXT NOT NULL,
           version TEXT,
           built_by TEXT,
           built_at TEXT,
           attempts INTEGER NOT NULL DEFAULT 0,
           last_error TEXT,
           last_run TEXT,
           failed_version TEXT,
           retry_at TEXT,
           PRIMARY KEY (asset, key))""",
    # a partition being produced: by a run of an apply (owner: that process), or by outside work that
    # was reported started; at most one lease per partition, so nothing is ever started twice
    """CREATE TABLE IF NOT EXISTS leases (
           asset TEXT NOT NULL,
           key TEXT NOT NULL,
           vals TEXT NOT NULL,
           run_id TEXT NOT NULL,
           started_at TEXT NOT NULL,
           deadline TEXT NOT NULL,
           owner_host TEXT,
           owner_pid INTEGER,
           owner_start TEXT,
           pid INTEGER,
           pid_start TEXT,
           PRIMARY KEY (asset, key))""",
    "CREATE INDEX IF NOT EXISTS leases_by_run ON leases (run_id)",
    # the counts per asset and status of the latest plans, for `status` while the warehouse is busy
    """CREATE TABLE IF NOT EXISTS summaries (
           at TEXT NOT NULL,
           asset TEXT NOT NULL,
           counts TEXT NOT NULL,
           PRIMARY KEY (asset))""",
    # what `setpoint report --ok` said exists, for assets declared `reported: true`
    """CREATE TABLE IF NOT EXISTS reports (
           asset TEXT NOT NULL,
           key TEXT NOT NULL,
           vals TEXT NOT NULL,
           at TEXT NOT NULL,
           PRIMARY KEY (asset, key))""",
    # assets an operator paused (`setpoint pause`); asset '*' pauses them all
    _PAUSES,
]

#: migrations[n] upgrades a SQLite store from version n to n + 1
MIGRATIONS: dict[int, list[str]] = {3: [_PAUSES, _EVENTS_BY_RUN]}


def _utc(moment: datetime | None) -> str:
    """Naive UTC as text, as the store keeps times."""
    value = (moment or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


def _aware(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc) if text else None


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


@dataclass(frozen=True)
class Pause:
    """An operator said: do not act on ``asset`` (``*``: on any) until ``until`` (None: until resumed)."""

    asset: str
    since: datetime
    until: datetime | None
    reason: str | None
    by: str | None

    def active(self, now: datetime) -> bool:
        return self.until is None or now < self.until

    def to_json(self) -> dict[str, Any]:
        return {"asset": self.asset, "since": self.since.isoformat(),
                "until": self.until.isoformat() if self.until else None, "reason": self.reason, "by": self.by}


@dataclass(frozen=True)
class Lease:
    """Someone is producing asset[key] until ``deadline``: run ``run_id`` of the apply ``owner_pid`` on
    ``owner_host`` (none for outside work that was reported started), in process ``pid`` if known."""

    asset: str
    key: str
    vals: tuple[str, ...]
    run_id: str
    started_at: datetime
    deadline: datetime
    owner_host: str | None = None
    owner_pid: int | None = None
    owner_start: str | None = None
    pid: int | None = None
    pid_start: str | None = None


class LeaseTaken(Exception):
    """A partition a run was to produce is already leased to another run."""

    def __init__(self, lease: Lease) -> None:
        super().__init__(f"{lease.asset}[{lease.key}] is leased to run {lease.run_id}")
        self.lease = lease


#: how long a writer waits for another one to finish its transaction
BUSY_TIMEOUT_S = 30.0


class StateStore:
    """Open with ``with StateStore(path) as store:``; the file and its folder are created if absent.

    ``read_only`` opens an existing store without creating or migrating it
    (a store in the old DuckDB format is still converted first); reading never
    waits for a writer.
    """

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        try:
            if not read_only:
                path.parent.mkdir(parents=True, exist_ok=True)
            legacy = legacy_source(path)
            if legacy is not None:  # written by an older setpoint: converted once
                import_duckdb_store(legacy, path, self._create)
            # a reader opens read-write all the same when it may: a read-only connection cannot rebuild the
            # WAL index another process just removed, and fails with "disk I/O error" now and then
            uri = f"file:{path}?mode=ro" if read_only and not os.access(path, os.W_OK) else f"file:{path}"
            self.con = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                       check_same_thread=False)
            known_sqlite(path)
            if not read_only:
                self.con.execute("PRAGMA journal_mode=WAL")
                self.con.execute("PRAGMA synchronous=NORMAL")
                self._migrate()
            elif self._version() == 0:  # created a moment ago, its tables not committed yet: nothing to read
                self.con.close()
                self.con = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                self._create(self.con)
        except sqlite3.DatabaseError as exc:
            raise ObserveError(f"cannot open the state store {path}: {exc}",
                               hint="check `state:` in setpoint.yaml; the file must be a setpoint state store") from exc
        except OSError as exc:
            raise ObserveError(f"cannot create the state store {path}: {exc.strerror}",
                               hint="check `state:` in setpoint.yaml") from exc

    @staticmethod
    def _create(con: sqlite3.Connection) -> None:
        for statement in SCHEMA:
            con.execute(statement)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: all of it is recorded, or (killed half-way) none of it. Nests."""
        if self.con.in_transaction:
            yield self.con
            return
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def _version(self) -> int:
        if not self.con.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
            return 0
        row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        if self._version() == SCHEMA_VERSION:  # the usual case: no write lock taken
            return
        with self.transaction() as con:
            version = self._version()
            if version == 0:
                self._create(con)
                return
            if version > SCHEMA_VERSION:
                raise ObserveError(f"the state store {self.path} has schema version {version}, newer than this "
                                   f"setpoint understands ({SCHEMA_VERSION})", hint="upgrade setpoint")
            while version < SCHEMA_VERSION:
                for statement in MIGRATIONS[version]:
                    con.execute(statement)
                version += 1
                con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)])

    @property
    def version(self) -> int:
        return self._version()

    def record_observations(self, rows: Iterable[tuple[str, str, int, str]], at: datetime | None = None) -> None:
        """Append what each observer saw: (asset, source, present partitions, note)."""
        moment = _utc(at)
        with self.transaction() as con:
            con.executemany("INSERT INTO observations VALUES (?, ?, ?, ?, ?)",
                            [(moment, a, s, n, note or None) for a, s, n, note in rows])

    def record_summary(self, summary: dict[str, dict[str, int]], at: datetime | None = None) -> None:
        """The counts per asset and status of a plan just made (the latest per asset is kept)."""
        moment = _utc(at)
        with self.transaction() as con:
            con.executemany("INSERT INTO summaries VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET at = excluded.at, "
                            "counts = excluded.counts",
                            [(moment, asset, json.dumps(counts)) for asset, counts in summary.items()])

    def last_summary(self) -> tuple[datetime | None, dict[str, dict[str, int]]]:
        """The latest recorded counts per asset, and when the oldest of them was recorded."""
        rows = self.con.execute("SELECT at, asset, counts FROM summaries").fetchall()
        return (_aware(min(r[0] for r in rows)) if rows else None, {r[1]: json.loads(r[2]) for r in rows})

    def last_observed(self) -> dict[str, int]:
        """The present count of each asset at its latest observation."""
        rows = self.con.execute("SELECT asset, present FROM observations o WHERE rowid = "
                                "(SELECT max(rowid) FROM observations WHERE asset = o.asset)")
        return dict(rows.fetchall())

    # -- events -------------------------------------------------------------------------------
    def event(self, kind: str, asset: str | None = None, target: str | None = None, run_id: str | None = None,
              detail: dict[str, Any] | None = None, at: datetime | None = None) -> None:
        """Append one decision to the event log."""
        self.event_many(kind, [(asset, target, detail or {})], at, run_id)

    def event_many(self, kind: str, rows: Sequence[tuple[str | None, str | None, dict[str, Any]]],
                   at: datetime | None = None, run_id: str | None = None) -> None:
        """Append many decisions of one kind at once: (asset, target, detail) each, in order."""
        if rows:
            moment = _utc(at)
            self.con.executemany("INSERT INTO events (at, kind, asset, target, run_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
                                 [(moment, kind, a, t, run_id, json.dumps(d, sort_keys=True)) for a, t, d in rows])

    def events(self, asset: str | None = None, limit: int | None = None) -> list[Event]:
        """The newest ``limit`` events (all by default), oldest first."""
        where, params = ("WHERE asset = ?", [asset]) if asset else ("", [])
        rows = self.con.execute(f"SELECT * FROM (SELECT * FROM events {where} ORDER BY seq DESC LIMIT ?) "
                                "ORDER BY seq", [*params, int(limit) if limit else -1]).fetchall()
        return [Event(r[0], _aware(r[1]), r[2], r[3], r[4], r[5], json.loads(r[6] or "{}")) for r in rows]

    # -- runs ---------------------------------------------------------------------------------
    def start_run(self, asset: str, kind: str, label: str, partitions: Sequence[str], version: str,
                  attempt: int, at: datetime | None = None, lease: Sequence[tuple[str, Sequence[str]]] = (),
                  deadline: datetime | None = None, owner: tuple[str, int, str | None] | None = None) -> str:
        """Record a run as started, holding a lease on ``lease`` (key, values) until ``deadline`` for the
        process ``owner`` (host, pid, start); returns its id (``r-1``, ``r-2``, …).

        Atomic: when any of those partitions is leased already, nothing is recorded and
        :class:`LeaseTaken` says who holds it.
        """
        with self.transaction() as con:
            for key, _ in lease:
                held = self._lease(asset, key)
                if held is not None:
                    raise LeaseTaken(held)
            n = con.execute("INSERT INTO runs (asset, kind, label, partitions, action_version, attempt, started_at, "
                            "outcome) VALUES (?, ?, ?, ?, ?, ?, ?, 'running')",
                            [asset, kind, label, json.dumps(list(partitions)), version, attempt, _utc(at)]).lastrowid
            run_id = f"r-{n}"
            if lease:
                host, pid, start = owner or (None, None, None)
                con.executemany("INSERT INTO leases (asset, key, vals, run_id, started_at, deadline, owner_host, "
                                "owner_pid, owner_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                [(asset, k, json.dumps(list(v)), run_id, _utc(at), _utc(deadline), host, pid, start)
                                 for k, v in lease])
            self.event("started", asset, label, run_id, {"partitions": len(partitions), "attempt": attempt}, at)
        return run_id

    def _lease(self, asset: str, key: str) -> Lease | None:
        row = self.con.execute("SELECT * FROM leases WHERE asset = ? AND key = ?", [asset, key]).fetchone()
        return _lease(row) if row else None

    def last_runs(self) -> dict[str, int]:
        """The number of each asset's newest run (a file inventory is listed again after its asset's runs)."""
        return {a: n for a, n in self.con.execute("SELECT asset, max(n) FROM runs GROUP BY asset").fetchall()}

    def leases(self, run_id: str | None = None) -> list[Lease]:
        """Every lease held (or those of one run), oldest first."""
        where, params = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
        return [_lease(r) for r in self.con.execute(f"SELECT * FROM leases {where} ORDER BY started_at, asset, key",
                                                   params).fetchall()]

    def lease_process(self, run_id: str, pid: int, pid_start: str | None) -> None:
        """The run's work goes on in process ``pid``: it may outlive the apply that started it."""
        with self.transaction() as con:
            con.execute("UPDATE leases SET pid = ?, pid_start = ? WHERE run_id = ?", [pid, pid_start, run_id])

    def release_partition(self, asset: str, key: str) -> None:
        """Drop the lease on one partition (a report settled it; the run may go on for the others)."""
        with self.transaction() as con:
            con.execute("DELETE FROM leases WHERE asset = ? AND key = ?", [asset, key])

    def failed_in(self, run_id: str) -> bool:
        """Whether any partition's last failure was charged to this run."""
        return self.con.execute("SELECT 1 FROM ledger WHERE last_run = ? AND attempts > 0 LIMIT 1",
                                [run_id]).fetchone() is not None

    def release(self, run_id: str) -> None:
        """Drop the run's leases (it ended, or was given up)."""
        with self.transaction() as con:
            con.execute("DELETE FROM leases WHERE run_id = ?", [run_id])

    def finish_run(self, run_id: str, outcome: str, at: datetime | None = None, exit_code: int | None = None,
                   error: str | None = None, stdout_tail: str | None = None, stderr_tail: str | None = None) -> None:
        """Record how a run ended (succeeded or failed) and log it."""
        with self.transaction() as con:
            asset, label = con.execute(
                "UPDATE runs SET ended_at = ?, outcome = ?, exit_code = ?, error = ?, stdout_tail = ?, "
                "stderr_tail = ? WHERE n = ? RETURNING asset, label",
                [_utc(at), outcome, exit_code, error, stdout_tail, stderr_tail, _number(run_id)]).fetchone()
            detail: dict[str, Any] = {"error": error} if error else {}
            if exit_code is not None:
                detail["exit_code"] = exit_code
            self.event(outcome, asset, label, run_id, detail, at)
            con.execute("DELETE FROM leases WHERE run_id = ?", [run_id])

    def run(self, run_id: str) -> RunRecord | None:
        rows = self.con.execute(
            "SELECT id, asset, kind, label, partitions, action_version, attempt, started_at, ended_at, outcome, "
            "exit_code, error, stdout_tail, stderr_tail FROM runs WHERE n = ?", [_number(run_id)]).fetchall()
        return _run(rows[0]) if rows else None

    def runs(self, asset: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """The newest ``limit`` runs (all by default), oldest first."""
        where, params = ("WHERE asset = ?", [asset]) if asset else ("", [])
        rows = self.con.execute(
            "SELECT id, asset, kind, label, partitions, action_version, attempt, started_at, ended_at, outcome, "
            f"exit_code, error, stdout_tail, stderr_tail FROM (SELECT * FROM runs {where} ORDER BY n DESC LIMIT ?) "
            "ORDER BY n", [*params, int(limit) if limit else -1]).fetchall()
        return [_run(r) for r in rows]

    # -- the ledger ---------------------------------------------------------------------------
    def attempts(self, asset: str, keys: Sequence[str], version: str | None = None) -> dict[str, int]:
        """Failed attempts since the last success (of action ``version``, if given), for those of ``keys``
        that have any."""
        rows = self.con.execute("SELECT key, attempts FROM ledger WHERE asset = ? AND attempts > 0 AND "
                                "key IN (SELECT value FROM json_each(?)) AND "
                                "(? IS NULL OR failed_version IS NULL OR failed_version = ?)",
                                [asset, json.dumps(list(keys)), version, version]).fetchall()
        return dict(rows)

    def record_built(self, asset: str, rows: Sequence[tuple[str, Sequence[str]]], version: str, run_id: str,
                     at: datetime | None = None) -> None:
        """These partitions were built by ``run_id`` with action ``version``.

        Failed attempts are kept: they are forgotten once the partitions are
        observed present (:meth:`clear_failures`), as a run may succeed without
        producing what it was started for.
        """
        moment = _utc(at)
        with self.transaction() as con:
            con.executemany(
                "INSERT INTO ledger (asset, key, vals, version, built_by, built_at, attempts) "
                "VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT DO UPDATE SET version = excluded.version, "
                "built_by = excluded.built_by, built_at = excluded.built_at, last_run = excluded.built_by",
                [(asset, k, json.dumps(list(v)), version, run_id, moment) for k, v in rows])

    def record_failure(self, asset: str, rows: Sequence[tuple[str, Sequence[str]]], run_id: str, error: str,
                       version: str, attempts: int | None = None,
                       backoff: Callable[[int], datetime | None] | None = None) -> dict[str, int]:
        """One more failed attempt (or exactly ``attempts``) for each of these partitions, by action ``version``;
        returns the attempts now counted per key.

        Failures of another version of the action do not count: a changed
        action starts afresh. ``backoff(attempts)`` says when the partition
        may be tried again (None: at once).
        """
        with self.transaction() as con:
            con.executemany(
                "INSERT INTO ledger (asset, key, vals, attempts, last_error, last_run, failed_version) "
                "VALUES (?, ?, ?, coalesce(?, 1), ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET attempts = coalesce(?, CASE WHEN ledger.failed_version IS NOT "
                "excluded.failed_version THEN 1 ELSE ledger.attempts + 1 END), last_error = excluded.last_error, "
                "last_run = excluded.last_run, failed_version = excluded.failed_version",
                [(asset, k, json.dumps(list(v)), attempts, error, run_id, version, attempts) for k, v in rows])
            spent = dict(con.execute("SELECT key, attempts FROM ledger WHERE asset = ? AND key IN "
                                     "(SELECT value FROM json_each(?))",
                                     [asset, json.dumps([k for k, _ in rows])]).fetchall())
            if backoff is not None:
                con.executemany("UPDATE ledger SET retry_at = ? WHERE asset = ? AND key = ?",
                                [(_utc(when) if (when := backoff(n)) else None, asset, k) for k, n in spent.items()])
        return spent

    def note_run(self, run_id: str, error: str) -> None:
        """Add what was learnt after a run ended (it exited 0 but did not produce its partitions)."""
        with self.transaction() as con:
            con.execute("UPDATE runs SET error = ? WHERE n = ?", [error, _number(run_id)])

    def clear_failures(self, asset: str, keys: Sequence[str]) -> None:
        """These partitions exist now (made by hand, or by another run): their failures no longer count."""
        if keys:
            with self.transaction() as con:
                con.execute("UPDATE ledger SET attempts = 0, last_error = NULL, retry_at = NULL WHERE asset = ? AND "
                            "key IN (SELECT value FROM json_each(?))", [asset, json.dumps(list(keys))])

    def reset_attempts(self, asset: str, keys: Sequence[str] | None = None) -> list[str]:
        """Forget the failed attempts of these partitions (all of the asset's, by default) so that they are
        tried again; returns the keys that had any."""
        where, params = ("", [asset]) if keys is None else (" AND key IN (SELECT value FROM json_each(?))",
                                                            [asset, json.dumps(list(keys))])
        with self.transaction() as con:
            found = [k for (k,) in con.execute(f"SELECT key FROM ledger WHERE asset = ? AND attempts > 0{where} "
                                               "ORDER BY key", params).fetchall()]
            con.execute(f"UPDATE ledger SET attempts = 0, retry_at = NULL WHERE asset = ?{where}", params)
        return found

    def ledger_rows(self, asset: str, version: str | None) -> list[tuple]:
        """The ledger rows the frontier needs for one asset: partitions built by another version than
        ``version`` (None: the asset has no action) and partitions with failed attempts —
        (key, vals, version, attempts, last_error, last_run, failed_version, built_by, built_at, retry_at)."""
        return self.con.execute(
            "SELECT key, vals, version, attempts, last_error, last_run, failed_version, built_by, built_at, retry_at "
            "FROM ledger "
            "WHERE asset = ? AND ((version IS NOT NULL AND ? IS NOT NULL AND version <> ?) OR attempts > 0)",
            [asset, version, version]).fetchall()

    def built(self, asset: str, keys: Sequence[str]) -> dict[str, tuple[str | None, str | None, datetime | None]]:
        """(version, run, time) that built each of ``keys``, for those the ledger knows."""
        rows = self.con.execute("SELECT key, version, built_by, built_at FROM ledger WHERE asset = ? AND "
                                "version IS NOT NULL AND key IN (SELECT value FROM json_each(?))",
                                [asset, json.dumps(list(keys))]).fetchall()
        return {k: (v, b, _aware(t)) for k, v, b, t in rows}

    def report_present(self, asset: str, rows: Sequence[tuple[str, Sequence[str]]], present: bool,
                       at: datetime | None = None) -> None:
        """Outside work says these partitions exist now (or no longer do)."""
        with self.transaction() as con:
            if present:
                con.executemany("INSERT INTO reports VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET at = excluded.at",
                                [(asset, k, json.dumps(list(v)), _utc(at)) for k, v in rows])
            else:
                con.executemany("DELETE FROM reports WHERE asset = ? AND key = ?", [(asset, k) for k, _ in rows])

    def reported(self, asset: str) -> list[tuple[tuple[str, ...], datetime]]:
        """The partitions reported present: (values, when)."""
        return [(tuple(json.loads(v)), _aware(at)) for v, at in
                self.con.execute("SELECT vals, at FROM reports WHERE asset = ? ORDER BY key", [asset]).fetchall()]

    # -- pauses and durations ----------------------------------------------------------------
    def pause(self, asset: str, until: datetime | None, reason: str | None, by: str | None,
              at: datetime | None = None) -> None:
        """Pause ``asset`` (``*``: all), replacing an earlier pause of it."""
        with self.transaction() as con:
            con.execute("INSERT OR REPLACE INTO pauses VALUES (?, ?, ?, ?, ?)",
                        [asset, _utc(at), _utc(until) if until else None, reason, by])

    def resume(self, asset: str | None) -> list[str]:
        """End the pause of ``asset`` (None: every pause); returns the assets that were paused."""
        with self.transaction() as con:
            where, params = ("WHERE asset = ?", [asset]) if asset is not None else ("", [])
            gone = [a for (a,) in con.execute(f"SELECT asset FROM pauses {where} ORDER BY asset", params)]
            con.execute(f"DELETE FROM pauses {where}", params)
        return gone

    def paused(self, asset: str, now: datetime) -> Pause | None:
        """The pause in force on ``asset`` (its own, or one of all assets), if any."""
        return next((p for p in self.pauses() if p.asset in (asset, "*") and p.active(now)), None)

    def pauses(self) -> list[Pause]:
        return [Pause(a, _aware(s), _aware(u), r, b) for a, s, u, r, b in
                self.con.execute("SELECT asset, since, until, reason, by FROM pauses ORDER BY asset")]

    def durations(self, asset: str, version: str | None, limit: int = 20) -> list[tuple[float, int]]:
        """(seconds, partitions) of the newest ``limit`` succeeded runs of ``asset`` (of action ``version``);
        runs whose end nobody saw (settled after their apply was gone) are left out."""
        rows = self.con.execute(
            "SELECT (julianday(ended_at) - julianday(started_at)) * 86400.0, json_array_length(partitions) "
            "FROM runs WHERE asset = ? AND outcome = 'succeeded' AND ended_at IS NOT NULL "
            "AND (? IS NULL OR action_version = ?) AND NOT EXISTS (SELECT 1 FROM events e WHERE e.run_id = runs.id "
            "AND e.kind IN ('interrupted', 'expired', 'orphaned')) ORDER BY n DESC LIMIT ?",
            [asset, version, version, limit])
        return [(max(0.0, s), max(1, n)) for s, n in rows.fetchall()]

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run(r: tuple) -> RunRecord:
    return RunRecord(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), r[5], r[6], _aware(r[7]), _aware(r[8]), *r[9:])


def _lease(row: tuple) -> Lease:
    return Lease(row[0], row[1], tuple(json.loads(row[2])), row[3], _aware(row[4]), _aware(row[5]), *row[6:])


def _number(run_id: str) -> int:
    return int(run_id.removeprefix("r-"))
