"""What one run of an action may refer to: its parameters, and the version of its definition.

One run covers one or more *units* of the action's grain (``{day: 2024-03-25}``,
or a batch of consecutive days of one campaign). Every grain dimension ``D``
gives the run these parameters:

    D          the value, when the run covers exactly one value of D
    D_values   every value of D the run covers, in order
    D_from     the first value (batched dimension only)
    D_to       the last value (batched dimension only)

SQL reads them as bound parameters (``$day``), shell commands as environment
variables (``SETPOINT_DAY``, values joined by newlines) and as whole argv items
(``{day}``; ``{day_values}`` alone is one item per value), Python callables as the partitions themselves. They are never
spliced into SQL or shell text.
"""

from __future__ import annotations

import hashlib
import json
import re

from .model import Action

#: ``{name}`` inside an argv item; ``{{name}}`` is the literal text ``{name}``; other braces are text
_PLACEHOLDER = re.compile(r"\{\{([A-Za-z_]\w*)\}\}|\{([A-Za-z_]\w*)\}")


def parameter_names(action: Action) -> dict[str, str]:
    """The parameters a run of ``action`` has, each with what it holds (for error messages)."""
    out: dict[str, str] = {}
    for d in action.grain:
        batched = d == action.batch_dimension and action.batch_max > 1
        if not batched:
            out[d] = f"the value of {d}"
        out[f"{d}_values"] = f"every value of {d} the run covers"
        if batched:
            out[f"{d}_from"] = f"the first value of {d} in the batch"
            out[f"{d}_to"] = f"the last value of {d} in the batch"
    return out


def bind(action: Action, units: list[dict[str, str]]) -> dict[str, str | list[str]]:
    """The parameter values of one run covering ``units`` (dicts of grain values)."""
    out: dict[str, str | list[str]] = {}
    for d in action.grain:
        values = list(dict.fromkeys(u[d] for u in units))
        out[f"{d}_values"] = values
        if d == action.batch_dimension and action.batch_max > 1:
            out[f"{d}_from"], out[f"{d}_to"] = values[0], values[-1]
        elif len(values) == 1:
            out[d] = values[0]
    return out


def placeholders(item: str) -> list[str]:
    """The ``{name}`` placeholders of one argv item."""
    return [m.group(2) for m in _PLACEHOLDER.finditer(item) if m.group(2) is not None]


def expand_argv(argv: tuple[str, ...], params: dict[str, str | list[str]]) -> list[str]:
    """The command line of one run: placeholders replaced by values, each value inside one argv item.

    An item that is exactly ``{D_values}`` becomes one item per value.
    """
    out: list[str] = []
    for item in argv:
        whole = _PLACEHOLDER.fullmatch(item)
        if whole and whole.group(2) and isinstance(params.get(whole.group(2)), list):
            out.extend(params[whole.group(2)])
            continue

        def sub(m: re.Match[str]) -> str:
            if m.group(2) is None:
                return "{" + m.group(1) + "}"
            value = params[m.group(2)]
            return value if isinstance(value, str) else " ".join(value)

        out.append(_PLACEHOLDER.sub(sub, item))
    return out


def environment(params: dict[str, str | list[str]]) -> dict[str, str]:
    """``SETPOINT_<NAME>`` variables for a shell run; lists are joined by newlines."""
    return {f"SETPOINT_{name.upper()}": value if isinstance(value, str) else "\n".join(value)
            for name, value in params.items()}


def version_of(kind: str, definition: str | tuple[str, ...], declared: str | None) -> str:
    """A short, stable hash of what an action runs: any change to it makes its partitions stale."""
    text = json.dumps([kind, definition if isinstance(definition, str) else list(definition), declared or ""])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
