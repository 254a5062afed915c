"""Reading what "in time" and "not too much" mean: SLOs, pools, estimates and guardrails.

``slo:`` and ``guardrails:`` of an asset; ``pools:``, ``schedule:`` and
``guardrails:`` of setpoint.yaml. Problems are collected like every other
config problem, each with its file, line and fix.
"""

from __future__ import annotations

import re
from datetime import timedelta

from .model import Dimension, Limits, Origin, Schedule, Slo
from .schema import NAME, RESERVED, Reader
from .yamlfile import Mapping

SLO_KEYS = ("freshness", "max_age", "deadline", "timezone", "refresh_ahead")
LIMIT_KEYS = ("max_actions", "max_partitions", "max_compute")
GUARDRAIL_KEYS = (*LIMIT_KEYS, "rebuild_share", "rebuild_min", "confirm_rebuild")
SCHEDULE_KEYS = ("estimate", "time_limit")
CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def read_slo(doc: Mapping, r: Reader, where: str, dimensions: list[Dimension], project_tz: str) -> Slo | None:
    """The asset's ``slo:``; a deadline needs a time dimension, a max age an unpartitioned asset."""
    spec = doc.get("slo")
    if spec is None:
        return None
    swhere = f"'slo' of {where}"
    m = r.mapping(spec, swhere, doc.key_lines.get("slo", doc.line))
    if m is None:
        return None
    r.keys(m, SLO_KEYS, swhere)
    if not any(k in m for k in ("freshness", "max_age", "deadline")):
        r.problem(f"{swhere} says nothing", m, hint="give freshness: 6h, deadline: \"08:00\" or (unpartitioned) "
                                                    "max_age: 1d")
        return None
    from .assets import _valid_timezone

    tz = str(r.string(m, "timezone", swhere) or project_tz)
    if not _valid_timezone(tz):
        r.problem(f"unknown timezone {tz!r} in {swhere}", m.get("timezone"), hint="use an IANA name such as "
                                                                                 "Europe/Berlin")
        tz = "UTC"
    freshness = _positive(r, m, "freshness", swhere)
    max_age = _positive(r, m, "max_age", swhere)
    if max_age is not None and dimensions:
        r.problem(f"max_age in {swhere} is for unpartitioned assets", line=m.key_lines.get("max_age"),
                  hint="a partitioned asset says freshness: (lag behind upstream) or deadline: instead")
        max_age = None
    at, after = None, None
    deadline = r.string(m, "deadline", swhere)
    if deadline is not None:
        if not any(d.is_time for d in dimensions):
            r.problem(f"deadline in {swhere} needs a time dimension (daily, hourly, …)", deadline,
                      hint="an asset without time partitions says freshness: or max_age: instead")
        clock = CLOCK.fullmatch(str(deadline).strip())
        if clock:
            at = int(clock.group(1)) * 60 + int(clock.group(2))
        else:
            after = _positive(r, m, "deadline", swhere, hint="write a clock time such as 08:00, or a "
                                                             "duration after the window closes such as 45m")
    ahead = r.duration(m, "refresh_ahead", swhere) if "refresh_ahead" in m else None
    if ahead is not None and "max_age" not in m:
        r.problem(f"refresh_ahead in {swhere} goes with max_age", line=m.key_lines.get("refresh_ahead"),
                  hint="say how old the asset may get with max_age: 1d, or leave refresh_ahead out")
    return Slo(freshness, max_age, at, after, tz, Origin(r.file, m.line), ahead)


def _positive(r: Reader, m: Mapping, key: str, where: str, hint: str | None = None) -> timedelta | None:
    if key not in m:
        return None
    n = len(r.problems)
    value = r.duration(m, key, where)
    if len(r.problems) > n:
        if hint:
            r.problems[-1] = type(r.problems[-1])(r.problems[-1].message, r.problems[-1].file, r.problems[-1].line,
                                                  hint)
        return None
    if value <= timedelta(0):
        r.problem(f"{key!r} in {where} must be longer than 0", m.get(key))
        return None
    return value


def read_limits(m: Mapping, r: Reader, where: str) -> Limits:
    """``max_actions``, ``max_partitions`` and ``max_compute`` (estimated run time) per apply."""
    return Limits(r.integer(m, "max_actions", where, 0, minimum=1) or None if "max_actions" in m else None,
                  r.integer(m, "max_partitions", where, 0, minimum=1) or None if "max_partitions" in m else None,
                  _positive(r, m, "max_compute", where), Origin(r.file, m.line))


def read_asset_limits(doc: Mapping, r: Reader, where: str) -> Limits:
    spec = doc.get("guardrails")
    if spec is None:
        return Limits()
    gwhere = f"'guardrails' of {where}"
    m = r.mapping(spec, gwhere, doc.key_lines.get("guardrails", doc.line))
    if m is None:
        return Limits()
    r.keys(m, LIMIT_KEYS, gwhere)
    return read_limits(m, r, gwhere)


def read_schedule(doc: Mapping, r: Reader, file: str) -> Schedule:
    """``pools:``, ``schedule:`` and ``guardrails:`` of setpoint.yaml."""
    pools: dict[str, int] = {}
    if doc.get("pools") is not None:
        pm = r.mapping(doc["pools"], "'pools' of the project", doc)
        for name in pm or {}:
            if not NAME.fullmatch(str(name)) or str(name) in RESERVED:
                r.problem(f"bad pool name {name!r}", line=pm.key_lines.get(name),
                          hint="use lowercase letters, digits and _, starting with a letter")
                continue
            pools[str(name)] = r.integer(pm, name, "'pools'", 1, minimum=1)
    estimate, time_limit = Schedule.estimate, Schedule.time_limit
    if doc.get("schedule") is not None:
        sm = r.mapping(doc["schedule"], "'schedule' of the project", doc)
        if sm is not None:
            r.keys(sm, SCHEDULE_KEYS, "'schedule'")
            estimate = _positive(r, sm, "estimate", "'schedule'") or estimate
            value = r.string(sm, "time_limit", "'schedule'")
            if value is not None:
                try:
                    time_limit = float(str(value).removesuffix("s"))
                    if time_limit <= 0:
                        raise ValueError
                except ValueError:
                    r.problem(f"'time_limit' in 'schedule' must be seconds above 0, got {str(value)!r}", value,
                              hint="e.g. time_limit: 0.5")
                    time_limit = Schedule.time_limit
    limits, share, minimum, confirm = Limits(), Schedule.rebuild_share, Schedule.rebuild_min, True
    if doc.get("guardrails") is not None:
        gm = r.mapping(doc["guardrails"], "'guardrails' of the project", doc)
        if gm is not None:
            r.keys(gm, GUARDRAIL_KEYS, "'guardrails'")
            limits = read_limits(gm, r, "'guardrails'")
            value = r.string(gm, "rebuild_share", "'guardrails'")
            if value is not None:
                try:
                    share = float(str(value).removesuffix("%")) / (100 if str(value).endswith("%") else 1)
                    if not 0 < share <= 1:
                        raise ValueError
                except ValueError:
                    r.problem(f"'rebuild_share' in 'guardrails' must be a share above 0 and at most 1, got "
                              f"{str(value)!r}", value, hint="e.g. rebuild_share: 0.5 (or 50%)")
                    share = Schedule.rebuild_share
            minimum = r.integer(gm, "rebuild_min", "'guardrails'", Schedule.rebuild_min, minimum=1)
            value = r.string(gm, "confirm_rebuild", "'guardrails'")
            if value is not None:
                if str(value).lower() not in ("true", "false", "yes", "no"):
                    r.problem(f"'confirm_rebuild' in 'guardrails' must be true or false, got {str(value)!r}", value)
                confirm = str(value).lower() not in ("false", "no")
    return Schedule(pools, estimate, time_limit, limits, share, minimum, confirm)
