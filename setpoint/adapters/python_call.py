"""Python actions: ``module:function``, called in-process with the partitions it must produce.

``module`` is a dotted path looked up first in the project directory
(``scripts.rates`` is ``scripts/rates.py``), then among installed packages.
A function of one parameter is called as ``fn(partitions)``; a function of two
as ``fn(con, partitions)`` with a warehouse connection inside a transaction
that is committed when it returns and rolled back when it raises.
``partitions`` is a list of ``{dimension: value}`` dicts.
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


def load_callable(root: Path, reference: str) -> Callable[..., Any]:
    """The function a ``module:function`` reference names; raises ImportError/AttributeError."""
    module_name, _, function = reference.partition(":")
    path = _module_file(root, module_name)
    if path is None:
        module = importlib.import_module(module_name)
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
    fn = getattr(module, function)
    if not callable(fn):
        raise AttributeError(f"{reference} is not callable")
    return fn


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
            takes = len(inspect.signature(fn).parameters)
        except Exception as exc:  # the user's module failed to import: that is this run's failure
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
        except Exception as exc:
            message = str(exc).strip().splitlines()
            return Outcome(False, error=f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__,
                           stderr_tail=tail(traceback.format_exc()))
        return Outcome(True)
