"""Shared fixtures: real project directories in tmp_path, real DuckDB files, the real CLI."""

from __future__ import annotations

import shutil
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from setpoint.cli import main

#: a fixed "now" for deterministic plans
NOW = datetime(2024, 4, 1, 12, 0, tzinfo=timezone.utc)


class ProjectDir:
    """A project written file by file in a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def sql(self, statement: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.root / "warehouse.duckdb"))
        try:
            cur = con.execute(statement, params or [])
            try:
                return cur.fetchall()
            except duckdb.Error:
                return []
        finally:
            con.close()

    def touch(self, rel: str, mtime: float | None = None) -> Path:
        import os

        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return path


@pytest.fixture
def project(tmp_path: Path) -> ProjectDir:
    p = ProjectDir(tmp_path / "proj")
    p.root.mkdir()
    p.write("setpoint.yaml", "name: test\n")
    return p


@pytest.fixture
def cli():
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    from setpoint.scaffold import init_project

    target = tmp_path / "quickstart"
    init_project(target)
    return target


__all__ = ["NOW", "ProjectDir", "shutil"]
