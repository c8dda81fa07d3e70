"""`canary incidents`: list, show and move incidents through their lifecycle."""

from __future__ import annotations

import click

from canary.attribution import lifecycle, service, views
from canary.cli import ROW_ID, AppState, emit, pass_state

_STATUSES = click.Choice(["open", "acknowledged", "resolved", "false_positive"])


@click.group("incidents", invoke_without_command=True)
@click.option("--status", type=_STATUSES, help="only incidents in this state")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def incidents_group(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """Incidents: which copy or holder leaked, when, and how sure we are."""
    if ctx.invoked_subcommand is not None:
        return
    state = ctx.find_object(AppState) or ctx.ensure_object(AppState)
    with state.context.db.session() as session:
        rows = views.list_incidents(session, status)
    emit(rows, as_json, "\n".join(views.headline(r) for r in rows) or "no incidents")


@incidents_group.command("show")
@click.argument("incident_id", type=ROW_ID)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def show(state: AppState, incident_id: int, as_json: bool) -> None:
    """One incident: verdict, ranked candidates, history and events."""
    with state.context.db.session() as session:
        data = views.detail(session, lifecycle.get(session, incident_id))
    emit(data, as_json, _human(data))


def _human(data: dict) -> str:
    lines = [views.headline(data), f"  {data['explanation']}", "  candidates:"]
    for c in data["candidates"][:5]:
        span = c["period_from"] + (
            "" if c["period_from"] == c["period_to"] else "–" + c["period_to"]
        )
        lines.append(f"    {c['probability']:.4g}  {c['label']}  {span}")
    lines.append("  history:")
    for c in data["changes"]:
        move = f" {c['from_status']} → {c['to_status']}" if c["to_status"] else ""
        lines.append(f"    {c['at']}  {c['actor']}  {c['change']}{move}: {c['reason']}")
    return "\n".join(lines)


def _transition(name: str, function, help_text: str):
    @incidents_group.command(name, help=help_text)
    @click.argument("incident_id", type=ROW_ID)
    @click.option("--reason", required=True, help="why (recorded with your name)")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def command(state: AppState, incident_id: int, reason: str, as_json: bool) -> None:
        with state.context.db.session() as session:
            incident = function(session, state.context, incident_id, state.principal.actor, reason)
            data = views.summary(session, incident)
        emit(data, as_json, views.headline(data))

    return command


_transition("ack", lifecycle.acknowledge, "Acknowledge: someone is looking into it.")
_transition("resolve", lifecycle.resolve, "Resolve: the leak was dealt with.")
_transition(
    "false-positive",
    lifecycle.mark_false_positive,
    "Not a leak: its events count as background from now on.",
)


@incidents_group.command("process")
@pass_state
def process(state: AppState) -> None:
    """Attribute stored events still pending (the scheduler does this too)."""
    click.echo(f"{service.process_pending(state.context)} event(s) attributed")


def register(main: click.Group) -> None:
    main.add_command(incidents_group)
