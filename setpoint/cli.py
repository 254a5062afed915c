"""Thin click front end: parse, call the library, render. Errors map to exit codes here only."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click

from . import controller
from .errors import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, SetpointError, UsageError
from .render import (ProgressLog, json_document, render_apply, render_error, render_history, render_misses, render_plan,
                     render_status, render_why)

project_option = click.option("-p", "--project", "project_dir", default=".", show_default=True,
                              type=click.Path(path_type=Path),
                              help="The project directory (or its setpoint.yaml).")


def _parse_now(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"bad --now {value!r}", hint="write an ISO time such as 2024-03-26T08:00Z") from None


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SetpointError as exc:
            click.echo(render_error(exc), err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group)
@click.version_option(package_name="setpoint")
def main() -> None:
    """setpoint holds data at its setpoint: declare the data you want, it closes the gap."""


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Scaffold a working project (the quickstart) in DIRECTORY."""
    from .scaffold import init_project

    created = init_project(directory)
    click.echo(f"created {len(created)} files in {directory}")
    click.echo(f"next: setpoint plan -p {directory}")


@main.command()
@project_option
def validate(project_dir: Path) -> None:
    """Load the project and its rules; report every error with file:line (exit 2)."""
    project = controller.validate(project_dir)
    click.echo(f"ok: {len(project.assets)} assets, {len(project.rule_files)} rule files")


@main.command()
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
@click.option("--now", envvar="SETPOINT_NOW", help="Plan as if it were this time (ISO 8601, UTC if no zone).")
@click.option("--all", "include_satisfied", is_flag=True,
              help="List satisfied partitions among the statuses too (JSON).")
@click.option("--max-actions", default=20, show_default=True, help="Action ranges to list in text output.")
@click.option("--relist", is_flag=True, help="List every file again, not only directories that changed.")
def plan(project_dir: Path, as_json: bool, now: str | None, include_satisfied: bool, max_actions: int,
         relist: bool) -> None:
    """Observe, solve and show what would run — a dry run: nothing is executed."""
    with controller.no_cycle_collection():  # the plan is printed and freed before the collector resumes
        result = controller.plan(project_dir, now=_parse_now(now), include_satisfied=include_satisfied,
                                 relist=relist)
        click.echo(json_document(result.to_json()) if as_json else render_plan(result, max_actions=max_actions))
        del result
    sys.exit(EXIT_OK)


@main.command()
@project_option
@click.option("--now", envvar="SETPOINT_NOW", help="Apply as if it were this time (ISO 8601, UTC if no zone).")
@click.option("--concurrency", type=click.IntRange(min=1),
              help="The default pool's capacity for this apply (default: apply.concurrency, 4).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON document.")
@click.option("--quiet", is_flag=True, help="Print only problems (for cron): nothing when all is well.")
@click.option("--wait", default=5.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds to wait for another apply of the project to finish before giving up.")
@click.option("--yes", "confirmed", is_flag=True, help="Confirm a mass rebuild the plan calls out.")
def apply(project_dir: Path, now: str | None, concurrency: int | None, as_json: bool, quiet: bool,
          wait: float, confirmed: bool) -> None:
    """Run the plan until every expected partition is satisfied or nothing more can be done.

    Exits 0 when converged or progressing (what is left is in progress, waits for
    a retry or for windows that are not due yet, or another apply is at work), 1
    when partitions are blocked, runs of this apply failed and are not made good, or
    a mass rebuild waits for --yes, 2 on usage or configuration errors.
    """
    from .apply import apply as run_apply

    log = None if quiet else ProgressLog(sys.stderr, terminal=sys.stderr.isatty())
    result = run_apply(project_dir, now=_parse_now(now), concurrency=concurrency, progress=log, wait=wait,
                       confirmed=confirmed)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    elif not quiet or not result.ok:
        click.echo(render_apply(result))
    elif result.plan is not None and render_misses(result.plan):  # cron mail warns before a deadline passes
        click.echo(render_misses(result.plan))
    sys.exit(EXIT_OK if result.ok else EXIT_PROBLEMS)


@main.command()
@project_option
@click.option("--asset", help="Only the runs (or events) of this asset.")
@click.option("--events", "show_events", is_flag=True, help="Show the decision log instead of the runs.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="The newest N entries.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
def history(project_dir: Path, asset: str | None, show_events: bool, limit: int, as_json: bool) -> None:
    """What setpoint ran and decided, from the state store: runs, or with --events the event log."""
    record = controller.history(project_dir, asset=asset, limit=limit)
    if as_json:
        doc = {"events": [e.to_json() for e in record.events]} if show_events else \
            {"runs": [r.to_json() for r in record.runs]}
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(render_history(record.runs, record.events if show_events else None))


@main.command()
@click.argument("target")
@project_option
@click.option("--ok", is_flag=True, help="It was produced.")
@click.option("--failed", metavar="MESSAGE", help="The attempt failed, with this message.")
@click.option("--started", is_flag=True, help="It is being produced (until --until, or the action's timeout).")
@click.option("--until", metavar="TIME", help="With --started: when the work should be done (ISO 8601).")
@click.option("--run", "run_id", envvar="SETPOINT_RUN_ID", metavar="RUN",
              help="The run the work belongs to (default: $SETPOINT_RUN_ID, set for every run).")
def report(target: str, project_dir: Path, ok: bool, failed: str | None, started: bool, until: str | None,
           run_id: str | None) -> None:
    """Tell setpoint what outside work did for TARGET (one partition): --started, --ok or --failed.

    A report about a run that no longer holds the partition (its lease expired and
    another run took over) changes nothing.
    """
    from .report import report as record

    if until and not started:
        raise UsageError("--until goes with --started", hint="setpoint report TARGET --started --until TIME")
    done = record(project_dir, target, ok=ok, failed=failed, started=started, until=_parse_now(until),
                  run_id=None if started else run_id)
    if done.outcome == "ignored":
        click.echo(f"ignored: run {done.run_id} no longer holds {done.partition}; nothing changed.")
    elif done.outcome == "started":
        click.echo(f"{done.run_id}: {done.partition} in progress until {done.until:%Y-%m-%d %H:%M:%S UTC}")
    else:
        click.echo(f"{done.run_id}: {done.partition} {done.outcome}")


@main.command()
@project_option
@click.option("--every", "every_text", default="5m", show_default=True, help="How often: 1m–59m, 1h–23h or 1d.")
@click.option("--install", is_flag=True, help="Put the line into your crontab (replacing this project's).")
def cron(project_dir: Path, every_text: str, install: bool) -> None:
    """Print (or --install) the crontab line that runs apply on a schedule, logging to .setpoint/logs/cron.log."""
    from .cron import cron_line, every
    from .cron import install as put
    from .project.loader import find_root

    root = find_root(project_dir).resolve()
    schedule = every(every_text)
    if not install:
        click.echo(cron_line(root, schedule))
        return
    replaced = put(root, schedule)
    click.echo(f"{'replaced' if replaced else 'added'} in your crontab: {cron_line(root, schedule)}")


@main.command(name="run")
@project_option
@click.option("--every", "every_text", default="5m", show_default=True, help="How often: 1m–59m, 1h–23h or 1d.")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many applies (default: run until stopped).")
@click.option("--quiet", is_flag=True, help="Print only problems.")
def run_every(project_dir: Path, every_text: str, count: int | None, quiet: bool) -> None:
    """Apply on a schedule, in the foreground, where there is no cron (stop with Ctrl-C)."""
    import time

    from .apply import apply as run_apply
    from .cron import every

    interval = every(every_text).interval.total_seconds()
    n, worst = 0, EXIT_OK
    while count is None or n < count:
        started = time.monotonic()
        n += 1
        try:
            result = run_apply(project_dir, progress=None if quiet else ProgressLog(sys.stderr, sys.stderr.isatty()))
        except SetpointError as exc:  # a YAML saved half-way, a warehouse held too long: try again next time
            click.echo(render_error(exc), err=True)
            worst = max(worst, exc.exit_code)
        else:
            worst = worst if result.ok else max(worst, EXIT_PROBLEMS)
            if not quiet or not result.ok:
                click.echo(render_apply(result))
        if count is None or n < count:
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    sys.exit(worst)


@main.command()
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
@click.option("--now", envvar="SETPOINT_NOW", help="As if it were this time (ISO 8601, UTC if no zone).")
def status(project_dir: Path, as_json: bool, now: str | None) -> None:
    """One screen: counts per asset and status, what runs now, recent failures, what is blocked.

    Exits 1 when partitions are blocked (but by a pause) or an SLO is violated, else 0. Answers while an
    apply runs.
    """
    from .status import status as make_status

    result = make_status(project_dir, now=_parse_now(now))
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else render_status(result))
    sys.exit(EXIT_OK if result.ok else EXIT_PROBLEMS)


@main.command()
@click.argument("asset", required=False)
@project_option
@click.option("--all", "everything", is_flag=True, help="Pause every asset.")
@click.option("--until", metavar="TIME", help="End the pause then: an ISO time (UTC if no zone) or a duration (2h).")
@click.option("--reason", metavar="TEXT", help="Why, for whoever reads the plan.")
@click.option("--now", envvar="SETPOINT_NOW", help="As if it were this time (ISO 8601, UTC if no zone).")
def pause(asset: str | None, project_dir: Path, everything: bool, until: str | None, reason: str | None,
          now: str | None) -> None:
    """Never act on ASSET (or, with --all, on any asset) until resumed or until --until.

    Its partitions that need work, and everything that needs them, are blocked
    with the pause as their reason. Work already running finishes.
    """
    from datetime import timezone

    from .pause import parse_until
    from .pause import pause as do_pause

    _one_of(asset, everything, "pause")
    moment = _parse_now(now) or datetime.now(timezone.utc)
    done = do_pause(project_dir, asset, parse_until(until, moment) if until else None, reason, now=moment)
    what = "every asset" if everything else asset
    click.echo(f"paused {what}" + (f" until {done.until:%Y-%m-%d %H:%M UTC}" if done.until else " until resumed")
               + (f": {reason}" if reason else ""))


@main.command()
@click.argument("asset", required=False)
@project_option
@click.option("--all", "everything", is_flag=True, help="End every pause.")
@click.option("--now", envvar="SETPOINT_NOW", help="As if it were this time (ISO 8601, UTC if no zone).")
def resume(asset: str | None, project_dir: Path, everything: bool, now: str | None) -> None:
    """End the pause of ASSET (or, with --all, every pause): the next apply acts on it again."""
    from .pause import resume as do_resume

    _one_of(asset, everything, "resume")
    gone = do_resume(project_dir, asset, _parse_now(now))
    if not gone:
        click.echo(f"{asset} was not paused." if asset else "nothing was paused.")
        return
    shown = ", ".join("every asset" if a == "*" else a for a in gone)
    click.echo(f"resumed {shown}")
    click.echo(f"next: setpoint apply -p {project_dir}")


def _one_of(asset: str | None, everything: bool, command: str) -> None:
    if (asset is None) == (not everything):
        raise UsageError(f"{command} needs an asset or --all, not {'both' if asset else 'neither'}",
                         hint=f"e.g. `setpoint {command} results` or `setpoint {command} --all`")


@main.command()
@click.argument("target")
@project_option
def retry(target: str, project_dir: Path) -> None:
    """Forget the failed attempts of TARGET (an asset, or one partition) so that the next apply tries again.

    A partition blocked after max_attempts failed runs starts afresh, without a backoff.
    """
    from .retry import retry as reset

    done = reset(project_dir, target)
    if not done.partitions:
        click.echo(f"nothing to retry: no partition of {target} has failed attempts on record.")
        return
    shown = ", ".join(done.partitions[:5]) + (f", … ({len(done.partitions):,} in all)" if len(done.partitions) > 5
                                              else "")
    click.echo(f"reset the failed attempts of {len(done.partitions):,} partition"
               f"{'s' if len(done.partitions) != 1 else ''}: {shown}")
    click.echo(f"next: setpoint apply -p {project_dir}")


@main.command()
@click.argument("target")
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as one JSON document (see docs/why.md).")
@click.option("--all", "expand", is_flag=True, help="List every upstream partition instead of summarizing many.")
@click.option("--now", envvar="SETPOINT_NOW", help="Explain as if it were this time (ISO 8601, UTC if no zone).")
def why(target: str, project_dir: Path, as_json: bool, expand: bool, now: str | None) -> None:
    """Explain why TARGET has its status, down to the root causes.

    TARGET is a partition, e.g. results[2024-03-25] or csv[campaign=501,day=2024-03-25],
    or an asset (its partitions that are not satisfied, grouped by reason). Read-only.
    """
    with controller.no_cycle_collection():
        explanation = controller.why(project_dir, target, now=_parse_now(now), expand=expand)
        click.echo(json.dumps(explanation.to_json(), indent=2, ensure_ascii=False) if as_json
                   else render_why(explanation))
        del explanation


@main.command()
@project_option
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "json"]), default="mermaid", show_default=True,
              help="Mermaid flowchart, Graphviz DOT, or JSON.")
@click.option("--status", "with_status", is_flag=True, help="Observe and plan, and show each asset's status counts.")
@click.option("--now", envvar="SETPOINT_NOW", help="With --status: as if it were this time (ISO 8601).")
def graph(project_dir: Path, fmt: str, with_status: bool, now: str | None) -> None:
    """Print the asset graph, with each dependency's mapping on its edge."""
    from .diagram import to_dot, to_mermaid

    result = controller.graph(project_dir, now=_parse_now(now), with_status=with_status)
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(to_mermaid(result) if fmt == "mermaid" else to_dot(result))


__all__ = ["main", "EXIT_USAGE"]


if __name__ == "__main__":
    main()
