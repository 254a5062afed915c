"""Python actions: ``module:function``, called in-process with the partitions it must produce.

``module`` is a dotted path looked up first in the project directory
(``scripts.rates`` is ``scripts/rates.py``), then among installed packages;
during apply the project directory is the working directory and is on
``sys.path``, so the module can import its neighbours. A function with one
required parameter is called as ``fn(partitions)``; with two, as
``fn(con, partitions)`` with a warehouse connection inside a transaction that
is committed when it returns and rolled back when it raises. ``partitions`` is
a list of ``{dimension: value}`` dicts. Python runs in setpoint's process: its
``timeout`` is not enforced and what it prints is not captured.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from .execute import Context, Outcome, RunRequest, tail

_modules: dict[tuple[Path, float], ModuleType] = {}
_loading = threading.Lock()


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


class CallableError(Exception):
    """A ``module:function`` reference that does not lead to a function."""


def load_callable(root: Path, reference: str) -> Callable[..., Any]:
    """The function a ``module:function`` reference names; raises CallableError saying what is missing."""
    module_name, _, function = reference.partition(":")
    path = _module_file(root, module_name)
    if path is None:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            file = "/".join(module_name.split(".")) + ".py"
            raise CallableError(f"no module {module_name!r}: neither {file} in the project nor an installed "
                                f"module ({exc})") from exc
    else:
        key = (path.resolve(), path.stat().st_mtime)
        with _loading:
            module = _modules.get(key)
            if module is None:  # a private name per file: two projects may both have scripts/rates.py
                unique = "_setpoint_" + hashlib.sha256(str(key[0]).encode()).hexdigest()[:12]
                spec = importlib.util.spec_from_file_location(unique, path)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                sys.modules[unique] = module
                spec.loader.exec_module(module)
                _modules[key] = module
    fn = getattr(module, function, None)
    where = path.relative_to(root) if path is not None else module_name
    if fn is None:
        raise CallableError(f"{where} has no function {function!r}")
    if not callable(fn):
        raise CallableError(f"{function!r} in {where} is not a function")
    return fn


def required_parameters(fn: Callable[..., Any]) -> int:
    """How many positional parameters a call must fill (those without defaults)."""
    return sum(1 for p in inspect.signature(fn).parameters.values()
               if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)


class PythonExecutor:
    def __init__(self, context: Context) -> None:
        self.context = context

    def run(self, request: RunRequest) -> Outcome:
        action = request.asset.action
        assert action is not None and isinstance(action.definition, str)
        reference = action.definition
        partitions = [dict(p) for p in request.partitions]
        try:
            fn = load_callable(self.context.project.root, reference)
            takes = required_parameters(fn)
        except CallableError as exc:
            return Outcome(False, error=f"cannot load {reference}: {exc}")
        except (Exception, SystemExit) as exc:  # the user's module failed to import: this run's failure
            return Outcome(False, error=f"cannot load {reference}: {type(exc).__name__}: {exc}",
                           stderr_tail=tail(traceback.format_exc()))
        if takes < 2:
            return self._call(lambda: fn(partitions), reference)
        warehouse = self.context.warehouse
        with self.context.warehouse_lock:
            try:
                con = warehouse.begin()
            except warehouse.error as exc:
                return Outcome(False, error=f"cannot open the warehouse: {exc}")
            try:
                outcome = self._call(lambda: fn(con.con, partitions), reference)
                try:
                    con.commit() if outcome.ok else con.rollback()
                except warehouse.error as exc:
                    if outcome.ok:
                        return Outcome(False, error=f"{reference} returned, but its changes did not commit: {exc}")
                return outcome
            finally:
                con.close()

    @staticmethod
    def _call(call: Callable[[], Any], reference: str) -> Outcome:
        try:
            call()
        except (Exception, SystemExit) as exc:  # sys.exit() in an action ends the action, not setpoint
            message = str(exc).strip().splitlines()
            return Outcome(False, error=f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__,
                           stderr_tail=tail(traceback.format_exc()))
        return Outcome(True)
