"""The background jobs and how they run exactly once per slot across processes.

APScheduler 3.x does not coordinate processes: four processes sharing a job store
ran a job 14 times instead of 4 (DOMAIN.md). So every run first claims a row
(job, slot) under a unique constraint; whoever inserts it runs the job, everyone
else skips. A slot is the job's interval bucket, so a crashed run is retried in the
next bucket.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from canary.context import Context
from canary.scheduling.models import JobClaim

log = logging.getLogger("canary.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    target: str  # "module:function", called with the Context, returns a count
    interval_setting: str
    # Works on this machine's files, not the shared database: every host runs it.
    per_host: bool = False

    def interval(self, ctx: Context) -> int:
        return max(1, int(getattr(ctx.settings, self.interval_setting)))

    def function(self) -> Callable[[Context], int]:
        module, attr = self.target.split(":")
        return getattr(importlib.import_module(module), attr)


JOBS: tuple[Job, ...] = (
    Job("attribute-pending", "canary.scheduling.jobs:attribute_pending", "outbox_interval_seconds"),
    Job("drain-outbox", "canary.alerts.outbox:drain", "outbox_interval_seconds"),
    Job("poll-provider", "canary.telephony.polling:poll", "poll_interval_seconds"),
    Job("watch-inboxes", "canary.feeds.watch:scan_inboxes", "watch_interval_seconds"),
    Job(
        "recover-journals",
        "canary.telephony.journal:recover_here",
        "outbox_interval_seconds",
        per_host=True,
    ),
)


def attribute_pending(ctx: Context) -> int:
    """Append the evidence entries of newly stored events, then attribute pending events.

    Evidence first, so the log shows an event before the incident change it causes.
    A failing evidence append does not hold attribution back: those events stay
    ``evidence_pending`` and the next run appends them.
    """
    from canary.attribution import service
    from canary.telephony import evidence

    try:
        logged = evidence.log_pending(ctx)
    except Exception:
        log.exception("appending evidence for stored events failed; will retry")
        logged = 0
    attributed = service.process_pending(ctx)
    try:  # events stored while attribution ran: logged now, not a whole interval later
        logged += evidence.log_pending(ctx)
    except Exception:
        log.exception("appending evidence for stored events failed; will retry")
    return logged + attributed


WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
# Short enough for the claim's slot column (40 characters) beside a slot bucket.
HOST_TAG = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:10]


def slot_for(now: dt.datetime, interval_seconds: int) -> str:
    bucket = int(now.timestamp()) // interval_seconds
    return f"{interval_seconds}:{bucket}"


def claim(ctx: Context, job: str, slot: str, worker: str = WORKER_ID) -> bool:
    """Insert the claim row for (job, slot). True if this worker won it."""
    try:
        with ctx.db.session() as session:
            session.add(JobClaim(job=job, slot=slot, claimed_by=worker, claimed_at=ctx.clock()))
    except IntegrityError:
        return False
    return True


def prune_claims(ctx: Context, older_than: dt.timedelta = dt.timedelta(days=2)) -> None:
    with ctx.db.session() as session:
        session.execute(delete(JobClaim).where(JobClaim.claimed_at < ctx.clock() - older_than))


def run_job(ctx: Context, job: Job, *, slot: str | None = None) -> int | None:
    """Run one job if this process wins its slot. Returns its count, or None if skipped."""
    slot = slot or slot_for(ctx.clock(), job.interval(ctx))
    if job.per_host:
        slot = f"{slot}@{HOST_TAG}"
    if not claim(ctx, job.name, slot):
        return None
    try:
        count = job.function()(ctx)
    except Exception:  # a failing job must not kill the scheduler; it is retried next slot
        log.exception("job %s failed", job.name)
        return None
    if count:
        log.info("job %s handled %s item(s)", job.name, count)
    return count


def run_all_once(ctx: Context) -> dict[str, int | None]:
    """Run every job now, each in a fresh one-off slot (used by the demo and `canary jobs run`)."""
    # A fresh token, not the time and worker: those overflow the 40-character slot.
    return {job.name: run_job(ctx, job, slot=f"once:{secrets.token_hex(8)}") for job in JOBS}


def build_scheduler(ctx: Context, *, blocking: bool = False):
    """An APScheduler with one interval trigger per job; start() it to run."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone=dt.UTC)
    for job in JOBS:
        scheduler.add_job(
            run_job,
            "interval",
            seconds=job.interval(ctx),
            args=(ctx, job),
            id=job.name,
            max_instances=1,
            coalesce=True,
            next_run_time=dt.datetime.now(dt.UTC),
        )
    scheduler.add_job(prune_claims, "interval", hours=6, args=(ctx,), id="prune-claims")
    return scheduler
