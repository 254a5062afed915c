"""Run clingo on the frontier's facts, the shipped rules and the user's rules.

The status rules are stratified, so the grounder alone evaluates them: results
are read from the symbolic atoms, no search needed. User rules are untrusted:
they are checked against the fact schema first, clingo's messages are captured
and turned into errors with file and line, and when any are present the
grounding runs in a forked child under a memory and time limit, so a rule whose
grounding explodes is stopped with a clear error instead of eating the machine.

The facts come as text: ASP facts, or the same facts as a ground program in
aspif (:meth:`setpoint.solver.facts.FactWriter.program`, what the controller
hands over). clingo's parser tells the two apart by aspif's first line; aspif
facts take about half as long to read (365,000 key facts: about 1 s instead of 2)
and nothing to ground.
"""

from __future__ import annotations

import difflib
import multiprocessing
import os
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

import clingo

from ..errors import Problem, RuleError, SolveError
from ..project.model import SolverLimits as Limits
from .provenance import load_traced, read_origins
from .readout import SHOWN, NotAString, read_atoms
from .userrules import check_rule_files, constraints, inert, parse_message

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
SHIPPED = ("inputs.lp", "status.lp")


@dataclass
class SolveResult:
    """Atoms read back from the solver, as plain Python tuples of strings."""

    statuses: dict[tuple[str, str], str] = field(default_factory=dict)
    conditions: dict[tuple[str, str], str] = field(default_factory=dict)
    reasons: dict[tuple[str, str], list[tuple[str, object]]] = field(default_factory=dict)
    runs: list[tuple[str, str]] = field(default_factory=list)
    #: with ``origins``: which user rules derived each block/unrecoverable/depends atom (file, line)
    origins: dict[tuple[str, ...], list[tuple[str, int]]] = field(default_factory=dict)
    facts: int = 0
    not_facts: list[str] = field(default_factory=list)
    #: from the rules, for the schedule: priorities (highest wins) and reasons not to start a partition now
    priorities: dict[tuple[str, str], int] = field(default_factory=dict)
    forbidden: dict[tuple[str, str], str] = field(default_factory=dict)
    #: with only the user's rules grounded (see :func:`solve_rules`): their block/3 and unrecoverable/3 reasons
    blocks: dict[tuple[str, str], list[object]] = field(default_factory=dict)
    unrecoverable: dict[tuple[str, str], list[object]] = field(default_factory=dict)
    #: the evaluated engine's answer (:mod:`setpoint.solver.evaluate`), in place of ``statuses``,
    #: ``conditions`` and ``reasons``: each asset's unsatisfied partitions in value order, as
    #: (frontier partition, status, condition, reasons as (kind, detail) pairs)
    evaluated: list[tuple[str, list[tuple[Any, str, str, list[tuple[str, object]]]]]] | None = None
    #: with ``evaluated``: how many partitions of each (asset, status) it holds
    evaluated_counts: Counter | None = None
    #: with ``evaluated``: by asset, the waiting partitions it left out, counted and grouped
    #: (:class:`setpoint.solver.evaluate.Waiting`), made when the plan's statuses are looked at
    waiting: dict[str, Any] = field(default_factory=dict)


def reason_text(sym: clingo.Symbol) -> str:
    """A rule's reason as text: a string as is, a tuple joined (``("campaign ", C, " is retired")``)."""
    if sym.type == clingo.SymbolType.String:
        return sym.string
    if sym.type == clingo.SymbolType.Function and sym.name == "" and sym.arguments:
        return "".join(reason_text(a) for a in sym.arguments)
    return str(sym)


def _value(sym: clingo.Symbol) -> object:
    """A reason's detail: ``up(B,Q)`` → ("up", B, Q); an asset → its name; anything else → text."""
    if sym.type == clingo.SymbolType.Function and sym.name == "up" and len(sym.arguments) == 2:
        b, q = sym.arguments
        return ("up", b.name, q.string)
    if sym.type == clingo.SymbolType.Function and not sym.arguments:
        return sym.name
    return reason_text(sym)


def _named_wrong(atoms: clingo.SymbolicAtoms, rule_files: list[str], display: dict[str, str]) -> list[Problem]:
    """Rules that name something that is not an asset, where setpoint expects one."""
    names = sorted(str(sa.symbol.arguments[0]) for sa in atoms.by_signature("unknown_asset", 1))
    if not names:
        return []
    assets = sorted(str(sa.symbol.arguments[0]) for sa in atoms.by_signature("asset", 1))
    close = difflib.get_close_matches(names[0].strip('"'), assets, n=1)
    return [Problem(f"the rules name {', '.join(names)} in depends/4, block/3, unrecoverable/3, priority/3 or forbid/3, "
                    f"which {'is not an asset' if len(names) == 1 else 'are not assets'}",
                    file=", ".join(display[f] for f in rule_files) or None,
                    hint=(f"did you mean {close[0]}? " if close else "")
                    + "assets are written as constants (csv, not \"csv\"); known assets: " + ", ".join(assets))]


def fact_count(facts: str) -> int:
    """How many facts a fact text holds (one a line, as :class:`~setpoint.solver.facts.FactWriter` writes
    them), in ASP syntax or as its aspif program (whose first and last lines are not facts)."""
    lines = facts.count("\n")
    return lines - 2 if facts.startswith("asp ") else lines


def _ground_and_read(rule_files: list[str], facts: str, display: dict[str, str], consistent: bool,
                     origins: bool = False, shipped: tuple[str, ...] = SHIPPED) -> SolveResult | list[Problem]:
    messages: list[tuple[clingo.MessageCode, str]] = []

    def log(code: clingo.MessageCode, message: str) -> None:
        if (code, message) not in messages:  # a traced rule's twin repeats the rule's own warnings
            messages.append((code, message))

    ctl = clingo.Control(["--warn=atom-undefined"], logger=log, message_limit=50)
    problems: list[Problem] = []
    places: list[tuple[str, int]] = []
    try:
        for name in shipped:
            ctl.load(str(RULES_DIR / name))
        if origins and rule_files:
            places = load_traced(ctl, rule_files, display, log)
        else:
            for f in rule_files:
                ctl.load(f)
        ctl.add("base", [], facts)  # ASP facts or aspif: the parser switches on aspif's "asp 1 0 0" line
        if "status.lp" in shipped:
            ctl.add("setpoint_show", [], "".join(f"#show {s}." for s in SHOWN))
        else:
            ctl.add("setpoint_show", [], "")
        ctl.ground([("base", []), ("setpoint_show", [])])
    except RuntimeError as exc:
        problems = [parse_message(m, display) for _, m in messages] or [Problem(f"grounding failed: {exc}")]
        return problems
    user = set(rule_files)
    for code, m in messages:
        if code == clingo.MessageCode.AtomUndefined and m.split(":", 1)[0] in user:
            problems.append(parse_message(m, display))
    if problems:
        return problems
    result = SolveResult()
    atoms = ctl.symbolic_atoms
    if any(True for _ in atoms.by_signature("asset", 1)):  # validating a broken project declares none
        problems = _named_wrong(atoms, rule_files, display)
        if problems:
            return problems
    for name in ("block", "unrecoverable", "forbid", "priority"):  # a key of the wrong type would match nothing
        for sa in atoms.by_signature(name, 3):
            a, p, _ = sa.symbol.arguments
            if name == "priority" and sa.symbol.arguments[2].type != clingo.SymbolType.Number:
                return [Problem(f"the rules give {a}[{p}] the priority {sa.symbol.arguments[2]}, which is not a "
                                "whole number", file=", ".join(display[f] for f in rule_files) or None,
                                hint="write priority(A, P, N) with N from 0 (default) to 9 (first)")]
            if p.type != clingo.SymbolType.String:
                return [Problem(f"the rules {name} the partition {p} of {a}, but partition keys are strings",
                                file=", ".join(display[f] for f in rule_files) or None,
                                hint='write keys as strings, e.g. "2024-03-01" or "campaign=501,day=2024-03-01"')]
    if rule_files:  # the shipped rules are stratified; a user's rule may not be (reported by solve())
        decided = ("status", "priority", "forbid") if "status.lp" in shipped else \
            ("block", "unrecoverable", "priority", "forbid")
        for name in decided:
            result.not_facts += [str(sa.symbol) for sa in atoms.by_signature(name, 3) if not sa.is_fact]
        if result.not_facts:
            return result
    if "status.lp" not in shipped:
        out = _read_rules(ctl, result, consistent, rule_files, display)
        if places and isinstance(out, SolveResult):
            out.origins = read_origins(atoms, places, reason_text)
        return out
    printed: list[str] = []
    answer = ctl.solve(on_model=lambda m: printed.extend(map(str, m.symbols(shown=True))))
    if consistent and not answer.satisfiable:
        return _unsatisfiable(rule_files, display)
    try:
        read_atoms(printed, result, _value, reason_text)
    except NotAString as exc:
        a, p = clingo.parse_term(exc.atom).arguments[:2]
        return [Problem(f"the rules name the partition {p} of {a}, but partition keys are strings",
                        file=", ".join(display[f] for f in rule_files) or None,
                        hint='write keys as strings, e.g. "2024-03-01" or "campaign=501,day=2024-03-01"')]
    if places:
        result.origins = read_origins(atoms, places, reason_text)
    return result


def _read_rules(ctl: clingo.Control, result: SolveResult, consistent: bool, rule_files: list[str],
                display: dict[str, str]) -> SolveResult | list[Problem]:
    """What the user's rules alone derived: blocks, unrecoverable partitions, priorities and forbidden starts."""
    if consistent and not ctl.solve().satisfiable:
        return _unsatisfiable(rule_files, display)
    atoms = ctl.symbolic_atoms
    for name, into in (("block", result.blocks), ("unrecoverable", result.unrecoverable)):
        for sa in atoms.by_signature(name, 3):
            a, p, r = sa.symbol.arguments
            into.setdefault((a.name, p.string), []).append(_value(r))
    for sa in atoms.by_signature("priority", 3):
        a, p, n = sa.symbol.arguments
        node = (a.name, p.string)
        result.priorities[node] = max(result.priorities.get(node, n.number), n.number)
    for sa in atoms.by_signature("forbid", 3):
        a, p, r = sa.symbol.arguments
        node, text = (a.name, p.string), reason_text(r)
        result.forbidden[node] = min(result.forbidden.get(node, text), text)
    return result


def _unsatisfiable(rule_files: list[str], display: dict[str, str]) -> list[Problem]:
    places = constraints([Path(f) for f in rule_files], display)
    where = ", ".join(f"{f}:{line}" for f, line in places) or ", ".join(display[f] for f in rule_files)
    return [Problem("the rules admit no answer: an integrity constraint (:- ...) in them is violated",
                    file=places[0][0] if len(places) == 1 else ", ".join(display[f] for f in rule_files) or None,
                    line=places[0][1] if len(places) == 1 else None,
                    hint=f"check the constraints ({where}): one of them holds for this plan's facts")]


def _child(conn, rule_files, facts, display, memory_mb, origins, shipped) -> None:  # pragma: no cover - fork
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as f:
            current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = current + memory_mb * 1024 * 1024
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        conn.send(_ground_and_read(rule_files, facts, display, consistent=True, origins=origins, shipped=shipped))
    except MemoryError:
        conn.send("memory")
    except BaseException as exc:  # noqa: BLE001 - report anything to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()
        os._exit(0)


#: what grounding the shipped rules costs per byte of fact text, measured on the ad_campaigns
#: backfill (2.9 M facts; 2.2 M facts as aspif: 32 bytes a byte): the limits bound what user rules add on top
_BYTES_PER_FACT_BYTE = 40
_SECONDS_PER_FACT_MB = 2.0


def _budget(limits: Limits, facts: str) -> tuple[int, float]:
    """(MiB, seconds) the guarded grounding may use: the project's limits plus the input's own share."""
    return (limits.memory_mb + len(facts) * _BYTES_PER_FACT_BYTE // 2**20,
            limits.timeout_s + len(facts) / 2**20 * _SECONDS_PER_FACT_MB)


class _Guarded:
    """A grounding under way in a child process, bounded in memory and time; :meth:`result` waits."""

    def __init__(self, rule_files: list[str], facts: str, display: dict[str, str], limits: Limits,
                 origins: bool = False, shipped: tuple[str, ...] = SHIPPED) -> None:
        self.memory_mb, timeout_s = _budget(limits, facts)
        ctx = multiprocessing.get_context("fork")
        self.parent, child = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_child, args=(child, rule_files, facts, display, self.memory_mb, origins,
                                                     shipped), daemon=True)
        self.proc.start()
        child.close()
        self.deadline, self.timeout_s = time.monotonic() + timeout_s, timeout_s
        self.shown = ", ".join(display[f] for f in rule_files)
        self.answered = False  # whether its answer was read: a child is only waited for then
        self.size = f"{fact_count(facts):,} facts"

    def result(self) -> SolveResult | list[Problem]:
        proc, parent = self.proc, self.parent
        fix = ("if a rule joins unrelated atoms (a cross product), bind every variable through key/4, frontier/2 "
               "or depends/4; if the gap itself is this large (a first backfill), raise solver.{key} in setpoint.yaml")
        try:
            if not parent.poll(max(0.0, self.deadline - time.monotonic())):
                proc.kill()
                raise RuleError(f"grounding the rules over {self.size} took longer than {self.timeout_s:,.0f} s and "
                                "was stopped", file=self.shown, hint=fix.format(key="timeout_s"))
            try:
                out = parent.recv()
            except EOFError:
                out = "memory"
            self.answered = True
        finally:
            self.cancel()
        if out == "memory" or (isinstance(out, tuple) and "bad_alloc" in out[1]) or (
            isinstance(out, list) and any("bad_alloc" in p.message for p in out)
        ):
            raise RuleError(f"grounding the rules over {self.size} needed more than {self.memory_mb:,} MiB and was "
                            "stopped", file=self.shown, hint=fix.format(key="memory_mb"))
        if isinstance(out, tuple):
            raise SolveError(f"the solver failed: {out[1]}")
        return out

    def cancel(self) -> None:
        """End the child: one whose answer was not read is killed (it may be blocked writing an answer
        larger than the pipe holds), one whose answer was read is given 5 s to exit."""
        if self.parent.closed:
            return
        if self.proc.is_alive() and not self.answered:
            self.proc.kill()
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
        self.parent.close()


def _guarded(rule_files: list[str], facts: str, display: dict[str, str], limits: Limits,
             origins: bool = False, shipped: tuple[str, ...] = SHIPPED) -> SolveResult | list[Problem]:
    return _Guarded(rule_files, facts, display, limits, origins, shipped).result()


def _raise(out: SolveResult | list[Problem]) -> SolveResult:
    if isinstance(out, list):
        raise RuleError(out[0].message, problems=out)
    return out


def rule_problems(rule_files: list[Path], display: dict[str, str], limits: Limits | None = None,
                  assets: set[str] | None = None) -> list[Problem]:
    """Every problem of the rules without observed data: schema, syntax, safety, undefined atoms and
    (given the project's assets) names that are not assets, grounded under limits."""
    problems = check_rule_files(list(rule_files), display, assets)
    if problems or not rule_files:
        return problems
    facts = "".join(f"asset({a}).\n" for a in sorted(assets or ()))
    out = _guarded([str(f) for f in rule_files], facts, display, limits or Limits())
    return out if isinstance(out, list) else []


def check_rules(rule_files: list[Path], display: dict[str, str], limits: Limits | None = None,
                assets: set[str] | None = None) -> None:
    """Raise a RuleError listing every problem of the rules, if they have any."""
    problems = rule_problems(rule_files, display, limits, assets)
    if problems:
        raise RuleError(problems[0].message, problems=problems)


class RulesUnderWay:
    """The user's rules being grounded (see :func:`start_rules`); :meth:`result` waits for what they
    derived, :meth:`cancel` stops them (both may be called more than once)."""

    def __init__(self, files: list[str], display: dict[str, str], guarded: _Guarded | None,
                 grounded: SolveResult | list[Problem] | None = None) -> None:
        self.files, self.display, self.guarded, self.grounded = files, display, guarded, grounded
        self.done: SolveResult | None = None if guarded is not None or grounded is not None else SolveResult()

    def result(self) -> SolveResult:
        if self.done is None:
            self.done = _raise(self.grounded if self.guarded is None else self.guarded.result())
            _not_facts(self.done, self.files, self.display)
        return self.done

    def cancel(self) -> None:
        if self.done is None and self.guarded is not None:
            self.guarded.cancel()


def start_rules(facts: str, rule_files: list[Path], display: dict[str, str], limits: Limits | None = None,
                assets: set[str] | None = None, origins: bool = False) -> RulesUnderWay:
    """Start grounding only the user's rules (with inputs.lp) over the facts they read, in a child
    process, and go on: what they derive (blocks, unrecoverable partitions, priorities and forbidden
    starts) is read when asked for. For rules that read input facts only (see
    :func:`setpoint.solver.userrules.input_reads`); the statuses come from
    :mod:`setpoint.solver.evaluate`. ``origins`` records which rule derived each block and
    unrecoverable atom, as :func:`solve` does. The rule files are checked now."""
    limits = limits or Limits()
    files = [str(f) for f in rule_files]
    if not files:
        return RulesUnderWay(files, display, None)
    problems = check_rule_files(list(rule_files), display, assets)
    if problems:
        raise RuleError(problems[0].message, problems=problems)
    if inert(list(rule_files)):  # grounded here, as the child would: cheap, and forking a large plan is not
        return RulesUnderWay(files, display, None, _ground_and_read(files, facts, display, consistent=True,
                                                                     origins=origins, shipped=("inputs.lp",)))
    return RulesUnderWay(files, display, _Guarded(files, facts, display, limits, origins, shipped=("inputs.lp",)))


def solve_rules(facts: str, rule_files: list[Path], display: dict[str, str], limits: Limits | None = None,
                assets: set[str] | None = None, origins: bool = False) -> SolveResult:
    """What :func:`start_rules` starts, waited for."""
    return start_rules(facts, rule_files, display, limits, assets, origins).result()


def solve(facts: str, rule_files: list[Path], display: dict[str, str], limits: Limits | None = None,
          assets: set[str] | None = None, origins: bool = False) -> SolveResult:
    """Ground shipped + user rules over the facts and read statuses, reasons and runs.

    ``origins`` also records which user rule derived each block, unrecoverable
    and dependency atom (for explanations; the statuses are the same).
    """
    limits = limits or Limits()
    files = [str(f) for f in rule_files]
    if files:
        problems = check_rule_files(list(rule_files), display, assets)
        if problems:
            raise RuleError(problems[0].message, problems=problems)
        out = _raise(_guarded(files, facts, display, limits, origins))
    else:
        out = _raise(_ground_and_read([], facts, display, consistent=False))
    _not_facts(out, files, display)
    return out


def _not_facts(out: SolveResult, files: list[str], display: dict[str, str]) -> None:
    if out.not_facts:
        raise RuleError(
            "the rules make statuses depend on a choice or on non-stratified negation "
            f"(e.g. {out.not_facts[0]})",
            file=", ".join(display[f] for f in files) or None,
            hint="a rule must not derive block/3, unrecoverable/3, depends/4, priority/3 or forbid/3 through a "
                 "choice, or derive block/3, unrecoverable/3 or depends/4 from status/3 "
                 "or through `not` of something that depends on them",
        )
