"""Golden cases: input project + observed state → expected plan (statuses, reasons, actions).

Each directory under tests/fixtures/golden/ holds a project (setpoint.yaml,
assets/, rules/), the observed state — ``observed.sql`` run against a fresh
warehouse and ``files.txt`` listing files to create as ``path @ ISO-mtime`` —
optionally the run record (``state.sql``, SQLite, run against a fresh state store), and
``expected.json``, the plan at a fixed time. Regenerate after an intended
change with ``UPDATE_GOLDEN=1 pytest tests/solver/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from setpoint import plan
from setpoint.state import StateStore

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"
NOW = datetime(2024, 4, 1, 12, 0, tzinfo=timezone.utc)
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "setpoint.yaml").exists())


def materialize(case: Path, target: Path) -> Path:
    """Copy a case into ``target`` and create its observed state."""
    shutil.copytree(case, target, ignore=shutil.ignore_patterns("expected.json", "observed.sql", "files.txt",
                                                                "state.sql"))
    sql = case / "observed.sql"
    con = duckdb.connect(str(target / "warehouse.duckdb"))
    if sql.exists():
        con.execute(sql.read_text())
    con.close()
    if (case / "state.sql").exists():
        with StateStore(target / ".setpoint" / "state.db") as store:
            store.con.executescript((case / "state.sql").read_text())
    listing = case / "files.txt"
    if listing.exists():
        for line in listing.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            rel, _, stamp = line.partition("@")
            path = target / rel.strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x\n")
            if stamp.strip():
                moment = datetime.fromisoformat(stamp.strip()).replace(tzinfo=timezone.utc).timestamp()
                os.utime(path, (moment, moment))
    return target


def normalized(case_dir: Path) -> dict:
    result = plan(case_dir, now=NOW, record=False).to_json()
    result.pop("timings")
    result["schedule"].pop("solve_s")
    return result


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, tmp_path: Path) -> None:
    source = GOLDEN / case
    got = normalized(materialize(source, tmp_path / case))
    expected_file = source / "expected.json"
    if os.environ.get("UPDATE_GOLDEN") or not expected_file.exists():
        expected_file.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n")
        if not os.environ.get("UPDATE_GOLDEN"):
            pytest.fail(f"wrote new golden file {expected_file}; review it and run again")
    assert got == json.loads(expected_file.read_text())


def test_every_status_and_reason_kind_is_covered() -> None:
    """The golden set exercises every status and every reason kind the shipped rules derive."""
    statuses, kinds = set(), set()
    for case in CASES:
        data = json.loads((GOLDEN / case / "expected.json").read_text())
        for st in data["statuses"]:
            statuses.add(st["status"])
            kinds.update(r["kind"] for r in st["reasons"])
        for asset, counts in data["summary"].items():
            if counts["satisfied"]:
                statuses.add("satisfied")
    assert statuses == {"satisfied", "missing", "stale", "in_progress", "waiting", "blocked"}
    assert kinds == {"absent", "outdated", "needs", "needs_all", "not_due", "rule", "unrecoverable", "no_action",
                     "upstream_blocked", "upstream_all_blocked", "failed", "retrying", "superseded", "leased",
                     "backoff"}
