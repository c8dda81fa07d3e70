"""The inject pipeline: read a delivery once, plan each holder's canaries, write all copies.

The canary-trap principle: every holder's copy carries canaries of its own, so the copy
that leaks names its holder. One read and one write pass serve any number of holders.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from canary import periods
from canary.context import Context
from canary.errors import CanaryError
from canary.feeds import formats
from canary.feeds.base import Target
from canary.feeds.xlsx_package import Limits
from canary.flow import service as flow
from canary.forging.service import plan_injection, profile_delivery
from canary.outputs import check_output_path
from canary.security import audit

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class OutputReport:
    holder: str
    path: str
    rows_written: int
    canaries_added: int
    canary_share: float
    # What the operator should know about this copy's canaries (``InjectionPlan.notes``).
    notes: list[str] = field(default_factory=list)


@dataclass
class InjectResult:
    feed: str
    period: str
    format: str
    input_rows: int
    outputs: list[OutputReport] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def safe_name(text: str) -> str:
    """A file-name fragment: letters (any script), digits, dot, dash; no path tricks."""
    cleaned = re.sub(r"[^\w.-]+", "_", text, flags=re.UNICODE).strip("._")
    return cleaned or "holder"


def output_name(input_path: Path, holder: str) -> str:
    return f"{input_path.stem}.{safe_name(holder)}{input_path.suffix}"


def limits_of(ctx: Context) -> Limits:
    s = ctx.settings
    return Limits(
        max_total_bytes=s.xlsx_max_unpacked_bytes,
        max_ratio=s.xlsx_max_ratio,
        max_members=s.xlsx_max_members,
        max_cells=s.xlsx_max_cells,
    )


# Far above any sensible density; bounds the forger's work on a mistyped --count.
MAX_CANARIES_PER_COPY = 1000


def _check_output_path(path: Path, input_path: Path) -> None:
    if path.resolve() == input_path.resolve():
        raise CanaryError("the output would overwrite the input; choose another path")
    check_output_path(path)


def inject(
    ctx: Context,
    *,
    feed: str,
    input_path: str | Path,
    holders: list[str],
    period: str | None = None,
    output: str | Path | None = None,
    out_dir: str | Path | None = None,
    actor: str,
    progress: Progress | None = None,
    count: int | None = None,
    paths: list[Path] | None = None,
) -> InjectResult:
    """Inject canaries into one delivery for each holder and write their copies.

    ``output`` names the file for a single holder; ``out_dir`` receives one file per
    holder (``<input stem>.<holder><suffix>``); ``paths`` gives each holder's file
    explicitly (watched folders write into each holder's outbox). Every output is written atomically; on
    any error no output file is left behind.
    """
    input_path = Path(input_path)
    holders = [h.strip() for h in holders if h and h.strip()]
    if not holders:
        raise CanaryError("name at least one holder (--holder H or --holders H1,H2)")
    if len(set(holders)) != len(holders):
        raise CanaryError("a holder is named twice; each holder gets one copy")
    if output is not None and len(holders) > 1:
        raise CanaryError("several holders need --out-dir DIR (one file each), not -o")
    if paths is not None and len(paths) != len(holders):
        raise CanaryError("give one output path per holder")
    if output is None and out_dir is None and paths is None:
        raise CanaryError("say where to write: -o OUTPUT (one holder) or --out-dir DIR")
    if not input_path.is_file():
        raise CanaryError(f"input file {input_path.name!r} does not exist")
    period = period or periods.period_of(ctx.clock())
    periods.parse(period)  # raises with a clear message on a malformed period

    if paths is not None:
        paths = [Path(p) for p in paths]
    elif output is not None:
        paths = [Path(output)]
    else:
        paths = [Path(out_dir) / output_name(input_path, h) for h in holders]
    for path in paths:
        _check_output_path(path, input_path)
    if count is not None and not 1 <= count <= MAX_CANARIES_PER_COPY:
        raise CanaryError(f"count must be between 1 and {MAX_CANARIES_PER_COPY} canaries per copy")

    with ctx.db.session() as session:
        feed_row = flow.get_feed(session, feed)
        holder_rows = [flow.get_holder(session, h) for h in holders]
        fmt = formats.detect_format(input_path, feed_row.format)
        if progress:
            progress("read", 0, 1)
        scanned = formats.scan(
            input_path,
            fmt=fmt,
            column_map=feed_row.column_map,
            sheet=feed_row.sheet,
            limits=limits_of(ctx),
        )
        if progress:
            progress("read", 1, 1)
        rows = scanned.sample.total_rows
        if count is not None and count > rows:
            raise CanaryError(
                f"{count} canaries in a delivery of {rows} rows would be most of the copy; "
                "use at most one canary per real row (keep the share small)"
            )
        # One profile per delivery, shared by every holder's plan (profiling is the
        # forger's costliest step and depends on the delivery only).
        profile = profile_delivery(ctx, feed_row, scanned.sample)
        targets = []
        for holder, path in zip(holder_rows, paths, strict=True):
            if feed_row.produced_by_holder_id and feed_row.produced_by_holder_id != holder.id:
                # An aggregate passes from the holder who assembles it to this one: record
                # the holder -> holder edge so attribution can follow the chain.
                producer = session.get(type(holder), feed_row.produced_by_holder_id)
                flow.link_holders(session, producer.name, holder.name, actor)
            copy = flow.ensure_copy(session, feed_row, holder, actor)
            plan = plan_injection(
                session,
                ctx,
                copy=copy,
                period=period,
                sample=scanned.sample,
                count=count,
                actor=actor,
                profile=profile,
            )
            targets.append(Target(path, plan))
            audit.record(
                session,
                actor,
                "feed.inject",
                "copy",
                copy.id,
                period=period,
                canaries=len(plan.rows),
                rows=scanned.sample.total_rows,
            )
        feed_name = feed_row.name
        holder_names = [h.name for h in holder_rows]

    def write_progress(done: int, total: int) -> None:
        if progress:
            progress("write", done, total)

    # The canaries are committed before the (possibly long) write so that the database
    # is not locked meanwhile. If the write fails, re-running reuses the same canaries.
    try:
        stats = scanned.write(targets, progress=write_progress)
    except OSError as exc:
        raise CanaryError(
            f"could not write the output ({exc.strerror or type(exc).__name__}); "
            "nothing was written, and re-running reuses the same canaries"
        ) from None
    result = InjectResult(
        feed=feed_name,
        period=period,
        format=fmt,
        input_rows=scanned.sample.total_rows,
        facts=dict(scanned.sample.facts),
    )
    for holder, stat, target in zip(holder_names, stats, targets, strict=True):
        result.outputs.append(
            OutputReport(
                holder=holder,
                path=str(stat.path),
                rows_written=stat.rows_written,
                canaries_added=stat.canaries_added,
                canary_share=round(stat.canary_share, 6),
                notes=list(dict.fromkeys(target.plan.notes)),
            )
        )
    return result
