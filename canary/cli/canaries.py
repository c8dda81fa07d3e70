"""`canary canaries`: read the registry (administrators only; every read is audited)."""

from __future__ import annotations

import click

from canary.canaries import registry
from canary.cli import ROW_ID, AppState, emit, pass_state
from canary.security import audit


@click.group("canaries")
def canaries_group() -> None:
    """The canary registry. Reads are audited: treat the output as secret."""


@canaries_group.command("list")
@click.option("--copy", "copy_id", type=ROW_ID)
@click.option("--period")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def canaries_list(state: AppState, copy_id: int | None, period: str | None, as_json: bool) -> None:
    with state.context.db.session() as session:
        rows = registry.list_canaries(session, state.context.keys, state.principal, copy_id, period)
    human = "\n".join(
        f"{r['id']:>5}  copy {r['copy_id']:<4} {r['period']}  slot {r['slot']}  "
        + "  ".join(str(v) for v in list(r["row"].values())[:4])
        for r in rows
    )
    emit(rows, as_json, human or "no canaries")


@click.command("audit")
@click.option("--action")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def audit_cmd(state: AppState, action: str | None, limit: int, as_json: bool) -> None:
    """Show the audit trail, newest first."""
    with state.context.db.session() as session:
        rows = [
            {
                "id": e.id,
                "at": e.at.isoformat(timespec="seconds"),
                "actor": e.actor,
                "action": e.action,
                "subject": f"{e.subject_type}:{e.subject_id}",
                "outcome": e.outcome,
            }
            for e in audit.entries(session, action, limit)
        ]
    emit(
        rows,
        as_json,
        "\n".join(
            f"{r['at']}  {r['actor']:<24} {r['action']:<20} {r['subject']}  {r['outcome']}"
            for r in rows
        )
        or "no entries",
    )


def register(main: click.Group) -> None:
    main.add_command(canaries_group)
    main.add_command(audit_cmd)
