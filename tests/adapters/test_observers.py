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


def test_files_are_landed_a_chunk_at_a_time(project, monkeypatch) -> None:
    from setpoint.adapters import files

    monkeypatch.setattr(files, "LAND_CHUNK", 2)
    project.write("setpoint.yaml", "name: test\nobserve: {relist: 0s}\n")  # the listing without an inventory
    project.write("assets/a.yaml", """
        name: logs
        files: logs/{day}/{host}.log
        partitions:
          host: [web1, web2, web3]
          day: {daily: {start: 2024-03-30, end: 2024-03-31}}
        action: {shell: [collect]}
    """)
    for day in ("2024-03-30", "2024-03-31"):
        for host in ("web1", "web2", "web3"):
            if (day, host) != ("2024-03-31", "web2"):
                project.touch(f"logs/{day}/{host}.log")
    project.touch("logs/2024-03-31/noise.txt")
    p = plan(project.root, now=NOW, record=False)
    assert [s.partition for s in p.statuses] == ["logs[host=web2,day=2024-03-31]"]
    assert p.observations == [{"asset": "logs", "source": "files logs/{day}/{host}.log", "present": 5}]
    project.write("setpoint.yaml", "name: test\n")  # with the inventory: the first listing, then a change
    assert [s.partition for s in plan(project.root, now=NOW, record=False, relist=True).statuses] == \
        ["logs[host=web2,day=2024-03-31]"]


def test_a_files_asset_beside_a_table_asset_named_after_it(project) -> None:
    """The listing's staging table is setpoint's own: no asset's table can be named like it."""
    project.write("assets/a.yaml", """
        assets:
          - name: logs_files
            table: logs_files
            partitions: {day: {daily: {start: 2024-03-30, end: 2024-03-31}}}
          - name: logs
            files: logs/{day}.log
            partitions: {day: {daily: {start: 2024-03-30, end: 2024-03-31}}}
            depends_on: [logs_files]
            action: {shell: [collect]}
    """)
    project.sql("CREATE TABLE logs_files AS SELECT DATE '2024-03-30' AS day UNION ALL SELECT DATE '2024-03-31'")
    project.touch("logs/2024-03-30.log")
    for relist in (True, False):
        p = plan(project.root, now=NOW, record=False, relist=relist)
        assert [(s.partition, s.status) for s in p.statuses] == [("logs[2024-03-31]", "missing")]


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


def test_time_values_of_every_shape_are_read(project) -> None:
    """TIMESTAMPTZ, fractional seconds and strings with a zone land in the right window."""
    project.write("assets/a.yaml", """
        name: hits
        table: hits
        partitions:
          hour: {hourly: {start: "2024-03-25T10:00", end: "2024-03-25T14:00"}}
        action: {sql: "SELECT 1"}
    """)
    project.sql("""
        CREATE TABLE hits (hour VARCHAR);
        INSERT INTO hits VALUES ('2024-03-25 10:15:00.123456'), ('2024-03-25T13:00:00+02:00'),
                                ('2024-03-25T12:59:59Z'), ('not a time');
    """)
    project.sql("CREATE TABLE tz AS SELECT TIMESTAMPTZ '2024-03-25 15:30:00+01' AS hour")
    project.sql("INSERT INTO hits SELECT CAST(hour AS VARCHAR) FROM tz")
    p = plan(project.root, now=NOW, record=False)
    # 10:15 → 10:00, 13:00+02 → 11:00, 12:59:59Z → 12:00, 15:30+01 → 14:00; 13:00 was never seen
    assert [s.partition for s in p.statuses] == ["hits[2024-03-25T13:00]"]
    assert p.warnings == ["hits: table hits: 1 row has no valid partition key (e.g. hour=not a time) "
                          "and count for no partition"]


def test_update_times_do_not_depend_on_the_machines_time_zone(tmp_path) -> None:
    """A table stamped in UTC and a file touched just before: fresh, in any TZ."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.conftest import ProjectDir

    project = ProjectDir(tmp_path / "p")
    project.root.mkdir()
    project.write("setpoint.yaml", "name: tz\n")
    project.write("assets/a.yaml", """
        assets:
          - name: raw
            files: raw/{day}.csv
            partitions: {day: {daily: {start: 2024-03-01, end: 2024-03-01}}}
          - name: agg
            table: {name: agg, updated_at: built}
            partitions: {day: {daily: {start: 2024-03-01, end: 2024-03-01}}}
            depends_on: [raw]
            action: {sql: "SELECT 1"}
    """)
    project.touch("raw/2024-03-01.csv", mtime=time.time() - 60)
    project.sql("CREATE TABLE agg AS SELECT DATE '2024-03-01' AS day, now() AT TIME ZONE 'UTC' AS built")
    for tz in ("UTC", "America/New_York", "Asia/Tokyo"):
        out = subprocess.run([sys.executable, "-m", "setpoint.cli", "plan", "-p", str(project.root), "--json",
                              "--now", "2024-04-01T00:00Z"], capture_output=True, text=True,
                             env={"TZ": tz, "PATH": "/usr/bin:/bin"}, cwd=Path(__file__).parent.parent.parent)
        assert '"statuses": []' in out.stdout, (tz, out.stdout[:400], out.stderr[-400:])


def test_hourly_windows_follow_the_local_clock_across_daylight_saving(project) -> None:
    project.write("assets/a.yaml", """
        name: meter
        files: meter/{hour:%Y%m%d%H}.csv
        partitions:
          hour: {hourly: {start: "2024-03-31T00:00", end: "2024-03-31T04:00", timezone: Europe/Berlin}}
        action: {shell: [read-meter]}
    """)
    p = plan(project.root, now=NOW, record=False)
    # 02:00 does not exist in Berlin on March 31st, 2024
    assert [s.key for s in p.statuses] == ["2024-03-31T00:00", "2024-03-31T01:00", "2024-03-31T03:00",
                                           "2024-03-31T04:00"]


def test_command_values_keep_their_json_spelling(project) -> None:
    project.write("list.py", 'print(\'{"flag": true, "n": 1.5}\')\n')
    project.write("assets/a.yaml", f"""
        name: remote
        command: ["{os.sys.executable}", list.py]
        partitions:
          flag: [true, "false"]
          n: ["1.5"]
        action: {{shell: [upload]}}
    """)
    p = plan(project.root, now=NOW, record=False)
    assert [s.key for s in p.statuses] == ["flag=false,n=1.5"]


def test_values_from_a_bad_column_names_the_dimension_and_its_line(project) -> None:
    project.write("assets/a.yaml", """
        name: stats
        table: stats
        partitions:
          campaign: {values_from: {table: campaigns, column: idd}}
    """)
    project.sql("CREATE TABLE campaigns (id INTEGER)")
    with pytest.raises(ObserveError) as err:
        plan(project.root, now=NOW, record=False)
    assert err.value.message.startswith(
        "cannot read the values of dimension 'campaign' of asset 'stats' from column 'idd' of table campaigns:")
    assert (err.value.file, err.value.line) == ("assets/a.yaml", 4)
