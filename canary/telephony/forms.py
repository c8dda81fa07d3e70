"""Form bodies read exactly as werkzeug reads them, at a third of the cost.

Werkzeug parses an ``application/x-www-form-urlencoded`` body with
``urllib.parse.parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")``
and copies the pairs into a MultiDict. A Twilio webhook has about thirty fields and
that parse was the largest single cost of answering one: two ``unquote`` calls per
field, most of which have nothing to unquote. ``parse_form`` gives the same fields
and values, unquoting only what needs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from urllib.parse import unquote

import werkzeug.urls  # noqa: F401  (registers the URL_QUOTE codec error handler)

# werkzeug's codec error handler for form values: keeps undecodable percent-escapes
# as they were instead of failing.
URL_QUOTE = "werkzeug.url_quote"


class FormFields(dict[str, "str | list[str]"]):
    """Field name to its value, or to its values in the order they came when the name
    came more than once: a webhook's parameters as intake takes them (``flat``).

    ``getlist`` and ``lists`` make it read like a werkzeug MultiDict to the twilio
    SDK's RequestValidator and to ``canary.telephony.validation``. Single values are
    kept bare rather than in one-item lists: nearly every field of a Twilio callback
    has one value, and wrapping then unwrapping each was a measurable part of reading
    a webhook.
    """

    def getlist(self, name: str) -> list[str]:
        value = self.get(name)
        if value is None:
            return []
        return [value] if type(value) is str else list(value)

    def lists(self) -> Iterator[tuple[str, list[str]]]:
        for name, value in self.items():
            yield name, ([value] if type(value) is str else list(value))

    def flat(self) -> dict[str, str | list[str]]:
        """One value per name where there is one, else the list (a webhook's params)."""
        return dict(self)

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, list[str]]]) -> FormFields:
        return cls(
            (name, values[0] if len(values) == 1 else list(values)) for name, values in pairs
        )


def _unquote(part: str) -> str:
    if "+" in part:
        part = part.replace("+", " ")
    return unquote(part, errors=URL_QUOTE) if "%" in part else part


def parse_form(text: str) -> FormFields:
    """What werkzeug's form parser makes of a decoded form body (see module doc)."""
    if "%26" not in text and "%3D" not in text and "%3d" not in text:
        # No escaped "&" or "=": unquoting the whole body first cannot create a
        # separator, and escapes never span one, so one call does every field.
        pairs = [pair.partition("=") for pair in _unquote(text).split("&") if pair]
    else:
        pairs = [
            (_unquote(name), "", _unquote(value))
            for name, _, value in (pair.partition("=") for pair in text.split("&") if pair)
        ]
    fields = FormFields({name: value for name, _, value in pairs})
    if len(fields) == len(pairs):
        return fields
    # A name came more than once (MMS media, say): its values, in the order they came.
    grouped: dict[str, list[str]] = {}
    for name, _, value in pairs:
        grouped.setdefault(name, []).append(value)
    return FormFields.of(grouped.items())
