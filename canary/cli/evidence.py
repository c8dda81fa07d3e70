"""`canary evidence`: export an incident's bundle, verify bundles offline, check the log."""

from __future__ import annotations

from pathlib import Path

import click

from canary.cli import ROW_ID, AppState, emit, pass_state


@click.group("evidence")
def evidence_group() -> None:
    """The signed evidence log and the bundles handed to investigators."""


@evidence_group.command("export")
@click.argument("incident_id", type=ROW_ID)
@click.option(
    "-o", "--output", "output", type=click.Path(dir_okay=False), help="bundle file (.zip)"
)
@pass_state
def export(state: AppState, incident_id: int, output: str | None) -> None:
    """Write INCIDENT's evidence bundle: signed entries, canaries, events, HTML report."""
    from canary.evidence import bundle

    ctx = state.context
    target = output or f"incident-{incident_id}-evidence.zip"
    with ctx.db.session() as session:
        path = bundle.export(
            session,
            ctx,
            incident_id,
            target,
            state.principal.actor,
            principal=state.principal,
        )
    click.echo(f"wrote {path}")
    click.echo(
        "it holds personal data (decrypted canaries and call records): store and share it as such"
    )


@evidence_group.command("verify")
@click.argument("bundle_path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--public-key",
    "public_key",
    help="the organisation's published evidence key (base64); strongly recommended",
)
@click.option("--json", "as_json", is_flag=True)
def verify(bundle_path: str, public_key: str | None, as_json: bool) -> None:
    """Check a bundle offline (no database, no service). Exit 0 only if intact."""
    from canary.evidence import offline

    report = offline.verify_bundle(Path(bundle_path), expected_public_key=public_key)
    if report.ok:
        human = (
            f"OK: bundle for incident {report.incident_id} is intact: {report.files} files, "
            f"chain of {report.count} signed entries ending at {report.head}\n"
            f"signing key fingerprint {report.fingerprint}"
            + ("" if public_key else " (compare it with the published one, or pass --public-key)")
        )
    else:
        human = "TAMPERED or damaged bundle:\n" + "\n".join(f"  - {p}" for p in report.problems)
    emit(report.as_dict(), as_json, human)
    if not report.ok:
        raise SystemExit(1)


@evidence_group.command("verify-log")
@click.option("--expected-head", help="a head hash published earlier (detects a cut tail)")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def verify_log(state: AppState, expected_head: str | None, as_json: bool) -> None:
    """Check the live evidence log: every hash link and signature. Exit 0 only if intact."""
    from canary.evidence import log

    ctx = state.context
    with ctx.db.session() as session:
        report = log.verify_chain(
            session, ctx.keys.evidence_public_key(), expected_head=expected_head
        )
    if report.ok:
        human = f"OK: {report.count} entries, head {report.head}"
    else:
        human = "evidence log FAILED verification:\n" + "\n".join(
            f"  - {p}" for p in report.problems[:50]
        )
    emit(report.as_dict(), as_json, human)
    if not report.ok:
        raise SystemExit(1)


@evidence_group.command("public-key")
@pass_state
def public_key(state: AppState) -> None:
    """Print the evidence signing key (publish it so bundles can be checked against it)."""
    from canary.evidence.bundle import fingerprint

    key = state.context.keys.evidence_public_key_b64()
    click.echo(f"{key}\nfingerprint (SHA-256): {fingerprint(key)}")


def register(main: click.Group) -> None:
    main.add_command(evidence_group)
