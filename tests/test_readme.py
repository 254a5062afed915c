"""The README shows real output: its sample plan is what the command prints."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_plan_is_what_plan_prints(cli, quickstart: Path) -> None:
    block = re.search(r"```\n\$ setpoint plan -p examples/quickstart (--now \S+)\n(.*?)```", README.read_text(), re.S)
    assert block, "the README lost its sample plan"
    result = cli("plan", "-p", str(quickstart), *block.group(1).split())
    assert result.output == block.group(2)


def test_the_readme_why_is_what_why_prints(cli, quickstart: Path) -> None:
    block = re.search(r"```\n\$ setpoint why (\S+) -p examples/quickstart (--now \S+)\n(.*?)```", README.read_text(),
                      re.S)
    assert block, "the README lost its sample explanation"
    result = cli("why", block.group(1), "-p", str(quickstart), *block.group(2).split())
    assert (result.exit_code, result.output) == (0, block.group(3))


def test_the_readme_apply_is_what_apply_prints(cli, quickstart: Path) -> None:
    block = re.search(r"```\n\$ setpoint apply -p examples/quickstart (--now \S+)\n(.*?)```", README.read_text(), re.S)
    assert block, "the README lost its sample apply"
    result = cli("apply", "-p", str(quickstart), *block.group(1).split())
    assert result.exit_code == 0
    assert result.stdout == block.group(2)


def test_the_readme_starts_with_the_two_commands() -> None:
    lines = README.read_text().splitlines()
    commands = [l for l in lines[:12] if l.startswith("python3 -m venv")]
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/setpoint apply -p examples/quickstart",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest",
    ]
    assert ".venv/bin/pip install -q -e '.[test]' && .venv/bin/pytest" in (README.parent / ".ci/run").read_text()
