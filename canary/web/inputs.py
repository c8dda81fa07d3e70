"""Reading request input: a JSON object's fields and query parameters, type-checked.

Every view reads its input through these helpers, so a wrong type, a NUL byte or a
number too large for the database is a 400 with a message naming the field, never a
500 from deep inside the domain or the database driver.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import request

from canary.db import MAX_ROW_ID
from canary.errors import CanaryError

MAX_ID = MAX_ROW_ID
MAX_TEXT = 10_000


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, or a 400 saying what is wrong with it."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise CanaryError("send a JSON object as the request body")
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise CanaryError("the request body is not UTF-8 encoded JSON") from None
    except ValueError:
        raise CanaryError("the request body is not valid JSON") from None
    except RecursionError:  # '[[[[...' nested deeper than the parser's stack
        raise CanaryError("the request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise CanaryError("the request body must be a JSON object")
    return data


def _clean(value: str, what: str) -> str:
    # PostgreSQL cannot store NUL in text; no name, path or number needs one.
    if "\x00" in value:
        raise CanaryError(f"{what} must not contain NUL characters")
    if len(value) > MAX_TEXT:
        raise CanaryError(f"{what} is longer than {MAX_TEXT} characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, from a "\ud800" escape in JSON
            raise CanaryError(f"{what} is not valid Unicode text") from None
    return value


def text(data: dict, key: str, default: str = "") -> str:
    """A string field; missing or null gives ``default``."""
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise CanaryError(f"{key} must be a string")
    return _clean(value, key)


def optional_text(data: dict, key: str) -> str | None:
    """A string field, or None when it is missing, null or empty."""
    return text(data, key) or None


def names(data: dict, key: str) -> list[str]:
    """A list of strings (names); missing or null gives an empty list."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CanaryError(f"{key} must be a list of names")
    return [_clean(v, key) for v in value]


def mapping(data: dict, key: str) -> dict[str, str]:
    """An object of string values; missing or null gives an empty dict."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise CanaryError(f"{key} must be an object whose values are strings")
    return {_clean(k, key): _clean(v, key) for k, v in value.items()}


def whole(
    data: dict, key: str, default: int | None = None, *, minimum: int = 0, maximum: int = MAX_ID
) -> int | None:
    """A whole-number field within [minimum, maximum]; missing or null gives ``default``."""
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise CanaryError(f"{key} must be a whole number")
    if not minimum <= value <= maximum:
        raise CanaryError(f"{key} must be between {minimum} and {maximum}")
    return value


def number(
    data: dict, key: str, default: float | None = None, *, minimum: float = 0.0
) -> float | None:
    """A finite number field, at least ``minimum``; missing or null gives ``default``."""
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise CanaryError(f"{key} must be a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CanaryError(f"{key} must be a number")
    try:
        value = float(value)
    except OverflowError:
        raise CanaryError(f"{key} is too large") from None
    if not math.isfinite(value):
        raise CanaryError(f"{key} must be a finite number")
    if value < minimum:
        raise CanaryError(f"{key} must be at least {minimum:g}")
    return value


def flag(data: dict, key: str, default: bool) -> bool:
    """A true/false field; missing or null gives ``default``."""
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise CanaryError(f"{key} must be true or false")
    return value


def query_text(name: str) -> str | None:
    """A query parameter as text, or None when missing or empty."""
    value = request.args.get(name) or None
    return None if value is None else _clean(value, name)


def query_int(
    name: str, default: int | None = None, *, minimum: int = 0, maximum: int = MAX_ID
) -> int | None:
    """A whole-number query parameter within [minimum, maximum]."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CanaryError(f"{name} must be a whole number") from None
    if not minimum <= value <= maximum:
        raise CanaryError(f"{name} must be between {minimum} and {maximum}")
    return value


def form_text(name: str) -> str:
    """A multipart form field as stripped text ('' when missing)."""
    return _clean((request.form.get(name) or "").strip(), name)


def upload_name(filename: str) -> tuple[str, str]:
    """(stem, suffix) of an uploaded file's name, safe to use inside our own folder.

    The client chooses the name: it may hold '../', an absolute path, back-slashes,
    NUL or control characters. Only the last component's letters, digits, dot and dash
    survive; the suffix (which picks the format reader) keeps only letters and digits.
    """
    base = re.split(r"[\\/]", filename)[-1]
    base = "".join(ch for ch in base if ch.isprintable())
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._")[:100] or "upload"
    suffix = re.sub(r"[^0-9A-Za-z]+", "", suffix)[:10].lower()
    return stem, f".{suffix}" if suffix else ""
