"""`canary serve` (web service, with the scheduler unless disabled) and `canary scheduler`."""

from __future__ import annotations

import contextlib

import click

from canary.cli import AppState, pass_state
from canary.scheduling import jobs


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-scheduler", is_flag=True, help="Do not run background jobs in this process.")
@pass_state
def serve_cmd(state: AppState, host: str, port: int, no_scheduler: bool) -> None:
    """Run the web service on one machine. In production use gunicorn (see README)."""
    from werkzeug.serving import run_simple

    from canary.web import create_app

    context = state.context
    app = create_app(context=context)
    scheduler = None
    if context.settings.scheduler_in_serve and not no_scheduler:
        scheduler = jobs.build_scheduler(context)
        scheduler.start()
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)


@click.command("scheduler")
@pass_state
def scheduler_cmd(state: AppState) -> None:
    """Run the background jobs in their own process (one per deployment is enough)."""
    click.echo("scheduler running; Ctrl-C to stop")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        jobs.build_scheduler(state.context, blocking=True).start()


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs."""


@jobs_group.command("run")
@pass_state
def jobs_run(state: AppState) -> None:
    """Run every background job once now."""
    for name, count in jobs.run_all_once(state.context).items():
        click.echo(f"{name:<20} {'skipped' if count is None else count}")


def register(main: click.Group) -> None:
    for command in (serve_cmd, scheduler_cmd, jobs_group):
        main.add_command(command)
