"""Buying and releasing pool numbers at the provider, kept in step with the pool.

The CLI and the API call these; they combine ``provider`` and ``pool``/``lifecycle``
so that a number is never paid for without being in the pool, nor dropped from the
pool while the provider still bills for it.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from canary.context import Context
from canary.errors import CanaryError
from canary.telephony import lifecycle, pool
from canary.telephony.models import ContactPoint
from canary.telephony.provider import NUMBER_TYPES, Provider, from_settings

log = logging.getLogger("canary.telephony.numbers")


def buy(
    session: Session,
    ctx: Context,
    *,
    country: str,
    number_type: str,
    area_code: str | None = None,
    contains: str | None = None,
    cost_per_month: float | None = None,
    quarantine_days: int | None = None,
    provider: Provider | None = None,
    actor: str,
) -> ContactPoint:
    """Search the provider, buy the first match with callbacks set, add it to the pool.

    If adding to the pool fails, the purchase is released again so it is not billed.
    """
    if number_type not in NUMBER_TYPES:
        raise CanaryError(f"--type must be one of {', '.join(NUMBER_TYPES)}")
    provider = provider or from_settings(ctx.settings)
    offered = provider.search(country, number_type, area_code=area_code, contains=contains, limit=5)
    if not offered:
        raise CanaryError(
            f"the provider offers no {number_type} numbers in {country.upper()} matching the "
            "search; try another --area-code/--contains, or add a forwarded local number with "
            "`canary numbers add NUMBER --forwards-to TWILIO_NUMBER`"
        )
    currency = "USD"
    if cost_per_month is None:
        price = provider.monthly_price(country, number_type)
        cost_per_month, currency = price if price else (0.0, "USD")
    bought = provider.buy(offered[0].e164, base_url=ctx.settings.public_base_url)
    try:
        with session.begin_nested():
            point = pool.add_number(
                session,
                ctx,
                bought.e164,
                provider=provider.name,
                provider_sid=bought.sid,
                cost_per_month=cost_per_month,
                currency=currency,
                quarantine_days=quarantine_days,
                actor=actor,
            )
    except Exception:
        log.warning("bought number %s could not be pooled; releasing it", bought.sid)
        provider.release(bought.sid)
        raise
    return point


def release(
    session: Session,
    ctx: Context,
    raw_number: str,
    *,
    provider: Provider | None = None,
    actor: str,
) -> ContactPoint:
    """Release a number: at the provider first (it stops billing), then in the pool."""
    point = lifecycle.find(session, ctx, raw_number)
    if point.state == "released":
        raise CanaryError(f"pool number {point.id} is already released")
    if point.provider == "twilio" and point.provider_sid:
        (provider or from_settings(ctx.settings)).release(point.provider_sid)
    return lifecycle.release(session, ctx, point.id, actor=actor)
