"""Backfill: read the provider's call and message lists and store what webhooks missed.

Webhooks get lost (the service was down, a proxy failed, a deploy restarted). Every
call to a canary number is evidence, so a scheduler job lists, for every number the
provider rings (a pool number or the provider number local numbers forward to), the
calls and messages since the last poll, and feeds each through the same intake path
as a webhook (``via="poll"``). Intake deduplicates by SID, so polling what a webhook
already stored is harmless.

The window starts an overlap before the cursor: the provider's lists are eventually
consistent, and a call that started just before the last poll may appear in the list
only after it ended. The cursor only advances when a whole resource was read, so a
poll that fails halfway is simply repeated; after a day of downtime the next poll
reads the whole day.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from canary.context import Context
from canary.errors import CanaryError
from canary.telephony import intake, pool
from canary.telephony.inbound import BadWebhook
from canary.telephony.models import ContactPoint, PollCursor
from canary.telephony.provider import Provider, from_settings

log = logging.getLogger("canary.telephony.polling")

OVERLAP = dt.timedelta(hours=1)
# With no cursor yet, look back this far (but not before the oldest pool number).
FIRST_LOOKBACK = dt.timedelta(days=31)
RESOURCES = ("calls", "messages")


def watched_numbers(ctx: Context) -> list[str]:
    """Numbers the provider rings for the pool: forwarding targets and direct numbers."""
    with ctx.db.session() as session:
        points = session.scalars(select(ContactPoint).where(ContactPoint.state != "released"))
        numbers = {pool.forwards_to_of(ctx, p) or pool.number_of(ctx, p) for p in points}
    return sorted(numbers)


def _since(ctx: Context, resource: str, now: dt.datetime) -> dt.datetime:
    with ctx.db.session() as session:
        cursor = session.scalar(
            select(PollCursor).where(
                PollCursor.provider == "twilio", PollCursor.resource == resource
            )
        )
        if cursor is not None:
            return cursor.polled_until - OVERLAP
        oldest = session.scalar(
            select(ContactPoint.added_at)
            .where(ContactPoint.state != "released")
            .order_by(ContactPoint.added_at)
            .limit(1)
        )
    start = now - FIRST_LOOKBACK
    return max(start, oldest - OVERLAP) if oldest else start


def _advance(ctx: Context, resource: str, until: dt.datetime) -> None:
    with ctx.db.session() as session:
        cursor = session.scalar(
            select(PollCursor).where(
                PollCursor.provider == "twilio", PollCursor.resource == resource
            )
        )
        if cursor is None:
            session.add(PollCursor(provider="twilio", resource=resource, polled_until=until))
        elif until > cursor.polled_until:
            cursor.polled_until = until


def poll(ctx: Context, provider: Provider | None = None) -> int:
    """Scheduler job: backfill calls and messages since the last poll. Returns how many
    new events were stored (records already stored by a webhook are not counted)."""
    if provider is None:
        if not (ctx.settings.twilio_account_sid and ctx.settings.twilio_auth_token):
            return 0  # no provider configured: webhooks (or manual reports) only
        provider = from_settings(ctx.settings)
    numbers = watched_numbers(ctx)
    stored = 0
    for resource in RESOURCES:
        now = ctx.clock()
        since = _since(ctx, resource, now)
        kind = "call" if resource == "calls" else "sms"
        try:
            for number in numbers:
                listing = (
                    provider.calls_since(since, number)
                    if resource == "calls"
                    else provider.messages_since(since, number)
                )
                for params in listing:
                    stored += _ingest(ctx, kind, params)
        except CanaryError as exc:
            log.warning("poll of %s stopped, cursor kept: %s", resource, exc)
            continue
        _advance(ctx, resource, now)
    if stored:
        log.info("poll backfilled %d events", stored)
    return stored


def _ingest(ctx: Context, kind: str, params: dict) -> int:
    try:
        result = intake.receive(ctx, kind, params, via="poll")
    except (BadWebhook, intake.WrongAccount) as exc:
        log.warning("poll skipped a %s record: %s", kind, exc)
        return 0
    return 0 if result.duplicate else 1
