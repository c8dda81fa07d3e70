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

import base64
import functools
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    RequestValidator,
    add_port,
    get_signature_algorithm,
    remove_port,
)

from canary.security.crypto import keyed_hash
from canary.telephony.forms import FormFields

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
_HASHES = {HMAC_SHA1: "sha1", HMAC_SHA256: "sha256"}


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: str  # for the log line: never includes the request's content


def public_url(public_base_url: str, path: str, query_string: str = "") -> str:
    """The URL Twilio called, as seen from outside (base URL may carry a path prefix)."""
    url = _public_path(public_base_url, path)
    return f"{url}?{query_string}" if query_string else url


@functools.lru_cache(maxsize=64)  # a handful of webhook paths per base URL
def _public_path(public_base_url: str, path: str) -> str:
    return public_base_url.rstrip("/") + quote(path, safe="/-_.~%:@!$&'()*+,;=")


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


@functools.lru_cache(maxsize=256)
def _url_variants(url: str) -> tuple[str, ...]:
    """The URL as signed with and without its port: Twilio's signing is inconsistent
    about default ports, so the SDK accepts either (``remove_port``/``add_port``)."""
    parsed = urlparse(url)
    variants = (remove_port(parsed), add_port(parsed))
    # The one spelled as configured first: Twilio signed that unless a port differs.
    return tuple(dict.fromkeys(v for v in (url, *variants) if v in variants))


def _param_text(params: Mapping[str, Any]) -> str:
    """What the SDK's ``compute_signature`` appends to the URL: each name, sorted, then
    each of its distinct values, sorted (``getlist`` for a multi-valued form)."""
    if isinstance(params, FormFields):
        pairs = params.items()  # a value, or the list of a name's values
    else:
        lists = getattr(params, "lists", None)
        pairs = lists() if lists is not None else ((name, [params[name]]) for name in params)
    parts = []
    for name, values in sorted(pairs):  # names are unique: the values never compare
        if type(values) is str:
            parts.append(name + values)
        elif len(values) == 1:
            parts.append(name + values[0])
        else:
            parts.extend(name + value for value in sorted(set(values)))
    return "".join(parts)


def _form_signature_ok(
    secret: str, url: str, params: Mapping[str, Any], signature: str, algorithm: str
) -> bool:
    """``RequestValidator.validate`` for a form body, with the parameter text built once
    for both URL variants (the SDK builds it twice: a third of a webhook's time)."""
    hash_name = _HASHES.get(algorithm.upper())
    if hash_name is None:
        return False
    mac_of = keyed_hash(secret.encode("utf-8"), hash_name).digest
    expected = signature.encode("utf-8", "replace")
    tail = _param_text(params).encode("utf-8")
    for variant in _url_variants(url):
        mac = mac_of(variant.encode("utf-8") + tail)
        if hmac.compare_digest(base64.b64encode(mac), expected):
            return True
    return False


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
    if algorithm.upper() not in _HASHES:
        # Header text from anyone: not echoed into the log or the answer.
        return Verdict(False, "unknown signature algorithm in the signature settings header")
    secret = _secret_for(algorithm, settings_header or "", auth_token, shared_keys or {})
    if not secret:
        return Verdict(False, f"no secret configured for signature scheme {algorithm}")
    query = url.partition("?")[2]
    signed_body_hash = "bodySHA256" in parse_qs(query) if query else False
    if raw_body is not None:
        if not signed_body_hash:
            return Verdict(False, "JSON body without a signed bodySHA256 query parameter")
        try:
            ok = RequestValidator(secret).validate(url, raw_body, signature, algorithm)
        except UnicodeEncodeError:
            # The view decodes a JSON body with surrogateescape; Twilio sends UTF-8.
            return Verdict(False, "JSON body is not valid UTF-8")
    else:
        if signed_body_hash:
            return Verdict(False, "bodySHA256 in the URL but the body is not JSON")
        try:
            ok = _form_signature_ok(secret, url, params or {}, signature, algorithm)
        except UnicodeEncodeError:
            # Lone surrogates cannot be what Twilio signed (it signs UTF-8 text).
            return Verdict(False, "parameters are not valid Unicode")
    return Verdict(ok, "ok" if ok else f"signature does not match ({algorithm})")
