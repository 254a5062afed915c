"""The fact schema: every predicate rules may read or define — a public contract.

``docs/fact-schema.md`` documents these; the user-rule checker enforces them:
rules may define only the ``rule`` predicates (plus helper predicates of their
own) and read anything.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Predicate:
    name: str
    args: tuple[str, ...]
    role: str  # "input": written by setpoint · "rule": rules may define · "output": derived by shipped rules
    doc: str

    @property
    def arity(self) -> int:
        return len(self.args)

    @property
    def signature(self) -> str:
        return f"{self.name}/{self.arity}"


SCHEMA: tuple[Predicate, ...] = (
    Predicate("asset", ("A",), "input", "A is a declared asset."),
    Predicate("has_action", ("A",), "input", "A declares an action that produces its partitions."),
    Predicate("dimension", ("A", "D"), "input", "A is partitioned along dimension D."),
    Predicate("frontier", ("A", "P"), "input", "A[P] is expected and not known to be satisfied."),
    Predicate("absent", ("A", "P"), "input", "A[P] is expected and was not observed."),
    Predicate("outdated", ("A", "P", "B", "Q"), "input",
              "A[P] is present, but B[Q], which it needs, was updated after it."),
    Predicate("superseded", ("A", "P"), "input",
              "A[P] is present, but the run record says an older version of A's action built it."),
    Predicate("failed", ("A", "P", "N"), "input",
              "The runs meant to produce A[P] failed N times (an integer) since it was last built."),
    Predicate("max_attempts", ("A", "M"), "input",
              "A's action is tried at most M times (an integer) for a partition before it is blocked "
              "(written for assets with failed partitions on the frontier)."),
    Predicate("leased", ("A", "P"), "input",
              "A[P] is being produced: a run holds a live lease on it (it is in_progress, and nothing starts it)."),
    Predicate("backoff", ("A", "P"), "input",
              "A[P] failed and is not tried again before its backoff ends (it waits)."),
    Predicate("key", ("A", "P", "D", "V"), "input", "Partition P of A has value V (a string) in dimension D."),
    Predicate("needs_all", ("A", "B"), "input", "Every partition of A needs every partition of B."),
    Predicate("not_due", ("B", "Q"), "input",
              "B[Q] is needed by a known partition but its window has not closed yet (lag included): "
              "it is not expected yet, so what needs it waits."),
    Predicate("coarse", ("A",), "input", "One run of A's action produces several of its partitions."),
    Predicate("unit", ("A", "P", "U"), "input", "A[P] is produced by the run keyed U (coarse assets)."),
    Predicate("expired", ("A", "P"), "input",
              "A[P] is present, but (nearly) older than its SLO's max_age: it is refreshed now (stale)."),
    Predicate("paused", ("A", "R"), "input",
              "An operator paused A (`setpoint pause`); R says who, since when, until when and why. "
              "Its partitions that need work are blocked, and so is what needs them."),
    Predicate("now_local", ("W", "H", "M"), "input",
              "The time of the plan on the project's clock: weekday W (1 = Monday … 7 = Sunday), hour H, "
              "minute M (integers), for rules about time windows."),
    Predicate("depends", ("A", "P", "B", "Q"), "rule",
              "A[P] needs B[Q]. setpoint writes the declared edges between frontier partitions; "
              "rules may add more."),
    Predicate("block", ("A", "P", "R"), "rule",
              "Do not act on A[P], for reason R (a string). Applies to partitions that are not satisfied."),
    Predicate("unrecoverable", ("A", "P", "R"), "rule",
              "A[P] can never be produced again, for reason R (a string)."),
    Predicate("priority", ("A", "P", "N"), "rule",
              "Start A[P] before work of a lower priority (N an integer 0–9, default 0); only the schedule "
              "reads it: the statuses are the same."),
    Predicate("forbid", ("A", "P", "R"), "rule",
              "Do not start A[P] now, for reason R (a string): it is deferred, not blocked. Typically a time "
              "window read from now_local/3."),
    Predicate("known", ("A", "P"), "output", "The solver knows A[P]: on the frontier or named by a dependency."),
    Predicate("status", ("A", "P", "S"), "output",
              "Exactly one per known partition: satisfied, missing, stale, in_progress, waiting or blocked."),
    Predicate("in_progress", ("A", "P"), "output", "A[P] needs work and a live lease says it is being produced."),
    Predicate("runnable", ("A", "P"), "output", "A[P] is missing or stale and can be produced now."),
    Predicate("condition", ("A", "P", "C"), "output", "What A[P] itself is: absent, outdated or present."),
    Predicate("reason", ("A", "P", "K", "X"), "output", "A[P] has its status because of K (detail X)."),
    Predicate("run", ("A", "U"), "output", "The action of A runs for unit U."),
    Predicate("unknown_asset", ("A",), "output",
              "A rule names A in depends/4, block/3, unrecoverable/3, priority/3 or forbid/3, but A is not an "
              "asset (an error)."),
    Predicate("blocked", ("A", "P"), "output", "A[P] cannot proceed."),
    Predicate("pending", ("A", "P"), "output", "A[P] is not satisfied but can be produced."),
    Predicate("troubled", ("A", "P"), "output", "A[P] or something it needs is not satisfied."),
    Predicate("needs_work", ("A", "P"), "output", "A[P] is absent, outdated or superseded."),
    Predicate("exhausted", ("A", "P"), "output", "A[P] needs work and failed max_attempts times: blocked."),
    Predicate("root_blocked", ("A", "P"), "output", "A[P] is blocked by a cause of its own."),
    Predicate("upstream_pending", ("A", "P"), "output", "Something A[P] needs is pending."),
    Predicate("troubled_asset", ("A",), "output", "Some partition of A is troubled."),
    Predicate("blocked_asset", ("A",), "output", "Some partition of A is blocked."),
    Predicate("pending_asset", ("A",), "output", "Some partition of A is pending."),
    Predicate("held", ("A", "P"), "output", "A[P] is pending but waits: on something it needs, or a backoff."),
    Predicate("leased_unit", ("A", "U"), "output", "Some partition of A's run unit U is leased: U does not run."),
)

BY_SIGNATURE = {p.signature: p for p in SCHEMA}
NAMES = {p.name for p in SCHEMA}
RULE_DEFINABLE = {p.signature for p in SCHEMA if p.role == "rule"}
