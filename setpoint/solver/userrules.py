"""Check user rule files against the fact schema before they reach the solver.

User rules are untrusted input. Beyond clingo's own syntax and safety errors,
a rule must not define what setpoint derives (``status/3`` …), must use schema
predicates with their documented arity, must not define a predicate that
nothing reads (almost always a typo, e.g. ``blok/3``), and must keep the rules
stratified: statuses are read from the grounder as facts, so no rule may derive
``block/3``, ``unrecoverable/3`` or ``depends/4`` from something that depends on
them through ``not`` (such as ``status/3``), nor guess them with a choice.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from clingo import ast

from ..errors import Problem
from .schema import BY_SIGNATURE, NAMES, RULE_DEFINABLE, SCHEMA

MESSAGE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>[\d-]+(?::[\d-]+)?): (?P<level>\w+): (?P<text>.*)$")
UNSAFE_NOTE = re.compile(r": note: '(?P<var>[^']+)' is unsafe$")
#: the shipped rules, read to know what status/3 depends on
SHIPPED_RULES = Path(__file__).resolve().parent.parent / "rules"
RULE_DEFINABLE_NAMES = {s.split("/")[0] for s in RULE_DEFINABLE}

Sig = tuple[str, int]


def _arity(atom: str) -> int:
    """Top-level arguments of an atom as clingo prints it: ``keys(A,P,c,"7,7")`` → 4."""
    depth, count, quoted, escaped = 0, 0, False, False
    for ch in atom:
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
            continue
        if ch == '"':
            quoted = True
        elif ch in "([{":
            depth += 1
            if depth == 1 and ch == "(":
                count = 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 1:
            count += 1
    return count


def _schema_hint(name: str, arity: int) -> str:
    """How a predicate named like a schema one is really written, or the closest schema name."""
    same = [p for p in SCHEMA if p.name == name]
    if same:
        p = same[0]
        return f"{p.name} takes {p.arity} argument{'s' if p.arity != 1 else ''}: {p.name}({','.join(p.args)})"
    close = difflib.get_close_matches(name, sorted(NAMES), n=1)
    if close:
        p = [q for q in SCHEMA if q.name == close[0]][0]
        return f"did you mean {p.name!r}? it is written {p.name}({','.join(p.args)})"
    return "see docs/fact-schema.md for the predicates setpoint provides"


def _undefined(detail: str) -> tuple[str, str]:
    name = detail.split("(")[0].strip()
    arity = _arity(detail)
    text = f"{name}/{arity} is used but nothing defines it: {detail}"
    return text, _schema_hint(name, arity)


def _unsafe(lines: list[str]) -> tuple[str, str]:
    rule = " ".join(l.strip() for l in lines[1:] if ": note: " not in l and l.strip())
    rule = rule.replace("[#inc_base];", "").replace("[#inc_base]", "").replace(":-", " :- ").replace(";", ", ")
    rule = rule.replace(" :- .", ".").strip()
    names = [m.group("var") for l in lines if (m := UNSAFE_NOTE.search(l.strip()))]
    plural = "s" if len(names) != 1 else ""
    shown = ", ".join(repr(n) for n in names) or "?"
    return (f"unsafe variable{plural} {shown} in `{rule}`",
            "every variable must also appear in a positive body atom, e.g. frontier(A,P) or key(A,P,D,V)")


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
        text, hint = _undefined(detail)
    elif "unsafe variables" in text:
        text, hint = _unsafe(lines)
    elif "syntax error" in text:
        hint = "every rule ends with a period; check this line and the end of the line before"
    elif detail:
        text = f"{text}: {detail}"
    return Problem(text, file, int(m.group("line")), hint)


# -- reading rules into predicate dependencies -------------------------------------------


@dataclass
class RuleInfo:
    """What one rule defines and reads, at the level of predicates."""

    file: str
    line: int
    defines: list[tuple[Sig, int]] = field(default_factory=list)  # (signature, line)
    #: fixed terms where a rule predicate takes an asset: (term as written, predicate, line)
    asset_terms: list[tuple[str, str, int]] = field(default_factory=list)
    reads: list[tuple[Sig, bool]] = field(default_factory=list)   # (signature, through negation)
    #: the predicates a rule's body needs to hold for the rule to derive anything (plain positive atoms)
    needs: list[Sig] = field(default_factory=list)
    guessed: str = ""  # "a choice", "a disjunction", "#external": its heads need not be facts


def _signature(node: ast.AST) -> tuple[str, int, int] | None:
    """(name, arity, line) of a symbolic atom node, if it is a plain predicate."""
    if node.ast_type != ast.ASTType.SymbolicAtom:
        return None
    sym = node.symbol
    if sym.ast_type == ast.ASTType.Function and not sym.external:
        # a SymbolicAtom carries no location of its own; its symbol does
        return sym.name, len(sym.arguments), sym.location.begin.line
    return None


def _children(node: ast.AST):
    for key in node.child_keys:
        child = getattr(node, key)
        if child is None:
            continue
        many = isinstance(child, (list, tuple)) or type(child).__name__ == "ASTSequence"
        for item in child if many else [child]:
            if isinstance(item, ast.AST):
                yield item


def _atoms(node: ast.AST, out: list[tuple[str, int, int]]) -> None:
    sig = _signature(node)
    if sig is not None:
        out.append(sig)
        return
    if node.ast_type == ast.ASTType.SymbolicAtom and node.symbol.ast_type == ast.ASTType.Pool:
        for alt in node.symbol.arguments:  # p(X;Y) is p(X) and p(Y)
            if alt.ast_type == ast.ASTType.Function and not alt.external:
                out.append((alt.name, len(alt.arguments), alt.location.begin.line))
        return
    for child in _children(node):
        _atoms(child, out)


def _reads(literal: ast.AST, info: RuleInfo) -> None:
    """Record what a body literal reads; aggregates and conditions count as negation (not monotone)."""
    negative = True
    if literal.ast_type == ast.ASTType.Literal and literal.atom.ast_type == ast.ASTType.SymbolicAtom:
        negative = literal.sign != ast.Sign.NoSign
    found: list[tuple[str, int, int]] = []
    _atoms(literal, found)
    info.reads += [((n, a), negative) for n, a, _ in found]


#: the argument positions that name an asset, in the predicates rules may define
_ASSET_POSITIONS = {("depends", 4): (0, 2), ("block", 3): (0,), ("unrecoverable", 3): (0,)}


def _asset_terms(node: ast.AST, info: RuleInfo) -> None:
    """Record the fixed terms (constants, strings) written where a rule predicate takes an asset."""
    if node.ast_type == ast.ASTType.SymbolicAtom and node.symbol.ast_type == ast.ASTType.Function:
        sym = node.symbol
        for i in _ASSET_POSITIONS.get((sym.name, len(sym.arguments)), ()):
            arg = sym.arguments[i]
            if arg.ast_type == ast.ASTType.SymbolicTerm:
                info.asset_terms.append((str(arg.symbol), f"{sym.name}/{len(sym.arguments)}",
                                         sym.location.begin.line))
        return
    for child in _children(node):
        _asset_terms(child, info)


def _check_assets(rules: list[RuleInfo], assets: set[str], named: set[str]) -> list[Problem]:
    """A rule that names, where an asset goes, something that is not one of the project's assets.
    A ``#const`` name is left to the check after grounding, which sees its value."""
    problems = []
    for rule in rules:
        for term, predicate, line in rule.asset_terms:
            if term in assets or term in named:
                continue
            close = difflib.get_close_matches(term.strip('"'), sorted(assets), n=1)
            problems.append(Problem(
                f"{predicate} names {term} as an asset, but it is not one", rule.file, line,
                (f"did you mean {close[0]}? " if close else "")
                + "assets are written as constants (csv, not \"csv\"); known assets: " + ", ".join(sorted(assets))))
    return problems


def _head(head: ast.AST, info: RuleInfo) -> None:
    """Record what a head defines, and what its element conditions read."""
    defined: list[tuple[str, int, int]] = []
    if head.ast_type in (ast.ASTType.Aggregate, ast.ASTType.Disjunction):
        info.guessed = "a choice" if head.ast_type == ast.ASTType.Aggregate else "a disjunction"
        for element in head.elements:
            _atoms(element.literal, defined)
            for lit in element.condition:
                _reads(lit, info)
    elif head.ast_type == ast.ASTType.HeadAggregate:
        info.guessed = "a choice"
        for element in head.elements:
            _atoms(element.condition.literal, defined)
            for lit in element.condition.condition:
                _reads(lit, info)
    elif head.ast_type == ast.ASTType.Literal and head.sign == ast.Sign.NoSign:
        _atoms(head, defined)
    info.defines += [((n, a), l) for n, a, l in defined]
    _asset_terms(head, info)


def _statement(stm: ast.AST, file: str, rules: list[RuleInfo], used: set[Sig]) -> None:
    """Record one parsed statement: rules and externals define and read; #show and #defined read."""
    line = stm.location.begin.line
    if stm.ast_type == ast.ASTType.Rule:
        info = RuleInfo(file, line)
        _head(stm.head, info)
        for lit in stm.body:
            _reads(lit, info)
            if lit.ast_type == ast.ASTType.Literal and lit.sign == ast.Sign.NoSign:
                sig = _signature(lit.atom)
                if sig is not None:
                    info.needs.append((sig[0], sig[1]))
        rules.append(info)
        used.update(sig for sig, _ in info.reads)
    elif stm.ast_type == ast.ASTType.External:
        info = RuleInfo(file, line, guessed="#external")
        sig = _signature(stm.atom)
        if sig is not None:
            info.defines.append(((sig[0], sig[1]), sig[2]))
        for lit in stm.body:
            _reads(lit, info)
        rules.append(info)
        used.update(sig for sig, _ in info.reads)
    elif stm.ast_type in (ast.ASTType.ShowSignature, ast.ASTType.Defined):
        used.add((stm.name, stm.arity))
    elif stm.ast_type == ast.ASTType.ShowTerm:
        found: list[tuple[str, int, int]] = []
        for lit in stm.body:
            _atoms(lit, found)
        used.update((n, a) for n, a, _ in found)


def _parse(path: Path, shown: str, display: dict[str, str],
           rules: list[RuleInfo], used: set[Sig]) -> list[Problem]:
    """Parse one rule file into ``rules``; returns its syntax errors."""
    messages: list[str] = []
    try:
        ast.parse_files([str(path)], lambda stm: _statement(stm, shown, rules, used),
                        logger=lambda code, msg: messages.append(msg), message_limit=20)
    except RuntimeError:
        return [parse_message(m, display) for m in messages] or [Problem("does not parse", shown)]
    return []


@functools.lru_cache(maxsize=1)
def _shipped() -> tuple[RuleInfo, ...]:
    """The shipped rules' dependencies (parsed once: they are package data)."""
    rules: list[RuleInfo] = []
    for path in sorted(SHIPPED_RULES.glob("*.lp")):
        _parse(path, path.name, {}, rules, set())
    return tuple(rules)


# -- checks ---------------------------------------------------------------------------------


def _check_heads(rules: list[RuleInfo], used: set[Sig]) -> list[Problem]:
    """Heads may define the rule predicates of the schema or helpers of their own that something reads."""
    problems: list[Problem] = []
    for rule in rules:
        for (name, arity), line in rule.defines:
            sig = f"{name}/{arity}"
            if sig in RULE_DEFINABLE:
                continue
            if sig in BY_SIGNATURE:
                definable = ", ".join(sorted(RULE_DEFINABLE))
                problems.append(Problem(f"rules may not define {sig}: setpoint "
                                        f"{'writes' if BY_SIGNATURE[sig].role == 'input' else 'derives'} it",
                                        rule.file, line, f"rules may define {definable}"))
            elif name in NAMES:
                problems.append(Problem(f"{sig} is not in the fact schema", rule.file, line,
                                        _schema_hint(name, arity)))
            elif (name, arity) not in used:
                close = difflib.get_close_matches(name, sorted(RULE_DEFINABLE_NAMES), n=1)
                problems.append(Problem(f"{sig} is defined but nothing reads it", rule.file, line,
                                        f"did you mean {close[0]!r}?" if close else
                                        f"rules take effect through {', '.join(sorted(RULE_DEFINABLE))}"))
    return problems


def _components(graph: dict[Sig, set[Sig]]) -> dict[Sig, int]:
    """Strongly connected components (iterative Tarjan): predicate → component number."""
    index: dict[Sig, int] = {}
    low: dict[Sig, int] = {}
    comp: dict[Sig, int] = {}
    stack: list[Sig] = []
    on_stack: set[Sig] = set()
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        comp[member] = index[node]
                        if member == node:
                            break
    return comp


def _negative_path(graph: dict[Sig, set[Sig]], negative: set[tuple[Sig, Sig]], start: Sig, goal: Sig,
                   inside: set[Sig], need_negation: bool) -> list[Sig]:
    """A shortest path start → … → goal within one component, through a negative edge when
    ``need_negation`` (so the message shows why the cycle is not stratified)."""
    first = (start, not need_negation)
    previous: dict[tuple[Sig, bool], tuple[Sig, bool] | None] = {first: None}
    frontier, found = [first], None
    while frontier and found is None:
        nxt = []
        for node, seen_negation in frontier:
            for child in sorted(graph.get(node, ())):
                state = (child, seen_negation or (node, child) in negative)
                if child in inside and state not in previous:
                    previous[state] = (node, seen_negation)
                    nxt.append(state)
                    if state == (goal, True):
                        found = state
        frontier = nxt
    if start == goal and not need_negation:
        found = first
    path: list[Sig] = []
    state = found
    while state is not None:
        path.append(state[0])
        state = previous[state]
    return path[::-1] or [start, goal]


def _check_stratified(user: list[RuleInfo]) -> list[Problem]:
    """Statuses must be facts after grounding: nothing status/3 depends on may sit on a cycle
    through negation or be guessed by a choice. Reported at the user rules on such a cycle."""
    rules = [*_shipped(), *user]
    graph: dict[Sig, set[Sig]] = {}
    negative: set[tuple[Sig, Sig]] = set()
    for rule in rules:
        for head, _ in rule.defines:
            graph.setdefault(head, set())
            if rule.guessed:
                graph[head].add(head)
                negative.add((head, head))
            for body, neg in rule.reads:
                graph[head].add(body)
                graph.setdefault(body, set())
                if neg:
                    negative.add((head, body))
    comp = _components(graph)
    bad = {comp[h] for h, b in negative if comp[h] == comp[b]}
    reach, todo = set(), [("status", 3)]
    while todo:  # what status/3 depends on
        node = todo.pop()
        if node in reach or node not in graph:
            continue
        reach.add(node)
        todo += graph[node]
    problems: list[Problem] = []
    for rule in user:
        for head, line in rule.defines:
            if head not in reach or comp.get(head) not in bad:
                continue
            if rule.guessed:
                problems.append(Problem(
                    f"non-stratified rule: {head[0]}/{head[1]} is guessed by {rule.guessed}, so statuses "
                    "would not follow from the facts alone", rule.file, line,
                    "rules must derive block/3, unrecoverable/3 and depends/4 with plain rules, "
                    "not with { ... } choices, disjunctions or #external"))
                continue
            inside = {s for s, c in comp.items() if c == comp[head]}
            for body, _ in rule.reads:
                if body not in inside:
                    continue
                need = (head, body) not in negative
                cycle = [head, *_negative_path(graph, negative, body, head, inside, need)]
                steps = [f"{'not ' if (a, b) in negative else ''}{b[0]}/{b[1]}" for a, b in zip(cycle, cycle[1:])]
                shown = " → ".join([f"{head[0]}/{head[1]}", *steps])
                problems.append(Problem(
                    f"non-stratified rule: {head[0]}/{head[1]} reads {body[0]}/{body[1]}, which depends on "
                    f"{head[0]}/{head[1]} through negation ({shown})", rule.file, line,
                    "derive block/3, unrecoverable/3 and depends/4 from input facts such as frontier/2, "
                    "key/4 or absent/2, not from status/3 or what follows from it"))
                break
    return problems


def check_rule_files(files: list[Path], display: dict[str, str], assets: set[str] | None = None) -> list[Problem]:
    """Parse each rule file and check its heads against the schema; returns every problem."""
    problems: list[Problem] = []
    rules: list[RuleInfo] = []
    used: set[Sig] = set()
    for path in files:
        problems += _parse(path, display[str(path)], display, rules, used)
    problems += _check_heads(rules, used)
    if assets is not None:
        problems += _check_assets(rules, assets, constants(files))
    if not problems:  # a cycle is only worth explaining once every rule parses and names the schema right
        problems += _check_stratified(rules)
    return sorted(dict.fromkeys(problems), key=lambda p: (p.file or "", p.line or 0))


def _statements(files: list[Path]) -> list[ast.AST]:
    """Every statement of the files that parse (errors are reported by :func:`check_rule_files`)."""
    out: list[ast.AST] = []
    for path in files:
        try:
            ast.parse_files([str(path)], out.append, logger=lambda code, msg: None, message_limit=0)
        except RuntimeError:
            continue
    return out


def constraints(files: list[Path], display: dict[str, str]) -> list[tuple[str, int]]:
    """Where the rules' integrity constraints (``:- …``) are: (file as shown, line)."""
    out = []
    for stm in _statements(files):
        if stm.ast_type == ast.ASTType.Rule and stm.head.ast_type == ast.ASTType.Literal \
                and stm.head.atom.ast_type == ast.ASTType.BooleanConstant and not stm.head.atom.value:
            begin = stm.location.begin
            out.append((display.get(begin.filename, begin.filename), begin.line))
    return out


def _live(rules: list[RuleInfo]) -> list[bool]:
    """Which rules can ever derive something: those whose body needs only predicates setpoint writes or
    derives, or that a live rule (a fact, a choice, an ``#external``) may make true. A rule needing
    ``retired/1`` while no fact or rule gives one is dead until one does: what it reads is not written
    for it (clingo would ground it to nothing anyway)."""
    possible = {(p.name, p.arity) for p in SCHEMA}
    live = [False] * len(rules)
    changed = True
    while changed:
        changed = False
        for i, rule in enumerate(rules):
            if not live[i] and all(sig in possible for sig in rule.needs):
                live[i] = changed = True
                possible.update(sig for sig, _ in rule.defines)
    return live


def inert(files: list[Path]) -> bool:
    """Whether the rule files can never derive anything: every statement is a rule no fact, rule, choice
    or ``#external`` can fire (see :func:`_live`; a live constraint counts), a ``#defined``, a comment or
    the base ``#program``. Grounding them answers nothing and costs next to nothing (the example's
    ``retired.lp`` until a campaign is retired): a plan grounds them in its own process, not in a child
    guarded by the limits. False for files that do not parse."""
    statements: list[ast.AST] = []
    for path in files:
        try:
            ast.parse_files([str(path)], statements.append, logger=lambda code, msg: None, message_limit=0)
        except RuntimeError:
            return False
    rules: list[RuleInfo] = []
    for stm in statements:
        if stm.ast_type == ast.ASTType.Program and stm.name == "base" and not stm.parameters:
            continue
        if stm.ast_type == ast.ASTType.Rule:
            _statement(stm, "", rules, set())
        elif stm.ast_type not in (ast.ASTType.Defined, ast.ASTType.Comment):
            return False
    return not any(_live(rules))


def input_reads(files: list[Path]) -> set[str] | None:
    """The input predicates the rules read, if that is all they read of setpoint's; None otherwise.

    Rules that read only input facts (and their own predicates) and define no
    dependency cannot see or change what the status rules derive except through
    block/3, unrecoverable/3, priority/3 and forbid/3: setpoint then grounds them
    alone and evaluates the status rules itself. Files that do not parse: None
    (the full grounding reports their errors).
    """
    rules: list[RuleInfo] = []
    for path in files:
        if _parse(path, str(path), {}, rules, set()):
            return None
    if any(stm.ast_type in (ast.ASTType.ShowSignature, ast.ASTType.ShowTerm, ast.ASTType.Definition,
                            ast.ASTType.Script)
           for stm in _statements(files)):
        return None  # #show adds to the answer read back, #const may rename the shipped rules' constants
    names: set[str] = set()
    for rule, live in zip(rules, _live(rules)):
        if not live:
            continue
        if any(sig == ("depends", 4) for sig, _ in rule.defines):
            return None
        for (name, arity), _negative in rule.reads:
            predicate = BY_SIGNATURE.get(f"{name}/{arity}")
            if predicate is None:
                continue
            if predicate.role == "output" or (name, arity) == ("unit", 3):
                return None  # the full grounding also derives unit(A,P,P) for runnable fine-grained partitions
            if predicate.role == "input" or name == "depends":
                names.add(name)
    return names


def constants(files: list[Path]) -> set[str]:
    """Names the rules define with ``#const``: they stand for other terms, so a name seen in a rule
    may not be what grounding sees."""
    return {stm.name for stm in _statements(files) if stm.ast_type == ast.ASTType.Definition}


def key_reads(files: list[Path]) -> set[tuple[str | None, str | None]]:
    """Which (asset, dimension) pairs the rules read through ``key/4``; None stands for "any".

    setpoint writes key/4 facts only for these, so a project whose rules never
    read keys hands the solver none; nor does a rule that can never fire
    (:func:`_live`). Files that do not parse read nothing here (their errors
    are reported by :func:`check_rule_files`).
    """
    pairs: set[tuple[str | None, str | None]] = set()
    statements = _statements(files)
    infos: list[RuleInfo] = []
    owner: dict[int, int] = {}  # statement → its rule's index in infos
    for stm in statements:
        before = len(infos)
        _statement(stm, "", infos, set())
        if len(infos) > before:
            owner[id(stm)] = before
    live = _live(infos)
    statements = [stm for stm in statements if id(stm) not in owner or live[owner[id(stm)]]]
    named = {stm.name for stm in statements if stm.ast_type == ast.ASTType.Definition}

    def fixed(term: ast.AST) -> str | None:
        """A plain constant (not a #const name), or None for anything else (variables, functions, pools)."""
        if term.ast_type == ast.ASTType.SymbolicTerm and term.symbol.type.name == "Function" \
                and not term.symbol.arguments and term.symbol.name not in named:
            return str(term.symbol)
        return None

    def visit(node: ast.AST) -> None:
        if node.ast_type == ast.ASTType.SymbolicAtom:
            sym = node.symbol
            if sym.ast_type == ast.ASTType.Pool:  # key(a,P,d,V; b,P,e,W): read every alternative as "any"
                if any(f.ast_type == ast.ASTType.Function and f.name == "key" for f in sym.arguments):
                    pairs.add((None, None))
            elif sym.ast_type == ast.ASTType.Function and sym.name == "key" and len(sym.arguments) == 4:
                pairs.add((fixed(sym.arguments[0]), fixed(sym.arguments[2])))
            return
        for child in _children(node):
            visit(child)

    for stm in statements:
        visit(stm)
    return pairs
