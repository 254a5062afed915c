"""Apply: close the loop. Observe → solve → run the runnable actions → record → observe again.

Each pass plans from what exists now, starts every action the plan chose
(``concurrency`` at a time), and records each run and its effect on the
ledger. It stops when a pass plans nothing: everything is satisfied, or what
is left is blocked or waits for windows that are not due. Every attempt is
counted — a failed run, and a run that succeeded without producing what it was
started for — so a partition is tried at most ``max_attempts`` times, then
blocked with its last error, and the loop always ends.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .adapters.execute import Context, Outcome, RunRequest, executor_for
from .adapters.shell import ended
from .controller import plan as make_plan
from .errors import ObserveError, SolveError
from .lease import DEFAULT_LEASE, deadline
from .lock import ApplyLock, Holder, process_start, this_process
from .partition import format_partition
from .plan import Action, Plan
from .project.loader import load_project
from .project.model import Asset, Project
from .reconcile import settle, stale_leases
from .retry import backoff_for
from .schedule import Budget
from .state import LeaseTaken, StateStore

#: SQL runs back to back keep the warehouse open at most this long, then let readers in (plan, why)
WAREHOUSE_SLICE_S = 2.0

#: a guard against a loop that keeps finding work (it cannot, as every attempt counts)
MAX_PASSES = 10_000


@dataclass(frozen=True)
class RunDone:
    """A run this apply started, and how it ended."""

    id: str
    asset: str
    label: str
    attempt: int
    partitions: int
    outcome: Outcome
    seconds: float
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Progress:
    """What an apply reports as it goes, for a terminal or a log."""

    kind: str                 # pass, started, finished, done
    pass_no: int
    running: int = 0
    done: int = 0
    failed: int = 0
    left: int = 0
    run: RunDone | None = None
    label: str | None = None
    run_id: str | None = None


@dataclass
class ApplyResult:
    project: str
    plan: Plan | None               # the plan of the last pass: what is left (None: another apply held the lock)
    passes: int
    runs: list[RunDone] = field(default_factory=list)
    seconds: float = 0.0
    #: another apply holds the project's lock: this one did nothing
    held_by: Holder | None = None
    #: the lock was left by an apply that is gone (killed), and taken over
    took_over: Holder | None = None
    #: partitions that runs of earlier invocations (detached, interrupted, expired) failed to produce
    late_failures: list[tuple[str, str]] = field(default_factory=list)
    #: the apply holding the lock has held it longer than any run may take: it may hang
    stuck: bool = False
    #: mass rebuilds this apply went ahead with, confirmed by ``--yes``
    confirmed: list = field(default_factory=list)

    @property
    def failed_runs(self) -> list[RunDone]:
        return [r for r in self.runs if not r.outcome.ok]

    @property
    def detached_runs(self) -> list[RunDone]:
        return [r for r in self.runs if r.outcome.detached]

    @property
    def converged(self) -> bool:
        return self.plan is not None and self.plan.converged

    def count(self, status: str) -> int:
        return sum(row.get(status, 0) for row in self.plan.summary.values()) if self.plan is not None else 0

    @property
    def blocked(self) -> int:
        """Blocked partitions, but for those an operator paused (a pause is deliberate, not a problem)."""
        return self.count("blocked") - (self.plan.paused if self.plan is not None else 0)

    @property
    def unrecovered(self) -> list[RunDone]:
        """Runs of this apply that failed, whose partitions are still not satisfied."""
        if self.plan is None:
            return []
        left = {(s.asset, s.key) for s in self.plan.statuses}
        return [r for r in self.failed_runs if any((r.asset, k) in left for k in r.keys)]

    @property
    def ok(self) -> bool:
        """Converged or progressing: nothing is blocked, no failure seen by this apply is left unrecovered,
        and no apply seems to hang."""
        if self.held_by is not None:
            return not self.stuck
        return (self.blocked == 0 and not self.unrecovered and not self.late_unrecovered and not self.unconfirmed
                and not self.too_big)

    @property
    def too_big(self) -> list:
        """Runs no apply will take: larger on their own than a guardrail allows."""
        return self.plan.schedule.too_big if self.plan is not None and self.plan.schedule is not None else []

    @property
    def unconfirmed(self) -> list:
        """Mass rebuilds the plan called out that wait for confirmation (``apply --yes``)."""
        return self.plan.schedule.unconfirmed if self.plan is not None and self.plan.schedule is not None else []

    @property
    def late_unrecovered(self) -> list[tuple[str, str]]:
        """Failures of earlier runs this apply recorded, whose partitions are still not satisfied."""
        if self.plan is None:
            return []
        left = {(s.asset, s.key) for s in self.plan.statuses}
        return [node for node in self.late_failures if node in left]

    def to_json(self) -> dict:
        out = {
            "project": self.project,
            "converged": self.converged,
            "passes": self.passes,
            "seconds": round(self.seconds, 3),
            "runs": [{"id": r.id, "asset": r.asset, "range": r.label, "attempt": r.attempt,
                      "partitions": r.partitions, "outcome": "succeeded" if r.outcome.ok else "failed",
                      "error": r.outcome.error, "seconds": round(r.seconds, 3)} for r in self.runs],
            "summary": self.plan.summary if self.plan else {},
            "statuses": [s.to_json() for s in self.plan.statuses] if self.plan else [],
            "warnings": self.plan.warnings if self.plan else [],
            "schedule": self.plan.schedule.to_json() if self.plan and self.plan.schedule else None,
            "slo": self.plan.slo if self.plan else {},
            "unconfirmed": [r.to_json() for r in self.unconfirmed],
        }
        if self.held_by is not None:
            out["held_by"] = {"pid": self.held_by.pid, "host": self.held_by.host,
                              "since": self.held_by.since.isoformat()}
        return out


class _Record:
    """The state store, shared by worker threads one call at a time, for the length of an apply."""

    def __init__(self, project: Project) -> None:
        self.store = StateStore(project.state)
        self.lock = threading.Lock()

    def close(self) -> None:
        self.store.close()


def _observed(record: _Record, current: Plan, moment: datetime) -> None:
    """Record what this pass observed (as of the plan's moment), and the changes since the last
    observation (logged, like every event, at the wall-clock time they were seen)."""
    store = record.store
    before = store.last_observed()
    for o in current.observations:
        if o["asset"] in before and before[o["asset"]] != o["present"]:
            store.event("observed", o["asset"], o["source"], None,
                        {"present": o["present"], "was": before[o["asset"]]})
    store.record_observations([(o["asset"], o["source"], o["present"], o.get("note", ""))
                               for o in current.observations], at=moment)
    for asset, keys in current.cleared.items():  # produced by a run, or by hand: failures no longer count
        store.clear_failures(asset, keys)
        for key in keys:
            store.event("observed", asset, format_partition(asset, key), None, {"failures": "cleared: it exists now"})


def _ledger_row(key: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """A partition as the ledger keys it: its key and its values in dimension order ([""] if unpartitioned)."""
    return key, list(values.values()) or [""]


@dataclass
class _Memory:
    """What this apply has seen of its own runs' effects, across passes."""

    produced: dict[tuple[str, str], str] = field(default_factory=dict)  # partition → the run that produced it
    lost: dict[tuple[str, str], int] = field(default_factory=dict)      # times it went absent again since


def _after_runs(record: _Record, project: Project, current: Plan, previous: list[tuple[RunDone, Action]],
                memory: _Memory, now: datetime) -> bool:
    """Judge the last pass's runs by what is observed now; returns whether failures were recorded.

    A run that exited 0 but left a partition it was started for still needing
    work failed that partition. A partition this apply produced that is absent
    again was undone by something else (often another run overwriting it):
    after ``max_attempts`` such losses it is blocked, so that two actions
    undoing each other cannot keep an apply going.
    """
    store = record.store
    still = {(s.asset, s.key): s for s in current.statuses if s.condition != "present"}
    found = False
    judged: set[tuple[str, str]] = set()
    for done, action in previous:
        asset = project.assets[action.asset]
        assert asset.action is not None
        judged.update((action.asset, k) for k, _ in action.targets)
        if not done.outcome.ok or done.outcome.detached:  # a detached run is judged when it ends
            continue
        missed = [_ledger_row(k, v) for k, v in action.targets if (action.asset, k) in still]
        for k, _ in action.targets:
            if (action.asset, k) not in still:
                memory.produced[(action.asset, k)] = done.id
        if missed:
            cond = still[(action.asset, missed[0][0])].condition
            error = (f"run {done.id} exited 0 but did not produce it (still {cond})" if len(missed) == 1 else
                     f"run {done.id} exited 0 but left {len(missed)} of its partitions {cond}")
            store.record_failure(action.asset, missed, done.id, error, asset.action.version,
                                 backoff=backoff_for(asset, now))
            store.note_run(done.id, error)
            store.event("failed", action.asset, done.label, done.id, {"error": error, "partitions": len(missed)})
            _exhausted(record, project, action.asset, [k for k, _ in missed], done.id, error)
            found = True
    for node, st in still.items():
        if st.condition != "absent" or node in judged or node not in memory.produced:
            continue
        run_id = memory.produced.pop(node)
        memory.lost[node] = memory.lost.get(node, 0) + 1
        asset = project.assets[node[0]]
        assert asset.action is not None
        if memory.lost[node] >= asset.action.max_attempts:
            error = (f"produced by run {run_id}, then gone again {memory.lost[node]} times during this apply: "
                     "another action may overwrite it")
            store.record_failure(node[0], [_ledger_row(node[1], st.values)], run_id, error,
                                 asset.action.version, attempts=asset.action.max_attempts)
            _exhausted(record, project, node[0], [node[1]], run_id, error)
            found = True
    return found


def _exhausted(record: _Record, project: Project, asset_name: str, keys: list[str], run_id: str,
               error: str | None) -> None:
    """Log the partitions whose attempts ran out: they are blocked from now on."""
    asset = project.assets[asset_name]
    assert asset.action is not None
    spent = record.store.attempts(asset_name, keys, asset.action.version)
    for key in keys:
        if spent.get(key, 0) >= asset.action.max_attempts:
            record.store.event("blocked", asset_name, format_partition(asset_name, key), run_id,
                               {"error": error, "attempts": spent[key]})


def _leased(asset: Asset, action: Action, current: Plan) -> list[tuple[str, list[str]]]:
    """What a run leases: the partitions it was started for and, when one run produces a whole unit of a
    coarser grain, every other unsatisfied partition of its units (it rewrites them too)."""
    rows = {k: list(v.values()) or [""] for k, v in action.targets}
    grain = asset.action.grain if asset.action is not None else asset.dims
    if grain != asset.dims:
        units = {tuple(u[g] for g in grain) for u in action.units}
        for st in current.statuses:
            if st.asset == asset.name and tuple(st.values[g] for g in grain) in units:
                rows.setdefault(st.key, list(st.values.values()) or [""])
    return sorted(rows.items())


def _execute(project: Project, record: _Record, actions: list[Action], context: Context, pool: ThreadPoolExecutor,
             pass_no: int, notify: Callable[[Progress], None], clock: Callable[[], datetime],
             current: Plan) -> list[tuple[RunDone, Action]]:
    """Start every action (the pool bounds how many at once), each holding a lease on its partitions;
    return them as they were recorded. An action whose partitions another run holds is skipped."""
    state = {"running": 0, "done": 0, "failed": 0, "left": len(actions)}
    counts = threading.Lock()
    sql_left = sum(1 for a in actions if a.kind == "sql")

    def one(action: Action) -> tuple[RunDone, Action] | None:
        nonlocal sql_left
        asset = project.assets[action.asset]
        assert asset.action is not None
        keys = [k for k, _ in action.targets]
        if asset.action.kind != "sql":
            return _run(action, asset, keys)
        with context.warehouse_lock:
            result = _run(action, asset, keys)
        with counts:
            sql_left -= 1
            last = sql_left == 0
        if last or context.warehouse.held_s > WAREHOUSE_SLICE_S:  # let others open it: shell actions, readers
            context.close()
        return result

    def _run(action: Action, asset: Asset, keys: list[str]) -> tuple[RunDone, Action] | None:
        assert asset.action is not None
        rows = [_ledger_row(k, v) for k, v in action.targets]
        with record.lock:
            pause = record.store.paused(action.asset, clock())
            if pause is not None:  # paused since this pass was planned: nothing new starts
                record.store.event("skipped", action.asset, action.label, None, {"paused_by": pause.by})
                with counts:
                    state["left"] -= 1
                return None
            attempt = max(record.store.attempts(action.asset, keys, asset.action.version).values(), default=0) + 1
            start = clock()
            host, pid, pid_start = this_process()
            owner = {None: (host, pid, pid_start), "process": (host, None, None), "report": None}[asset.action.detach]
            try:
                run_id = record.store.start_run(action.asset, action.kind, action.label, keys, asset.action.version,
                                                attempt, at=start, lease=_leased(asset, action, current),
                                                deadline=_lease_deadline(asset, start), owner=owner)
            except LeaseTaken as taken:  # another run produces some of them: do not do it twice
                record.store.event("skipped", action.asset, action.label, None,
                                   {"leased_by": taken.lease.run_id, "partition": taken.lease.key})
                with counts:
                    state["left"] -= 1
                return None
        with counts:
            state["running"] += 1
            state["left"] -= 1
            notify(Progress("started", pass_no, label=action.label, run_id=run_id, **state))
        t = time.perf_counter()
        request = RunRequest(run_id, asset, action.units, tuple(v for _, v in action.targets), attempt)
        try:
            outcome = executor_for(asset, context).run(request)
        except (Exception, SystemExit) as exc:  # an executor bug must not lose the record of the run
            outcome = Outcome(False, error=f"setpoint could not run it: {type(exc).__name__}: {exc}")
        done = RunDone(run_id, action.asset, action.label, attempt, len(action.targets), outcome,
                       time.perf_counter() - t, tuple(keys))
        if outcome.detached:  # it runs on: in progress under its lease, its outcome recorded later
            with counts:
                state["running"] -= 1
                state["done"] += 1
                notify(Progress("finished", pass_no, run=done, **state))
            return done, action
        with record.lock, record.store.transaction():  # the outcome, the ledger and the lease's end: all or none
            end = clock()
            record.store.finish_run(run_id, "succeeded" if outcome.ok else "failed", at=end,
                                    exit_code=outcome.exit_code, error=outcome.error,
                                    stdout_tail=outcome.stdout_tail, stderr_tail=outcome.stderr_tail)
            if outcome.ok:
                record.store.record_built(action.asset, rows, asset.action.version, run_id, at=end)
            else:
                record.store.record_failure(action.asset, rows, run_id, outcome.error or "failed",
                                            asset.action.version,
                                            backoff=backoff_for(asset, end))
                _exhausted(record, project, action.asset, keys, run_id, outcome.error)
        with counts:
            state["running"] -= 1
            state["done" if outcome.ok else "failed"] += 1
            notify(Progress("finished", pass_no, run=done, **state))
        return done, action

    return [r for r in _dispatch(one, actions, pool, current) if r is not None]


#: a pass starts queued runs for this long after its plan, then plans again (a pause, a rule's time
#: window, priorities and slack are judged afresh)
REPLAN_S = 60.0


def _dispatch(one: Callable[[Action], object], actions: list[Action], pool: ThreadPoolExecutor,
              current: Plan) -> list:
    """Start the actions in rank order, never more at once in a pool than its free slots (running work
    holds the others; a detached run keeps its slot) nor more in all than the workers; start the next
    as each one ends, for up to ``REPLAN_S`` after the plan."""
    schedule = current.schedule
    workers = pool._max_workers  # noqa: SLF001 - the executor's own bound
    free = {p: max(0, cap - running) for p, (cap, running, _) in schedule.pools.items()} if schedule else {}
    pool_of = schedule.pool_of if schedule else {}
    queues: dict[str, deque[Action]] = {}
    for action in actions:  # rank order within each pool
        queues.setdefault(pool_of.get(action.asset, "default"), deque()).append(action)
    busy: dict[str, int] = {}
    inflight: dict[Future, str] = {}
    out: list = []
    until = time.monotonic() + REPLAN_S
    while True:
        if time.monotonic() < until:
            for p, queue in queues.items():
                while queue and len(inflight) < workers and busy.get(p, 0) < free.get(p, workers):
                    inflight[pool.submit(one, queue.popleft())] = p
                    busy[p] = busy.get(p, 0) + 1
        if not inflight:  # what is left waits for slots running work holds, or for the next plan
            break
        done, _ = wait(inflight, return_when=FIRST_COMPLETED)
        for future in done:
            p = inflight.pop(future)
            result = future.result()
            if result is None or not result[0].outcome.detached:  # a detached run holds its slot on
                busy[p] -= 1
            out.append(result)
    return out


@contextmanager
def _in_project(root: Path) -> Iterator[None]:
    """Actions see the project directory as the working directory and can import from it."""
    cwd, entry = os.getcwd(), str(root)
    os.chdir(root)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        os.chdir(cwd)
        if entry in sys.path:
            sys.path.remove(entry)


def apply(path: str | Path | Project = ".", now: datetime | None = None, concurrency: int | None = None,
          progress: Callable[[Progress], None] | None = None, wait: float = 5.0,
          confirmed: bool = False) -> ApplyResult:
    """Run the plan until nothing more can be done; every run and decision lands in the state store.

    One apply at a time per project: when another holds the lock for longer
    than ``wait`` seconds, this one does nothing and says who holds it. While
    it runs, the working directory is the project directory (as for the
    actions it starts) and the project directory is on ``sys.path``. ``now``
    sets the clock's start: windows, leases and backoffs count from it.
    ``confirmed`` lets a mass rebuild the plan calls out go ahead (``--yes``).
    """
    project = path if isinstance(path, Project) else load_project(path)
    lock = ApplyLock(project.state.parent / "apply.lock")
    holder = lock.acquire(wait)
    if holder is not None:
        longest = max((deadline(a, holder.since) - holder.since for a in project.assets.values()
                       if a.action is not None), default=DEFAULT_LEASE)
        return ApplyResult(project.name, None, 0, held_by=holder,
                           stuck=datetime.now(timezone.utc) - holder.since > longest)
    try:
        with _in_project(project.root):
            result = _apply(project, now, concurrency, progress, lock.took_over, confirmed)
        result.took_over = lock.took_over
        return result
    finally:
        lock.release()


def _apply(project: Project, now: datetime | None, concurrency: int | None,
           progress: Callable[[Progress], None] | None, took_over: Holder | None, confirmed: bool) -> ApplyResult:
    notify = progress or (lambda _: None)
    if concurrency:  # --concurrency: the default pool's capacity for this apply
        project = replace(project, apply=replace(project.apply, concurrency=concurrency))
    workers = max(project.apply.concurrency, sum(project.schedule.pools.values()))
    budget = Budget()
    confirmed_rebuilds: dict[str, object] = {}
    t0 = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - t0) if now else datetime.now(timezone.utc)

    record = _Record(project)
    context = Context(project, project.state.parent / "logs",
                      on_process=lambda run_id, pid: _process(record, run_id, pid))
    started = time.perf_counter()
    runs: list[RunDone] = []
    previous: list[tuple[RunDone, Action]] = []
    memory = _Memory()
    late: list[tuple[str, str]] = []  # partitions runs of earlier invocations failed to produce
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="setpoint-run")
    if took_over is not None:
        record.store.event("lock", None, None, None, {"took_over_from": took_over.pid, "host": took_over.host,
                                                      "since": took_over.since.isoformat()})
    try:
        for pass_no in range(1, MAX_PASSES + 1):
            moment = clock()
            _detached_ended(record, project, context, moment)
            stale = stale_leases(record.store, datetime.now(timezone.utc))  # before observing what they left
            current = make_plan(project, now=moment, record=False, spent=budget, confirmed=confirmed)
            if current.record_error is not None:  # without leases and attempts it could start work twice
                raise ObserveError(f"cannot read the run record {project.display(project.state)}: "
                                   f"{current.record_error}",
                                   hint="apply does not run without it; check the file and its permissions")
            _observed(record, current, moment)
            record.store.record_summary(current.summary, at=moment)
            _note_confirmed(record, current, confirmed_rebuilds)
            changed = _after_runs(record, project, current, previous, memory, moment)
            given_up = settle(record.store, project, stale, current, moment,
                              blocked=lambda a, keys, run, error: _exhausted(record, project, a, keys, run, error))
            late += given_up
            changed |= bool(stale)
            if changed:  # attempts grew or leases were given up: plan again
                current = make_plan(project, now=moment, record=False, spent=budget, confirmed=confirmed)
            if not current.actions:
                retry_at = _next_retry(current)
                if retry_at is not None and retry_at - clock() <= project.apply.retry_wait:
                    notify(Progress("waiting", pass_no, label=f"retries at {retry_at:%H:%M:%S}"))
                    _sleep_until(retry_at, clock)
                    previous = []
                    continue
                _log_blocked(record, current)
                notify(Progress("done", pass_no, done=sum(r.outcome.ok for r in runs),
                                failed=sum(not r.outcome.ok for r in runs)))
                return ApplyResult(project.name, current, pass_no, runs, time.perf_counter() - started,
                                   late_failures=late, confirmed=list(confirmed_rebuilds.values()))
            record.store.event_many("planned", [(a.asset, a.label, {"partitions": a.covers})
                                                for a in current.actions])
            notify(Progress("pass", pass_no, left=len(current.actions)))
            try:
                previous = _execute(project, record, current.actions, context, pool, pass_no, notify, clock,
                                    current)
            finally:
                context.close()
            runs.extend(done for done, _ in previous)
            for done, action in previous:  # what this apply started counts against its guardrails
                budget = budget.add(action.asset, action.covers, current.schedule.seconds.get(action.label, 0.0))
            if not previous:  # nothing could start: pool slots are held by running work, or leases taken
                _log_blocked(record, current)
                notify(Progress("done", pass_no, done=sum(r.outcome.ok for r in runs),
                                failed=sum(not r.outcome.ok for r in runs)))
                return ApplyResult(project.name, current, pass_no, runs, time.perf_counter() - started,
                                   late_failures=late, confirmed=list(confirmed_rebuilds.values()))
    except BaseException:  # interrupted: runs in flight finish and are recorded, none start
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        record.close()
    raise SolveError(f"apply stopped after {MAX_PASSES} passes that each found work",
                     hint="a rule or an action keeps undoing what another produces; see `setpoint history`")


def _detached_ended(record: _Record, project: Project, context: Context, now: datetime) -> bool:
    """Detached commands of this apply that have ended: a failure is recorded with its exit status; a
    success leaves the lease to be settled by what exists (see :mod:`setpoint.reconcile`)."""
    changed = False
    for run_id, proc in list(context.detached.items()):
        outcome = ended(proc, run_id, context.log_dir)
        if outcome is None:
            continue
        del context.detached[run_id]
        run = record.store.run(run_id)
        if outcome.ok or run is None or run.outcome != "running":
            changed = True
            continue
        asset = project.assets[run.asset]
        leases = record.store.leases(run_id)
        with record.lock, record.store.transaction():
            record.store.finish_run(run_id, "failed", at=now, exit_code=outcome.exit_code, error=outcome.error,
                                    stdout_tail=outcome.stdout_tail, stderr_tail=outcome.stderr_tail)
            record.store.record_failure(run.asset, [(x.key, x.vals) for x in leases], run_id,
                                        outcome.error or "failed", run.action_version,
                                        backoff=backoff_for(asset, now))
            _exhausted(record, project, run.asset, [x.key for x in leases], run_id, outcome.error)
        changed = True
    return changed


def _lease_deadline(asset: Asset, start: datetime) -> datetime:
    """Until when a run's lease holds. Leases protect real processes and are given up by the wall clock,
    so a run started under ``--now`` in the past still gets its whole timeout."""
    return max(deadline(asset, start), deadline(asset, datetime.now(timezone.utc)))


def _process(record: _Record, run_id: str, pid: int) -> None:
    """A run's work goes on in process ``pid``: noted on its lease, as it may outlive this apply."""
    with record.lock:
        record.store.lease_process(run_id, pid, process_start(pid))


def _next_retry(current: Plan) -> datetime | None:
    """When the first partition waiting for a backoff may be tried again."""
    times = [r.until for s in current.statuses if s.status == "waiting" for r in s.reasons
             if r.kind == "backoff" and r.until is not None]
    return min(times, default=None)


def _sleep_until(moment: datetime, clock: Callable[[], datetime]) -> None:
    while (left := (moment - clock()).total_seconds()) > 0:
        time.sleep(min(left, 1.0))


def _log_blocked(record: _Record, current: Plan) -> None:
    """One event per group of blocked partitions left at the end, and per group of deferred runs, with
    its reason."""
    for g in current.groups:
        if g.status == "blocked":
            record.store.event("blocked", g.asset, g.example, None, {"reason": g.reason, "partitions": g.count})
    groups: dict[tuple[str, str], list[Action]] = {}
    for d in current.schedule.deferred if current.schedule is not None else ():
        groups.setdefault((d.action.asset, d.reason), []).append(d.action)
    for (asset, reason), actions in groups.items():
        record.store.event("deferred", asset, actions[0].label, None, {"reason": reason, "runs": len(actions)})


def _note_confirmed(record: _Record, current: Plan, seen: dict[str, object]) -> None:
    """A mass rebuild going ahead on ``--yes`` is a decision: logged once per asset and apply."""
    for r in current.schedule.rebuilds if current.schedule is not None else ():
        if r.confirmed and r.asset not in seen:
            seen[r.asset] = r
            record.store.event("confirmed", r.asset, None, None,
                               {"rebuild": r.partitions, "present": r.present, "by": "apply --yes"})
