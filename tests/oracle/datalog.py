"""A second, independent derivation of statuses and reasons, in pyDatalog, for the tests only.

Written from docs/statuses.md ("The definitions", "Leases and backoff",
"Reasons"), not from setpoint/rules/status.lp: the recursive closures (known,
troubled, blocked, pending) are Datalog rules, and the classification into
exactly one status and the reasons follow the documented tables in plain
Python. pyDatalog is slow and unmaintained, so it serves tests on small inputs
only; it is never a runtime dependency.

Where the two engines differ on purpose, the difference is documented in
docs/statuses.md and mirrored here (there is none at present).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyDatalog import pyDatalog


@dataclass
class Facts:
    """The solver's input, as plain sets (see docs/fact-schema.md)."""

    assets: set[str] = field(default_factory=set)
    has_action: set[str] = field(default_factory=set)
    frontier: set[tuple[str, str]] = field(default_factory=set)
    absent: set[tuple[str, str]] = field(default_factory=set)
    outdated: set[tuple[str, str, str, str]] = field(default_factory=set)
    superseded: set[tuple[str, str]] = field(default_factory=set)
    failed: dict[tuple[str, str], int] = field(default_factory=dict)
    max_attempts: dict[str, int] = field(default_factory=dict)
    depends: set[tuple[str, str, str, str]] = field(default_factory=set)
    needs_all: set[tuple[str, str]] = field(default_factory=set)
    not_due: set[tuple[str, str]] = field(default_factory=set)
    block: set[tuple[str, str, str]] = field(default_factory=set)
    unrecoverable: set[tuple[str, str, str]] = field(default_factory=set)
    leased: set[tuple[str, str]] = field(default_factory=set)
    backoff: set[tuple[str, str]] = field(default_factory=set)
    expired: set[tuple[str, str]] = field(default_factory=set)
    paused: dict[str, str] = field(default_factory=dict)

    def lp(self) -> list[str]:
        """The same facts as ASP text lines, for setpoint's solver."""
        def s(x: str) -> str:
            return '"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"'
        out = [f"asset({a})." for a in self.assets] + [f"has_action({a})." for a in self.has_action]
        out += [f"frontier({a},{s(p)})." for a, p in self.frontier]
        out += [f"absent({a},{s(p)})." for a, p in self.absent]
        out += [f"outdated({a},{s(p)},{b},{s(q)})." for a, p, b, q in self.outdated]
        out += [f"superseded({a},{s(p)})." for a, p in self.superseded]
        out += [f"failed({a},{s(p)},{n})." for (a, p), n in self.failed.items()]
        out += [f"max_attempts({a},{m})." for a, m in self.max_attempts.items()]
        out += [f"depends({a},{s(p)},{b},{s(q)})." for a, p, b, q in self.depends]
        out += [f"needs_all({a},{b})." for a, b in self.needs_all]
        out += [f"not_due({b},{s(q)})." for b, q in self.not_due]
        out += [f"block({a},{s(p)},{s(r)})." for a, p, r in self.block]
        out += [f"unrecoverable({a},{s(p)},{s(r)})." for a, p, r in self.unrecoverable]
        out += [f"leased({a},{s(p)})." for a, p in self.leased]
        out += [f"backoff({a},{s(p)})." for a, p in self.backoff]
        out += [f"expired({a},{s(p)})." for a, p in self.expired]
        out += [f"paused({a},{s(r)})." for a, r in self.paused.items()]
        return out


pyDatalog.create_terms("A, P, B, Q, R, N, M, X, "
                       "in_frontier, is_absent, is_outdated, is_superseded, is_leased, dep, all_of, late, "
                       "acts, blocks, lost, failures, allowed, too_old, halted, "
                       "known, work, troubled, troubled_asset, root, blocked, blocked_asset, "
                       "pending, pending_asset, up_pending")


def _rules() -> None:
    """The definitions of docs/statuses.md, as Datalog."""
    # known: on the frontier (absent, outdated and superseded ones are), or named by a dependency
    known(A, P) <= in_frontier(A, P)
    known(A, P) <= is_absent(A, P)
    known(A, P) <= is_outdated(A, P)
    known(A, P) <= is_superseded(A, P)
    known(A, P) <= is_leased(A, P)
    known(A, P) <= too_old(A, P)
    known(A, P) <= dep(A, P, B, Q)
    known(B, Q) <= dep(A, P, B, Q) & ~late(B, Q)
    # needs work: absent, outdated, superseded or too old for its SLO (expired)
    work(A, P) <= too_old(A, P)
    work(A, P) <= is_absent(A, P)
    work(A, P) <= is_outdated(A, P)
    work(A, P) <= is_superseded(A, P)
    # troubled: needs work, is being produced, needs a troubled (or not due) partition, or all of a troubled asset
    troubled(A, P) <= work(A, P)
    troubled(A, P) <= is_leased(A, P)
    troubled(A, P) <= dep(A, P, B, Q) & troubled(B, Q)
    troubled(A, P) <= dep(A, P, B, Q) & late(B, Q)
    troubled_asset(B) <= troubled(B, Q)
    troubled(A, P) <= all_of(A, B) & known(A, P) & troubled_asset(B)
    # blocked at the root: a rule, unrecoverable, an operator's pause, no action, or attempts used up
    root(A, P) <= troubled(A, P) & halted(A, R) & ~is_leased(A, P)  # work under way finishes
    root(A, P) <= troubled(A, P) & blocks(A, P, R)
    root(A, P) <= troubled(A, P) & lost(A, P, R)
    root(A, P) <= work(A, P) & ~acts(A)
    root(A, P) <= work(A, P) & failures(A, P, N) & allowed(A, M) & (N >= M)
    blocked(A, P) <= root(A, P)
    blocked(A, P) <= dep(A, P, B, Q) & blocked(B, Q)
    blocked_asset(B) <= blocked(B, Q)
    blocked(A, P) <= all_of(A, B) & known(A, P) & blocked_asset(B)
    # pending: troubled and not blocked; upstream pending
    pending(A, P) <= troubled(A, P) & ~blocked(A, P)
    pending_asset(B) <= pending(B, Q)
    up_pending(A, P) <= dep(A, P, B, Q) & pending(B, Q)
    up_pending(A, P) <= dep(A, P, B, Q) & late(B, Q)
    up_pending(A, P) <= all_of(A, B) & known(A, P) & pending_asset(B) & ~blocked(A, P)


def derive(f: Facts) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], set[tuple]]]:
    """Statuses of every known partition, and the reasons (kind, detail) of each."""
    pyDatalog.clear()
    _rules()
    for a, p in f.frontier:
        + in_frontier(a, p)
    for a, p in f.absent:
        + is_absent(a, p)
    for a, p, _, _ in f.outdated:
        + is_outdated(a, p)
    for a, p in f.superseded:
        + is_superseded(a, p)
    for a, p in f.leased:
        + is_leased(a, p)
    for a, p in f.expired:
        + too_old(a, p)
    for a, r in f.paused.items():
        + halted(a, r)
    for a, p, b, q in f.depends:
        + dep(a, p, b, q)
    for a, b in f.needs_all:
        + all_of(a, b)
    for b, q in f.not_due:
        + late(b, q)
    for a in f.has_action:
        + acts(a)
    for a, p, r in f.block:
        + blocks(a, p, r)
    for a, p, r in f.unrecoverable:
        + lost(a, p, r)
    for (a, p), n in f.failed.items():
        + failures(a, p, n)
    for a, m in f.max_attempts.items():
        + allowed(a, m)
    + acts("__none__")  # every predicate needs a fact for pyDatalog to query it
    + halted("__none__", "__none__")
    for pred in (in_frontier, is_absent, is_outdated, is_superseded, is_leased, late, too_old):
        + pred("__none__", "__none__")
    + dep("__none__", "__none__", "__none__", "__none__")
    + all_of("__none__", "__none__")
    + blocks("__none__", "__none__", "__none__")
    + lost("__none__", "__none__", "__none__")
    + failures("__none__", "__none__", 0)
    + allowed("__none__", 1)

    def rows(query) -> set[tuple]:
        return {tuple(r) for r in query.data if "__none__" not in r}

    known_ = rows(known(A, P))
    work_ = rows(work(A, P))
    troubled_ = rows(troubled(A, P))
    root_ = rows(root(A, P))
    blocked_ = rows(blocked(A, P))
    pending_ = rows(pending(A, P))
    up_ = rows(up_pending(A, P))
    return _classify(f, known_, work_, troubled_, root_, blocked_, pending_, up_)


def _classify(f: Facts, known_: set, work_: set, troubled_: set, root_: set, blocked_: set, pending_: set,
              up_: set) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], set[tuple]]]:
    """The status table and the reasons table of docs/statuses.md."""
    in_progress = {n for n in pending_ if n in f.leased}
    held = {n for n in pending_ if n in up_ or n in f.backoff}
    status: dict[tuple[str, str], str] = {}
    for n in known_:
        if n not in troubled_:
            status[n] = "satisfied"
        elif n in blocked_:
            status[n] = "blocked"
        elif n in in_progress:
            status[n] = "in_progress"
        elif n in held:
            status[n] = "waiting"
        elif n in f.absent:
            status[n] = "missing"
        elif n in work_:
            status[n] = "stale"
    blocked_assets = {a for a, _ in blocked_}
    pending_assets = {a for a, _ in pending_}
    outdated_by = {(a, p): (b, q) for a, p, b, q in f.outdated}
    reasons: dict[tuple[str, str], set[tuple]] = {}

    def add(n: tuple[str, str], *reason: object) -> None:
        reasons.setdefault(n, set()).add(tuple(reason))

    for n, s in status.items():
        a, p = n
        ups = [(b, q) for x, y, b, q in f.depends if (x, y) == n]
        if s == "missing" or (s == "in_progress" and n in f.absent):
            add(n, "absent", "none")
        if s == "stale" and n in outdated_by:
            add(n, "outdated", ("up",) + outdated_by[n])
        if s == "stale" and n in f.superseded:
            add(n, "superseded", "none")
        if s == "stale" and n in f.expired:
            add(n, "expired", "none")
        if s in ("missing", "stale") and n in f.failed:
            add(n, "retrying", f.failed[n])
        if s == "waiting" and n in f.backoff and n in f.failed:
            add(n, "backoff", f.failed[n])
        if s == "in_progress":
            add(n, "leased", "none")
        if s == "waiting":
            for up in ups:
                if up in pending_:
                    add(n, "needs", ("up",) + up)
                if up in f.not_due:
                    add(n, "not_due", ("up",) + up)
            for x, b in f.needs_all:
                if x == a and b in pending_assets:
                    add(n, "needs_all", b)
        if n in root_:
            if a in f.paused:
                add(n, "paused", f.paused[a])
            for x, y, r in f.block:
                if (x, y) == n:
                    add(n, "rule", r)
            for x, y, r in f.unrecoverable:
                if (x, y) == n:
                    add(n, "unrecoverable", r)
            if n in work_ and a not in f.has_action:
                add(n, "no_action", "none")
            if n in work_ and n in f.failed and a in f.max_attempts and f.failed[n] >= f.max_attempts[a]:
                add(n, "failed", f.failed[n])
            if n not in work_:  # present and blocked by a rule: what made it troubled
                for up in ups:
                    if up in troubled_:
                        add(n, "needs", ("up",) + up)
                    if up in f.not_due:
                        add(n, "not_due", ("up",) + up)
                for x, b in f.needs_all:
                    if x == a and any(y == b for y, _ in troubled_):
                        add(n, "needs_all", b)
        elif s == "blocked":
            for up in ups:
                if up in blocked_:
                    add(n, "upstream_blocked", ("up",) + up)
            for x, b in f.needs_all:
                if x == a and b in blocked_assets:
                    add(n, "upstream_all_blocked", b)
    return status, reasons
