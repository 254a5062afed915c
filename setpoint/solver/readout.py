"""Read the solver's answer from its text form: one C call per atom instead of six.

A gap of 60,000 partitions comes back as some 180,000 atoms (a status, a
condition and reasons each). Walking them as clingo ``Symbol`` objects costs
a call into C for every name and argument; printing each atom once and
parsing the text here costs a third of that. Only the shapes the shipped
rules produce are parsed by pattern; anything else (a rule's reason written
as a tuple) goes through ``clingo.parse_term``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import clingo

#: what the shipped rules output and setpoint reads back
SHOWN = ("status/3", "condition/3", "reason/4", "run/2", "priority/3", "forbid/3")

_STRING = r'"(?:[^"\\]|\\.)*"'
_ATOM = re.compile(rf"(status|condition|priority|forbid|reason)\((\w+),({_STRING}),(.*)\)\Z", re.S)
_RUN = re.compile(rf"run\((\w+),({_STRING})\)\Z", re.S)
_UP = re.compile(rf"up\((\w+),({_STRING})\)\Z", re.S)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n"}


def unquote(text: str) -> str:
    """A clingo string literal's text."""
    body = text[1:-1]
    if "\\" not in body:
        return body
    return re.sub(r'\\(["\\n])', lambda m: _ESCAPES[m.group(1)], body)


class NotAString(ValueError):
    """An atom whose partition key is not a string (a rule wrote a number or a constant)."""

    def __init__(self, atom: str) -> None:
        super().__init__(atom)
        self.atom = atom


def _detail(text: str, value_of) -> object:
    if re.fullmatch(r"\w+", text):  # a constant (none, an asset) or a number, as text
        return text
    m = _UP.match(text)
    if m:
        return ("up", m.group(1), unquote(m.group(2)))
    if text.startswith('"') and text.endswith('"') and re.fullmatch(_STRING, text, re.S):
        return unquote(text)
    return value_of(clingo.parse_term(text))


def read_atoms(atoms: Iterable[str], result, value_of, text_of) -> None:
    """Fill ``result`` (a SolveResult) from the printed atoms of a model.

    ``value_of`` turns a reason's detail symbol into its Python value and
    ``text_of`` a rule's reason symbol into text (both from the session).
    Raises :class:`NotAString` for an atom whose partition key is not a string.
    """
    statuses, conditions, reasons, runs = result.statuses, result.conditions, result.reasons, result.runs
    for atom in atoms:
        m = _ATOM.match(atom)
        if m is None and atom.startswith("run("):
            r = _RUN.match(atom)
            if r is None:
                raise NotAString(atom)
            runs.append((r.group(1), unquote(r.group(2))))
            continue
        if m is None:
            if atom.startswith(("status(", "condition(", "reason(", "run(", "priority(", "forbid(")):
                raise NotAString(atom)
            continue
        name, a, key, rest = m.group(1), m.group(2), unquote(m.group(3)), m.group(4)
        node = (a, key)
        if name == "status":
            statuses[node] = rest
        elif name == "condition":
            conditions[node] = rest
        elif name == "reason":
            kind, _, detail = rest.partition(",")
            reasons.setdefault(node, []).append((kind, _detail(detail, value_of)))
        elif name == "priority":
            n = int(rest)
            result.priorities[node] = max(result.priorities.get(node, n), n)
        else:
            text = unquote(rest) if rest.startswith('"') else text_of(clingo.parse_term(rest))
            result.forbidden[node] = min(result.forbidden.get(node, text), text)
    for node, v in reasons.items():  # block(A,P,"x") and block(A,P,x) are two atoms but one reason
        reasons[node] = sorted(set(v), key=repr)
    runs.sort()
