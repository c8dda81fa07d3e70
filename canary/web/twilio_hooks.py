"""Twilio webhooks: check the signature, hand the parameters to intake, answer TwiML.

Every answer is one of: TwiML (200), 400 (garbled parameters), 403 (signature or
account), 413 (body too large). Log lines name the path and the reason, never a
parameter value: those are phone numbers and message text.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401  (registers the URL_QUOTE codec error handler)
from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import MultiDict

from canary.errors import CanaryError
from canary.telephony import intake, journal, twiml, validation
from canary.telephony.inbound import BadWebhook
from canary.web.auth import ctx

bp = Blueprint("twilio", __name__, url_prefix="/twilio")
# ``app.extensions`` key of the app's webhook journal (absent: webhooks are committed
# before they are answered).
JOURNAL = "canary.webhook_journal"
# werkzeug's codec error handler for form values (registered by werkzeug.urls): keeps
# undecodable percent-escapes as they were instead of failing.
URL_QUOTE = "werkzeug.url_quote"
log = logging.getLogger("canary.web.twilio")


def _max_body() -> int:
    # Twilio's largest callbacks (an SMS of 1,600 characters with ten media URLs) are a
    # few KiB; anything much larger is not Twilio and is refused before it is parsed.
    return ctx().settings.webhook_max_bytes


@bp.before_request
def _limit_body():
    # Per-request limit (Flask >= 3.1): form parsing stops at this size with a 413.
    request.max_content_length = _max_body()


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="application/xml")


def _refuse(status: int, reason: str) -> Response:
    log.warning("twilio %s refused with %s: %s", request.path, status, reason)
    return Response(reason + "\n", status=status, mimetype="text/plain")


def _read() -> tuple[MultiDict | None, str | None, bytes]:
    """(form params, raw JSON text, raw bytes) of the request body."""
    raw = request.get_data(cache=True)
    if request.mimetype == "application/json":
        return None, raw.decode("utf-8", "surrogateescape"), raw
    if request.mimetype == "application/x-www-form-urlencoded":
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            return request.form, None, raw  # werkzeug's own answer to a garbled body
        # Exactly what werkzeug's form parser does with the body, without the
        # machinery around it (a fifth of a journalled webhook's time).
        return MultiDict(parse_qsl(text, keep_blank_values=True, errors=URL_QUOTE)), None, raw
    return request.form, None, raw


def _params(form, json_text: str | None) -> dict:
    if json_text is None:
        return {k: (v[0] if len(v) == 1 else v) for k, v in form.to_dict(flat=False).items()}
    try:
        data = json.loads(json_text)
    except ValueError:
        raise BadWebhook("the JSON body does not parse") from None
    if not isinstance(data, dict):
        raise BadWebhook("the JSON body is not an object")
    return data


def _handle(kind: str) -> Response | str:
    """Check and store one callback; the answer, or the called number's country."""
    settings = ctx().settings
    length = request.content_length
    if length is not None and length > _max_body():
        return _refuse(413, f"body of {length} bytes exceeds webhook_max_bytes")
    form, json_text, raw = _read()
    url = validation.public_url(
        settings.public_base_url, request.path, request.query_string.decode("latin-1")
    )
    verdict = validation.verify(
        auth_token=settings.twilio_auth_token,
        url=url,
        params=form,
        raw_body=json_text,
        signature=request.headers.get(validation.SIGNATURE_HEADER),
        settings_header=request.headers.get(validation.SETTINGS_HEADER, ""),
        shared_keys=settings.extra.get("twilio_shared_keys") or {},
    )
    if not verdict.valid:
        return _refuse(403, verdict.reason)
    try:
        accepted = intake.accept(ctx(), kind, _params(form, json_text), raw_body=raw, url=url)
    except BadWebhook as exc:
        return _refuse(400, str(exc))
    except CanaryError as exc:
        return _refuse(exc.http_status, str(exc))
    webhook_journal = current_app.extensions.get(JOURNAL)
    if webhook_journal is not None:
        try:
            webhook_journal.append(accepted)
        except journal.JournalUnavailable as exc:
            log.warning("twilio %s: %s; storing it directly", request.path, exc)
        else:
            return intake.called_country(ctx(), accepted.item) if kind == "call" else ""
    try:
        return intake.store(ctx(), accepted).country
    except SQLAlchemyError as exc:
        # The database is down or locked beyond its timeout. Nothing was stored, but
        # the call is in Twilio's call list: the poll job backfills it later.
        return _refuse(
            503, f"event store unavailable ({type(exc).__name__}); polling will backfill"
        )


@bp.post("/voice")
def voice():
    """An inbound call: store it, then answer like a private voicemail and record."""
    outcome = _handle("call")
    if isinstance(outcome, Response):
        return outcome
    settings = ctx().settings
    return _xml(twiml.voicemail(settings, twiml.locale_for(outcome, settings)))


@bp.post("/sms")
def sms():
    """An inbound SMS or MMS: store it; no reply."""
    outcome = _handle("sms")
    return outcome if isinstance(outcome, Response) else _xml(twiml.empty_messaging())


@bp.post("/recording")
def recording():
    """Recording status callback and the <Record action>: store; end the call."""
    outcome = _handle("recording")
    return outcome if isinstance(outcome, Response) else _xml(twiml.hangup())


@bp.post("/status")
def status():
    outcome = _handle("status")
    return outcome if isinstance(outcome, Response) else _xml(twiml.empty_messaging())


@bp.post("/transcription")
def transcription():
    outcome = _handle("transcription")
    return outcome if isinstance(outcome, Response) else _xml(twiml.empty_messaging())
