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

#: a fixed "now" for deterministic plans (and the same time for the CLI's --now)
NOW = datetime(2024, 4, 1, 12, 0, tzinfo=timezone.utc)
NOW_TEXT = "2024-04-01T12:00Z"

#: a files asset with an action and two expected days, none present: both missing
ASSET_A = """\
name: a
files: data/{day}.csv
partitions:
  day:
    daily: {start: 2024-03-01, end: 2024-03-02}
action:
  shell: ["true"]
"""

#: a table asset needing a: both days waiting
ASSET_B = """\
name: b
table: b
partitions:
  day:
    daily: {start: 2024-03-01, end: 2024-03-02}
depends_on: [a]
action:
  sql: select 1
"""


def assert_cli_error(cli, project: "ProjectDir", *lines: str) -> None:
    """``validate`` and ``plan`` both exit 2 and print exactly these error lines on stderr."""
    for args in (("validate",), ("plan", "--now", NOW_TEXT)):
        result = cli(*args, "-p", str(project.root))
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == ""
        assert result.stderr.splitlines() == list(lines), args


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
def waiting(project: ProjectDir) -> ProjectDir:
    """A project where a[...] is missing and b[...] waits on it."""
    project.write("assets/a.yaml", ASSET_A)
    project.write("assets/b.yaml", ASSET_B)
    return project


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
