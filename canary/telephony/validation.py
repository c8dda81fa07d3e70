"""Checking that a webhook really comes from Twilio (X-Twilio-Signature).

Twilio signs the URL it called plus the sorted POST parameters (HMAC-SHA1 keyed with
the auth token; HMAC-SHA256 with a shared key when the request carries
``X-Twilio-Webhooks-Signature-Settings``). Two pitfalls this module exists for:

* Behind a TLS-terminating proxy the service sees ``http://10.0.0.5:8080/...`` while
  Twilio signed ``https://canary.example.org/...``. The validator never swaps schemes,
  so the URL is rebuilt from the configured public base URL, not from the request.
* For JSON-bodied callbacks the URL carries ``bodySHA256`` and the raw body *string*
  must be passed: ``RequestValidator.validate`` returns True for ``{}`` without ever
  checking the body hash, which would let anyone swap the body of a signed request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

from twilio.request_validator import (
    HMAC_SHA1,
    RequestValidator,
    get_signature_algorithm,
)

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: str  # for the log line: never includes the request's content


def public_url(public_base_url: str, path: str, query_string: str = "") -> str:
    """The URL Twilio called, as seen from outside (base URL may carry a path prefix)."""
    url = public_base_url.rstrip("/") + quote(path, safe="/-_.~%:@!$&'()*+,;=")
    return f"{url}?{query_string}" if query_string else url


def _secret_for(algorithm: str, settings_header: str, auth_token: str, shared_keys: Mapping):
    """Auth token for the legacy scheme; the named shared key for HMAC-SHA256."""
    if algorithm == HMAC_SHA1:
        return auth_token
    key_id = ""
    for part in settings_header.split(","):
        name, _, value = part.partition("=")
        if name.strip() == "key":
            key_id = value.strip()
    return str(shared_keys.get(key_id, "")) if key_id else ""


def verify(
    *,
    auth_token: str,
    url: str,
    params: Mapping[str, Any] | None,
    raw_body: str | None,
    signature: str | None,
    settings_header: str = "",
    shared_keys: Mapping[str, str] | None = None,
) -> Verdict:
    """Check one request. ``params`` for form-encoded bodies; ``raw_body`` for JSON ones.

    A JSON body is accepted only when the signed URL carries its ``bodySHA256``.
    """
    if not signature:
        return Verdict(False, "missing X-Twilio-Signature header")
    algorithm = get_signature_algorithm(settings_header)
    secret = _secret_for(algorithm, settings_header or "", auth_token, shared_keys or {})
    if not secret:
        return Verdict(False, f"no secret configured for signature scheme {algorithm}")
    validator = RequestValidator(secret)
    query = parse_qs(url.partition("?")[2])
    if raw_body is not None:
        if "bodySHA256" not in query:
            return Verdict(False, "JSON body without a signed bodySHA256 query parameter")
        ok = validator.validate(url, raw_body, signature, algorithm)
    else:
        if "bodySHA256" in query:
            return Verdict(False, "bodySHA256 in the URL but the body is not JSON")
        try:
            ok = validator.validate(url, params or {}, signature, algorithm)
        except UnicodeEncodeError:
            # Lone surrogates cannot be what Twilio signed (it signs UTF-8 text).
            return Verdict(False, "parameters are not valid Unicode")
    return Verdict(ok, "ok" if ok else f"signature does not match ({algorithm})")
