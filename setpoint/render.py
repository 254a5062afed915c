"""Plain-text rendering of plans and errors for the terminal (the CLI only calls these)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from .errors import SetpointError
from .plan import STATUSES, Plan

if TYPE_CHECKING:
    from .apply import ApplyResult, Progress
    from .state import Event, RunRecord


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        out.append("  ".join(cells).rstrip())
    return out


def _state(plan: Plan) -> list[str]:
    """The counts table, warnings, and the non-satisfied groups with their top reasons."""
    rows = [["asset", "expected", *STATUSES]]
    for asset, counts in plan.summary.items():
        rows.append([asset, f"{counts['expected']:,}", *(f"{counts[s]:,}" for s in STATUSES)])
    lines = _table(rows)
    for w in plan.warnings:
        lines.append(f"warning: {w}")
    if plan.groups:
        lines += ["", "not satisfied:"]
        rows = [[f"  {g.asset}", f"{g.count:,} {g.status}", g.reason, f"e.g. {g.example}"] for g in plan.groups]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for r in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3])
    return lines


def render_plan(plan: Plan, max_actions: int = 20) -> str:
    lines = [f"plan for {plan.project} at {plan.now.strftime('%Y-%m-%d %H:%M UTC')}", ""]
    lines += _state(plan)
    lines.append("")
    if plan.actions:
        lines.append(f"actions that would run: {len(plan.actions):,}")
        for r in plan.runs[:max_actions]:
            runs = f"{r.runs:,} runs" if r.runs != 1 else "1 run"
            lines.append(f"  {r.label}  ({r.kind}, {runs}, {r.covers:,} partition{'s' if r.covers != 1 else ''})")
        if len(plan.runs) > max_actions:
            lines.append(f"  … and {len(plan.runs) - max_actions:,} more ranges (see --json)")
    else:
        lines.append("actions that would run: none")
    lines.append("dry run: nothing was executed.")
    return "\n".join(lines)


def render_error(exc: SetpointError) -> str:
    if len(exc.problems) == 1:
        return f"error: {exc.problems[0]}"
    return "\n".join(f"error: {p}" for p in exc.problems)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def render_apply(result: ApplyResult) -> str:
    """What an apply did, and what is left."""
    failed = len(result.failed_runs)
    passes = "1 pass" if result.passes == 1 else f"{result.passes:,} passes"
    lines = [f"applied {result.project}: {_plural(len(result.runs), 'run')} "
             f"({len(result.runs) - failed:,} succeeded, {failed:,} failed) in {passes}", ""]
    lines += _state(result.plan)
    lines.append("")
    if result.converged:
        lines.append("converged: every expected partition is satisfied.")
    elif result.ok:
        lines.append("nothing more can be done now: what is left waits for windows that are not due yet.")
    else:
        lines.append(f"not converged: {_plural(result.blocked, 'partition')} blocked "
                     "(see `setpoint history` for the runs).")
    return "\n".join(lines)


class ProgressLog:
    """Progress of a long apply: one rewritten line on a terminal, plain log lines elsewhere."""

    def __init__(self, stream: TextIO, terminal: bool) -> None:
        self.stream = stream
        self.terminal = terminal

    def __call__(self, p: Progress) -> None:
        if self.terminal:
            if p.kind == "done":
                self.stream.write("\r\x1b[K")
            else:
                what = p.label or (p.run.label if p.run else "")
                self.stream.write(f"\r\x1b[Kpass {p.pass_no}: {p.running} running, {p.done} done, "
                                  f"{p.failed} failed, {p.left} left  {what}"[:200])
            self.stream.flush()
            return
        if p.kind == "pass":
            self.stream.write(f"pass {p.pass_no}: {_plural(p.left, 'action')} to run\n")
        elif p.kind == "started":
            self.stream.write(f"started {p.run_id} {p.label}\n")
        elif p.kind == "finished" and p.run is not None:
            r = p.run
            if r.outcome.ok:
                self.stream.write(f"succeeded {r.id} {r.label} in {r.seconds:.1f} s\n")
            else:
                self.stream.write(f"failed {r.id} {r.label} (attempt {r.attempt}): {r.outcome.error}\n")
        self.stream.flush()


def render_history(runs: list[RunRecord], events: list[Event] | None = None) -> str:
    """Runs, oldest first, one line each; with ``events``, the decision log instead."""
    if events is not None:
        if not events:
            return "no events recorded yet."
        rows = []
        for e in events:
            detail = ", ".join(f"{k}={v}" for k, v in sorted(e.detail.items()))
            rows.append(f"{e.at.strftime('%Y-%m-%d %H:%M:%S')}  {e.kind:<9}  {e.target or e.asset or ''}"
                        + (f"  {e.run_id}" if e.run_id else "") + (f"  {detail}" if detail else ""))
        return "\n".join(rows)
    if not runs:
        return "no runs recorded yet."
    rows = [["run", "started", "asset", "partitions", "attempt", "outcome", "seconds", "error"]]
    for r in runs:
        rows.append([r.id, r.started_at.strftime("%Y-%m-%d %H:%M:%S"), r.asset, r.label, str(r.attempt), r.outcome,
                     f"{r.duration_s:.1f}" if r.duration_s is not None else "", r.error or ""])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths)) + "  " + row[-1]).rstrip()
                     for row in rows)
