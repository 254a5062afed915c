"""SQL actions: the asset's statements run on the warehouse in one transaction, values bound.

The executor only needs a :class:`Warehouse` — sessions that run one
statement with named parameters, inside a transaction that can be committed,
rolled back or interrupted. DuckDB is the one shipped; another SQL engine is
another pair of classes with these methods.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import time

import duckdb

from ..project.action import bind
from ..project.model import Project
from .base import sql_literal
from .execute import Outcome, RunRequest


class Connection(Protocol):
    def execute(self, statement: Any, params: dict[str, Any]) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def interrupt(self) -> None: ...
    def close(self) -> None: ...


class Warehouse(Protocol):
    #: the engine's error class: a statement that raises it fails the run
    error: type[Exception]

    def statements(self, sql: str) -> list[tuple[Any, set[str]]]:
        """The SQL split into statements, each with the parameter names it uses."""

    def begin(self) -> Connection:
        """A session of its own, inside a new transaction."""

    def close(self) -> None:
        """Release the database (between passes)."""


class _DuckDBConnection:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def execute(self, statement: Any, params: dict[str, Any]) -> None:
        self.con.execute(statement, params)

    def commit(self) -> None:
        self.con.execute("COMMIT")

    def rollback(self) -> None:
        self.con.execute("ROLLBACK")

    def interrupt(self) -> None:
        self.con.interrupt()

    def close(self) -> None:
        self.con.close()


class DuckDBWarehouse:
    """The project's DuckDB file; relative file paths in SQL resolve against the project directory.

    The database stays open until :meth:`close` (apply closes it once a pass
    has no SQL left to run, and before observing): opening and checkpointing
    the file per run would cost more than most runs. Each run still gets a
    session of its own, so temporary tables and settings never leak between runs.
    """

    error = duckdb.Error

    def __init__(self, project: Project) -> None:
        self.project = project
        self._con: duckdb.DuckDBPyConnection | None = None
        self.opened = 0.0  # time.monotonic() when the file was opened

    @property
    def held_s(self) -> float:
        """How long the file has been held open (0 when closed)."""
        return time.monotonic() - self.opened if self._con is not None else 0.0

    def statements(self, sql: str) -> list[tuple[Any, set[str]]]:
        return [(st, set(st.named_parameters)) for st in duckdb.extract_statements(sql)]

    def begin(self) -> _DuckDBConnection:
        if self._con is None:
            con = duckdb.connect(str(self.project.warehouse))
            try:
                con.execute(f"SET file_search_path = {sql_literal(str(self.project.root))}")
            except duckdb.Error:
                con.close()
                raise
            self._con = con
            self.opened = time.monotonic()
        session = self._con.cursor()
        try:
            session.execute(f"SET file_search_path = {sql_literal(str(self.project.root))}")
            session.execute("BEGIN")
        except duckdb.Error:
            session.close()
            raise
        return _DuckDBConnection(session)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def _message(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines[:2]) if lines else type(exc).__name__


class SQLExecutor:
    """Runs an asset's SQL: every statement in one transaction, so a failure leaves the old data.

    The caller serializes runs on one warehouse (apply holds the context's
    writer lock around them), so that concurrent runs never conflict.
    """

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def run(self, request: RunRequest) -> Outcome:
        action = request.asset.action
        assert action is not None and isinstance(action.definition, str)
        params = bind(action, list(request.units))
        timeout = action.timeout.total_seconds() if action.timeout else None
        try:
            statements = self.warehouse.statements(action.definition)
            con = self.warehouse.begin()
        except self.warehouse.error as exc:
            return Outcome(False, error=f"cannot start the SQL: {_message(exc)}")
        expired = threading.Event()

        def interrupt() -> None:
            expired.set()
            con.interrupt()

        timer = threading.Timer(timeout, interrupt) if timeout else None
        if timer:
            timer.start()
        try:  # one transaction from the first statement to the commit
            for n, (statement, names) in enumerate(statements, 1):
                try:
                    con.execute(statement, {k: params[k] for k in names})
                except self.warehouse.error as exc:
                    con.rollback()
                    if expired.is_set():
                        return Outcome(False, error=f"timed out after {timeout:g} s; rolled back")
                    where = f"statement {n} of {len(statements)}: " if len(statements) > 1 else ""
                    return Outcome(False, error=f"{where}{_message(exc)}")
            if timer:
                timer.cancel()
            if expired.is_set():  # the interrupt came between statements
                con.rollback()
                return Outcome(False, error=f"timed out after {timeout:g} s; rolled back")
            con.commit()
            return Outcome(True)
        finally:
            if timer:
                timer.cancel()
            con.close()
