"""The CLI's error paths: one line per problem on stderr, exit code 2, and nothing that hangs.

Configuration errors are pinned in tests/project/test_config_errors.py and rule
errors in tests/solver/test_rule_errors.py; this file covers the command-level
behaviour around them.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from tests.conftest import ASSET_A

NOW = "2024-04-01T12:00Z"

#: grounds 8e9 atoms: must be stopped by the memory (or time) limit, never finish
EXPLODING_RULES = """\
p(X,Y,Z) :- X=1..2000, Y=1..2000, Z=1..2000.
block(A,P,"x") :- frontier(A,P), p(1,1,1).
"""

def run_setpoint(*args: str, timeout: float = 90) -> tuple[int, str, str, float]:
    """Run the real CLI in its own process group, so that a hang fails the test instead of the run."""
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", "from setpoint.cli import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"setpoint {' '.join(args)} did not finish within {timeout} s") from None
    return proc.returncode, out, err, time.monotonic() - start


def test_validate_a_good_project(quickstart: Path, cli) -> None:
    result = cli("validate", "-p", str(quickstart))
    assert (result.exit_code, result.stdout, result.stderr) == (0, "ok: 3 assets, 1 rule files\n", "")


def test_validate_a_project_without_rules(project, cli) -> None:
    project.write("assets/a.yaml", ASSET_A)
    result = cli("validate", "-p", str(project.root))
    assert (result.exit_code, result.stdout, result.stderr) == (0, "ok: 1 assets, 0 rule files\n", "")


def test_no_project_file_says_how_to_make_one(cli, tmp_path: Path) -> None:
    for args in (("validate",), ("plan", "--now", NOW)):
        result = cli(*args, "-p", "/nonexistent")
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr == ("error: no setpoint.yaml in /nonexistent (pass the project directory with -p DIR, "
                                 "or create one with `setpoint init DIR`)\n")
    result = cli("validate", "-p", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == (f"error: no setpoint.yaml in {tmp_path} (pass the project directory with -p DIR, "
                             "or create one with `setpoint init DIR`)\n")


def test_errors_go_to_stderr_one_line_each(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\ndependson: b\nownr: me\n")
    result = cli("validate", "-p", str(project.root))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: assets/a.yaml:3: unknown key 'dependson' in an asset (did you mean 'depends_on'?)\n"
        "error: assets/a.yaml:4: unknown key 'ownr' in an asset (did you mean 'owner'?)\n"
    )


def test_plan_runs_once_the_rule_is_fixed(project, cli) -> None:
    project.write("assets/a.yaml", ASSET_A)
    project.write("rules/r.lp", 'blok(A,P,"x") :- frontier(A,P), key(A,P,day,"2024-03-02").\n')
    result = cli("plan", "--now", NOW, "-p", str(project.root))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "error: rules/r.lp:1: blok/3 is defined but nothing reads it (did you mean 'block'?)\n"
    project.write("rules/r.lp", 'block(A,P,"x") :- frontier(A,P), key(A,P,day,"2024-03-02").\n')
    result = cli("plan", "--now", NOW, "-p", str(project.root))
    assert result.exit_code == 0, result.output
    assert "a[2024-03-01]" in result.stdout and result.stderr == ""


def _exploding(project, limits: str) -> None:
    project.write("setpoint.yaml", f"name: test\nsolver: {limits}\n")
    project.write("assets/a.yaml", ASSET_A)
    project.write("rules/explode.lp", EXPLODING_RULES)


STOPPED = re.compile(
    r"^error: rules/explode\.lp: grounding the rules over \d+ facts (needed more than 256 MiB|took longer than 20 s) "
    r"and was stopped \(if a rule joins unrelated atoms \(a cross product\), bind every variable through key/4, "
    r"frontier/2 or depends/4; if the gap itself is this large \(a first backfill\), raise "
    r"solver\.(memory_mb|timeout_s) in setpoint\.yaml\)\n$"
)


def test_a_rule_whose_grounding_explodes_is_stopped(project) -> None:
    _exploding(project, "{memory_mb: 256, timeout_s: 20}")
    for args in (("validate",), ("plan", "--now", NOW)):
        code, out, err, took = run_setpoint(*args, "-p", str(project.root))
        assert (code, out) == (2, ""), err
        assert STOPPED.match(err), err
        assert took < 60


def test_a_rule_whose_grounding_is_slow_is_stopped_by_the_time_limit(project) -> None:
    _exploding(project, "{memory_mb: 8192, timeout_s: 1}")
    code, out, err, took = run_setpoint("validate", "-p", str(project.root))
    assert (code, out) == (2, ""), err
    assert re.match(r"^error: rules/explode\.lp: grounding the rules over \d+ facts "
                    r"(took longer than 1 s|needed more than 8,192 MiB) and was stopped", err), err
    assert took < 30


def test_an_error_in_the_rules_is_reported_before_an_error_preparing_the_status_tables(project, monkeypatch) -> None:
    """The status tables are prepared while the rules ground: when both fail, the rules' error (the user's
    to fix) is the one raised, as when the rules were solved first."""
    import duckdb
    import pytest

    import setpoint
    import setpoint.controller

    def out_of_memory(*args, **kwargs):
        raise duckdb.OutOfMemoryException("Out of Memory Error: preparing the status tables")

    _exploding(project, "{memory_mb: 8192, timeout_s: 1}")
    monkeypatch.setattr(setpoint.controller, "prepare", out_of_memory)
    with pytest.raises(setpoint.RuleError) as caught:
        setpoint.plan(project.root, now=datetime(2024, 4, 1, 12, tzinfo=timezone.utc), record=False)
    assert caught.value.file == "rules/explode.lp"


def test_validate_reports_yaml_and_rule_problems_in_one_run(cli, project) -> None:
    project.write("assets/a.yaml", """
        name: a
        table: a
        dependson: [b]
    """)
    project.write("rules/r.lp", 'block(A,P,"x") :- keys(A,P,campaign,"7").\n')
    result = cli("validate", "-p", str(project.root))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("error: assets/a.yaml:3: unknown key 'dependson'")
    assert lines[1].startswith("error: rules/r.lp:1: keys/4 is used but nothing defines it")


def test_project_option_accepts_the_project_file(cli, quickstart) -> None:
    result = cli("validate", "-p", str(quickstart / "setpoint.yaml"))
    assert (result.exit_code, result.output) == (0, "ok: 3 assets, 1 rule files\n")
