"""`canary journal list|replay`: webhook records kept in `*.unstored` files."""

from __future__ import annotations

from pathlib import Path

import click

from canary.cli import AppState, emit, pass_state


@click.group("journal")
def journal_group() -> None:
    """Webhook records the journal could not store, kept for an investigator."""


@journal_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def journal_list(state: AppState, as_json: bool) -> None:
    """The `*.unstored` files in this host's journal folder."""
    from canary.telephony import unstored

    folder = state.context.settings.journal_path
    found = []
    for path in unstored.files(folder):
        try:
            found.append({"file": path.name, "bytes": path.stat().st_size})
        except FileNotFoundError:
            continue  # replayed (and deleted) meanwhile
    human = "\n".join(f"{f['file']}: {f['bytes']} bytes" for f in found) or (
        f"no unstored records in {folder}"
    )
    emit({"folder": str(folder), "files": found}, as_json, human)


@journal_group.command("replay")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@pass_state
def journal_replay(state: AppState, files: tuple[Path, ...], as_json: bool) -> None:
    """Store the records of FILES (default: every `*.unstored` file in this host's
    journal folder) once the cause is fixed; what still fails stays in its file."""
    from canary.security import audit
    from canary.telephony import journal, unstored

    for path in files:
        if not path.name.endswith(journal.UNSTORED):
            # A live journal file is its writer's and its storer's, not this command's.
            raise click.UsageError(f"{path.name} is not a *{journal.UNSTORED} file")
    ctx = state.context
    results = []
    for path in files or unstored.files(ctx.settings.journal_path):
        result = unstored.replay(ctx, path)
        if result is None:
            continue  # replayed and deleted by someone else meanwhile
        results.append(result.as_dict())
        with ctx.db.session() as session:
            counts = {k: v for k, v in result.as_dict().items() if k != "file"}
            audit.record(
                session,
                state.principal.actor,
                "journal.replay",
                "journal_file",
                path.name,
                **counts,
            )
    human = "\n".join(
        f"{r['file']}: {r['stored']} stored, {r['duplicates']} stored before, "
        f"{r['still_failing']} still failing, {r['undecodable_bytes']} bytes that do not decode"
        + (" (kept)" if r["kept"] else " (deleted)")
        for r in results
    )
    emit({"files": results}, as_json, human or "nothing to replay")
    if any(r["kept"] for r in results):
        raise SystemExit(1)


def register(main: click.Group) -> None:
    main.add_command(journal_group)
