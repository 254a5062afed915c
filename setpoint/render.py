"""Plain-text rendering of plans and errors for the terminal (the CLI only calls these)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TextIO

from .errors import SetpointError
from .explain import Cause, Explanation
from .plan import STATUSES, Plan

if TYPE_CHECKING:
    from .apply import ApplyResult, Progress
    from .status import Status
    from .state import Event, RunRecord


def json_document(doc: dict[str, Any]) -> str:
    """A JSON document as ``plan --json`` prints it: the top level indented, each element of a top-level
    list compact on a line of its own (one status, action or group per line).

    Python's C encoder writes each element; indentation needs the pure-Python encoder, which takes
    seconds over 60,000 statuses.
    """
    lines = []
    encode = json.JSONEncoder().encode  # json.dumps' defaults, without its per-call checks
    for k, v in doc.items():
        if isinstance(v, list) and v:
            body = ",\n    ".join(map(encode, v))
            lines.append(f"  {json.dumps(k)}: [\n    {body}\n  ]")
        else:
            lines.append(f"  {json.dumps(k)}: " + json.dumps(v, indent=2).replace("\n", "\n  "))
    return "{\n" + ",\n".join(lines) + "\n}" if lines else "{}"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        out.append("  ".join(cells).rstrip())
    return out


def _counts(summary: dict[str, dict[str, int]]) -> list[str]:
    """The table of counts per asset and status."""
    rows = [["asset", "expected", *STATUSES]]
    for asset, counts in summary.items():
        rows.append([asset, f"{counts['expected']:,}", *(f"{counts[s]:,}" for s in STATUSES)])
    return _table(rows)


def _state(plan: Plan) -> list[str]:
    """The counts table, warnings, and the non-satisfied groups with their top reasons."""
    lines = _counts(plan.summary)
    for w in plan.warnings:
        lines.append(f"warning: {w}")
    if plan.groups:
        lines += ["", "not satisfied:"]
        lines += _columns([[f"  {g.asset}", f"{g.count:,} {g.status}", g.reason, f"e.g. {g.example}"]
                           for g in plan.groups])
    return lines


def _columns(rows: list[list[str]]) -> list[str]:
    """Rows of cells, every column but the last padded to its widest cell."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]


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
    lines += _schedule(plan) + _slo(plan)
    lines.append("dry run: nothing was executed.")
    return "\n".join(lines)


def _schedule(plan: Plan, max_lines: int = 10) -> list[str]:
    """What starts now, what queues for a pool, what is deferred and why, and mass rebuilds to confirm.
    Said when pools are declared or something is deferred (the default pool is just apply's concurrency)."""
    sch = plan.schedule
    if sch is None:
        return []
    lines = []
    declared = set(sch.pools) - {"default"}
    if sch.deferred or declared:
        pools = ", ".join(f"{p} {max(0, c - r)} of {c} free" for p, (c, r, _) in sorted(sch.pools.items())
                          if p in declared or r or any(sch.pool_of.get(a.asset) == p for a in plan.actions))
        lines.append(f"schedule: {len(sch.start):,} start now, {len(sch.queued):,} queue for a pool slot"
                     + (f" ({pools})" if pools else "") + f"; {sch.proof}")
    if sch.deferred:
        groups: dict[tuple[str, str], int] = {}
        for d in sch.deferred:
            groups[(d.action.asset, d.reason)] = groups.get((d.action.asset, d.reason), 0) + 1
        lines.append(f"deferred to a later apply: {_plural(len(sch.deferred), 'run')}")
        rows = [[f"  {a}", _plural(n, "run"), reason] for (a, reason), n in list(groups.items())[:max_lines]]
        lines += _columns(rows)
    for r in sch.rebuilds:
        if not r.confirmed:
            lines.append(f"confirm: {r.describe()}; `setpoint apply --yes` rebuilds them")
        else:
            lines.append(f"confirmed: {r.describe()}")
    return lines


def render_misses(plan: Plan) -> str:
    """The SLO lines, when partitions are at risk or late (what ``apply --quiet`` still prints); else ''."""
    if not any(c["at_risk"] or c["violated"] for c in plan.slo.values()):
        return ""
    return "\n".join(_slo(plan))


def _slo(plan: Plan, max_lines: int = 10) -> list[str]:
    """Per asset with an SLO: how many partitions are on track, at risk and violated; the first misses."""
    if not plan.slo:
        return []
    lines = ["SLO: " + "; ".join(f"{a} {c['violated']:,} violated, {c['at_risk']:,} at risk, "
                                 f"{c['on_track']:,} on track" for a, c in plan.slo.items())]
    misses = plan.misses
    for s in misses[:max_lines]:
        lines.append(f"  {s.partition}  {s.slo.describe().removeprefix('SLO ')}")
    if len(misses) > max_lines:
        lines.append(f"  … and {len(misses) - max_lines:,} more (see --json)")
    return lines


def render_error(exc: SetpointError) -> str:
    if len(exc.problems) == 1:
        return f"error: {exc.problems[0]}"
    return "\n".join(f"error: {p}" for p in exc.problems)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def render_apply(result: ApplyResult) -> str:
    """What an apply did, and what is left."""
    if result.held_by is not None:
        text = (f"skipped {result.project}: another apply holds the lock ({result.held_by.describe()}); "
                "nothing was done.")
        if result.stuck:
            text += ("\nproblem: it has held the lock longer than any of its runs may take: it may hang "
                     f"(see `setpoint status`; stop pid {result.held_by.pid} if so).")
        return text
    assert result.plan is not None
    failed = len(result.failed_runs)
    passes = "1 pass" if result.passes == 1 else f"{result.passes:,} passes"
    lines = [f"applied {result.project}: {_plural(len(result.runs), 'run')} "
             f"({len(result.runs) - failed:,} succeeded, {failed:,} failed) in {passes}", ""]
    lines += _state(result.plan)
    lines.append("")
    if result.took_over is not None:
        lines.append(f"took over the lock of an apply that is gone ({result.took_over.describe()}).")
    lines += [f"confirmed: {r.describe()} (apply --yes)" for r in result.confirmed]
    lines += _schedule(result.plan) + _slo(result.plan)
    if result.converged:
        lines.append("converged: every expected partition is satisfied.")
    elif result.unconfirmed:
        lines.append("not converged: a mass rebuild waits for confirmation (`setpoint apply --yes`).")
    elif result.too_big:
        lines.append(f"not converged: {_plural(len(result.too_big), 'run')} larger than a guardrail allows on "
                     "its own (see above: raise the limit or make runs smaller).")
    elif result.blocked:
        lines.append(f"not converged: {_plural(result.blocked, 'partition')} blocked "
                     "(see `setpoint history` for the runs).")
    else:
        left = []
        if result.count("in_progress"):
            left.append(f"{_plural(result.count('in_progress'), 'partition')} in progress")
        retries = [r.until for s in result.plan.statuses for r in s.reasons if r.kind == "backoff" and r.until]
        if retries:
            n = len(retries)
            left.append(f"{n:,} {'retry' if n == 1 else 'retries'} due from {min(retries):%Y-%m-%d %H:%M:%S UTC}")
        waiting = result.count("waiting") - len(retries)
        if waiting:
            left.append(f"{_plural(waiting, 'partition')} waiting for what they need")
        deferred = len(result.plan.schedule.deferred) if result.plan.schedule is not None else 0
        if deferred:
            left.append(f"{_plural(deferred, 'run')} deferred (see above)")
        if result.unrecovered:
            lines.append(f"failed: {_plural(len(result.unrecovered), 'run')} of this apply failed and "
                         "their partitions are not satisfied yet (see `setpoint history`).")
        elif result.late_unrecovered:
            lines.append(f"failed: earlier runs left {_plural(len(result.late_unrecovered), 'partition')} "
                         "unproduced (detached, interrupted or out of time; see `setpoint history`).")
        else:
            lines.append("progressing: " + ("; ".join(left) if left else "nothing more can be done now")
                         + " — the next apply goes on.")
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
        elif p.kind == "waiting":
            self.stream.write(f"waiting: {p.label}\n")
        elif p.kind == "started":
            self.stream.write(f"started {p.run_id} {p.label}\n")
        elif p.kind == "finished" and p.run is not None:
            r = p.run
            if r.outcome.detached:
                self.stream.write(f"detached {r.id} {r.label}: runs on in the background\n")
            elif r.outcome.ok:
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


#: a chain of this many partitions of one asset needing each other is printed as one line
CHAIN = 3
_OWN = ("absent", "present", "outdated", "superseded", "expected")


def render_why(ex: Explanation) -> str:
    """An explanation as a tree; a partition reached twice is explained where it first appears."""
    if ex.kind == "asset":
        return _render_asset(ex)
    root = ex.nodes[ex.root]
    lines = [f"{root.id}: {root.status}"]
    shown, declared = {root.id}, set()
    summarized = collapsed = 0
    # (prefix, last, item, path): an item is a Cause, ("group", text, example) or ("example", node id);
    # path holds the partitions from the target down to the one the item belongs to
    stack: list[tuple[str, bool, object, tuple[str, ...]]] = []

    def push(prefix: str, items: list[object], path: tuple[str, ...]) -> None:
        for i, item in reversed(list(enumerate(items))):
            stack.append((prefix, i == len(items) - 1, item, path))

    def visible(causes: list[Cause]) -> list[Cause]:
        out = []
        for c in causes:
            if c.kind == "expected":  # one declaration per asset is enough
                if c.detail["asset"] in declared:
                    continue
                declared.add(c.detail["asset"])
            out.append(c)
        return out

    def chain(first: str) -> list[str]:
        """Partitions of one asset each needing only the next (a self-dependency), from ``first`` on."""
        hops, node = [first], ex.nodes[first]
        while True:
            rest = [c for c in node.causes if c.kind not in _OWN]
            if len(rest) != 1 or rest[0].node is None or rest[0].node in shown or rest[0].node in hops:
                return hops
            nxt = ex.nodes[rest[0].node]
            if nxt.asset != node.asset:
                return hops
            hops.append(nxt.id)
            node = nxt

    push("", visible(root.causes), (root.id,))
    while stack:
        prefix, last, item, path = stack.pop()
        branch, deeper = ("└─ ", "   ") if last else ("├─ ", "│  ")
        children: list[object] = []
        below = path
        if isinstance(item, Cause):
            text = item.text
            inline = [c for c in item.because if c.kind in ("declared", "rule_dependency")]
            children += visible([c for c in item.because if c not in inline])
            if item.node is not None:
                if item.node in path:
                    text += ", which needs it in turn: a dependency cycle (check the depends/4 rules)"
                elif item.node in shown:
                    text += ", explained above"
                else:
                    same = ex.nodes[item.node].asset == ex.nodes[path[-1]].asset
                    hops = chain(item.node) if same and not ex.expanded else [item.node]
                    if len(hops) >= CHAIN:
                        collapsed += len(hops) - 2
                        end = ex.nodes[hops[-1]]
                        text += f", which needs {len(hops) - 1:,} earlier {end.asset} partitions in turn, " \
                                f"down to {end.id} ({end.status})"
                    else:
                        hops = [item.node]
                    shown.update(hops)
                    below = path + tuple(hops)
                    children += visible(ex.nodes[hops[-1]].causes)
            if inline:
                text += " — " + "; ".join(c.text for c in inline)
            for g in item.groups:
                summarized += g.count
                children.append(("group", f"{g.count:,} {g.asset} {g.status} ({g.values}): {g.cause}",
                                 g.example if g.example in ex.nodes else None))
        elif item[0] == "group":
            _, text, example = item
            if example is not None:
                children.append(("example", example))
        else:  # an example of a summarized group
            example = item[1]
            text = f"e.g. {example} ({ex.nodes[example].status})"
            if example in shown:
                text += ", explained above"
            else:
                shown.add(example)
                below = path + (example,)
                children = visible(ex.nodes[example].causes)
        lines.append(prefix + branch + text)
        push(prefix + deeper, children, below)
    if summarized and not ex.expanded:
        lines.append(f"({summarized:,} upstream partitions summarized by shared cause; --all lists each)")
    if collapsed:
        lines.append(f"({collapsed:,} partitions of a chain not shown one by one; --all shows each)")
    return "\n".join(lines)


def _render_asset(ex: Explanation) -> str:
    c = ex.counts
    shown = [f"{c[s]:,} {s}" for s in STATUSES if c.get(s)]
    head = f"{ex.target}: {c['expected']:,} expected"
    slo = ""
    if ex.slo is not None:
        slo = (f"\nSLO ({ex.slo['at']}: {ex.slo['slo']}): {ex.slo['violated']:,} violated, "
               f"{ex.slo['at_risk']:,} at risk, {ex.slo['on_track']:,} on track")
    if not ex.groups:
        return head + (", all satisfied" if c["expected"] else ", none yet") + slo
    lines = [head + ": " + ", ".join(shown) + slo]
    rows = [[f"  {g.count:,} {g.status}", g.reason, g.values, f"e.g. {g.example}"] for g in ex.groups]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths)) + "  " + r[3])
    lines.append(f"explain one: setpoint why {ex.groups[0].example}")
    return "\n".join(lines)


def render_status(st: Status) -> str:
    """``setpoint status``: counts, runs under way, recent failures, blocked groups."""
    lines = [f"status of {st.project} at {st.now.strftime('%Y-%m-%d %H:%M UTC')}", ""]
    lines += _counts(st.summary)
    for w in st.warnings:
        lines.append(f"warning: {w}")
    lines += ["", "running now:" if st.running else "running now: nothing"]
    if st.running:
        lines += _columns([[f"  {r.run_id}", r.label, f"since {r.since:%Y-%m-%d %H:%M:%S}",
                            f"lease until {r.until:%Y-%m-%d %H:%M:%S}" + (f", pid {r.pid}" if r.pid else "")]
                           for r in st.running])
    lines += ["", "recent failures:" if st.failures else "recent failures: none"]
    if st.failures:
        lines += _columns([[f"  {f.id}", f.label, f"{f.started_at:%Y-%m-%d %H:%M:%S}", f"attempt {f.attempt}",
                            f.error or ""] for f in st.failures])
    if st.blocked:
        lines += ["", "blocked:"]
        lines += _columns([[f"  {g.asset}", f"{g.count:,} blocked", g.reason, f"e.g. {g.example}"]
                           for g in st.blocked])
    if st.pauses:
        lines += ["", "paused:"]
        lines += _columns([[f"  {'every asset' if p.asset == '*' else p.asset}", f"by {p.by or '?'}",
                            f"since {p.since:%Y-%m-%d %H:%M UTC}",
                            (f"until {p.until:%Y-%m-%d %H:%M UTC}" if p.until else "until resumed")
                            + (f": {p.reason}" if p.reason else "")] for p in st.pauses])
    if st.slo:
        lines += ["", "SLO:"]
        lines += _columns([[f"  {a}", f"{c['violated']:,} violated", f"{c['at_risk']:,} at risk",
                            f"{c['on_track']:,} on track"] for a, c in st.slo.items()])
        lines += [f"  {s.partition}  {s.slo.describe().removeprefix('SLO ')}" for s in st.misses]
    if st.deferred:
        lines += ["", f"deferred (guardrails, rules, rebuilds to confirm): {_plural(st.deferred, 'run')} "
                      "(see `setpoint plan`)"]
    if st.too_big:
        lines.append(f"problem: {_plural(st.too_big, 'run')} larger than a guardrail allows on its own "
                     "(raise the limit or make runs smaller; see `setpoint plan`)")
    return "\n".join(line.rstrip() for line in lines)
