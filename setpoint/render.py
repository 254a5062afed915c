"""Plain-text rendering of plans and errors for the terminal (the CLI only calls these)."""

from __future__ import annotations

from .errors import SetpointError
from .plan import STATUSES, Plan


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        out.append("  ".join(cells).rstrip())
    return out


def render_plan(plan: Plan, max_actions: int = 20) -> str:
    lines = [f"plan for {plan.project} at {plan.now.strftime('%Y-%m-%d %H:%M UTC')}", ""]
    rows = [["asset", "expected", *STATUSES]]
    for asset, counts in plan.summary.items():
        rows.append([asset, f"{counts['expected']:,}", *(f"{counts[s]:,}" for s in STATUSES)])
    lines += _table(rows)
    for w in plan.warnings:
        lines.append(f"warning: {w}")
    if plan.groups:
        lines += ["", "not satisfied:"]
        rows = [[f"  {g.asset}", f"{g.count:,} {g.status}", g.reason, f"e.g. {g.example}"] for g in plan.groups]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for r in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3])
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
