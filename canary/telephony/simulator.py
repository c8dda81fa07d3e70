"""DEVELOPMENT TOOL: act as Twilio and send webhooks to a running canary service.

The Twilio cloud cannot reach a laptop or a test, so this sends exactly the form
fields Twilio sends for an inbound call, SMS, recording or status callback, signed
exactly as Twilio signs them (``RequestValidator.compute_signature`` over the public
URL and the parameters). It is used by ``canary simulate``, the demo and the tests.
It never talks to Twilio itself.
"""

from __future__ import annotations

import secrets
from typing import Any

import requests
from twilio.request_validator import RequestValidator

from canary import phones

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT = "AC" + "0" * 32


def new_sid(prefix: str) -> str:
    """A fresh SID of the given type (``CA`` call, ``SM`` message, ``RE`` recording...)."""
    return prefix + secrets.token_hex(16)


def _geo(e164: str | None, role: str) -> dict[str, str]:
    # Twilio adds city/state/zip/country for each side; it leaves them empty when the
    # carrier does not say, which is what happens for most non-US numbers.
    country = phones.region_of(e164) if e164 and e164.startswith("+") else ""
    return {f"{role}City": "", f"{role}State": "", f"{role}Zip": "", f"{role}Country": country}


def call_params(
    to: str,
    from_: str,
    *,
    account_sid: str = DEFAULT_ACCOUNT,
    call_sid: str | None = None,
    forwarded_from: str | None = None,
    status: str = "ringing",
    **extra: Any,
) -> dict[str, str]:
    """The parameters of Twilio's voice webhook for an inbound call."""
    params = {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": call_sid or new_sid("CA"),
        "CallStatus": status,
        "CallToken": "",
        "Called": to,
        "Caller": from_,
        "Direction": "inbound",
        "From": from_,
        "To": to,
        "StirVerstat": "",
        **_geo(to, "Called"),
        **_geo(to, "To"),
        **_geo(from_, "Caller"),
        **_geo(from_, "From"),
    }
    if forwarded_from:
        params["ForwardedFrom"] = forwarded_from
    params.update({k: str(v) for k, v in extra.items()})
    return params


def sms_params(
    to: str,
    from_: str,
    body: str,
    *,
    account_sid: str = DEFAULT_ACCOUNT,
    message_sid: str | None = None,
    media_urls: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, str]:
    """The parameters of Twilio's messaging webhook for an inbound SMS/MMS."""
    sid = message_sid or new_sid("MM" if media_urls else "SM")
    params = {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "Body": body,
        "From": from_,
        "MessageSid": sid,
        "MessagingServiceSid": "",
        "NumMedia": str(len(media_urls)),
        "NumSegments": str(max(1, -(-len(body) // 70))),
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "To": to,
        **_geo(from_, "From"),
        **_geo(to, "To"),
    }
    for i, url in enumerate(media_urls):
        params[f"MediaUrl{i}"] = url
        params[f"MediaContentType{i}"] = "image/jpeg"
    params.update({k: str(v) for k, v in extra.items()})
    return params


def recording_params(
    call_sid: str,
    *,
    account_sid: str = DEFAULT_ACCOUNT,
    recording_sid: str | None = None,
    duration: int = 12,
    url: str | None = None,
    **extra: Any,
) -> dict[str, str]:
    """The parameters of Twilio's recording status callback (completed)."""
    sid = recording_sid or new_sid("RE")
    params = {
        "AccountSid": account_sid,
        "CallSid": call_sid,
        "ErrorCode": "0",
        "RecordingChannels": "1",
        "RecordingDuration": str(duration),
        "RecordingSid": sid,
        "RecordingSource": "RecordVerb",
        "RecordingStartTime": "",
        "RecordingStatus": "completed",
        "RecordingTrack": "both",
        "RecordingUrl": url
        or f"https://api.twilio.com/{API_VERSION}/Accounts/{account_sid}/Recordings/{sid}",
    }
    params.update({k: str(v) for k, v in extra.items()})
    return params


def sign(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature for a form-encoded POST to ``url``."""
    return RequestValidator(auth_token).compute_signature(url, params)


def post(
    base_url: str,
    path: str,
    auth_token: str,
    params: dict[str, str],
    *,
    public_base_url: str | None = None,
    timeout: float = 10.0,
) -> requests.Response:
    """POST signed form parameters to ``base_url + path``.

    ``public_base_url`` is the URL Twilio would have called (behind a proxy it differs
    from where this process can reach the service); it is what gets signed.
    """
    signed_url = (public_base_url or base_url).rstrip("/") + path
    return requests.post(
        base_url.rstrip("/") + path,
        data=params,
        headers={
            "X-Twilio-Signature": sign(auth_token, signed_url, params),
            "User-Agent": "TwilioProxy/1.1",
        },
        timeout=timeout,
    )


def send_call(
    base_url: str,
    auth_token: str,
    to: str,
    from_: str,
    forwarded_from: str | None = None,
    *,
    public_base_url: str | None = None,
    **extra: Any,
) -> requests.Response:
    """Send the voice webhook of an inbound call. Returns the TwiML response."""
    params = call_params(to, from_, forwarded_from=forwarded_from, **extra)
    return post(base_url, "/twilio/voice", auth_token, params, public_base_url=public_base_url)


def send_sms(
    base_url: str,
    auth_token: str,
    to: str,
    from_: str,
    body: str,
    forwarded_from: str | None = None,
    *,
    public_base_url: str | None = None,
    **extra: Any,
) -> requests.Response:
    """Send the messaging webhook of an inbound SMS."""
    if forwarded_from:
        extra["ForwardedFrom"] = forwarded_from
    params = sms_params(to, from_, body, **extra)
    return post(base_url, "/twilio/sms", auth_token, params, public_base_url=public_base_url)


def send_recording(
    base_url: str,
    auth_token: str,
    call_sid: str,
    *,
    public_base_url: str | None = None,
    **extra: Any,
) -> requests.Response:
    """Send the recording status callback for a call's voicemail."""
    params = recording_params(call_sid, **extra)
    return post(base_url, "/twilio/recording", auth_token, params, public_base_url=public_base_url)
