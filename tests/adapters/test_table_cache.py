"""A table's kept observation: reused while the table's fingerprint is the same, never once anything the
observation reads has changed.

Every case observes a real warehouse file twice (the second time from what was
kept), changes it, and checks that the next observation is what a pass
without anything kept sees, and that the change shows (so a stale reuse fails).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from setpoint.adapters import observer_for
from setpoint.adapters.base import Observation, key_columns, quote_ident
from setpoint.adapters.duckdb_table import DuckDBTableObserver, Kept
from setpoint.adapters.inventory import InventoryPolicy, Marks
from setpoint.project.loader import load_project

HOUR = 3600.0

ASSET = """name: stats
table: {name: stats, updated_at: loaded_at}
partitions:
  campaign: [c1, c2, c3]
  day: {daily: {start: 2024-03-01, end: 2024-03-09}}
"""


def sql(root: Path, statement: str) -> None:
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    try:
        con.execute(statement)
    finally:
        con.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    (root / "assets").mkdir(parents=True)
    (root / "setpoint.yaml").write_text("name: cache\n")
    (root / "assets" / "stats.yaml").write_text(ASSET)
    sql(root, """
        CREATE TABLE stats (campaign VARCHAR, day DATE, clicks INTEGER, loaded_at TIMESTAMP);
        INSERT INTO stats VALUES ('c1', '2024-03-01', 1, '2024-03-02 01:00'), ('c1', '2024-03-02', 2, '2024-03-03 01:00'),
                                 ('c2', '2024-03-01', 3, '2024-03-02 02:00'), ('c2', '2024-03-01', 4, '2024-03-02 03:00'),
                                 ('c3', '2024-03-05', 5, '2024-03-06 01:00');
    """)
    return root


class Spy:
    """Records, for each observation with something kept to check, whether the kept rows were reused."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reused: list[bool] = []
        observe, begin, load = DuckDBTableObserver.observe, Kept.begin, Kept.load
        state: dict[str, bool] = {}

        def spied_observe(observer: DuckDBTableObserver, *args: object) -> Observation:
            state.clear()
            try:
                return observe(observer, *args)
            finally:
                if "checked" in state:
                    self.reused.append(state.get("loaded", False))

        def spied_begin(kept: Kept, *args: object) -> object:
            state["checked"] = True
            return begin(kept, *args)

        def spied_load(kept: Kept, *args: object) -> bool:
            state["loaded"] = load(kept, *args)
            return state["loaded"]

        monkeypatch.setattr(DuckDBTableObserver, "observe", spied_observe)
        monkeypatch.setattr(Kept, "begin", spied_begin)
        monkeypatch.setattr(Kept, "load", spied_load)

    def last(self) -> bool | None:
        return self.reused[-1] if self.reused else None


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    return Spy(monkeypatch)


def observe(root: Path, relist_s: float = HOUR, force: bool = False, asset: str = "stats") -> tuple[list[tuple], Observation]:
    p = load_project(root)
    a = p.assets[asset]
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"ATTACH '{root / 'warehouse.duckdb'}' AS wh (READ_ONLY)")
        coldefs = ", ".join(f"{quote_ident(c)} VARCHAR" for c in key_columns(a))
        con.execute(f"CREATE TABLE o ({coldefs}, updated_at TIMESTAMP)")
        policy = InventoryPolicy(p.state.parent / "inventory", relist_s, force)
        seen = observer_for(a, (policy, Marks())).observe(con, "o")
        # which snapshot the rows are (kept or not) is what test_kept_gap checks; here only what was seen
        return con.execute("SELECT * FROM o ORDER BY ALL").fetchall(), replace(seen, generation="")
    finally:
        con.close()


def fresh(root: Path, asset: str = "stats") -> tuple[list[tuple], Observation]:
    """What a pass with nothing kept sees (and keeps nothing)."""
    return observe(root, relist_s=0, asset=asset)


def kept_twice(root: Path, spy: Spy) -> list[tuple]:
    first = observe(root)
    assert spy.last() is False  # nothing kept yet
    assert observe(root) == first == fresh(root) and spy.last() is True
    return first[0]


CHANGES = {
    "a row deleted": "DELETE FROM stats WHERE campaign = 'c3'",
    "a row of a key with two deleted": "DELETE FROM stats WHERE clicks = 4",
    "a key updated": "UPDATE stats SET day = DATE '2024-03-07' WHERE clicks = 5",
    "a key updated to one present": "UPDATE stats SET campaign = 'c1' WHERE clicks = 5",
    "a time moved earlier": "UPDATE stats SET loaded_at = loaded_at - INTERVAL 1 DAY WHERE clicks = 1",
    "a time moved later": "UPDATE stats SET loaded_at = loaded_at + INTERVAL 1 SECOND WHERE clicks = 2",
    "times swapped between keys": "UPDATE stats SET loaded_at = CASE clicks WHEN 1 THEN TIMESTAMP '2024-03-03 01:00' "
                                  "ELSE TIMESTAMP '2024-03-02 01:00' END WHERE clicks IN (1, 2)",
    "a time cleared": "UPDATE stats SET loaded_at = NULL WHERE clicks = 5",
    "a row added": "INSERT INTO stats VALUES ('c3', '2024-03-09', 6, '2024-03-10 00:00')",
    "a newer row for a present key": "INSERT INTO stats VALUES ('c1', '2024-03-01', 7, '2024-03-09 00:00')",
    "the table recreated with other rows": "DROP TABLE stats; CREATE TABLE stats (campaign VARCHAR, day DATE, "
                                           "clicks INTEGER, loaded_at TIMESTAMP); INSERT INTO stats VALUES "
                                           "('c2', '2024-03-04', 1, '2024-03-05 00:00')",
    "a key column's type changed": "ALTER TABLE stats ALTER day TYPE VARCHAR; "
                                   "UPDATE stats SET day = '2024-03-08' WHERE clicks = 5",
    "a row without a valid key added": "INSERT INTO stats VALUES (NULL, '2024-03-01', 8, '2024-03-02 00:00')",
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_to_the_table_is_seen(root: Path, spy: Spy, change: str) -> None:
    before = kept_twice(root, spy)
    sql(root, CHANGES[change])
    after = observe(root)
    assert spy.last() is False
    assert after == fresh(root)
    assert after[0] != before or after[1].skipped  # the change shows
    assert observe(root) == after and spy.last() is True  # kept again


def test_a_change_that_leaves_every_key_and_time_alone_may_reuse(root: Path, spy: Spy) -> None:
    before = kept_twice(root, spy)
    sql(root, "UPDATE stats SET clicks = clicks + 10")  # not a column the observation reads
    assert observe(root) == (before, observe(root, relist_s=0)[1]) and spy.last() is True


def test_a_dropped_table_does_not_exist(root: Path, spy: Spy) -> None:
    kept_twice(root, spy)
    sql(root, "DROP TABLE stats")
    rows, seen = observe(root)
    assert rows == [] and seen.note == "table does not exist yet"


def test_the_type_of_a_time_column_changes_what_its_values_mean(root: Path, spy: Spy) -> None:
    """TIMESTAMP and TIMESTAMPTZ hash alike for the same microseconds, yet mean other days in New York."""
    (root / "setpoint.yaml").write_text("name: cache\ntimezone: America/New_York\n")
    sql(root, "ALTER TABLE stats ALTER day TYPE TIMESTAMP")
    before = kept_twice(root, spy)
    sql(root, "SET TimeZone = 'UTC'; ALTER TABLE stats ALTER day TYPE TIMESTAMPTZ")
    after = observe(root)
    assert after == fresh(root) and after[0] != before and spy.last() is False


@pytest.mark.parametrize("edit", ["columns", "updated_at", "dimension", "timezone"])
def test_a_change_to_the_asset_is_seen(root: Path, spy: Spy, edit: str) -> None:
    sql(root, "ALTER TABLE stats ADD COLUMN day2 DATE; UPDATE stats SET day2 = day + 1; "
              "ALTER TABLE stats ADD COLUMN built_at TIMESTAMP; UPDATE stats SET built_at = loaded_at + INTERVAL 1 HOUR; "
              "ALTER TABLE stats ALTER day TYPE TIMESTAMPTZ")
    before = kept_twice(root, spy)
    yaml = root / "assets" / "stats.yaml"
    if edit == "columns":
        yaml.write_text(ASSET.replace("updated_at: loaded_at}", "updated_at: loaded_at, columns: {day: day2}}"))
    elif edit == "updated_at":
        yaml.write_text(ASSET.replace("loaded_at", "built_at"))
    elif edit == "dimension":
        yaml.write_text(ASSET.replace("  campaign: [c1, c2, c3]\n", ""))
    else:
        (root / "setpoint.yaml").write_text("name: cache\ntimezone: America/New_York\n")
    after = observe(root)
    assert after == fresh(root) and after[0] != before and spy.last() is False


@pytest.mark.parametrize("damage", ["manifest", "rows", "foreign rows", "fewer rows", "no rows", "fingerprint"])
def test_a_damaged_or_foreign_keep_is_ignored(root: Path, spy: Spy, damage: str) -> None:
    before = kept_twice(root, spy)
    folder = root / ".setpoint" / "inventory"
    (rows,) = folder.glob("stats.*.parquet")
    manifest = folder / "stats.json"
    if damage == "manifest":
        manifest.write_text("{not json")
    elif damage == "rows":
        rows.write_text("not parquet")
    elif damage == "foreign rows":
        duckdb.sql(f"COPY (SELECT 1 AS a, 2 AS b) TO '{rows}' (FORMAT parquet)")
    elif damage == "fewer rows":
        duckdb.sql(f"COPY (SELECT * FROM read_parquet('{rows}') LIMIT 1) TO '{rows}.x' (FORMAT parquet)")
        os.replace(f"{rows}.x", rows)
    elif damage == "no rows":
        rows.unlink()
    else:
        manifest.write_text(manifest.read_text().replace('"fingerprint":[', '"fingerprint":[1'))
    assert observe(root) == (before, fresh(root)[1]) and spy.last() is False
    assert observe(root)[0] == before and spy.last() is True  # kept again
    assert len(list(folder.glob("stats.*.parquet"))) == 1  # the older generation is removed


def test_rows_without_a_valid_key_are_counted_also_when_reused(root: Path, spy: Spy) -> None:
    sql(root, "INSERT INTO stats VALUES (NULL, '2024-03-01', 8, '2024-03-02 00:00')")
    first = observe(root)
    second = observe(root)
    assert spy.reused == [False, True] and second == first
    assert second[1].skipped == 1 and "no valid partition key (e.g. campaign=NULL, day=2024-03-01)" in second[1].note


def test_relist_zero_keeps_nothing_and_relist_forces_a_full_pass(root: Path, spy: Spy) -> None:
    fresh(root)
    assert not (root / ".setpoint" / "inventory").exists() and spy.reused == []
    first = observe(root)
    assert observe(root, force=True) == first and spy.reused == [False, False]  # forced: not reused
    assert observe(root) == first and spy.last() is True


def test_a_view_is_observed_in_full_every_time(root: Path, spy: Spy) -> None:
    (root / "assets" / "stats.yaml").write_text(ASSET.replace("name: stats}", "name: v_stats}")
                                                .replace("table: {name: stats,", "table: {name: v_stats,"))
    sql(root, "CREATE VIEW v_stats AS SELECT * FROM stats")
    first = observe(root)
    assert first[0] and observe(root) == first and spy.reused == []
    assert not list((root / ".setpoint").glob("inventory/stats.*"))


def test_a_plan_reuses_what_the_last_plan_kept_and_sees_a_deleted_row(root: Path, spy: Spy) -> None:
    from datetime import datetime, timezone

    from setpoint.controller import plan

    now = datetime(2024, 3, 10, tzinfo=timezone.utc)
    summary = plan(root, now=now, record=False).summary["stats"]
    assert plan(root, now=now, record=False).summary["stats"] == summary and spy.reused == [False, True]
    sql(root, "DELETE FROM stats WHERE clicks = 5")
    after = plan(root, now=now, record=False).summary["stats"]
    assert spy.last() is False and after["satisfied"] == summary["satisfied"] - 1


def test_a_time_column_that_does_not_read_as_a_time_fails_as_without_a_keep(root: Path, spy: Spy) -> None:
    from setpoint import ObserveError

    kept_twice(root, spy)
    sql(root, "ALTER TABLE stats ALTER loaded_at TYPE VARCHAR; UPDATE stats SET loaded_at = 'soon' WHERE clicks = 1")
    messages = []
    for relist_s in (HOUR, 0):
        with pytest.raises(ObserveError) as caught:
            observe(root, relist_s=relist_s)
        messages.append(caught.value.message)
    assert messages[0] == messages[1] and "soon" in messages[0]


def test_an_unreadable_keep_falls_back_to_a_pass_whose_fingerprint_is_kept(root: Path, spy: Spy) -> None:
    before = kept_twice(root, spy)
    (rows,) = (root / ".setpoint" / "inventory").glob("stats.*.parquet")
    rows.write_text("not parquet")
    assert observe(root)[0] == before and spy.last() is False
    assert observe(root)[0] == before and spy.last() is True
