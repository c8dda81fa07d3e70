"""Each channel over its real transport: HTTP to a loopback receiver, SMTP to a local
mail server (aiosmtpd), with STARTTLS and login."""

from __future__ import annotations

import datetime as dt
import email
import json
import socket
import ssl
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from canary.alerts import destinations, outbox
from canary.alerts.channels import Message, slack, smtp, teams
from tests.alerts.conftest import make_incident

SAMPLE = {
    "type": "incident.opened",
    "timestamp": "2026-11-29T10:00:00+00:00",
    "data": {
        "incident_id": 7,
        "status": "open",
        "verdict": {"leak_point": "newborns-a → clerk", "unit": "copy:3"},
        "confidence": 0.99991,
        "period": {"from": "2026-W40", "to": "2026-W44", "label": "2026-W40–W44"},
        "holder": {"id": 2, "name": "clerk"},
        "feed": {"id": 1, "name": "newborns-a"},
        "copy": {"id": 3, "label": "newborns-a → clerk"},
        "evidence": {"events": 9, "calls": 8, "messages": 1, "canaries": 7, "numbers": 7},
        "explanation": "7 of 9 canaries were called. " * 200,
        "candidates": [],
        "link": "https://canary.example.org/incidents/7",
    },
}


def test_slack_message_is_block_kit_with_fallback_text_and_link():
    message = slack.blocks(SAMPLE)
    assert message["text"].startswith("canary: Leak detected — incident #7")
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds == ["header", "section", "section", "actions"]
    header = message["blocks"][0]["text"]
    assert header["type"] == "plain_text" and len(header["text"]) <= 150
    fields = message["blocks"][1]["fields"]
    assert len(fields) <= 10 and any("*Confidence*\n0.9999" in f["text"] for f in fields)
    assert len(message["blocks"][2]["text"]["text"]) <= 3000  # long explanation shortened
    assert message["blocks"][3]["elements"][0]["url"] == SAMPLE["data"]["link"]


def test_teams_message_wraps_an_adaptive_card():
    message = teams.card(SAMPLE)
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Holder"] == "clerk" and facts["Period"] == "2026-W40–W44"
    assert card["actions"][0] == {
        "type": "Action.OpenUrl",
        "title": "Open incident",
        "url": SAMPLE["data"]["link"],
    }


@pytest.mark.parametrize("kind", ["slack", "teams"])
def test_chat_channels_post_over_http(context, world, clock, webhook_receiver, kind):
    with context.db.session() as s:
        destinations.add(s, context.keys, kind, kind, webhook_receiver.url, actor="t")
    incident_id = make_incident(context, world)
    with context.db.session() as s:
        from canary.attribution.models import Incident

        outbox.enqueue_incident(s, context, s.get(Incident, incident_id), "incident.opened")
    assert outbox.drain(context) == 1
    [request] = webhook_receiver.wait_for(1)
    body = json.loads(request["body"])
    assert ("blocks" in body) if kind == "slack" else (body["type"] == "message")
    assert "webhook-signature" not in {k.lower() for k in request["headers"]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        self.envelopes.append(envelope)
        return "250 OK"


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def smtp_server(tmp_path):
    """A real SMTP server on loopback with STARTTLS and required login."""
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    inbox = _Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    client_tls = ssl.create_default_context(cafile=str(cert))
    yield controller, inbox, client_tls, logins
    controller.stop()


def _email_target(port, password="s3cret"):
    return destinations.email_target(
        "mailto:soc@example.org,ciso@example.org",
        host="127.0.0.1",
        port=port,
        sender="canary@example.org",
        username="canary",
        password=password,
    )


def test_email_is_delivered_over_starttls_with_login(smtp_server):
    controller, inbox, client_tls, logins = smtp_server
    message = Message("msg_abc", "incident.opened", SAMPLE, dt.datetime.now(dt.UTC))
    result = smtp.EmailChannel(tls_context=client_tls).send(
        message, _email_target(controller.port), None, timeout=5
    )
    assert result.ok, result
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "canary@example.org"
    assert envelope.rcpt_tos == ["soc@example.org", "ciso@example.org"]
    assert logins == [(b"canary", b"s3cret")]
    mail = email.message_from_bytes(envelope.content, policy=policy.default)
    assert mail["Subject"].startswith("canary: Leak detected — incident #7")
    assert mail["Message-ID"] == "<msg_abc@canary.alerts>"
    text = mail.get_body(("plain",)).get_content()
    assert "https://canary.example.org/incidents/7" in text and "Holder: clerk" in text
    attachment = next(mail.iter_attachments())
    assert json.loads(attachment.get_content())["data"]["incident_id"] == 7


def test_email_with_bad_credentials_fails_without_leaking_them(smtp_server):
    controller, inbox, client_tls, _ = smtp_server
    message = Message("msg_x", "test", SAMPLE, dt.datetime.now(dt.UTC))
    result = smtp.EmailChannel(tls_context=client_tls).send(
        message, _email_target(controller.port, password="wrong"), None, timeout=2
    )
    assert not result.ok and result.error.startswith("SMTP")
    assert "wrong" not in result.error and inbox.envelopes == []


def test_email_to_an_unreachable_server_is_a_retryable_failure():
    message = Message("msg_y", "test", SAMPLE, dt.datetime.now(dt.UTC))
    result = smtp.EmailChannel().send(message, _email_target(_free_port()), None, timeout=2)
    assert not result.ok and "SMTP failed" in result.error


def test_email_destination_stores_smtp_settings_encrypted(context, smtp_server):
    controller, inbox, client_tls, _ = smtp_server
    with context.db.session() as s:
        dest, secret = destinations.add(
            s, context.keys, "soc-mail", "email", _email_target(controller.port), actor="t"
        )
        assert secret is None
        assert b"s3cret" not in dest.target_enc and b"example.org" not in dest.target_enc
    delivery, result = outbox.send_test(
        context,
        "soc-mail",
        actor="t",
        channels={"email": smtp.EmailChannel(tls_context=client_tls)},
    )
    assert result.ok and delivery["status"] == "delivered"
    assert len(inbox.envelopes) == 1
