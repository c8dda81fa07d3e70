"""The webhook form reader gives exactly what werkzeug's own form parser gives."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl, urlencode

from werkzeug.datastructures import MultiDict

from canary.telephony import simulator
from canary.telephony.forms import FormFields, parse_form

# Pieces that make form parsing hard: separators plain and escaped, plus signs,
# escapes that decode to valid and to invalid UTF-8, bare and truncated percent signs.
PIECES = [
    "a",
    "Z",
    "0",
    "&",
    "=",
    "+",
    "%26",
    "%3D",
    "%3d",
    "%2B",
    "%20",
    "%25",
    "%E7%8E%8B",
    "%E7%8E",
    "%FF",
    "%C3",
    "%",
    "%4",
    "%zz",
    "王",
    " ",
    "\u00a0",
    "&&",
    "==",
]


def _werkzeug(text: str) -> MultiDict:
    return MultiDict(parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote"))


def _same(text: str) -> None:
    expected = _werkzeug(text)
    got = parse_form(text)
    assert list(got.lists()) == list(expected.lists()), text
    for name, values in expected.lists():
        assert got.getlist(name) == values, text
        # A name's one value is kept bare; several are kept as a list, in order.
        assert got.flat()[name] == (values[0] if len(values) == 1 else values), text


def test_random_bodies_parse_as_werkzeug_parses_them():
    rng = random.Random(5)
    for _ in range(5000):
        _same("".join(rng.choice(PIECES) for _ in range(rng.randrange(0, 24))))


def test_twilio_callbacks_parse_as_werkzeug_parses_them():
    params = simulator.call_params(
        "+14155550001", "+8613912345678", forwarded_from="+8613800000001"
    )
    _same(urlencode(params))
    sms = simulator.sms_params("+14155550001", "+8613912345678", "王女士 a&b=c 100%+")
    _same(urlencode(sms))
    _same(urlencode([("MediaUrl0", "https://x/?a=1&b=2"), ("MediaUrl0", "y")]))


def test_fields_read_like_a_multidict():
    fields = parse_form("To=%2B1&Media=a&Media=b&Empty=")
    assert fields.getlist("Media") == ["a", "b"]
    assert fields.getlist("Missing") == []
    assert fields.flat() == {"To": "+1", "Media": ["a", "b"], "Empty": ""}
    assert FormFields.of(MultiDict(dict(fields)).lists()) == fields
