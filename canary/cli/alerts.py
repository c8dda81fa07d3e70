"""`canary alerts`: destinations, test deliveries, the outbox and its dead letters."""

from __future__ import annotations

import click

from canary.alerts import destinations, outbox
from canary.cli import ROW_ID, AppState, FiniteFloat, emit, pass_state


@click.group("alerts")
def alerts_group() -> None:
    """Where alerts go (webhook, Slack, Teams, e-mail) and how their delivery went."""


@alerts_group.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(destinations.KINDS), default="webhook", show_default=True)
@click.option("--url", required=True, help="endpoint URL, or mailto:ADDR[,ADDR] for e-mail")
@click.option("--feed", "feeds", multiple=True, help="only incidents about this feed")
@click.option("--holder", "holders", multiple=True, help="only incidents about this holder")
@click.option(
    "--min-confidence", type=FiniteFloat(0, 1), help="only incidents at least this sure (0-1)"
)
@click.option("--smtp-host", help="e-mail: SMTP server")
@click.option(
    "--smtp-port", type=click.IntRange(1, 65535), help="e-mail: SMTP port (587 STARTTLS, 465 TLS)"
)
@click.option("--smtp-from", help="e-mail: sender address")
@click.option("--smtp-user", default="", help="e-mail: login name")
@click.option(
    "--smtp-password",
    default="",
    envvar="CANARY_SMTP_PASSWORD",
    help="e-mail: password (or CANARY_SMTP_PASSWORD, which keeps it out of shell history)",
)
@click.option("--starttls/--no-starttls", default=True, help="e-mail: upgrade with STARTTLS")
@click.option("--smtp-ssl", is_flag=True, help="e-mail: implicit TLS (port 465)")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def add(
    state: AppState,
    name: str,
    kind: str,
    url: str,
    feeds: tuple[str, ...],
    holders: tuple[str, ...],
    min_confidence: float | None,
    smtp_host: str | None,
    smtp_port: int | None,
    smtp_from: str | None,
    smtp_user: str,
    smtp_password: str,
    starttls: bool,
    smtp_ssl: bool,
    as_json: bool,
) -> None:
    """Add a destination. For webhooks, prints the signing secret once: store it now."""
    target = url
    if kind == "email":
        target = destinations.email_target(
            url,
            host=smtp_host or "",
            port=smtp_port,
            sender=smtp_from or "",
            starttls=starttls,
            ssl=smtp_ssl,
            username=smtp_user,
            password=smtp_password,
        )
    ctx = state.context
    with ctx.db.session() as session:
        dest, secret = destinations.add(
            session,
            ctx.keys,
            name,
            kind,
            target,
            feeds=list(feeds),
            holders=list(holders),
            min_confidence=min_confidence,
            actor=state.principal.actor,
        )
        data = destinations.describe(ctx.keys, session, dest)
    data["signing_secret"] = secret
    human = f"added {kind} destination {name!r} (id {data['id']}) → {data['target']}"
    if secret:
        human += (
            f"\nsigning secret (shown only once; receivers verify webhook-signature with it):"
            f"\n  {secret}"
        )
    emit(data, as_json, human)


@alerts_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def list_(state: AppState, as_json: bool) -> None:
    """Destinations, their filters and whether they are enabled (targets redacted)."""
    ctx = state.context
    with ctx.db.session() as session:
        rows = [
            destinations.describe(ctx.keys, session, d)
            for d in destinations.list_destinations(session)
        ]
    lines = []
    for r in rows:
        f = r["filters"]
        scope = ", ".join(
            [f"feed {x}" for x in f["feeds"]]
            + [f"holder {x}" for x in f["holders"]]
            + ([f"confidence ≥ {f['min_confidence']}"] if f["min_confidence"] is not None else [])
        )
        status = "enabled" if r["enabled"] else "disabled"
        lines.append(
            f"#{r['id']:<3} {r['name']:<20} {r['kind']:<8} {status:<9} {r['target']}"
            + (f"  [{scope}]" if scope else "")
        )
    emit(rows, as_json, "\n".join(lines) or "no destinations; add one with `canary alerts add`")


def _toggle(enabled: bool):
    verb = "enable" if enabled else "disable"

    @alerts_group.command(verb, help=f"{verb.capitalize()} a destination.")
    @click.argument("destination")
    @pass_state
    def command(state: AppState, destination: str) -> None:
        with state.context.db.session() as session:
            dest = destinations.set_enabled(
                session, destination, enabled, actor=state.principal.actor
            )
            click.echo(f"{dest.name}: {verb}d")

    return command


_toggle(True)
_toggle(False)


@alerts_group.command("remove")
@click.argument("destination")
@pass_state
def remove(state: AppState, destination: str) -> None:
    """Remove a destination and its outbox history."""
    with state.context.db.session() as session:
        destinations.remove(session, destination, actor=state.principal.actor)
    click.echo(f"removed {destination}")


@alerts_group.command("test")
@click.argument("destination")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def test(state: AppState, destination: str, as_json: bool) -> None:
    """Send a test delivery now and report the result (exit 1 if it failed)."""
    delivery, result = outbox.send_test(state.context, destination, actor=state.principal.actor)
    data = {**delivery, "ok": result.ok}
    code = f" (status {result.status_code})" if result.status_code else ""
    latency = f" in {result.latency_ms:.0f} ms" if result.latency_ms is not None else ""
    human = (
        f"test delivery {delivery['message_id']}: delivered{code}{latency}"
        if result.ok
        else f"test delivery {delivery['message_id']}: FAILED{code}: {result.error}"
    )
    emit(data, as_json, human)
    if not result.ok:
        raise SystemExit(1)


@alerts_group.command("deliveries")
@click.option("--dead", is_flag=True, help="only dead letters")
@click.option("--status", type=click.Choice(["pending", "delivered", "dead"]))
@click.option("--incident", "incident_id", type=ROW_ID)
@click.option("--limit", type=click.IntRange(1, 5000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def deliveries(
    state: AppState,
    dead: bool,
    status: str | None,
    incident_id: int | None,
    limit: int,
    as_json: bool,
) -> None:
    """The outbox, newest first: what was sent where, attempts and last error."""
    with state.context.db.session() as session:
        rows = [
            outbox.describe(d)
            for d in outbox.deliveries(
                session,
                status="dead" if dead else status,
                incident_id=incident_id,
                limit=limit,
            )
        ]
    lines = [
        f"#{r['id']:<5} {r['status']:<9} {r['destination'] or '?':<20} {r['event_type']:<17} "
        f"incident {r['incident_id'] or '-':<5} attempts {r['attempts']}"
        + (f"  last error: {r['last_error']}" if r["last_error"] else "")
        for r in rows
    ]
    emit(rows, as_json, "\n".join(lines) or "no deliveries")


@alerts_group.command("redeliver")
@click.argument("delivery_id", type=ROW_ID)
@pass_state
def redeliver(state: AppState, delivery_id: int) -> None:
    """Put a dead letter back in the outbox (same webhook-id, so receivers dedupe)."""
    with state.context.db.session() as session:
        delivery = outbox.redeliver(
            session, delivery_id, state.principal.actor, at=state.context.clock()
        )
        click.echo(f"delivery {delivery.id} queued again ({delivery.message_id})")


@alerts_group.command("drain")
@pass_state
def drain(state: AppState) -> None:
    """Send due deliveries now (the scheduler does this every few seconds)."""
    click.echo(f"{outbox.drain(state.context)} delivery attempt(s)")


def register(main: click.Group) -> None:
    main.add_command(alerts_group)
