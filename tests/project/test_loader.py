"""Loading good projects: the typed model, the dependency order, and the shapes asset files may take."""

from __future__ import annotations

import pytest

from setpoint.errors import ConfigError, Problem
from setpoint.project.loader import load_project
from setpoint.project.model import SolverLimits, StaticValues
from setpoint.project.timewindows import TimeWindows


def test_a_project_loads_into_typed_assets_in_dependency_order(project) -> None:
    project.write("setpoint.yaml", "name: shop\ntimezone: Europe/Berlin\nsolver: {memory_mb: 512, timeout_s: 5}\n")
    project.write("assets/report.yaml", "name: report\ntable: report\ndepends_on: [totals]\n"
                  "action:\n  sql: select 1\n")
    project.write("assets/totals.yaml", "name: totals\ntable: totals\npartitions:\n  day:\n"
                  "    daily: {start: 2024-03-01, end: 2024-03-31}\n  region: [eu, us]\n"
                  "depends_on: [events]\naction:\n  shell: python build.py --day $day\n")
    project.write("assets/events.yaml", "name: events\nfiles: data/{region}/{day}.csv\npartitions:\n"
                  "  day:\n    daily: 2024-03-01\n  region: [eu, us]\n")
    project.write("rules/r.lp", "% nothing yet\n")
    loaded = load_project(project.root)
    assert (loaded.name, loaded.timezone, loaded.limits) == ("shop", "Europe/Berlin", SolverLimits(512, 5.0))
    assert list(loaded.assets) == ["events", "totals", "report"]
    assert [loaded.display(f) for f in loaded.rule_files] == ["rules/r.lp"]
    totals = loaded.assets["totals"]
    day = totals.dimension("day").space
    assert isinstance(day, TimeWindows) and (day.grain, day.timezone) == ("daily", "Europe/Berlin")
    assert totals.dimension("region").space == StaticValues(("eu", "us"))
    assert totals.action.definition == ("python", "build.py", "--day", "$day")
    assert [(d.asset, d.mapping.kind) for d in totals.dependencies] == [("events", "identity")]
    assert [(d.asset, d.mapping.kind) for d in loaded.assets["report"].dependencies] == [("totals", "all")]
    assert str(totals.origin) == "assets/totals.yaml:1"


@pytest.mark.parametrize("text", [
    "assets:\n  - name: a\n    table: a\n  - name: b\n    table: b\n    depends_on: [a]\n",
    "- name: a\n  table: a\n- name: b\n  table: b\n  depends_on: [a]\n",
])
def test_one_file_may_declare_a_list_of_assets(project, text: str) -> None:
    project.write("assets/all.yaml", text)
    assert list(load_project(project.root).assets) == ["a", "b"]


def test_an_empty_asset_file_declares_nothing(project) -> None:
    project.write("assets/empty.yaml", "# nothing here yet\n")
    assert load_project(project.root).assets == {}


def test_a_long_chain_of_assets_does_not_hit_the_recursion_limit(project) -> None:
    n = 1500
    items = [f"  - name: a{i}\n    table: a{i}\n" + (f"    depends_on: [a{i - 1}]\n" if i else "") for i in range(n)]
    project.write("assets/chain.yaml", "assets:\n" + "".join(reversed(items)))
    assert list(load_project(project.root).assets) == [f"a{i}" for i in range(n)]


def test_a_broken_dimension_is_not_checked_again_through_its_dependents(project) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\npartitions:\n  day:\n    daily: {start: 2024-13-01}\n")
    project.write("assets/b.yaml", "name: b\ntable: b\npartitions:\n  day:\n    daily: {start: 2024-03-01}\n"
                  "depends_on:\n  - asset: a\n    mapping: {offset: -1}\n")
    with pytest.raises(ConfigError) as caught:
        load_project(project.root)
    assert [(p.file, p.line) for p in caught.value.problems] == [("assets/a.yaml", 5)]


def test_missing_project_file_says_how_to_make_one(tmp_path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path / "nowhere")
    assert caught.value.problems == [
        Problem(f"no setpoint.yaml in {tmp_path / 'nowhere'}", None, None,
                "pass the project directory with -p DIR, or create one with `setpoint init DIR`")
    ]
    assert caught.value.exit_code == 2


def test_setpoint_yaml_must_be_a_mapping(project) -> None:
    project.write("setpoint.yaml", "- name: test\n")
    with pytest.raises(ConfigError) as caught:
        load_project(project.root)
    assert caught.value.problems == [
        Problem("setpoint.yaml must be a mapping of settings", "setpoint.yaml", 1, "see docs/yaml-reference.md")
    ]


def test_a_rules_path_that_does_not_exist(project) -> None:
    project.write("setpoint.yaml", "name: test\nrules: rulez\n")
    with pytest.raises(ConfigError) as caught:
        load_project(project.root)
    assert caught.value.problems == [
        Problem("rules path 'rulez' does not exist", "setpoint.yaml", 2, "paths are relative to the project directory")
    ]


def test_solver_limits_are_checked(project) -> None:
    project.write("setpoint.yaml", "name: test\nsolver:\n  memory_mb: lots\n  timeout: 3\n")
    with pytest.raises(ConfigError) as caught:
        load_project(project.root)
    assert caught.value.problems == [
        Problem("'memory_mb' in 'solver' must be a whole number, got 'lots'", "setpoint.yaml", 3),
        Problem("unknown key 'timeout' in 'solver'", "setpoint.yaml", 4, "did you mean 'timeout_s'?"),
    ]
