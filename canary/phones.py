"""The one place that turns a written phone number into its canonical E.164 form."""

from __future__ import annotations

import phonenumbers

from canary.errors import CanaryError


class InvalidPhoneNumber(CanaryError):
    pass


def parse(raw: str, default_region: str = "CN") -> phonenumbers.PhoneNumber:
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("empty phone number")
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber("not a possible phone number for its country")
    return number


def normalize(raw: str, default_region: str = "CN") -> str:
    """``138-0013-8000``, ``+86 138 0013 8000`` and ``13800138000`` all give ``+8613800138000``."""
    return phonenumbers.format_number(
        parse(raw, default_region), phonenumbers.PhoneNumberFormat.E164
    )


def try_normalize(raw: str, default_region: str = "CN") -> str | None:
    try:
        return normalize(raw, default_region)
    except InvalidPhoneNumber:
        return None


def region_of(e164: str) -> str:
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or ""


def number_type(e164: str) -> str:
    kind = phonenumbers.number_type(phonenumbers.parse(e164))
    if kind in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return "mobile"
    if kind == phonenumbers.PhoneNumberType.FIXED_LINE:
        return "fixed"
    return "other"


def national_digits(e164: str) -> str:
    return str(phonenumbers.parse(e164).national_number)


def block_of(e164: str) -> str:
    """Caller-ID block: all but the last four digits (call centres rent consecutive ranges)."""
    return e164[:-4] if len(e164) > 8 else e164
