"""Observers read in bulk and fail with errors that name the asset and the fix."""

from __future__ import annotations

import os

import pytest

from setpoint import ObserveError, plan
from tests.conftest import NOW


def test_files_template_with_a_format_and_noise(project) -> None:
    project.write("assets/a.yaml", """
        name: logs
        files: logs/{day:%Y/%m/%d}/{host}.log
        partitions:
          host: [web1, web2]
          day: {daily: {start: 2024-03-30, end: 2024-03-31}}
        action: {shell: [collect]}
    """)
    project.touch("logs/2024/03/30/web1.log")
    project.touch("logs/2024/03/31/web1.log")
    project.touch("logs/2024/03/31/web2.log.tmp")   # not a match
    project.touch("logs/2024/3/30/web2.log")        # %m needs two digits
    project.touch("logs/README")
    p = plan(project.root, now=NOW, record=False)
    assert [s.partition for s in p.statuses] == ["logs[host=web2,day=2024-03-30]", "logs[host=web2,day=2024-03-31]"]
    assert p.observations == [{"asset": "logs", "source": "files logs/{day:%Y/%m/%d}/{host}.log", "present": 2}]


def test_files_directory_absent_means_nothing_present(project) -> None:
    project.write("assets/a.yaml", """
        name: logs
        files: nowhere/{day}.log
        partitions: {day: {daily: {start: 2024-03-31, end: 2024-03-31}}}
        action: {shell: [collect]}
    """)
    p = plan(project.root, now=NOW, record=False)
    assert p.observations[0]["note"] == "directory nowhere/ does not exist"
    assert [s.status for s in p.statuses] == ["missing"]


def test_table_updated_at_and_mapped_columns(project) -> None:
    project.write("assets/a.yaml", """
        assets:
          - name: raw
            table: {name: raw, columns: {day: event_date}, updated_at: loaded}
            partitions: {day: {daily: {start: 2024-03-01, end: 2024-03-02}}}
            action: {sql: "SELECT 1"}
          - name: agg
            table: {name: agg, updated_at: built}
            partitions: {day: {daily: {start: 2024-03-01, end: 2024-03-02}}}
            depends_on: [raw]
            action: {sql: "SELECT 1"}
    """)
    project.sql("""
        CREATE TABLE raw (event_date TIMESTAMP, loaded TIMESTAMP);
        INSERT INTO raw VALUES ('2024-03-01 10:00', '2024-03-02 01:00'), ('2024-03-01 11:00', '2024-03-05 01:00'),
                               ('2024-03-02 10:00', '2024-03-03 01:00');
        CREATE TABLE agg (day DATE, built TIMESTAMP);
        INSERT INTO agg VALUES ('2024-03-01', '2024-03-04 00:00'), ('2024-03-02', '2024-03-04 00:00');
    """)
    p = plan(project.root, now=NOW, record=False)
    # raw's 2024-03-01 got a row loaded on 03-05, after agg's 03-04 build: stale
    assert [(s.partition, s.status, s.reasons[0].upstream) for s in p.statuses] == [
        ("agg[2024-03-01]", "stale", "raw[2024-03-01]")]


def test_table_with_a_wrong_column_names_the_asset_and_the_fix(project) -> None:
    project.write("assets/a.yaml", """
        name: raw
        table: raw
        partitions: {day: {daily: {start: 2024-03-01, end: 2024-03-02}}}
    """)
    project.sql("CREATE TABLE raw (event_date DATE)")
    with pytest.raises(ObserveError) as err:
        plan(project.root, now=NOW, record=False)
    assert err.value.message.startswith("cannot observe asset 'raw' in table raw:")
    assert (err.value.file, err.value.line) == ("assets/a.yaml", 1)
    assert "columns: {dim: column}" in err.value.hint


def _command_project(project, script: str) -> None:
    project.write("list.py", script)
    project.write("assets/a.yaml", f"""
        name: remote
        command: ["{os.sys.executable}", list.py]
        partitions: {{day: {{daily: {{start: 2024-03-01, end: 2024-03-02}}}}}}
        action: {{shell: [upload]}}
    """)


def test_command_observer_reads_json_lines(project) -> None:
    _command_project(project, 'print(\'{"day": "2024-03-01", "updated_at": "2024-03-02T00:00:00Z"}\')\n')
    p = plan(project.root, now=NOW, record=False)
    assert [s.partition for s in p.statuses] == ["remote[2024-03-02]"]


def test_command_that_fails_reports_its_stderr(project) -> None:
    _command_project(project, "import sys\nprint('token expired', file=sys.stderr)\nsys.exit(3)\n")
    with pytest.raises(ObserveError, match=r"observer command of asset 'remote' exited with code 3: token expired"):
        plan(project.root, now=NOW, record=False)


def test_command_with_a_bad_line_names_it(project) -> None:
    _command_project(project, "print('{\"day\": \"2024-03-01\"}')\nprint('day=2024-03-02')\n")
    with pytest.raises(ObserveError) as err:
        plan(project.root, now=NOW, record=False)
    assert "printed a bad line 2: 'day=2024-03-02'" in err.value.message
    assert "one JSON object per line with keys day" in err.value.hint


def test_values_from_a_missing_table_is_a_warning(project) -> None:
    project.write("assets/a.yaml", """
        name: stats
        table: stats
        partitions:
          campaign: {values_from: {table: campaigns, column: id}}
        action: {sql: "SELECT 1"}
    """)
    p = plan(project.root, now=NOW, record=False)
    assert p.warnings == ["stats: dimension 'campaign' reads values from table campaigns, which does not exist yet; "
                          "no partitions expected"]
    assert p.summary["stats"]["expected"] == 0
