"""E-mail over SMTP with the standard library (smtplib, email.message).

STARTTLS (or implicit TLS) verifies the server's certificate with the system's trust
store. The Message-ID is derived from the stable delivery id, so a mail client or
a mail rule can spot a retried alert.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from canary.alerts.channels import Message, SendResult, render


def build(message: Message, target: dict[str, Any]) -> EmailMessage:
    """The e-mail: plain text, with the JSON payload attached for automated triage."""
    mail = EmailMessage()
    mail["Subject"] = render.title(message.payload)
    mail["From"] = target["from"]
    mail["To"] = ", ".join(target["to"])
    mail["Date"] = format_datetime(message.timestamp)
    mail["Message-ID"] = f"<{message.message_id}@canary.alerts>"
    mail["X-Canary-Event"] = message.event_type
    mail.set_content(render.plain_text(message.payload))
    mail.add_attachment(
        message.body().encode("utf-8"),
        maintype="application",
        subtype="json",
        filename=f"{message.message_id}.json",
    )
    return mail


class EmailChannel:
    def __init__(self, tls_context: ssl.SSLContext | None = None):
        self._tls = tls_context

    def send(
        self, message: Message, target: dict[str, Any], secret: str | None, *, timeout: float
    ) -> SendResult:
        started = time.perf_counter()
        tls = self._tls or ssl.create_default_context()
        mail = build(message, target)
        try:
            if target.get("ssl"):
                client = smtplib.SMTP_SSL(
                    target["host"], int(target["port"]), timeout=timeout, context=tls
                )
            else:
                client = smtplib.SMTP(target["host"], int(target["port"]), timeout=timeout)
            with client:
                if target.get("starttls") and not target.get("ssl"):
                    client.starttls(context=tls)
                if target.get("username"):
                    client.login(target["username"], target.get("password", ""))
                refused = client.send_message(mail)
        except smtplib.SMTPResponseException as exc:
            # The server's reply code only: its text may quote addresses.
            return SendResult(False, exc.smtp_code, f"SMTP {exc.smtp_code}", _ms(started))
        except (smtplib.SMTPException, OSError) as exc:
            return SendResult(False, None, f"SMTP failed ({type(exc).__name__})", _ms(started))
        # Some recipients took it: retrying would send them duplicates, so it counts as
        # delivered, with the refusals noted. (All refused raises SMTPRecipientsRefused.)
        note = f"{len(refused)} recipient(s) refused" if refused else ""
        return SendResult(True, 250, note, _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 1)
