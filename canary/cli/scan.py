"""`canary scan FILE`: find canaries in a leaked file and open an incident."""

from __future__ import annotations

import click

from canary.cli import AppState, emit, pass_state


def _progress_bar():
    """A rich progress bar on stderr (only on a terminal: scripts get clean output)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True)
    bar = Progress(
        TextColumn("scanning"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    task = bar.add_task("scan", total=None)

    def update(_stage: str, done: int, total: int) -> None:
        bar.update(task, completed=done, total=max(total, 1))

    return bar, update


def _human(data: dict) -> str:
    lines = [
        f"{data['file_name']}: {data['size']} bytes ({data['format']}), sha256 {data['sha256']}"
    ]
    if not data["found"] and not data["ambiguous"]:
        lines.append(f"no canaries found ({data['canaries_indexed']} canaries checked)")
        return "\n".join(lines)
    for copy in data["copies"]:
        lines.append(
            f"  {copy['feed']} → {copy['holder']}, {copy['period']}: "
            f"{copy['canaries']} canaries (copy {copy['copy_id']})"
        )
    for item in data["found"]:
        lines.append(
            f"    canary {item['canary_id']}: {', '.join(item['fields'])} "
            f"on {item['records']} record(s), e.g. {'; '.join(item['locations'][:3])}"
        )
    for amb in data["ambiguous"]:
        why = (
            "a pool number shared by several canaries, with no persona field to tell them apart"
            if amb["kind"] == "shared_number"
            else "a name without a second field"
        )
        lines.append(
            f"  ambiguous: {amb['records']} record(s) with {why}; candidates "
            f"{amb['candidate_canary_ids']} ({amb['locations'][0]})"
        )
    if data["already_scanned"]:
        lines.append(f"already scanned: event {data['event_id']}, incident {data['incident_id']}")
    elif data["event_id"]:
        incident = data["incident_id"] or "none yet (evidence below the opening threshold)"
        lines.append(f"event {data['event_id']} stored; incident {incident}")
    return "\n".join(lines)


@click.command("scan")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_state
def scan_cmd(state: AppState, path: str, as_json: bool) -> None:
    """Scan a leaked, bought or seized FILE (CSV, XLSX, JSON or text) for canaries.

    Reports which copies, holders and periods the file holds data from, stores the
    finding as evidence and opens (or updates) an incident. Nothing leaves this machine.
    """
    from canary.forensics.service import scan

    bar, update = _progress_bar()
    with bar:
        result = scan(state.context, path, principal=state.principal, via="cli", progress=update)
    data = result.to_dict()
    emit(data, as_json, _human(data))


def register(main: click.Group) -> None:
    main.add_command(scan_cmd)
