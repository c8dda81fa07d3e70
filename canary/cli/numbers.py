"""`canary numbers add|buy|release|list|allow|cooldown`: the number pool."""

from __future__ import annotations

import click

from canary.cli import AppState, FiniteFloat, emit, pass_state
from canary.telephony import allowlist, lifecycle, numbers, pool
from canary.telephony.provider import NUMBER_TYPES


def _row(point, ctx) -> dict:
    return {
        "id": point.id,
        "number": pool.number_of(ctx, point),
        "state": point.state,
        "quarantine_until": point.quarantine_until.isoformat() if point.quarantine_until else None,
    }


@click.group("numbers")
def numbers_group() -> None:
    """The number pool: phone numbers canaries carry."""


@numbers_group.command("add")
@click.argument("number")
@click.option("--forwards-to", help="Provider (Twilio) number this local number forwards to.")
@click.option("--cost", type=FiniteFloat(0), default=0.0, show_default=True, help="Cost per month.")
@click.option("--currency", default="USD", show_default=True)
@click.option("--provider", default="manual", show_default=True, help="Who sells the number.")
@click.option(
    "--quarantine-days",
    type=click.IntRange(0, 3650),
    default=None,
    help="Override quarantine_days.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def numbers_add(
    state: AppState, number, forwards_to, cost, currency, provider, quarantine_days, as_json
):
    """Add a number bought anywhere, e.g. a Shanghai SIM that forwards to Twilio."""
    ctx = state.context
    with ctx.db.session() as session:
        point = pool.add_number(
            session,
            ctx,
            number,
            forwards_to=forwards_to,
            provider=provider,
            cost_per_month=cost,
            currency=currency,
            quarantine_days=quarantine_days,
            actor=state.principal.actor,
        )
        row = _row(point, ctx)
    emit(
        row,
        as_json,
        f"number {pool.mask(row['number'])} added (id {row['id']}), {row['state']}"
        + (f" until {row['quarantine_until']}" if row["state"] == "quarantine" else ""),
    )


@numbers_group.command("buy")
@click.option("--country", required=True, help="ISO country, e.g. US.")
@click.option(
    "--type", "number_type", type=click.Choice(NUMBER_TYPES), default="local", show_default=True
)
@click.option("--area-code", default=None)
@click.option("--contains", default=None, help="Digit pattern, e.g. 555.")
@click.option(
    "--cost", type=FiniteFloat(0), default=None, help="Cost per month (default: provider price)."
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def numbers_buy(state: AppState, country, number_type, area_code, contains, cost, as_json):
    """Buy a number from Twilio and point its webhooks at this service."""
    ctx = state.context
    with ctx.db.session() as session:
        point = numbers.buy(
            session,
            ctx,
            country=country,
            number_type=number_type,
            area_code=area_code,
            contains=contains,
            cost_per_month=cost,
            actor=state.principal.actor,
        )
        row = {
            **_row(point, ctx),
            "provider_sid": point.provider_sid,
            "cost_per_month": point.cost_per_month,
        }
    emit(
        row,
        as_json,
        f"bought {row['number']} ({row['provider_sid']}), id {row['id']}, {row['state']}",
    )


@numbers_group.command("release")
@click.argument("number")
@pass_state
def numbers_release(state: AppState, number):
    """Release a number (at the provider too). Its past events stay as evidence."""
    ctx = state.context
    with ctx.db.session() as session:
        point = numbers.release(session, ctx, number, actor=state.principal.actor)
        click.echo(f"number {pool.mask(pool.number_of(ctx, point))} released (id {point.id})")


@numbers_group.command("cooldown")
@click.argument("number")
@click.option("--days", type=click.IntRange(0, 3650), default=None, help="Override cooldown_days.")
@pass_state
def numbers_cooldown(state: AppState, number, days):
    """Take a number out of allocation for a while (after an incident)."""
    ctx = state.context
    with ctx.db.session() as session:
        point = lifecycle.find(session, ctx, number)
        lifecycle.start_cooldown(session, ctx, point.id, days=days, actor=state.principal.actor)
        click.echo(f"number id {point.id} cooling down until {point.cooldown_until.isoformat()}")


@numbers_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def numbers_list(state: AppState, as_json):
    """Each number's state, background rate and cost (never which canary uses it)."""
    ctx = state.context
    with ctx.db.session() as session:
        rows = lifecycle.describe(session, ctx, ctx.clock())
    lines = [
        f"{'id':>4}  {'number':<16} {'forwards to':<16} {'state':<10} {'bg/day':>7} "
        f"{'bg p95':>7} {'cost/mo':>9}"
    ]
    for r in rows:
        lines.append(
            f"{r['id']:>4}  {r['number']:<16} {(r['forwards_to'] or '-'):<16} {r['state']:<10} "
            f"{r['background_per_day']:>7.3f} {r['background_per_day_p95']:>7.3f} "
            f"{r['cost_per_month']:>5.2f} {r['currency']}"
        )
    total = sum(r["cost_per_month"] for r in rows if r["state"] != "released")
    lines.append(f"{len(rows)} numbers; {total:.2f} per month for those not released")
    emit(rows, as_json, "\n".join(lines))


@numbers_group.command("allow")
@click.argument("number")
@click.option("--label", required=True, help="Whose line it is, e.g. 'after-sales desk'.")
@pass_state
def numbers_allow(state: AppState, number, label):
    """Allowlist one of the organisation's own outbound numbers (expected contact)."""
    ctx = state.context
    with ctx.db.session() as session:
        row = allowlist.allow(session, ctx, number, label=label, actor=state.principal.actor)
        click.echo(f"allowlisted as {row.label!r} (id {row.id})")


@numbers_group.command("disallow")
@click.argument("number")
@pass_state
def numbers_disallow(state: AppState, number):
    """Remove a number from the allowlist."""
    ctx = state.context
    with ctx.db.session() as session:
        allowlist.disallow(session, ctx, number, actor=state.principal.actor)
    click.echo("removed from the allowlist")


def register(main: click.Group) -> None:
    main.add_command(numbers_group)
