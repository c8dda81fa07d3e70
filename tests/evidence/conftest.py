"""A small leak, built with the models the way intake and attribution store it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from canary.attribution import lifecycle
from canary.attribution.models import Incident
from canary.canaries import registry
from canary.evidence import log
from canary.flow import service as flow
from canary.telephony.models import ContactPoint, Event, EventCanary

T0 = dt.datetime(2026, 10, 6, 9, 30, tzinfo=dt.UTC)


def _event(session, keys, *, kind, sid, point_id, at, payload, caller=None, parent_sid=""):
    event = Event(
        kind=kind,
        provider="twilio",
        provider_sid=sid,
        parent_sid=parent_sid,
        contact_point_id=point_id,
        occurred_at=at,
        received_at=at,
        payload_enc=keys.encrypt_json(payload, f"event:twilio:{kind}:{sid}"),
        caller_enc=keys.encrypt_text(caller, "caller") if caller else None,
        caller_hash=keys.lookup_hash("phone", caller) if caller else "",
        classification="canary",
    )
    session.add(event)
    session.flush()
    log.append(
        session,
        keys,
        "event",
        {
            "event_id": event.id,
            "kind": kind,
            "provider_sid": sid,
            "contact_point_id": point_id,
            "caller_hash": event.caller_hash,
            "occurred_at": at.isoformat(),
            "payload_sha256": hashlib.sha256(
                json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
            ).hexdigest(),
        },
        event_id=event.id,
        at=at,
    )
    return event


def build_leak(context) -> dict:
    """hospital → head office → clerk → buyer; the clerk's copy leaks; one incident."""
    keys = context.keys
    with context.db.session() as s:
        flow.add_source(s, "Hospital A", "t")
        feed = flow.add_feed(s, "newborns-a", "t", source="Hospital A")
        head = flow.add_holder(s, "head-office", "t")
        clerk = flow.add_holder(s, "clerk", "t")
        flow.add_holder(s, "photo-studio", "t")
        flow.link_holders(s, "clerk", "photo-studio", "t")
        flow.ensure_copy(s, feed, head, "t")
        copy = flow.ensure_copy(s, feed, clerk, "t")
        point = ContactPoint(
            value_enc=keys.encrypt_text("+8613800138000", "contact_point"),
            value_hash=keys.lookup_hash("phone", "+8613800138000"),
            country="CN",
            state="in_use",
        )
        s.add(point)
        s.flush()
        canary = registry.store(
            s,
            keys,
            copy_id=copy.id,
            period="2026-W41",
            slot=0,
            row={"产妇姓名": "林晓雯", "联系电话": "13800138000"},
            persona={"name": "林晓雯", "birth_date": "2026-10-03"},
            contact_point_ids=[point.id],
            live_from=T0 - dt.timedelta(days=2),
        )
        call = _event(
            s,
            keys,
            kind="call",
            sid="CA" + "1" * 32,
            point_id=point.id,
            at=T0,
            payload={"CallSid": "CA" + "1" * 32, "From": "+8602155550123", "To": "+8613800138000"},
            caller="+8602155550123",
        )
        sms = _event(
            s,
            keys,
            kind="sms",
            sid="SM" + "2" * 32,
            point_id=point.id,
            at=T0 + dt.timedelta(hours=2),
            payload={"MessageSid": "SM" + "2" * 32, "Body": "林女士您好 <script>alert(1)</script>"},
            caller="+8602155550123",
        )
        recording = _event(
            s,
            keys,
            kind="recording",
            sid="RE" + "3" * 32,
            point_id=point.id,
            at=T0 + dt.timedelta(minutes=1),
            parent_sid=call.provider_sid,
            payload={"RecordingUrl": "https://api.twilio.com/rec/RE3", "RecordingDuration": "21"},
        )
        for event in (call, sms):
            event.canaries.append(EventCanary(canary_id=canary.id, strength="number"))
        sms.canaries.append(EventCanary(canary_id=canary.id, strength="name_mention"))
        incident = Incident(
            status="open",
            opened_at=T0 + dt.timedelta(hours=2),
            updated_at=T0 + dt.timedelta(hours=2),
            unit_key=f"copy:{copy.id}",
            copy_id=copy.id,
            holder_id=clerk.id,
            feed_id=feed.id,
            period_from="2026-W41",
            period_to="2026-W41",
            confidence=0.9999,
            verdict={
                "candidates": [
                    {
                        "unit": f"copy:{copy.id}",
                        "label": copy.label,
                        "probability": 0.9999,
                        "period_from": "2026-W41",
                        "period_to": "2026-W41",
                    },
                    {
                        "unit": f"holder:{head.id}",
                        "label": "head-office",
                        "probability": 1e-4,
                        "period_from": "2026-W41",
                        "period_to": "2026-W41",
                    },
                ],
                "background": 3e-7,
            },
            explanation="1 of 1 canaries in the copy sent to clerk was called and named",
            event_count=2,
        )
        s.add(incident)
        s.flush()
        call.incident_id = sms.incident_id = incident.id
        context.clock = lambda: T0 + dt.timedelta(hours=2)
        lifecycle.record_change(
            s,
            context,
            incident,
            actor="system:attribution",
            change="opened",
            reason=incident.explanation,
            to_status="open",
        )
        # Unrelated evidence after the incident: part of the chain, not of the bundle's bodies.
        log.append(s, keys, "note", {"unrelated": True}, at=T0 + dt.timedelta(hours=3))
        return {
            "incident_id": incident.id,
            "canary_id": canary.id,
            "call_id": call.id,
            "sms_id": sms.id,
            "recording_id": recording.id,
        }


@pytest.fixture
def leak(context):
    return build_leak(context)


@pytest.fixture
def cli(context):
    from click.testing import CliRunner

    from canary.cli import main

    s = context.settings
    env = {"CANARY_HOME": s.home, "CANARY_DATABASE_URL": s.database_url}

    def run(*args, env_override=None):
        return CliRunner().invoke(main, list(args), env={**env, **(env_override or {})})

    return run
