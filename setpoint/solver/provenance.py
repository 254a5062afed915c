"""Which user rule derived an atom: file and line, recorded by the solver itself.

``setpoint why`` names the rule behind a ``block``, an ``unrecoverable`` or a
rule-made dependency. Rather than guessing afterwards which rule could have
fired, each user rule whose head is one of those predicates is loaded together
with a twin that has the same body and records the head with the rule's place::

    block(A,P,R) :- key(A,P,campaign,"77").
    _origin(block(A,P,R), 3) :- key(A,P,campaign,"77").      % 3: the rule's index

so the grounder derives an origin exactly when (and for exactly the atoms that)
the rule fires. Twins read nothing new and nothing reads ``_origin``, so the
statuses are the same with or without them.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import clingo
from clingo import ast

from .schema import RULE_DEFINABLE

ORIGIN = "_origin"
_TRACED = {(s.split("/")[0], int(s.split("/")[1])) for s in RULE_DEFINABLE}

#: an atom a rule defined, as plain values: ("block", A, P, reason text) or ("depends", A, P, B, Q)
Traced = tuple[str, ...]


def load_traced(ctl: clingo.Control, files: list[str], display: dict[str, str],
                logger: Callable[[clingo.MessageCode, str], None] | None = None) -> list[tuple[str, int]]:
    """Load the user's rule files into ``ctl`` with a twin per traced rule; the places, by twin index."""
    places: list[tuple[str, int]] = []

    with ast.ProgramBuilder(ctl) as builder:
        def add(stm: ast.AST) -> None:
            builder.add(stm)
            twin = _twin(stm, len(places))
            if twin is not None:
                begin = stm.location.begin
                places.append((_shown(begin.filename, display), begin.line))
                builder.add(twin)

        ast.parse_files(files, add, logger=logger, message_limit=50)
    return places


def _shown(filename: str, display: dict[str, str]) -> str:
    """A rule file as the user names it; a file a rule file includes, relative to the same root."""
    if filename in display:
        return display[filename]
    for full, shown in display.items():
        if full.endswith(shown):
            root = full[: len(full) - len(shown)] or "."
            return os.path.relpath(os.path.normpath(filename), root)
    return os.path.normpath(filename)


def _twin(stm: ast.AST, index: int) -> ast.AST | None:
    if stm.ast_type != ast.ASTType.Rule:
        return None
    head = stm.head
    if head.ast_type != ast.ASTType.Literal or head.sign != ast.Sign.NoSign \
            or head.atom.ast_type != ast.ASTType.SymbolicAtom:
        return None
    symbol = head.atom.symbol
    # block(a,P,"x"; a,P,"y") is a pool of heads: trace every alternative, in one twin
    alternatives = symbol.arguments if symbol.ast_type == ast.ASTType.Pool else [symbol]
    if not alternatives or not all(f.ast_type == ast.ASTType.Function and (f.name, len(f.arguments)) in _TRACED
                                   for f in alternatives):
        return None
    loc = stm.location
    number = ast.SymbolicTerm(loc, clingo.Number(index))
    atom = ast.SymbolicAtom(ast.Function(loc, ORIGIN, [symbol, number], 0))
    return ast.Rule(loc, ast.Literal(loc, ast.Sign.NoSign, atom), stm.body)


def _plain(sym: clingo.Symbol) -> str:
    if sym.type == clingo.SymbolType.String:
        return sym.string
    if sym.type == clingo.SymbolType.Function and not sym.arguments:
        return sym.name
    return str(sym)


def read_origins(atoms: clingo.SymbolicAtoms, places: list[tuple[str, int]],
                 text: Callable[[clingo.Symbol], str]) -> dict[Traced, list[tuple[str, int]]]:
    """Every traced atom the rules derived → the places of the rules that derived it, in file order."""
    out: dict[Traced, list[tuple[str, int]]] = {}
    for sa in atoms.by_signature(ORIGIN, 2):
        atom, index = sa.symbol.arguments
        args = atom.arguments
        if atom.name == "depends":
            key: Traced = ("depends", *(_plain(a) for a in args))
        else:
            a, p, r = args
            if p.type != clingo.SymbolType.String or a.type != clingo.SymbolType.Function:
                continue
            key = (atom.name, a.name, p.string, text(r))
        out.setdefault(key, []).append(places[index.number])
    for v in out.values():
        v.sort()
    return out


def rule_edges(files: list[str], display: dict[str, str]) -> list[tuple[str, str, str, int]]:
    """Asset-level dependencies rules add, read from their heads: (dependent, upstream, file, line).

    Only heads naming both assets as constants (``depends(sales, P, calendar, Q)``)
    are known without data; a rule with a variable there is left out.
    """
    out: list[tuple[str, str, str, int]] = []

    def visit(stm: ast.AST) -> None:
        if stm.ast_type != ast.ASTType.Rule or stm.head.ast_type != ast.ASTType.Literal \
                or stm.head.atom.ast_type != ast.ASTType.SymbolicAtom:
            return
        symbol = stm.head.atom.symbol
        for f in symbol.arguments if symbol.ast_type == ast.ASTType.Pool else [symbol]:
            if f.ast_type != ast.ASTType.Function or f.name != "depends" or len(f.arguments) != 4:
                continue
            a, b = f.arguments[0], f.arguments[2]
            if all(t.ast_type == ast.ASTType.SymbolicTerm and t.symbol.type == clingo.SymbolType.Function
                   and not t.symbol.arguments for t in (a, b)):
                begin = stm.location.begin
                out.append((a.symbol.name, b.symbol.name, _shown(begin.filename, display), begin.line))

    for f in files:
        try:
            ast.parse_files([f], visit, logger=lambda code, msg: None, message_limit=0)
        except RuntimeError:  # a file that does not parse is reported by validate and plan
            continue
    return sorted(set(out))
