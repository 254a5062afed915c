"""Thin click front end: parse, call the library, render. Errors map to exit codes here only."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click

from . import controller
from .errors import EXIT_OK, EXIT_USAGE, SetpointError, UsageError
from .render import render_error, render_plan

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
def plan(project_dir: Path, as_json: bool, now: str | None, include_satisfied: bool, max_actions: int) -> None:
    """Observe, solve and show what would run — a dry run: nothing is executed."""
    result = controller.plan(project_dir, now=_parse_now(now), include_satisfied=include_satisfied)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=False))
    else:
        click.echo(render_plan(result, max_actions=max_actions))
    sys.exit(EXIT_OK)


__all__ = ["main", "EXIT_USAGE"]


if __name__ == "__main__":
    main()
