"""The seed scenario end to end, over real HTTP on loopback.

Three hospitals send daily lists to head office; head office merges them into one list
and passes it on to two clerks; clerk Li sells it to a baby-photo studio, whose call
centre works through it. The webhooks arrive signed as Twilio signs them. The result
must be one incident naming clerk Li's copy, and an evidence bundle that verifies
offline.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from canary.attribution import views
from canary.demo import sample_feed
from canary.evidence import bundle, offline
from canary.feeds.inject import inject
from canary.flow import service as flow
from canary.periods import period_of
from canary.telephony import pool, simulator
from canary.telephony.models import Event

TWILIO = "+14155550100"
CALL_CENTRE = ("+8602160881234", "+8602160881235")  # two lines of one caller-ID block
HOSPITALS = ("仁济医院", "国际和平妇幼保健院", "红房子医院")
POOL = [f"+86{p}{n:08d}" for p in ("138", "139", "186", "135") for n in (16620417, 77340581)]
PHONE = sample_feed.COLUMN_MAP["phone"]
NAME = sample_feed.COLUMN_MAP["name"]


def _rows(path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("gb18030"))))


def _merge(paths, out):
    """Head office's weekly merge: one header, every hospital's rows."""
    lines = []
    for i, path in enumerate(paths):
        part = path.read_bytes().split(b"\r\n")
        lines.extend(part[:-1] if i == 0 else part[1:-1])
    out.write_bytes(b"\r\n".join(lines) + b"\r\n")
    return out


def test_clerks_sold_copy_is_named_and_the_bundle_verifies(context, live_server, tmp_path):
    context.settings = context.settings.replace(public_base_url=live_server.url)
    today = context.clock().date()
    period = period_of(today)
    with context.db.session() as s:
        for i, hospital in enumerate(HOSPITALS):
            flow.add_source(s, hospital, "test")
            flow.add_feed(
                s, f"h{i}-daily", "test", source=hospital, column_map=sample_feed.COLUMN_MAP
            )
        flow.add_holder(s, "head-office", "test", receives=[f"h{i}-daily" for i in range(3)])
        flow.add_feed(
            s, "ho-weekly", "test", produced_by="head-office", column_map=sample_feed.COLUMN_MAP
        )
        for clerk in ("clerk-li", "clerk-wang"):
            flow.add_holder(s, clerk, "test", receives=["ho-weekly"])
        for number in POOL:
            pool.add_number(s, context, number, forwards_to=TWILIO, quarantine_days=0, actor="test")

    received = []
    for i in range(3):
        raw = tmp_path / f"h{i}.csv"
        raw.write_bytes(sample_feed.daily_list_csv(today, seed=i + 1))
        out = tmp_path / f"h{i}.head-office.csv"
        inject(
            context,
            feed=f"h{i}-daily",
            input_path=raw,
            holders=["head-office"],
            period=period,
            output=out,
            actor="test",
        )
        received.append(out)
    merged = _merge(received, tmp_path / "weekly.csv")
    result = inject(
        context,
        feed="ho-weekly",
        input_path=merged,
        holders=["clerk-li", "clerk-wang"],
        period=period,
        out_dir=tmp_path / "clerks",
        actor="test",
    )
    copies = {o.holder: o for o in result.outputs}
    assert all(o.canaries_added >= 1 for o in copies.values())

    # The call centre calls and texts every mother on the sold list. Only canary numbers
    # forward to Twilio; a real mother's phone would ring on the real network.
    sold = _rows(tmp_path / "clerks" / "weekly.clerk-li.csv")
    reached = 0
    for i, row in enumerate(sold):
        digits = "".join(ch for ch in row[PHONE] if ch.isdigit())[-11:]
        local = f"+86{digits}"
        with context.db.session() as s:
            if pool.lookup(s, context, local) is None:
                continue
        caller = CALL_CENTRE[i % 2]
        call = simulator.send_call(
            live_server.url, "test-auth-token", TWILIO, caller, forwarded_from=local
        )
        assert call.status_code == 200
        sms = simulator.send_sms(
            live_server.url,
            "test-auth-token",
            TWILIO,
            caller,
            f"{row[NAME]}女士您好，恭喜喜得宝宝！新生儿写真免费拍，回复1预约。",
            forwarded_from=local,
        )
        assert sms.status_code == 200
        reached += 1
    assert reached >= 4  # three hospital canaries plus clerk Li's own

    with context.db.session() as s:
        incidents = views.list_incidents(s)
        assert len(incidents) == 1, [views.headline(i) for i in incidents]
        [incident] = incidents
        assert incident["holder"] == "clerk-li"
        assert incident["copy"] == "ho-weekly → clerk-li"
        assert incident["period_from"] == period and incident["confidence"] >= 0.99
        assert s.scalars(select(Event).where(Event.incident_id == incident["id"])).first()
        path = bundle.export(s, context, incident["id"], tmp_path / "case.zip", "investigator")

    report = offline.verify_bundle(path, expected_public_key=context.keys.evidence_public_key_b64())
    assert report.ok, report.problems
    assert report.incident_id == incident["id"]
