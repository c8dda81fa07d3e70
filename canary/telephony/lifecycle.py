"""A pool number's life after it is added: background rate, cooldown, release, listing.

Background: every number receives unsolicited calls whether or not a canary uses it.
"Who's Calling?" (Prasad et al., USENIX Security 2020) measured about 0.12 unsolicited
calls per line per day over 66,606 lines, and found heavily called numbers kept being
called at the same rate. So each number's own rate is learnt during quarantine, when
everything it receives is background, and shrunk towards that population figure
with a conjugate Gamma-Poisson model (few days of data → close to the prior).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from canary.context import Context
from canary.errors import CanaryError, NotFound
from canary.security import audit
from canary.telephony import pool
from canary.telephony.models import ContactPoint, Event

# Gamma(shape, rate) prior on calls per day: mean 0.12 (USENIX Security 2020), with the
# weight of PRIOR_DAYS days of observation.
PRIOR_RATE_PER_DAY = 0.12
PRIOR_DAYS = 7.0
# Inbound contacts that count as background (not recordings or status callbacks,
# which belong to a call already counted).
CONTACT_KINDS = ("call", "sms")


@dataclass(frozen=True)
class BackgroundEstimate:
    """Posterior of a number's background contact rate (contacts per day)."""

    contacts: int
    exposure_days: float
    shape: float
    rate: float

    @property
    def per_day(self) -> float:
        return self.shape / self.rate

    def upper(self, quantile: float = 0.95) -> float:
        """Upper credible bound (Wilson–Hilferty approximation to the Gamma quantile)."""
        from statistics import NormalDist

        z = NormalDist().inv_cdf(quantile)
        k = self.shape
        return (k / self.rate) * (1 - 1 / (9 * k) + z * (1 / (9 * k)) ** 0.5) ** 3


def _get(session: Session, contact_point_id: int) -> ContactPoint:
    point = session.get(ContactPoint, contact_point_id)
    if point is None:
        raise NotFound(f"no pool number with id {contact_point_id}")
    return point


def background_estimate(
    session: Session, contact_point: ContactPoint, at: dt.datetime
) -> BackgroundEstimate:
    """Gamma-Poisson posterior from the contacts received during quarantine.

    Exposure runs from when the number was added to the end of quarantine (or ``at``
    if quarantine is still running).
    """
    start = contact_point.added_at
    end = min(contact_point.quarantine_until or start, at)
    exposure = max(0.0, (end - start).total_seconds() / 86400)
    contacts = 0
    if exposure > 0:
        contacts = int(
            session.scalar(
                select(func.count(Event.id)).where(
                    Event.contact_point_id == contact_point.id,
                    Event.kind.in_(CONTACT_KINDS),
                    Event.occurred_at >= start,
                    Event.occurred_at < end,
                )
            )
            or 0
        )
    shape = PRIOR_RATE_PER_DAY * PRIOR_DAYS + contacts
    return BackgroundEstimate(contacts, exposure, shape, PRIOR_DAYS + exposure)


def background_rate(session: Session, contact_point: ContactPoint, at: dt.datetime) -> float:
    """Expected background contacts per day on this number (posterior mean)."""
    return background_estimate(session, contact_point, at).per_day


def in_quarantine(contact_point: ContactPoint, at: dt.datetime) -> bool:
    """Was the number quarantined at ``at``? (Everything received then is background.)"""
    return contact_point.quarantine_until is not None and at < contact_point.quarantine_until


def start_cooldown(
    session: Session,
    ctx: Context,
    contact_point_id: int,
    *,
    days: int | None = None,
    actor: str,
) -> ContactPoint:
    """Take a number out of allocation after an incident.

    Its number is now known to whoever bought the leak; callers keep calling for a
    while, so new canaries on it would inherit the old campaign's calls.
    """
    point = _get(session, contact_point_id)
    if point.state == "released":
        raise CanaryError(f"pool number {contact_point_id} is released")
    days = ctx.settings.cooldown_days if days is None else days
    now = ctx.clock()
    until = now + dt.timedelta(days=days)
    # Never shorten a cooldown already running (a second incident on the same number).
    if point.state == "cooldown" and point.cooldown_until and point.cooldown_until > until:
        until = point.cooldown_until
    point.state = "cooldown"
    point.cooldown_until = until
    session.flush()
    pool.forget_targets(ctx)
    audit.record(session, actor, "number.cooldown", "contact_point", point.id, days=days)
    return point


def release(session: Session, ctx: Context, contact_point_id: int, *, actor: str) -> ContactPoint:
    """Mark a number released (the provider side is released by the caller first).

    The row stays: events already observed on it remain evidence.
    """
    point = _get(session, contact_point_id)
    if point.state == "released":
        raise CanaryError(f"pool number {contact_point_id} is already released")
    point.state = "released"
    point.released_at = ctx.clock()
    session.flush()
    pool.forget_targets(ctx)
    audit.record(session, actor, "number.release", "contact_point", point.id)
    return point


def find(session: Session, ctx: Context, raw_number: str) -> ContactPoint:
    """The pool number written as ``raw_number`` (the number itself, not its target)."""
    from canary import phones

    e164 = phones.normalize(raw_number)
    point = session.scalar(
        select(ContactPoint).where(ContactPoint.value_hash == pool.phone_hash(ctx, e164))
    )
    if point is None:
        raise NotFound(f"number {pool.mask(e164)} is not in the pool")
    return point


def describe(session: Session, ctx: Context, at: dt.datetime) -> list[dict]:
    """Every pool number for operators: state, background rate, cost. Never which
    canary uses it (an operator who knew would know which rows to strip)."""
    pool.refresh_states(session, at)
    rows = []
    for point in session.scalars(select(ContactPoint).order_by(ContactPoint.id)):
        estimate = background_estimate(session, point, at)
        rows.append(
            {
                "id": point.id,
                "number": pool.number_of(ctx, point),
                "forwards_to": pool.forwards_to_of(ctx, point),
                "country": point.country,
                "type": point.number_type,
                "provider": point.provider,
                "provider_sid": point.provider_sid,
                "state": point.state,
                "quarantine_until": _iso(point.quarantine_until),
                "cooldown_until": _iso(point.cooldown_until),
                "background_per_day": round(estimate.per_day, 4),
                "background_per_day_p95": round(estimate.upper(), 4),
                "background_observed_days": round(estimate.exposure_days, 2),
                "cost_per_month": point.cost_per_month,
                "currency": point.currency,
                "added_at": _iso(point.added_at),
            }
        )
    return rows


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
