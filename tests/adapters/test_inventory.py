"""The file inventory: a plan lists only directories whose time changed, and sees what a full listing sees.

Directory times are set into the past by hand (as if the listing had happened
minutes after the change), so the inventory is trusted and only a changed time
makes a directory be listed again; a directory changed within two seconds of
a listing is never trusted.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from setpoint import controller
from setpoint.adapters.files import FilesObserver
from setpoint.adapters.inventory import InventoryPolicy, Marks
from setpoint.errors import ConfigError
from setpoint.project.loader import load_project

import pytest

HOUR = 3600.0


def project(root: Path, relist: str | None = None) -> Path:
    (root / "assets").mkdir(parents=True, exist_ok=True)
    (root / "setpoint.yaml").write_text("name: inv\n" + (f"observe: {{relist: {relist}}}\n" if relist else ""))
    (root / "assets" / "raw.yaml").write_text(
        "name: raw\nfiles: data/{region}/{day}.csv\npartitions:\n  region: [eu, us, asia]\n"
        "  day: {daily: {start: 2024-03-01, end: 2024-03-09}}\n")
    return root


def put(root: Path, rel: str, at: float) -> None:
    path = root / "data" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x\n")
    os.utime(path, (at, at))


def age(root: Path, rel_dir: str, at: float) -> None:
    """Make a directory look as if it last changed at ``at`` (long before any listing)."""
    path = root / "data" / rel_dir if rel_dir else root / "data"
    os.utime(path, (at, at))


def observed(root: Path, force: bool = False, marks: Marks = Marks(), relist_s: float = HOUR) -> list[tuple]:
    p = load_project(root)
    asset = p.assets["raw"]
    con = duckdb.connect()
    con.execute("CREATE TABLE o (region VARCHAR, day VARCHAR, updated_at TIMESTAMP)")
    policy = InventoryPolicy(p.state.parent / "inventory", relist_s, force)
    FilesObserver(asset, asset.location, (policy, marks)).observe(con, "o")
    rows = con.execute("SELECT region, day, epoch(updated_at) FROM o ORDER BY ALL").fetchall()
    con.close()
    return rows


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = project(tmp_path / "p")
    base = time.time() - 10 * HOUR
    for rel in ("eu/2024-03-01.csv", "eu/2024-03-02.csv", "us/2024-03-01.csv"):
        put(root, rel, base)
    for d in ("eu", "us", ""):
        age(root, d, base)
    return root


def test_a_second_plan_reads_the_inventory_and_trusts_unchanged_directories(tree: Path) -> None:
    first = observed(tree)
    assert [r[:2] for r in first] == [("eu", "2024-03-01"), ("eu", "2024-03-02"), ("us", "2024-03-01")]
    names = sorted(p.name for p in (tree / ".setpoint" / "inventory").iterdir())
    assert len(names) == 2 and names[1] == "raw.json" and re.fullmatch(r"raw\.[0-9a-f]{32}\.parquet", names[0])
    # a file rewritten in place leaves its directory's time alone: the inventory still has the old time
    later = time.time() - HOUR
    os.utime(tree / "data" / "eu" / "2024-03-01.csv", (later, later))
    assert observed(tree) == first
    # … until a full listing (--relist, the relist period, or a run of the asset's action)
    assert observed(tree, force=True) != first
    assert observed(tree, force=True)[0][2] == pytest.approx(later)


def test_added_deleted_and_new_directories_are_seen(tree: Path) -> None:
    observed(tree)
    t = time.time() - 5 * HOUR
    put(tree, "eu/2024-03-03.csv", t)
    age(tree, "eu", t)
    (tree / "data" / "us" / "2024-03-01.csv").unlink()
    age(tree, "us", t)
    put(tree, "asia/2024-03-04.csv", t)
    age(tree, "asia", t)
    age(tree, "", t)
    assert observed(tree) == observed(tree, force=True)
    assert [r[:2] for r in observed(tree)] == [("asia", "2024-03-04"), ("eu", "2024-03-01"), ("eu", "2024-03-02"),
                                               ("eu", "2024-03-03")]


def test_a_run_of_the_asset_or_a_lease_on_it_lists_everything_again(tree: Path) -> None:
    observed(tree, marks=Marks(3, False))
    later = time.time() - HOUR
    os.utime(tree / "data" / "us" / "2024-03-01.csv", (later, later))
    assert observed(tree, marks=Marks(4, False))[-1][2] == pytest.approx(later)  # a newer run
    os.utime(tree / "data" / "us" / "2024-03-01.csv", (later + 60, later + 60))
    assert observed(tree, marks=Marks(4, True))[-1][2] == pytest.approx(later + 60)  # a run holds a lease
    os.utime(tree / "data" / "us" / "2024-03-01.csv", (later + 120, later + 120))
    assert observed(tree, marks=Marks(4, False))[-1][2] == pytest.approx(later + 120)  # listed while busy


def test_an_elapsed_relist_period_lists_everything_again(tree: Path) -> None:
    observed(tree, relist_s=0.5)
    later = time.time() - HOUR
    os.utime(tree / "data" / "eu" / "2024-03-01.csv", (later, later))
    time.sleep(0.6)
    assert observed(tree, relist_s=0.5)[0][2] == pytest.approx(later)


def test_relist_zero_keeps_no_inventory(tree: Path) -> None:
    observed(tree, relist_s=0)
    assert not (tree / ".setpoint" / "inventory").exists()


def test_a_directory_changed_just_before_the_listing_is_not_trusted(tree: Path) -> None:
    put(tree, "eu/2024-03-05.csv", time.time() - HOUR)  # eu's time is now: too close to the listing
    first = observed(tree)
    later = time.time() - HOUR / 2
    os.utime(tree / "data" / "eu" / "2024-03-05.csv", (later, later))
    assert observed(tree) != first and observed(tree) == observed(tree, force=True)


def rows_file(root: Path) -> Path:
    (path,) = (root / ".setpoint" / "inventory").glob("raw.*.parquet")
    return path


@pytest.mark.parametrize("broken", ["rows", "raw.json", "foreign rows", "fewer rows", "no rows"])
def test_a_damaged_inventory_is_listed_again(tree: Path, broken: str) -> None:
    first = observed(tree)
    rows = rows_file(tree)
    later = time.time() - HOUR  # an in-place rewrite only a listing sees: proves the inventory was not used
    os.utime(tree / "data" / "eu" / "2024-03-01.csv", (later, later))
    if broken == "rows":
        rows.write_text("not what it was")
    elif broken == "raw.json":
        (tree / ".setpoint" / "inventory" / broken).write_text("not what it was")
    elif broken == "foreign rows":
        duckdb.sql(f"COPY (SELECT 'eu' AS region, 1 AS n, 2 AS m) TO '{rows}' (FORMAT parquet)")
    elif broken == "fewer rows":
        duckdb.sql(f"COPY (SELECT * FROM read_parquet('{rows}') LIMIT 2) TO '{rows}.x' (FORMAT parquet)")
        os.replace(f"{rows}.x", rows)
    else:
        rows.unlink()
    assert observed(tree) != first and observed(tree) == observed(tree, force=True)
    assert observed(tree)[0][2] == pytest.approx(later)
    assert rows_file(tree) != rows  # written again, as a new generation


def test_an_inventory_of_another_template_is_not_used(tree: Path) -> None:
    observed(tree)
    yaml = tree / "assets" / "raw.yaml"
    yaml.write_text(yaml.read_text().replace("data/{region}/{day}.csv", "data/{region}/{day}.txt"))
    assert observed(tree) == []


def test_relist_is_read_from_setpoint_yaml(tmp_path: Path) -> None:
    assert load_project(project(tmp_path / "a", "10m")).observe.relist.total_seconds() == 600
    assert load_project(project(tmp_path / "b", "0s")).observe.relist.total_seconds() == 0
    with pytest.raises(ConfigError) as caught:
        load_project(project(tmp_path / "c", "soon"))
    assert caught.value.problems[0].file == "setpoint.yaml" and "relist" in caught.value.message


def test_plan_relist_sees_an_in_place_rewrite(tree: Path) -> None:
    now = controller._now(None)
    before = controller.plan(tree, now=now, record=False, include_satisfied=True)
    assert before.summary["raw"]["satisfied"] == 3
    later = time.time() - HOUR
    os.utime(tree / "data" / "eu" / "2024-03-01.csv", (later, later))
    assert observed(tree)[0][2] != pytest.approx(later)
    controller.plan(tree, now=now, record=False, relist=True)
    assert observed(tree)[0][2] == pytest.approx(later)  # the full listing refreshed the inventory


OPS = st.lists(st.tuples(st.sampled_from(["add", "delete", "rmdir", "touch_dir"]),
                         st.sampled_from(["eu", "us", "asia"]), st.integers(1, 9)), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_after_any_changes_the_inventory_sees_what_a_full_listing_sees(tmp_path_factory, ops) -> None:
    root = project(tmp_path_factory.mktemp("inv"))
    clock = time.time() - 20 * HOUR
    put(root, "eu/2024-03-01.csv", clock)
    for d in ("eu", ""):
        age(root, d, clock)
    observed(root)
    for op, region, day in ops:
        clock += 60  # every change a minute after the last, all long before the listing
        folder = root / "data" / region
        path = folder / f"2024-03-0{day}.csv"
        if op == "add":
            put(root, f"{region}/2024-03-0{day}.csv", clock)
        elif op == "delete" and path.exists():
            path.unlink()
        elif op == "rmdir" and folder.exists():
            for f in folder.iterdir():
                f.unlink()
            folder.rmdir()
        elif op == "touch_dir" and folder.exists():
            pass  # only the directory's time moves below
        if folder.exists():
            age(root, region, clock)
        age(root, "", clock)
        assert observed(root) == observed(root, relist_s=0)


def test_a_directory_replaced_by_a_link_is_not_entered_as_a_full_listing_would_not(tree: Path, tmp_path: Path) -> None:
    observed(tree)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "2024-03-05.csv").write_text("x\n")
    for f in (tree / "data" / "us").iterdir():
        f.unlink()
    (tree / "data" / "us").rmdir()
    (tree / "data" / "us").symlink_to(elsewhere, target_is_directory=True)
    age(tree, "", time.time() - HOUR)
    assert observed(tree) == observed(tree, relist_s=0)
    assert [r[0] for r in observed(tree)] == ["eu", "eu"]


def test_another_meaning_of_the_same_template_is_listed_again(tree: Path) -> None:
    observed(tree)
    yaml = tree / "assets" / "raw.yaml"  # the same template, the dimensions in another order
    yaml.write_text(yaml.read_text().replace("  region: [eu, us, asia]\n  day: {daily: {start: 2024-03-01, end: "
                                             "2024-03-09}}\n", "  day: {daily: {start: 2024-03-01, end: 2024-03-09}}"
                                             "\n  region: [eu, us, asia]\n"))
    p = load_project(tree)
    con = duckdb.connect()
    con.execute("CREATE TABLE o (day VARCHAR, region VARCHAR, updated_at TIMESTAMP)")
    policy = InventoryPolicy(p.state.parent / "inventory", HOUR)
    FilesObserver(p.assets["raw"], p.assets["raw"].location, (policy, Marks())).observe(con, "o")
    assert con.execute("SELECT region, day FROM o ORDER BY ALL").fetchall() == [
        ("eu", "2024-03-01"), ("eu", "2024-03-02"), ("us", "2024-03-01")]


def test_another_grain_of_the_same_template_is_listed_again(tree: Path) -> None:
    """Days kept from a daily listing are not months: a changed grain (same template, pattern and
    formats) lists the files again instead of reading day values as months."""
    yaml = tree / "assets" / "raw.yaml"
    yaml.write_text(yaml.read_text().replace("data/{region}/{day}.csv", "data/{region}/{day:%Y-%m-%d}.csv"))
    assert [r[:2] for r in observed(tree)] == [("eu", "2024-03-01"), ("eu", "2024-03-02"), ("us", "2024-03-01")]
    yaml.write_text(yaml.read_text().replace("daily: {start: 2024-03-01, end: 2024-03-09}",
                                             "monthly: {start: 2024-03-01, end: 2024-03-31}"))
    assert [r[:2] for r in observed(tree)] == [("eu", "2024-03"), ("us", "2024-03")]


def test_a_linked_data_directory_is_listed(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    real = tmp_path / "disk"
    (real / "eu").mkdir(parents=True)
    (real / "eu" / "2024-03-01.csv").write_text("x\n")
    (root / "data").symlink_to(real, target_is_directory=True)
    assert [r[:2] for r in observed(root)] == [("eu", "2024-03-01")] == [r[:2] for r in observed(root, relist_s=0)]


def test_a_partition_of_files_in_several_directories_keeps_its_newest_time(tmp_path: Path) -> None:
    """Each day's directory holds files of a monthly partition: a key in two directories is merged on every
    plan, also when nothing changed, and loses a file's time when the file goes."""
    root = tmp_path / "p"
    (root / "assets").mkdir(parents=True)
    (root / "setpoint.yaml").write_text("name: inv\n")
    (root / "assets" / "raw.yaml").write_text(
        "name: raw\nfiles: data/{month:%Y-%m-%d}/{region}.csv\npartitions:\n  region: [eu, us]\n"
        "  month: {monthly: {start: 2024-01, end: 2024-06}}\n")
    t = time.time() - 10 * HOUR
    put(root, "2024-03-01/eu.csv", t)
    for d in ("2024-03-01", ""):
        age(root, d, t)
    assert observed(root) == [("eu", "2024-03", pytest.approx(t))] == observed(root, relist_s=0)
    put(root, "2024-03-02/eu.csv", t + 60)  # the same partition, newer, in a new directory
    for d in ("2024-03-02", ""):
        age(root, d, t + 60)
    assert observed(root) == [("eu", "2024-03", pytest.approx(t + 60))]
    assert observed(root) == [("eu", "2024-03", pytest.approx(t + 60))] == observed(root, relist_s=0)  # unchanged
    (root / "data" / "2024-03-02" / "eu.csv").unlink()
    age(root, "2024-03-02", t + 120)
    assert observed(root) == [("eu", "2024-03", pytest.approx(t))] == observed(root, relist_s=0)
    assert observed(root) == [("eu", "2024-03", pytest.approx(t))]  # unchanged again, one file per key


def test_a_second_plan_lands_the_kept_rows_without_a_merge_only_while_nothing_changed(tree: Path, monkeypatch) -> None:
    """The unchanged case reads the kept rows as the observation; any changed directory goes the long way."""
    from setpoint.adapters.inventory import Inventory

    first = observed(tree)
    calls = []
    original = Inventory.observed
    monkeypatch.setattr(Inventory, "observed", lambda self, *a: calls.append(1) or original(self, *a))
    assert observed(tree) == first and calls == [1]
    (tree / "data" / "us" / "2024-03-01.csv").unlink()  # the directory's time moves: listed again
    assert [r[:2] for r in observed(tree)] == [("eu", "2024-03-01"), ("eu", "2024-03-02")] and calls == [1]
