"""Configuration errors: each names file, line and the fix, and exits 2 from validate and plan.

Every test pins the exact line the CLI prints on stderr (for both commands) and
the structured :class:`Problem` the library raises, so a Python caller and a
terminal user see the same thing.
"""

from __future__ import annotations

import pytest

from setpoint.errors import ConfigError, Problem
from setpoint.project.loader import load_project
from tests.conftest import assert_cli_error

NOW = "2024-04-01T12:00Z"

DAILY = """\
partitions:
  day:
    daily: {start: 2024-03-01, end: 2024-03-02}
"""


def problems_of(project) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_project(project.root)
    return caught.value.problems


# -- unknown keys ----------------------------------------------------------------------------


def test_unknown_key_in_an_asset_suggests_the_right_one(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\n")
    project.write("assets/b.yaml", "name: b\ntable: b\ndependson: a\n")
    assert problems_of(project) == [
        Problem("unknown key 'dependson' in an asset", "assets/b.yaml", 3, "did you mean 'depends_on'?")
    ]
    assert_cli_error(cli, project,
                     "error: assets/b.yaml:3: unknown key 'dependson' in an asset (did you mean 'depends_on'?)")


def test_unknown_key_in_setpoint_yaml_suggests_the_right_one(project, cli) -> None:
    project.write("setpoint.yaml", "name: test\ntimzone: UTC\n")
    assert problems_of(project) == [
        Problem("unknown key 'timzone' in setpoint.yaml", "setpoint.yaml", 2, "did you mean 'timezone'?")
    ]
    assert_cli_error(cli, project,
                     "error: setpoint.yaml:2: unknown key 'timzone' in setpoint.yaml (did you mean 'timezone'?)")


def test_an_asset_key_in_setpoint_yaml_says_where_it_belongs(project, cli) -> None:
    project.write("setpoint.yaml", "name: test\ndependson: a\n")
    assert_cli_error(cli, project,
                     "error: setpoint.yaml:2: unknown key 'dependson' in setpoint.yaml (did you mean "
                     "'depends_on'? that key belongs in an asset file under assets/, not in setpoint.yaml)")


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(project) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\nfrobnicate: yes\n")
    assert problems_of(project) == [
        Problem("unknown key 'frobnicate' in an asset", "assets/a.yaml", 3,
                "allowed keys: name, description, owner, table, files, command, reported, partitions, depends_on, action, "
                    "slo, guardrails")
    ]


def test_a_misspelled_grain_is_one_error_not_two(project) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\npartitions:\n  day:\n    dayly: {start: 2024-03-01}\n")
    assert problems_of(project) == [
        Problem("unknown key 'dayly' in dimension 'day' of asset 'a'", "assets/a.yaml", 5, "did you mean 'daily'?")
    ]


# -- values ----------------------------------------------------------------------------------


def test_bad_date(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\nfiles: data/{day}.csv\n" + DAILY.replace("2024-03-01", "2024-13-01"))
    # one error only: the broken dimension still exists for the files template check
    assert problems_of(project) == [
        Problem("bad date '2024-13-01' for 'start' in 'daily' of dimension 'day' of asset 'a'", "assets/a.yaml", 5,
                "there is no such date or time")
    ]
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:5: bad date '2024-13-01' for 'start' in 'daily' of dimension 'day' "
                     "of asset 'a' (there is no such date or time)")


def test_a_date_in_another_format_says_which_formats_work(project) -> None:
    project.write("assets/a.yaml", "name: a\nfiles: data/{day}.csv\n" + DAILY.replace("2024-03-01", "01.03.2024"))
    assert problems_of(project) == [
        Problem("bad date '01.03.2024' for 'start' in 'daily' of dimension 'day' of asset 'a'", "assets/a.yaml", 5,
                "write YYYY-MM-DD, YYYY-MM or YYYY-MM-DDTHH:MM")
    ]


def test_end_before_start(project) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\npartitions:\n  day:\n    daily:\n"
                  "      start: 2024-03-05\n      end: 2024-03-01\n")
    assert problems_of(project) == [
        Problem("'end' is before 'start' in 'daily' of dimension 'day' of asset 'a'", "assets/a.yaml", 7,
                "the range includes both ends")
    ]


def test_bad_asset_name_suggests_a_good_one(project, cli) -> None:
    project.write("assets/a.yaml", "name: Events\ntable: events\n")
    assert problems_of(project) == [
        Problem("bad asset name 'Events'", "assets/a.yaml", 1,
                "use lowercase letters, digits and _, starting with a letter, e.g. 'events'")
    ]
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:1: bad asset name 'Events' (use lowercase letters, digits and _, "
                     "starting with a letter, e.g. 'events')")


def test_a_dimension_named_updated_at_says_how_to_keep_the_column(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\npartitions:\n  updated_at: [x, y]\n")
    hint = ("choose another name, e.g. updated_day; a table column named updated_at can still hold the dimension: "
            "`table: {name: ..., columns: {updated_day: updated_at}}`")
    assert problems_of(project) == [
        Problem("dimension name 'updated_at' is taken: setpoint keeps each partition's update time under it",
                "assets/a.yaml", 4, hint)
    ]
    assert_cli_error(cli, project, "error: assets/a.yaml:4: dimension name 'updated_at' is taken: setpoint keeps "
                                   f"each partition's update time under it ({hint})")


def test_bad_timezone_of_a_dimension(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\npartitions:\n  day:\n"
                  "    daily: {start: 2024-03-01, timezone: Mars/Olympus}\n")
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:5: unknown timezone 'Mars/Olympus' in 'daily' of dimension 'day' "
                     "of asset 'a' (use an IANA name such as UTC or Europe/Berlin)")


def test_bad_timezone_of_the_project(project, cli) -> None:
    project.write("setpoint.yaml", "name: test\ntimezone: Mars/Olympus\n")
    assert_cli_error(cli, project,
                     "error: setpoint.yaml:2: unknown timezone 'Mars/Olympus' (use an IANA name such as UTC)")


def test_bad_duration_for_lag(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\npartitions:\n  day:\n"
                  "    daily: {start: 2024-03-01, lag: 6 hours}\n")
    assert problems_of(project) == [
        Problem("bad duration '6 hours' for 'lag' in 'daily' of dimension 'day' of asset 'a'", "assets/a.yaml", 5,
                "write e.g. 6h, 30m, 2d or 1d12h")
    ]
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:5: bad duration '6 hours' for 'lag' in 'daily' of dimension 'day' "
                     "of asset 'a' (write e.g. 6h, 30m, 2d or 1d12h)")


def test_a_static_value_with_a_nul_character(project) -> None:
    project.write("assets/a.yaml", 'name: a\ntable: a\npartitions:\n  region: [eu, "u\\0s"]\n')
    assert problems_of(project) == [
        Problem("dimension 'region' of asset 'a' lists a value with a NUL character", "assets/a.yaml", 4,
                "a partition value reaches commands as an argument or variable, which cannot hold NUL")
    ]


def test_a_static_value_listed_twice(project) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\npartitions:\n  region: [eu, us, eu]\n")
    assert problems_of(project) == [
        Problem("dimension 'region' of asset 'a' lists 'eu' twice", "assets/a.yaml", 4,
                "each value names one partition; list it once")
    ]


# -- dependencies ----------------------------------------------------------------------------


def test_unknown_asset_in_a_dependency_suggests_the_closest(project, cli) -> None:
    project.write("assets/events.yaml", "name: events\ntable: events\n")
    project.write("assets/totals.yaml", "name: totals\ntable: totals\ndepends_on:\n  - event\n")
    assert problems_of(project) == [
        Problem("asset 'totals' depends on unknown asset 'event'", "assets/totals.yaml", 4,
                "did you mean 'events'?")
    ]
    assert_cli_error(cli, project,
                     "error: assets/totals.yaml:4: asset 'totals' depends on unknown asset 'event' "
                     "(did you mean 'events'?)")


def test_depending_on_a_broken_asset_is_not_also_an_unknown_asset(project) -> None:
    project.write("assets/a.yaml", "name: a\n")  # says nowhere where it lives
    project.write("assets/b.yaml", "name: b\ntable: b\ndepends_on: [a]\n")
    assert [(p.file, p.line, p.message) for p in problems_of(project)] == [
        ("assets/a.yaml", 1, "asset 'a' must say where it lives with exactly one of table, files, command or reported"),
    ]


def test_dependency_cycle_names_its_members(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\ndepends_on: [b]\n")
    project.write("assets/b.yaml", "name: b\ntable: b\ndepends_on: [c]\n")
    project.write("assets/c.yaml", "name: c\ntable: c\ndepends_on: [a]\n")
    assert problems_of(project) == [
        Problem("dependency cycle: a → b → c → a, where → reads 'depends on'", "assets/c.yaml", 3,
                "an asset cannot need itself through others; remove one of these dependencies")
    ]
    assert_cli_error(cli, project,
                     "error: assets/c.yaml:3: dependency cycle: a → b → c → a, where → reads 'depends on' "
                     "(an asset cannot need itself through others; remove one of these dependencies)")


def test_self_dependency_without_offset(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\n" + DAILY + "depends_on:\n  - a\n")
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:7: asset 'a' depends on itself "
                     "(only a previous window may be needed: `mapping: {offset: -1}`)")


def test_self_dependency_on_the_previous_window_is_allowed(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\n" + DAILY
                  + "depends_on:\n  - asset: a\n    mapping: {offset: -1}\naction:\n  sql: select 1\n")
    loaded = load_project(project.root)
    (dep,) = loaded.assets["a"].dependencies
    assert (dep.asset, dep.mapping.kind, dep.mapping.dimension, dep.mapping.offsets) == ("a", "offset", "day", (-1,))
    result = cli("validate", "-p", str(project.root))
    assert (result.exit_code, result.stdout, result.stderr) == (0, "ok: 1 assets, 0 rule files\n", "")


def test_identity_mapping_between_different_dimensions_suggests_on(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\n" + DAILY + "  campaign: [x, y]\n")
    project.write("assets/b.yaml", "name: b\ntable: b\n" + DAILY + "depends_on:\n  - asset: a\n    mapping: identity\n")
    assert problems_of(project) == [
        Problem("identity mapping b → a needs the same dimensions on both sides: b has day, a has day, campaign",
                "assets/b.yaml", 7, "use `mapping: {on: [day]}`")
    ]
    assert_cli_error(cli, project,
                     "error: assets/b.yaml:7: identity mapping b → a needs the same dimensions on both sides: "
                     "b has day, a has day, campaign (use `mapping: {on: [day]}`)")


def test_mapping_on_a_dimension_one_side_lacks(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\n" + DAILY + "  campaign: [x, y]\n")
    project.write("assets/b.yaml", "name: b\ntable: b\n" + DAILY
                  + "depends_on:\n  - asset: a\n    mapping: {on: [campaign]}\n")
    assert_cli_error(cli, project,
                     "error: assets/b.yaml:7: mapping b → a matches on 'campaign', which is not a dimension of b "
                     "(shared dimensions: day)")


def test_offset_mapping_without_a_time_dimension(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\npartitions:\n  region: [eu, us]\n")
    project.write("assets/b.yaml", "name: b\ntable: b\npartitions:\n  region: [eu, us]\n"
                  "depends_on:\n  - asset: a\n    mapping: {offset: -1}\n")
    assert problems_of(project) == [
        Problem("offset mapping b → a needs a time dimension both assets have", "assets/b.yaml", 6,
                "an offset shifts hourly, daily or monthly windows; use identity, all or {on: [...]} "
                "for other dimensions")
    ]
    assert_cli_error(cli, project,
                     "error: assets/b.yaml:6: offset mapping b → a needs a time dimension both assets have "
                     "(an offset shifts hourly, daily or monthly windows; use identity, all or {on: [...]} "
                     "for other dimensions)")


def test_offset_mapping_naming_a_dimension_that_is_not_time(project) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\n" + DAILY)
    project.write("assets/b.yaml", "name: b\ntable: b\n" + DAILY
                  + "depends_on:\n  - asset: a\n    mapping: {offset: -1, dimension: dya}\n")
    assert problems_of(project) == [
        Problem("offset mapping b → a shifts 'dya', which is not a time dimension of both", "assets/b.yaml", 7,
                "use `dimension: day`")
    ]


# -- files templates, actions ------------------------------------------------------------------


def test_files_template_with_an_unknown_placeholder(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\nfiles: data/{region}/{dya}.csv\n" + DAILY + "  region: [eu, us]\n")
    hint = ("write one placeholder per dimension: {day}, {region}; "
            "a time dimension may carry a format, e.g. {day:%Y/%m/%d}")
    assert problems_of(project) == [
        Problem("placeholder {dya} is not a partition dimension in files template of asset 'a'", "assets/a.yaml", 2,
                f"did you mean 'day'? {hint}"),
        Problem("dimension 'day' has no placeholder in files template of asset 'a'", "assets/a.yaml", 2, hint),
    ]
    assert_cli_error(cli, project,
                     f"error: assets/a.yaml:2: placeholder {{dya}} is not a partition dimension in files template "
                     f"of asset 'a' (did you mean 'day'? {hint})",
                     f"error: assets/a.yaml:2: dimension 'day' has no placeholder in files template of asset 'a' "
                     f"({hint})")


def test_files_template_missing_a_dimension(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\nfiles: data/{day}.csv\n" + DAILY + "  region: [eu, us]\n")
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:2: dimension 'region' has no placeholder in files template of asset 'a' "
                     "(write one placeholder per dimension: {day}, {region}; a time dimension may carry a format, "
                     "e.g. {day:%Y/%m/%d})")


def test_action_with_two_kinds(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\naction:\n  sql: select 1\n  shell: [\"true\"]\n")
    assert problems_of(project) == [
        Problem("the action of asset 'a' needs exactly one of sql, sql_file, shell, python (found sql and shell)",
                "assets/a.yaml", 3,
                "one action per asset, e.g. `sql: INSERT INTO ...` or `shell: [python, fetch.py]`")
    ]
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:3: the action of asset 'a' needs exactly one of sql, sql_file, shell, "
                     "python (found sql and shell) (one action per asset, e.g. `sql: INSERT INTO ...` or "
                     "`shell: [python, fetch.py]`)")


def test_action_with_no_kind(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\n" + DAILY + "action:\n  grain: [day]\n")
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:6: the action of asset 'a' needs exactly one of sql, sql_file, shell, "
                     "python (one action per asset, e.g. `sql: INSERT INTO ...` or `shell: [python, fetch.py]`)")


@pytest.mark.parametrize("action, line, message", [
    ("  shell: []\n", 4, "'shell' of the action of asset 'a' is empty"),
    ("  sql:\n", 4, "'sql' of the action of asset 'a' is empty"),
])
def test_empty_action(project, action: str, line: int, message: str) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\naction:\n" + action)
    assert problems_of(project) == [
        Problem(message, "assets/a.yaml", line,
                "say what to run, or leave out `action:` for an asset setpoint only observes")
    ]


@pytest.mark.parametrize("key", ["command", "action"])
def test_unbalanced_quote_in_a_command_is_an_error_not_a_crash(project, key: str) -> None:
    if key == "command":
        project.write("assets/a.yaml", "name: a\ncommand: list 'x\n")
        where, line = "'command' of asset 'a'", 2
    else:
        project.write("assets/a.yaml", "name: a\ntable: a\naction:\n  shell: run 'x\n")
        where, line = "'shell' of the action of asset 'a'", 4
    assert problems_of(project) == [
        Problem(f"{where} cannot be split into arguments: no closing quotation", "assets/a.yaml", line,
                "close the quote, or write the command as a list: [prog, arg, ...]")
    ]


def test_grain_naming_an_unknown_dimension(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\n" + DAILY + "action:\n  sql: select 1\n  grain: [dya]\n")
    assert problems_of(project) == [
        Problem("'grain' of the action of asset 'a' names 'dya', which is not a dimension", "assets/a.yaml", 8,
                "did you mean 'day'?")
    ]
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:8: 'grain' of the action of asset 'a' names 'dya', which is not a "
                     "dimension (did you mean 'day'?)")


def test_batch_without_a_time_dimension(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\npartitions:\n  region: [eu, us]\n"
                  "action:\n  sql: select 1\n  batch: {max: 5}\n")
    assert problems_of(project) == [
        Problem("'batch' of the action of asset 'a' needs a time dimension (hourly, daily or monthly) in its grain",
                "assets/a.yaml", 7,
                "batching runs contiguous windows together; leave out `batch:` for static dimensions")
    ]
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:7: 'batch' of the action of asset 'a' needs a time dimension "
                     "(hourly, daily or monthly) in its grain (batching runs contiguous windows together; "
                     "leave out `batch:` for static dimensions)")


def test_batch_naming_a_static_dimension(project) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\n" + DAILY + "  region: [eu, us]\n"
                  "action:\n  sql: select 1\n  batch: {max: 5, dimension: region}\n")
    assert problems_of(project) == [
        Problem("'batch' of the action of asset 'a' names 'region', which is not a time dimension of its grain",
                "assets/a.yaml", 9, "e.g. `batch: {dimension: day, max: 31}`")
    ]


def test_batch_defaults_to_the_only_time_dimension(project) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\n" + DAILY + "  region: [eu, us]\n"
                  "action:\n  sql: select 1\n  batch: {max: 7}\n")
    action = load_project(project.root).assets["a"].action
    assert (action.batch_max, action.batch_dimension, action.grain) == (7, "day", ("day", "region"))


# -- YAML itself -----------------------------------------------------------------------------


def test_malformed_yaml_names_file_and_line(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\n  depends_on: b\n")
    assert problems_of(project) == [
        Problem("malformed YAML: mapping values are not allowed here", "assets/a.yaml", 3,
                "check indentation and quoting on that line")
    ]
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:3: malformed YAML: mapping values are not allowed here "
                     "(check indentation and quoting on that line)")


def test_malformed_yaml_with_a_dedented_line(project) -> None:
    project.write("assets/a.yaml", "name: a\npartitions:\n  day:\n    daily: {start: 2024-03-01}\n   table: a\n")
    assert problems_of(project) == [
        Problem("malformed YAML: this line's indentation does not line up with the lines above", "assets/a.yaml", 5,
                "indent keys of one mapping by the same number of spaces")
    ]


def test_malformed_setpoint_yaml(project, cli) -> None:
    project.write("setpoint.yaml", "name: test\nrules: [rules\n")
    result = cli("validate", "-p", str(project.root))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: setpoint.yaml:3: malformed YAML: ")


def test_tabs_in_yaml(project) -> None:
    project.write("assets/a.yaml", "name: a\ntable:\n\tname: a\n")
    assert problems_of(project) == [
        Problem("malformed YAML: a tab character where YAML expects spaces", "assets/a.yaml", 3,
                "indent YAML with spaces, never tabs")
    ]


def test_two_documents_in_one_file(project) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\n---\nname: b\ntable: b\n")
    assert problems_of(project) == [
        Problem("malformed YAML: a second document (---) in one file", "assets/a.yaml", 3,
                "declare several assets in one file as a list under `assets:`")
    ]


def test_duplicate_keys_in_a_mapping_are_all_reported(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\nname: b\npartitions:\n  region: [eu]\n  region: [us]\n")
    assert problems_of(project) == [
        Problem("duplicate key 'name'", "assets/a.yaml", 3,
                "each key may appear once per mapping; the first 'name' is on line 1"),
        Problem("duplicate key 'region'", "assets/a.yaml", 6,
                "each key may appear once per mapping; the first 'region' is on line 5"),
    ]
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:3: duplicate key 'name' (each key may appear once per mapping; "
                     "the first 'name' is on line 1)",
                     "error: assets/a.yaml:6: duplicate key 'region' (each key may appear once per mapping; "
                     "the first 'region' is on line 5)")


def test_duplicate_asset_names_across_files(project, cli) -> None:
    project.write("assets/a.yaml", "name: events\ntable: events\n")
    project.write("assets/b.yaml", "# a copy\nname: events\nfiles: data/events.csv\n")
    assert problems_of(project) == [
        Problem("asset 'events' is declared twice", "assets/b.yaml", 2,
                "the first declaration is at assets/a.yaml:1; rename or remove one")
    ]
    assert_cli_error(cli, project,
                     "error: assets/b.yaml:2: asset 'events' is declared twice "
                     "(the first declaration is at assets/a.yaml:1; rename or remove one)")


def test_duplicate_asset_names_in_one_list(project) -> None:
    project.write("assets/all.yaml", "assets:\n  - name: a\n    table: a\n  - name: a\n    table: b\n")
    assert problems_of(project) == [
        Problem("asset 'a' is declared twice", "assets/all.yaml", 4,
                "the first declaration is at assets/all.yaml:2; rename or remove one")
    ]


# -- many problems at once -------------------------------------------------------------------


def test_every_problem_in_every_file_is_reported_in_one_run_sorted(project, cli) -> None:
    project.write("setpoint.yaml", "name: test\ntimzone: UTC\n")
    project.write("assets/b.yaml", "name: b\ntable: b\n" + DAILY.replace("2024-03-01", "2024-13-01")
                  + "depends_on: [aa]\n")
    project.write("assets/a.yaml", "name: a\ntable: a\ndependson: b\n")
    project.write("assets/c.yaml", "name: c\ntable: c\n  oops: 1\n")
    assert [(p.file, p.line) for p in problems_of(project)] == [
        ("assets/a.yaml", 3), ("assets/b.yaml", 5), ("assets/b.yaml", 6), ("assets/c.yaml", 3), ("setpoint.yaml", 2),
    ]
    assert_cli_error(
        cli, project,
        "error: assets/a.yaml:3: unknown key 'dependson' in an asset (did you mean 'depends_on'?)",
        "error: assets/b.yaml:5: bad date '2024-13-01' for 'start' in 'daily' of dimension 'day' of asset 'b' "
        "(there is no such date or time)",
        "error: assets/b.yaml:6: asset 'b' depends on unknown asset 'aa' (did you mean 'a'?)",
        "error: assets/c.yaml:3: malformed YAML: mapping values are not allowed here "
        "(check indentation and quoting on that line)",
        "error: setpoint.yaml:2: unknown key 'timzone' in setpoint.yaml (did you mean 'timezone'?)",
    )


def test_values_from_both_a_file_and_a_table(project) -> None:
    project.write("assets/a.yaml", """
        name: a
        table: a
        partitions:
          c: {values_from: {file: c.txt, table: t, column: id}}
    """)
    (p,) = problems_of(project)
    assert p.message == "'values_from' of dimension 'c' of asset 'a' names both a file and a table"
    assert (p.file, p.line) == ("assets/a.yaml", 4)


def test_mapping_with_two_kinds(project) -> None:
    project.write("assets/a.yaml", """
        assets:
          - name: a
            table: a
            partitions: {day: {daily: {start: 2024-03-01}}}
          - name: b
            table: b
            partitions: {day: {daily: {start: 2024-03-01}}}
            depends_on:
              - asset: a
                mapping: {on: [day], offset: -1}
    """)
    (p,) = problems_of(project)
    assert p.message == "the mapping to a in asset 'b' names on and offset; a mapping is one of them"
    assert (p.file, p.line) == ("assets/a.yaml", 10)


def test_format_on_a_dimension_that_is_not_time(project) -> None:
    project.write("assets/a.yaml", """
        name: a
        files: "data/{c:%Y}.csv"
        partitions:
          c: [x, y]
    """)
    (p,) = problems_of(project)
    assert p.message == "placeholder {c:%Y} has a format, but 'c' is not a time dimension in files template of asset 'a'"


def test_on_nothing_means_every_partition(project) -> None:
    from setpoint import load_project

    project.write("assets/a.yaml", """
        assets:
          - name: a
            table: a
            partitions: {day: {daily: {start: 2024-03-01}}}
          - name: b
            table: b
            depends_on:
              - asset: a
                mapping: {on: []}
    """)
    assert load_project(project.root).assets["b"].dependencies[0].mapping.kind == "all"


# -- what an action's runs may refer to -------------------------------------------------------


def test_sql_naming_an_unknown_parameter(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\n" + DAILY + "action:\n  sql: DELETE FROM a WHERE day = $dya\n")
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:7: the SQL of the action of asset 'a' uses $dya, which is not a parameter "
                     "of its runs (did you mean 'day'? Its parameters are $day, $day_values)")


def test_a_batched_run_has_no_single_value(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\n" + DAILY +
                  "action:\n  batch: {max: 7}\n  sql: DELETE FROM a WHERE day = $day\n")
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:8: the SQL of the action of asset 'a' uses $day, which is not a parameter "
                     "of its runs (a batched run covers several day values: use $day_from, $day_to or $day_values)")


def test_sql_that_does_not_parse(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\naction:\n  sql: SELEC 1\n")
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:4: the SQL of the action of asset 'a' does not parse: syntax error at or "
                     "near \"SELEC\" (check the statement; partition values are $parameters, e.g. $day)")


def test_sql_must_not_control_the_transaction(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\naction:\n  sql: BEGIN; SELECT 1; COMMIT\n")
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:4: the SQL of the action of asset 'a' controls the transaction (BEGIN) "
                     "(leave out BEGIN, COMMIT and ROLLBACK: setpoint runs each action in one transaction)",
                     "error: assets/a.yaml:4: the SQL of the action of asset 'a' controls the transaction (COMMIT) "
                     "(leave out BEGIN, COMMIT and ROLLBACK: setpoint runs each action in one transaction)")


def test_shell_placeholders_must_be_parameters(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\nfiles: a/{day}\n" + DAILY +
                  'action:\n  shell: [fetch, "--day={dya}", "x{day_values}"]\n')
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:7: the command of the action of asset 'a' uses {dya}, which is not a "
                     "parameter of its runs (did you mean 'day'? Its parameters are {day}, {day_values}; write "
                     "{{dya}} for the literal text {dya})",
                     "error: assets/a.yaml:7: {day_values} in the command of the action of asset 'a' must be a whole "
                     "argv item (it expands to one item per value; write it alone, e.g. [..., \"{day_values}\"])")


def test_max_attempts_and_timeout_are_checked(project) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\naction:\n  sql: select 1\n  max_attempts: 0\n"
                                   "  timeout: soon\n")
    assert problems_of(project) == [
        Problem("'max_attempts' in the action of asset 'a' must be at least 1, got 0", "assets/a.yaml", 5),
        Problem("bad duration 'soon' for 'timeout' in the action of asset 'a'", "assets/a.yaml", 6,
                "write e.g. 6h, 30m, 2d or 1d12h"),
    ]


def test_backoff_and_detach_are_checked(project) -> None:
    project.write("assets/a.yaml", "name: a\ntable: a\naction:\n  sql: select 1\n  backoff: later\n"
                                   "  detach: true\n")
    project.write("assets/b.yaml", "name: b\nfiles: b.csv\naction:\n  shell: [fetch]\n  detach: maybe\n")
    project.write("assets/c.yaml", "name: c\nreported: yes\n")
    assert problems_of(project) == [
        Problem("bad duration 'later' for 'backoff' in the action of asset 'a'", "assets/a.yaml", 5,
                "write e.g. 6h, 30m, 2d or 1d12h"),
        Problem("the action of asset 'a': only shell actions can be detached", "assets/a.yaml", 6,
                "run the work from a shell command, or leave out `detach:`"),
        Problem("'detach' of the action of asset 'b' must be true or report", "assets/b.yaml", 5,
                "`detach: true`: in progress while the command runs; `detach: report`: until `setpoint report` "
                "says how it went"),
        Problem("'reported' of asset 'c' must be true", "assets/c.yaml", 2,
                "write `reported: true` for an asset whose partitions only `setpoint report` tells about"),
    ]


def test_a_detached_action_and_a_reported_asset_load(project) -> None:
    project.write("assets/a.yaml", "name: a\nreported: true\naction:\n  shell: [train]\n  detach: report\n"
                                   "  backoff: 0s\n")
    loaded = load_project(project.root).assets["a"]
    assert (type(loaded.location).__name__, loaded.action.detach, loaded.action.backoff.total_seconds()) == (
        "ReportedLocation", "report", 0)


def test_apply_settings_are_checked(project) -> None:
    project.write("setpoint.yaml", "name: t\napply: {concurency: 2}\n")
    assert problems_of(project) == [
        Problem("unknown key 'concurency' in 'apply'", "setpoint.yaml", 2, "did you mean 'concurrency'?")]
    project.write("setpoint.yaml", "name: t\napply: {retry_wait: soon}\n")
    assert problems_of(project) == [
        Problem("bad duration 'soon' for 'retry_wait' in 'apply'", "setpoint.yaml", 2,
                "write e.g. 6h, 30m, 2d or 1d12h")]


def test_a_python_action_must_name_an_existing_function(project, cli) -> None:
    project.write("scripts/rates.py", "def publish(partitions):\n    pass\n")
    project.write("assets/a.yaml", "name: a\ntable: a\naction:\n  python: scripts.rates:publsh\n")
    project.write("assets/b.yaml", "name: b\ntable: b\naction:\n  python: scripts.missing:run\n")
    hint = ("(write module:function, the module as a dotted path from the project directory "
            "(scripts.rates is scripts/rates.py) or an installed module)")
    assert_cli_error(cli, project,
                     f"error: assets/a.yaml:4: the action of asset 'a': scripts/rates.py defines no 'publsh' {hint}",
                     "error: assets/b.yaml:4: the action of asset 'b': no module 'scripts.missing': neither "
                     f"scripts/missing.py in the project nor an installed module {hint}")


def test_a_placeholder_inside_a_shell_script_is_refused(project, cli) -> None:
    project.write("assets/a.yaml", "name: a\nfiles: out/{name}.txt\npartitions:\n  name: [x]\naction:\n"
                                   "  shell: \"sh -c 'touch out/{name}.txt'\"\n")
    assert_cli_error(cli, project,
                     "error: assets/a.yaml:6: the command of the action of asset 'a' puts {name} inside a sh -c "
                     "script, where the value would be parsed as code (read it from the environment instead, "
                     "e.g. \"$SETPOINT_NAME\" (or sys.argv after the script))")
