"""Twilio webhooks: check the signature, hand the parameters to intake, answer TwiML.

Every answer is one of: TwiML (200), 400 (garbled parameters), 403 (signature or
account), 413 (body too large). Log lines name the path and the reason, never a
parameter value: those are phone numbers and message text.
"""

from __future__ import annotations

import json
import logging
from typing import NamedTuple

from flask import Blueprint, Request, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import get_content_type
from werkzeug.wsgi import get_content_length

from canary.errors import CanaryError
from canary.telephony import intake, journal, twiml, validation
from canary.telephony.forms import FormFields, parse_form
from canary.telephony.inbound import BadWebhook
from canary.web.auth import ctx

bp = Blueprint("twilio", __name__, url_prefix="/twilio")
# ``app.extensions`` key of the app's webhook journal (absent: webhooks are committed
# before they are answered).
JOURNAL = "canary.webhook_journal"
log = logging.getLogger("canary.web.twilio")


# What ``mimetype="application/xml"`` makes of it, worked out once instead of per answer.
_XML = get_content_type("application/xml", "utf-8")


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type=_XML)


def _refuse(status: int, reason: str) -> Response:
    log.warning("twilio %s refused with %s: %s", request.path, status, reason)
    return Response(reason + "\n", status=status, mimetype="text/plain")


FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# The signature headers' keys in the WSGI environ.
_SIGNATURE = "HTTP_" + validation.SIGNATURE_HEADER.upper().replace("-", "_")
_SIGNATURE_SETTINGS = "HTTP_" + validation.SETTINGS_HEADER.upper().replace("-", "_")


class TruncatedBody(Exception):
    """The client sent fewer bytes than its Content-Length announced, or went away."""


class Body(NamedTuple):
    form: FormFields | None  # the fields of a body that is not JSON
    json_text: str | None  # the text of a JSON body
    raw: bytes
    # How the fields were read from ``raw`` (``intake.accept``'s ``body_format``); ""
    # when werkzeug read them, for a content type Twilio does not send.
    body_format: str


def _read(req: Request, length: int | None, max_bytes: int) -> Body:
    """The request body and what it holds (``length``: its Content-Length, at most
    ``max_bytes``)."""
    environ = req.environ
    mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if length is not None and mimetype in (FORM, JSON):
        # Twilio's callbacks always carry a Content-Length: read exactly that many bytes
        # from the server's input (PEP 3333), without werkzeug's stream wrappers, which
        # cost about as much as the rest of reading the request.
        try:
            raw = environ["wsgi.input"].read(length) if length else b""
        except (OSError, ValueError):
            raise TruncatedBody("client went away while its body was read") from None
        if len(raw) != length:
            raise TruncatedBody("body shorter than its Content-Length")
    else:
        # Per-request limit (Flask >= 3.1): reading a chunked body stops here with a 413.
        req.max_content_length = max_bytes + 1
        raw = req.get_data(cache=True)
        if length is None:
            # werkzeug cuts a chunked body at max_content_length without an error and
            # raises RequestEntityTooLarge on the next read (the limit is one byte over
            # webhook_max_bytes, so a body of exactly that size is read whole and passes).
            req.stream.read(1)
    if mimetype == JSON:
        return Body(None, raw.decode("utf-8", "surrogateescape"), raw, intake.BODY_JSON)
    if mimetype == FORM:
        try:
            return Body(parse_form(raw.decode()), None, raw, intake.BODY_FORM)
        except UnicodeDecodeError:
            # What werkzeug makes of it: its parser fails with a ValueError and
            # silently gives an empty form (so the signature check refuses it).
            return Body(FormFields(), None, raw, intake.BODY_FORM)
    return Body(FormFields.of(req.form.lists()), None, raw, "")


def _params(form: FormFields | None, json_text: str | None) -> dict:
    if json_text is None:
        return form  # a dict: ``inbound.read`` keeps a plain copy of it
    try:
        data = json.loads(json_text)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
        raise BadWebhook("the JSON body does not parse") from None
    if not isinstance(data, dict):
        raise BadWebhook("the JSON body is not an object")
    return data


def _handle(kind: str) -> Response | str:
    """Check and store one callback; the answer, or the called number's country."""
    context = ctx()
    settings = context.settings
    req = request._get_current_object()
    # What a callback needs is read from the WSGI environ (PEP 3333) rather than
    # through werkzeug's header and property objects: the same values, for a fifth of
    # what checking the request costs beyond its body and signature.
    environ = req.environ
    # Twilio's largest callbacks (an SMS of 1,600 characters with ten media URLs) are a
    # few KiB; anything much larger is not Twilio and is refused before it is read.
    length = get_content_length(environ)
    if length is not None and length > settings.webhook_max_bytes:
        return _refuse(413, f"body of {length} bytes exceeds webhook_max_bytes")
    try:
        body = _read(req, length, settings.webhook_max_bytes)
    except RequestEntityTooLarge:
        return _refuse(413, "body exceeds webhook_max_bytes")
    except TruncatedBody as exc:
        return _refuse(400, str(exc))
    url = validation.public_url(settings.public_base_url, req.path, environ.get("QUERY_STRING", ""))
    verdict = validation.verify(
        auth_token=settings.twilio_auth_token,
        url=url,
        params=body.form,
        raw_body=body.json_text,
        signature=environ.get(_SIGNATURE),
        settings_header=environ.get(_SIGNATURE_SETTINGS, ""),
        shared_keys=settings.extra.get("twilio_shared_keys") or {},
    )
    if not verdict.valid:
        return _refuse(403, verdict.reason)
    try:
        accepted = intake.accept(
            context,
            kind,
            _params(body.form, body.json_text),
            raw_body=body.raw,
            body_format=body.body_format,
            url=url,
        )
    except BadWebhook as exc:
        return _refuse(400, str(exc))
    except CanaryError as exc:
        return _refuse(exc.http_status, str(exc))
    webhook_journal = current_app.extensions.get(JOURNAL)
    if webhook_journal is not None:
        # Matched before it is journalled, so the journal thread always stores the
        # match the caller was answered with.
        country = intake.called_country(context, accepted) if kind == "call" else ""
        try:
            webhook_journal.append(accepted)
        except journal.JournalUnavailable as exc:
            log.warning("twilio %s: %s; storing it directly", req.path, exc)
        else:
            return country
    try:
        return intake.store(context, accepted).country
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
