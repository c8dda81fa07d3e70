"""`canary demo`: the whole loop on loopback, in under a minute, leaving nothing running.

A hospital's daily list goes to head office and to a clerk, each copy with its own
canaries. The clerk's copy is sold; a call centre works through it. The simulated
Twilio network delivers a signed webhook only for numbers that forward to canary
(as the real one would), attribution names the clerk's copy and week, and a signed
alert reaches a local receiver, which verifies it.
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from standardwebhooks import Webhook
from werkzeug.serving import make_server

from canary import periods
from canary.context import Context, open_context
from canary.demo import sample_feed
from canary.demo.receiver import WebhookReceiver
from canary.feeds.inject import InjectResult
from canary.settings import load_settings
from canary.web import close_app

Say = Callable[[str, str], None]

HOSPITAL = "仁济医院(示例)"
FEED = "renji-daily-newborns"
HOLDERS = ("head-office", "clerk-li")
LEAKER = "clerk-li"
TWILIO_NUMBER = "+14155550100"  # the Twilio number the local canary numbers forward to
# Local Shanghai mobiles in the pool; each forwards to the Twilio number.
POOL = (
    "+8613816620417",
    "+8613917734058",
    "+8618621095536",
    "+8615821347790",
    "+8613671128864",
    "+8618917350642",
    "+8613524416078",
    "+8615900718253",
)
MARKETER = "+8602160881234"  # the call centre's caller ID


@dataclass
class DemoResult:
    incident: dict | None = None
    alert: dict | None = None
    signature_verified: bool = False
    outputs: dict[str, Path] = field(default_factory=dict)


class _LateApp:
    """Lets the server pick its port before the app (which needs the public URL) exists."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def run_demo(say: Say, workdir: Path | None = None, keep: bool = False) -> DemoResult:
    """Run every step, reporting through ``say(step, text)``."""
    root = Path(workdir or tempfile.mkdtemp(prefix="canary-demo-"))
    late = _LateApp()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    receiver = WebhookReceiver().start()
    auth_token = secrets.token_hex(16)
    settings = load_settings(
        {
            "home": str(root / "home"),
            "database_url": "",
            "public_base_url": base_url,
            "twilio_account_sid": "AC" + secrets.token_hex(16),
            "twilio_auth_token": auth_token,
            "scheduler_in_serve": False,
            "quarantine_days": 0,
            "log_level": "WARNING",
        },
        environ={},
    )
    ctx = open_context(settings, initialise=True)
    # The demo narrates each step itself; per-request access lines would drown it.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    try:
        result = DemoResult()
        _map(ctx, say)
        _pool(ctx, say)
        secret = _destination(ctx, receiver, say)
        result.outputs = _inject(ctx, root, say)
        from canary.web import create_app

        late.app = create_app(context=ctx)
        thread.start()
        say(
            "serve",
            f"web service listening on {base_url} (Twilio webhooks at /twilio/voice, /twilio/sms)",
        )
        _leak_and_call(ctx, base_url, result.outputs[LEAKER], say)
        result.incident = _attribute(ctx, say)
        result.alert, result.signature_verified = _alert(ctx, receiver, secret, say)
        return result
    finally:
        server.shutdown() if thread.is_alive() else None
        server.server_close()
        if late.app is not None:
            close_app(late.app)
        receiver.stop()
        ctx.close()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            say("done", f"files kept in {root}")


def _map(ctx: Context, say: Say) -> None:
    from canary.flow import service as flow

    with ctx.db.session() as s:
        flow.add_source(s, HOSPITAL, "demo")
        flow.add_feed(
            s, FEED, "demo", source=HOSPITAL, fmt="csv", column_map=sample_feed.COLUMN_MAP
        )
        for holder in HOLDERS:
            flow.add_holder(s, holder, "demo", receives=[FEED])
    say("map", f"source {HOSPITAL} sends feed {FEED} to holders {', '.join(HOLDERS)}")


def _pool(ctx: Context, say: Say) -> None:
    from canary.telephony import pool

    with ctx.db.session() as s:
        for number in POOL:
            pool.add_number(
                s, ctx, number, forwards_to=TWILIO_NUMBER, quarantine_days=0, actor="demo"
            )
    say("numbers", f"{len(POOL)} local mobile numbers forward to Twilio number {TWILIO_NUMBER}")


def _destination(ctx: Context, receiver: WebhookReceiver, say: Say) -> str:
    from canary.alerts import destinations

    with ctx.db.session() as s:
        _dest, secret = destinations.add(
            s, ctx, name="security-team", kind="webhook", url=receiver.url, actor="demo"
        )
    say("alerts", f"signed webhook destination -> {receiver.url}")
    return secret


def _inject(ctx: Context, root: Path, say: Say) -> dict[str, Path]:
    from canary.feeds.inject import inject

    today = ctx.clock().date()
    period = periods.period_of(today)
    source_file = root / f"renji-{today:%Y%m%d}.csv"
    source_file.write_bytes(sample_feed.daily_list_csv(today))
    outputs = {}
    for holder in HOLDERS:
        out = root / "out" / f"{holder}-{today:%Y%m%d}.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        report = inject(
            ctx,
            feed=FEED,
            input_path=source_file,
            holders=[holder],
            period=period,
            output=out,
            actor="demo",
        )
        outputs[holder] = out
        say("inject", f"{holder}: wrote {out.name} for {period} — {_describe(report)}")
    return outputs


def _describe(result: InjectResult) -> str:
    return "; ".join(
        f"{o.rows_written} rows, {o.canaries_added} canary row(s) blended in"
        for o in result.outputs
    )


def _leak_and_call(ctx: Context, base_url: str, leaked: Path, say: Say) -> None:
    """The clerk sells the file; the call centre calls every row and texts the mother by name."""
    from canary.telephony import pool, simulator

    # Signed as Twilio would sign them for this account.
    twilio = {
        "auth_token": ctx.settings.twilio_auth_token,
        "account_sid": ctx.settings.twilio_account_sid,
    }
    rows = list(csv.DictReader(io.StringIO(leaked.read_bytes().decode("gb18030"))))
    say("leak", f"{LEAKER}'s copy ({len(rows)} rows) is sold to a baby-photo studio's call centre")
    delivered = 0
    for row in rows:
        number = row[sample_feed.COLUMN_MAP["phone"]]
        with ctx.db.session() as s:
            ours = pool.lookup(s, ctx, number) is not None
        if not ours:
            continue  # a real mother's phone: the real network, not canary, would ring
        local = "+86" + "".join(ch for ch in number if ch.isdigit())[-11:]
        call = simulator.send_call(
            base_url, **twilio, to=TWILIO_NUMBER, from_=MARKETER, forwarded_from=local
        )
        say(
            "call",
            f"call centre {MARKETER} -> {local} (forwarded to Twilio): HTTP {call.status_code}",
        )
        body = f"{row[sample_feed.COLUMN_MAP['name']]}女士您好，恭喜喜得宝宝！本周新生儿写真免费拍，回复1预约。"
        sms = simulator.send_sms(
            base_url, **twilio, to=TWILIO_NUMBER, from_=MARKETER, body=body, forwarded_from=local
        )
        say("sms", f"call centre texts the mother by name -> {local}: HTTP {sms.status_code}")
        delivered += 1
    if not delivered:
        raise RuntimeError("no canary number was reached; the demo expected one in the leaked copy")


def _attribute(ctx: Context, say: Say, timeout: float = 15.0) -> dict | None:
    """The open incident, once the service has stored and attributed the contacts.

    Webhooks are answered once journalled and stored moments later
    (``webhook_journal``), so the incident is waited for, as an operator would.
    """
    from canary.attribution import views

    deadline = time.monotonic() + timeout
    while True:
        with ctx.db.session() as s:
            incidents = views.list_incidents(s, status="open")
        if incidents or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if not incidents:
        say("attribute", "no incident opened")
        return None
    top = incidents[0]
    say("attribute", views.headline(top))
    if top.get("explanation"):
        say("why", top["explanation"])
    return top


def _alert(
    ctx: Context, receiver: WebhookReceiver, secret: str, say: Say
) -> tuple[dict | None, bool]:
    from canary.alerts import outbox

    outbox.drain(ctx)
    got = receiver.wait_for(1, timeout=10)
    if not got:
        say("alert", "no alert arrived")
        return None, False
    request = got[0]
    payload = Webhook(secret).verify(request["body"], request["headers"])
    say(
        "alert",
        f"receiver got {request['headers'].get('webhook-id') or request['headers'].get('Webhook-Id')}, "
        f"signature verified with standardwebhooks",
    )
    return payload, True
