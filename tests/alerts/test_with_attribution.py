"""The real chain: attribution opens an incident, the outbox alerts once (plus material
changes), the evidence log holds every change, and the bundle verifies offline."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from canary import periods
from canary.alerts import outbox
from canary.alerts.models import AlertDelivery
from canary.attribution import service
from canary.attribution.models import Incident, IncidentChange
from canary.evidence import bundle, log, offline
from canary.telephony.models import Event
from tests.alerts.conftest import add_webhook
from tests.attribution.scenario import add_canary, add_numbers, call, simple_map

WEEKS = [periods.shift("2026-W41", i) for i in range(4)]
LEAK_AT = periods.start_of(WEEKS[-1]) + dt.timedelta(days=3)


def test_call_centre_campaign_alerts_once_and_exports_a_verified_bundle(
    context, webhook_receiver, tmp_path
):
    _, secret = add_webhook(context, "soc", url=webhook_receiver.url)
    rng = random.Random(5)
    with context.db.session() as s:
        copies = simple_map(s, ("clerk-a", "clerk-b", "clerk-c"))
        pool = add_numbers(s, context.keys, 30)
        leaked = []
        for name, copy_id in copies.items():
            for week in WEEKS:
                for slot, cp in enumerate(rng.sample(pool, 5)):
                    add_canary(s, context.keys, copy_id, week, slot, [cp])
                    if name == "clerk-b":
                        leaked.append(cp)
    callers = ["+8617100001111", "+8617100002222"]
    for i, cp in enumerate(leaked[:14]):
        at = LEAK_AT + dt.timedelta(hours=7 * i)
        context.clock = lambda at=at: at
        with context.db.session() as s:
            event = call(s, context.keys, cp, at, callers[i % 2])
            service.process_event(s, context, s.get(Event, event.id))

    context.clock = lambda: dt.datetime.now(dt.UTC)  # send now, so receivers accept it
    sent = outbox.drain(context)
    with context.db.session() as s:
        [incident] = s.scalars(select(Incident)).all()
        changes = s.scalars(select(IncidentChange)).all()
        deliveries = s.scalars(select(AlertDelivery).order_by(AlertDelivery.id)).all()
        report = log.verify_chain(s, context.keys.evidence_public_key())
    assert incident.copy_id == copies["clerk-b"]
    # One alert at opening, more only for material changes: never one per call.
    assert 1 <= sent == len(deliveries) <= 1 + len(service.BANDS)
    assert all(d.status == "delivered" for d in deliveries)
    bodies = [
        Webhook(secret).verify(r["body"], r["headers"])
        for r in webhook_receiver.wait_for(len(deliveries))
    ]
    assert bodies[0]["type"] == "incident.opened"
    assert {b["data"]["holder"]["name"] for b in bodies} == {"clerk-b"}
    assert report.ok and report.count >= len(changes)

    with context.db.session() as s:
        path = bundle.export(s, context, incident.id, tmp_path / "case.zip", "investigator")
    checked = offline.verify_bundle(
        path, expected_public_key=context.keys.evidence_public_key_b64()
    )
    assert checked.ok, checked.problems
