"""Check user rule files against the fact schema before they reach the solver.

User rules are untrusted input. Beyond clingo's own syntax and safety errors,
a rule must not define what setpoint derives (``status/3`` …), must use schema
predicates with their documented arity, and must not define a predicate that
nothing reads (almost always a typo, e.g. ``blok/3``).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from clingo import ast

from ..errors import Problem
from .schema import BY_SIGNATURE, NAMES, RULE_DEFINABLE, SCHEMA

MESSAGE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>[\d-]+(?::[\d-]+)?): (?P<level>\w+): (?P<text>.*)$")


def parse_message(message: str, display: dict[str, str]) -> Problem:
    """A clingo log message → Problem with the file (as the user names it) and line."""
    lines = message.strip().splitlines()
    m = MESSAGE.match(lines[0]) if lines else None
    if not m:
        return Problem(" ".join(l.strip() for l in lines))
    text = m.group("text")
    detail = " ".join(l.strip() for l in lines[1:] if l.strip())
    file = display.get(m.group("file"), m.group("file"))
    hint = None
    if "does not occur in any rule head" in text:
        name = detail.split("(")[0].strip()
        close = difflib.get_close_matches(name, sorted(NAMES), n=1)
        text = f"{detail} is used but nothing defines it"
        hint = f"did you mean {close[0]!r}?" if close else "see docs/fact-schema.md for the predicates setpoint provides"
    elif "unsafe variables" in text:
        text = f"unsafe variables in: {detail}"
        hint = "every variable must also appear in a positive body atom"
    elif detail:
        text = f"{text}: {detail}"
    return Problem(text, file, int(m.group("line")), hint)


def _signature(node: ast.AST) -> tuple[str, int, int] | None:
    """(name, arity, line) of a symbolic atom node, if it is a plain predicate."""
    if node.ast_type != ast.ASTType.SymbolicAtom:
        return None
    sym = node.symbol
    if sym.ast_type == ast.ASTType.Function and not sym.external:
        return sym.name, len(sym.arguments), node.location.begin.line
    return None


def _atoms(node: ast.AST, out: list[tuple[str, int, int]]) -> None:
    sig = _signature(node)
    if sig is not None:
        out.append(sig)
        return
    for key in node.child_keys:
        child = getattr(node, key)
        if child is None:
            continue
        for item in child if isinstance(child, (list, tuple)) or type(child).__name__ == "ASTSequence" else [child]:
            if isinstance(item, ast.AST):
                _atoms(item, out)


def _head_atoms(head: ast.AST) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
    """(atoms a head defines, atoms it only reads in conditions)."""
    defined: list[tuple[str, int, int]] = []
    read: list[tuple[str, int, int]] = []
    if head.ast_type in (ast.ASTType.Aggregate, ast.ASTType.Disjunction):
        for element in head.elements:
            _atoms(element.literal, defined)
            for lit in element.condition:
                _atoms(lit, read)
    elif head.ast_type == ast.ASTType.HeadAggregate:
        for element in head.elements:
            _atoms(element.condition.literal, defined)
            for lit in element.condition.condition:
                _atoms(lit, read)
    else:
        _atoms(head, defined)
    return defined, read


def check_rule_files(files: list[Path], display: dict[str, str]) -> list[Problem]:
    """Parse each rule file and check its heads against the schema; returns every problem."""
    problems: list[Problem] = []
    heads: list[tuple[str, int, int, str]] = []
    used: set[tuple[str, int]] = set()

    for path in files:
        shown = display[str(path)]

        def on_statement(stm: ast.AST, shown: str = shown) -> None:
            if stm.ast_type == ast.ASTType.Rule:
                h, b = _head_atoms(stm.head)
                heads.extend((n, a, l, shown) for n, a, l in h)
                for lit in stm.body:
                    _atoms(lit, b)
                used.update((n, a) for n, a, _ in b)
            elif stm.ast_type in (ast.ASTType.ShowSignature, ast.ASTType.Defined):
                used.add((stm.name, stm.arity))
            elif stm.ast_type == ast.ASTType.ShowTerm:
                b = []
                for lit in stm.body:
                    _atoms(lit, b)
                used.update((n, a) for n, a, _ in b)

        messages: list[str] = []
        try:
            ast.parse_files([str(path)], on_statement, logger=lambda code, msg: messages.append(msg), message_limit=20)
        except RuntimeError:
            problems += [parse_message(m, display) for m in messages] or [Problem("does not parse", shown)]
    for name, arity, line, file in heads:
        sig = f"{name}/{arity}"
        if sig in RULE_DEFINABLE:
            continue
        if sig in BY_SIGNATURE:
            definable = ", ".join(sorted(RULE_DEFINABLE))
            problems.append(Problem(f"rules may not define {sig}: setpoint "
                                    f"{'writes' if BY_SIGNATURE[sig].role == 'input' else 'derives'} it",
                                    file, line, f"rules may define {definable}"))
        elif name in NAMES:
            want = [p.signature for p in SCHEMA if p.name == name]
            problems.append(Problem(f"{sig} is not in the fact schema", file, line, f"did you mean {want[0]}?"))
        elif (name, arity) not in used:
            close = difflib.get_close_matches(name, sorted(RULE_DEFINABLE_NAMES), n=1)
            problems.append(Problem(f"{sig} is defined but nothing reads it", file, line,
                                    f"did you mean {close[0]}?" if close else
                                    f"rules take effect through {', '.join(sorted(RULE_DEFINABLE))}"))
    return problems


RULE_DEFINABLE_NAMES = {s.split("/")[0] for s in RULE_DEFINABLE}
