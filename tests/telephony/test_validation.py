"""Our signature check accepts exactly what the Twilio SDK's RequestValidator accepts."""

from __future__ import annotations

import random

from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from canary.telephony import validation
from canary.telephony.forms import FormFields

TOKEN = "test-auth-token"
URLS = (
    "https://canary.example.org/twilio/voice",
    "https://canary.example.org:443/twilio/voice",
    "http://127.0.0.1:8080/twilio/sms?x=1&y=%20z",
    "https://canary.example.org/prefix/twilio/status",
)
ALPHABET = "abcXYZ019 +-_&=%?/:é王芳\u00a0"


def _random_form(rng: random.Random) -> MultiDict:
    form = MultiDict()
    for _ in range(rng.randrange(0, 8)):
        name = "".join(rng.choice("ABCDEFGHIJ_xyz") for _ in range(rng.randrange(1, 6)))
        for _ in range(rng.randrange(1, 3)):  # repeated names and values, as forms allow
            form.add(name, "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 12))))
    return form


def _verify(url, form, signature):
    return validation.verify(
        auth_token=TOKEN, url=url, params=form, raw_body=None, signature=signature
    ).valid


def test_agrees_with_the_sdk_on_valid_and_tampered_requests():
    rng = random.Random(11)
    sdk = RequestValidator(TOKEN)
    for _ in range(400):
        url = rng.choice(URLS)
        form = _random_form(rng)
        signed_url = rng.choice([url, url.replace(":443", ""), url.replace(".org/", ".org:443/")])
        signature = sdk.compute_signature(signed_url, form)
        if rng.random() < 0.5:  # tamper: another value, another token, another path
            choice = rng.randrange(3)
            if choice == 0:
                form.add("Extra", "1")
            elif choice == 1:
                signature = RequestValidator("other-token").compute_signature(signed_url, form)
            else:
                url = url.replace("/twilio/", "/twilio/x")
        expected = sdk.validate(url, form, signature)
        assert _verify(url, form, signature) == expected, (url, form)
        # The webhook view's own form type (bare single values, lists for repeats).
        assert _verify(url, FormFields.of(form.lists()), signature) == expected, (url, form)


def test_a_signature_over_other_parameters_or_a_cut_signature_is_refused():
    form = MultiDict([("CallSid", "CA" + "1" * 32), ("From", "+8613912345678")])
    url = "https://canary.example.org/twilio/voice"
    signature = RequestValidator(TOKEN).compute_signature(url, form)
    assert _verify(url, form, signature)
    assert _verify("https://canary.example.org:443/twilio/voice", form, signature)
    other = MultiDict([("CallSid", "CA" + "1" * 32), ("From", "+8613900000000")])
    assert not _verify(url, other, signature)
    assert not _verify(url, form, signature[:-2] + "==")
    assert not _verify(url, form, "")
