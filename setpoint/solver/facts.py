"""Write the frontier as ASP facts — the one place that formats solver input.

Asset and dimension names are validated lowercase identifiers and become
constants; partition keys and values are strings, escaped here and nowhere else.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

from ..errors import ObserveError
from ..state import Pause
from ..frontier import Frontier
from ..project.model import Project


def lp_string(text: str) -> str:
    """A clingo string literal for any text (quotes, backslashes, newlines escaped).

    NUL is the one character a clingo string cannot hold; observers drop such
    values, and a declared one is refused here with the value named.
    """
    if "\x00" in text:
        raise ObserveError(f"partition value {text!r} contains a NUL character, which setpoint cannot represent",
                           hint="remove the NUL from the value")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


#: values repeat across partitions (a campaign id on every day): each is quoted once
_lp_value = lru_cache(maxsize=65536)(lp_string)


def describe_pause(pause: Pause) -> str:
    """``paused by ada at 2024-03-25 10:00 UTC until … because …`` — the reason a paused partition is blocked."""
    text = f"paused by {pause.by or 'an operator'} at {pause.since:%Y-%m-%d %H:%M UTC}"
    if pause.asset == "*":
        text = text.replace("paused", "paused (all assets)", 1)
    if pause.until is not None:
        text += f" until {pause.until:%Y-%m-%d %H:%M UTC}"
    return text + (f" because {pause.reason}" if pause.reason else "")


class FactWriter:
    """Typed writers for each input predicate of the fact schema (see ``schema.py``).

    Each writer records one ground atom. :meth:`text` gives them as ASP facts (to read, or
    to hand to :func:`setpoint.solver.session.solve`); :meth:`program` gives the same facts
    in clingo's ground format (aspif), which is what the controller hands over. A first
    backfill writes hundreds of thousands of facts, and clingo's reading them is most of
    what grounding the user's rules costs: read from aspif, 365,000 ``key/4`` facts take
    about half the time they take in ASP syntax, with nothing left to ground (measured; the
    parser holds 100 to 200 bytes more per fact meanwhile, in the guarded child).
    """

    def __init__(self) -> None:
        self.atoms: list[str] = []

    @property
    def count(self) -> int:
        """How many facts were written."""
        return len(self.atoms)

    def _add(self, atom: str) -> None:
        self.atoms.append(atom)

    def asset(self, a: str) -> None:
        self._add(f"asset({a})")

    def has_action(self, a: str) -> None:
        self._add(f"has_action({a})")

    def dimension(self, a: str, d: str) -> None:
        self._add(f"dimension({a},{d})")

    def coarse(self, a: str) -> None:
        self._add(f"coarse({a})")

    def frontier(self, a: str, p: str) -> None:
        self._add(f"frontier({a},{lp_string(p)})")

    def absent(self, a: str, p: str) -> None:
        self._add(f"absent({a},{lp_string(p)})")

    def outdated(self, a: str, p: str, b: str, q: str) -> None:
        self._add(f"outdated({a},{lp_string(p)},{b},{lp_string(q)})")

    def superseded(self, a: str, p: str) -> None:
        self._add(f"superseded({a},{lp_string(p)})")

    def failed(self, a: str, p: str, n: int) -> None:
        self._add(f"failed({a},{lp_string(p)},{n})")

    def leased(self, a: str, p: str) -> None:
        self._add(f"leased({a},{lp_string(p)})")

    def backoff(self, a: str, p: str) -> None:
        self._add(f"backoff({a},{lp_string(p)})")

    def max_attempts(self, a: str, n: int) -> None:
        self._add(f"max_attempts({a},{n})")

    def key(self, a: str, p: str, d: str, v: str) -> None:
        self._add(f"key({a},{lp_string(p)},{d},{_lp_value(v)})")

    def depends(self, a: str, p: str, b: str, q: str) -> None:
        self._add(f"depends({a},{lp_string(p)},{b},{lp_string(q)})")

    def not_due(self, b: str, q: str) -> None:
        self._add(f"not_due({b},{lp_string(q)})")

    def needs_all(self, a: str, b: str) -> None:
        self._add(f"needs_all({a},{b})")

    def expired(self, a: str, p: str) -> None:
        self._add(f"expired({a},{lp_string(p)})")

    def paused(self, a: str, reason: str) -> None:
        self._add(f"paused({a},{lp_string(reason)})")

    def now_local(self, weekday: int, hour: int, minute: int) -> None:
        self._add(f"now_local({weekday},{hour},{minute})")

    def unit(self, a: str, p: str, u: str) -> None:
        self._add(f"unit({a},{lp_string(p)},{lp_string(u)})")

    def text(self) -> str:
        """The facts in ASP syntax, one a line."""
        return ".\n".join(self.atoms) + ".\n" if self.atoms else ""

    def program(self) -> str:
        """The facts as a ground program in aspif: one output statement with an empty
        condition (a fact) per atom, ``4 <bytes> <atom> 0``, as ``clingo --mode=gringo``
        writes facts. The length counts UTF-8 bytes (a partition value may be any text)."""
        return aspif(self.atoms)


def aspif(atoms: list[str]) -> str:
    """Ground atoms (in clingo's syntax) as facts of one aspif step."""
    return "asp 1 0 0\n" + "".join(
        f"4 {len(atom) if atom.isascii() else len(atom.encode())} {atom} 0\n" for atom in atoms) + "0\n"


def write_facts(project: Project, frontier: Frontier,
                keys: set[tuple[str | None, str | None]] | None = None, only: set[str] | None = None) -> FactWriter:
    """All solver input for one plan, in a deterministic order.

    ``keys`` names the (asset, dimension) pairs rules read through key/4 (None
    for any); key facts are written for those only, as nothing else reads them.
    ``frontier/2`` is written only for partitions that are neither absent,
    outdated nor superseded: the shipped rules derive it for the others.

    ``only``: for grounding the user's rules alone, the input predicates they
    read (besides ``asset/1``, always written); ``frontier/2`` is then written
    for every frontier partition.
    """
    keys = keys or set()
    w = FactWriter()

    def want(name: str) -> bool:
        return only is None or name in only

    local = frontier.now.astimezone(ZoneInfo(project.timezone))
    if want("now_local"):
        w.now_local(local.isoweekday(), local.hour, local.minute)
    per_partition = only is None or bool(only & {"frontier", "absent", "outdated", "expired", "superseded", "failed",
                                                 "backoff", "leased", "key", "unit"})
    for asset in project.assets.values():
        a = asset.name
        w.asset(a)
        pause = frontier.paused.get(a) or frontier.paused.get("*")
        if pause is not None and want("paused"):
            w.paused(a, describe_pause(pause))
        if want("dimension"):
            for d in asset.dims:
                w.dimension(a, d)
        coarse = asset.action is not None and asset.action.grain != asset.dims
        if asset.action is not None:
            if want("has_action"):
                w.has_action(a)
            if want("max_attempts") and any(part.failures for part in frontier.assets[a].partitions):
                w.max_attempts(a, asset.action.max_attempts)
        if coarse and want("coarse"):
            w.coarse(a)
        if not per_partition:
            continue
        read = [i for i, d in enumerate(asset.dims)
                if (None, None) in keys or (a, None) in keys or (None, d) in keys or (a, d) in keys] \
            if want("key") else []
        every = only is not None and "frontier" in only
        # asked once per asset, not once per partition (tens of thousands at scale)
        absent, outdated, expired, superseded = want("absent"), want("outdated"), want("expired"), want("superseded")
        failed, backoff, leased, units = want("failed"), want("backoff"), want("leased"), coarse and want("unit")
        if not (read or every or only is None or absent or outdated or expired or superseded or failed or backoff
                or leased or units):
            continue
        now = frontier.now
        for part in frontier.assets[a].partitions:
            p = part.key
            if part.absent:
                if absent:
                    w.absent(a, p)
            elif part.outdated_by is not None:
                if outdated:
                    w.outdated(a, p, *part.outdated_by)
            elif part.expired:
                if expired:
                    w.expired(a, p)
            elif part.superseded is None and only is None:
                w.frontier(a, p)
            if every:
                w.frontier(a, p)
            if part.superseded is not None and superseded:
                w.superseded(a, p)
            if part.failures:
                if failed:
                    w.failed(a, p, part.failures)
                if part.retry_at is not None and part.retry_at > now and backoff:
                    w.backoff(a, p)
            if part.lease is not None and leased:
                w.leased(a, p)
            for i in read:
                w.key(a, p, asset.dims[i], part.values[i])
            if units:
                w.unit(a, p, part.unit)
    if want("depends"):
        for a, p, b, q in frontier.edges:
            w.depends(a, p, b, q)
    if want("not_due"):
        for b, q in sorted(frontier.not_due):
            w.not_due(b, q)
    if want("needs_all"):
        for a, b in frontier.needs_all:
            w.needs_all(a, b)
    return w
