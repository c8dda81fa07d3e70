"""`canary inject`: add canaries to a delivery, one copy per holder."""

from __future__ import annotations

import sys

import click

from canary.cli import AppState, emit, pass_state
from canary.errors import CanaryError


def _progress_bar():
    """A rich progress bar on stderr (only on a terminal: scripts get clean output)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        label = {"read": "reading input", "write": "writing copies"}.get(stage, stage)
        if stage not in tasks:
            tasks[stage] = bar.add_task(label, total=max(total, 1))
        bar.update(tasks[stage], completed=done, total=max(total, 1))

    return bar, update


@click.command("inject")
@click.argument("feed")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option("--holder", help="The one holder whose copy to write (with -o).")
@click.option("--holders", help="Comma-separated holders, one copy each (with --out-dir).")
@click.option("--period", help="ISO week the canaries are minted for (default: this week).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output file (one holder).")
@click.option("--out-dir", type=click.Path(file_okay=False), help="Folder for one file per holder.")
@click.option(
    "--count",
    type=click.IntRange(0, 100_000),
    help="Canaries per copy (default: the canaries_per_copy setting).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_state
def inject_cmd(
    state: AppState, feed, input_path, holder, holders, period, output, out_dir, count, as_json
) -> None:
    """Add canaries to INPUT for each holder of FEED and write their copies."""
    from canary.feeds.inject import inject

    names = [holder] if holder else []
    names += [h for h in (holders or "").split(",") if h.strip()]
    if not names:
        raise CanaryError("name a holder: --holder H, or --holders H1,H2 with --out-dir DIR")
    bar, update = _progress_bar()
    with bar:
        result = inject(
            state.context,
            feed=feed,
            input_path=input_path,
            holders=names,
            period=period,
            output=output,
            out_dir=out_dir,
            actor=state.principal.actor,
            progress=update,
            count=count,
        )
    data = result.to_dict()
    lines = [
        f"{result.feed}: {result.input_rows} rows read ({result.format}), period {result.period}"
    ]
    for out in result.outputs:
        lines.append(
            f"  {out.holder}: {out.path} — {out.rows_written} rows, "
            f"{out.canaries_added} canaries ({out.canary_share:.3%})"
        )
        lines += [f"    note: {note}" for note in out.notes]
    emit(data, as_json, "\n".join(lines))
    sys.stdout.flush()


def register(main: click.Group) -> None:
    main.add_command(inject_cmd)
