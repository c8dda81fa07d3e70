"""Pluggable speech-to-text for recordings Twilio cannot transcribe.

Twilio's built-in transcription is English-only (and 2–120 s), but the marketers who
call a Shanghai mother speak Mandarin. A deployment names a callable in the setting
``speech_to_text`` (``CANARY_SPEECH_TO_TEXT=package.module:function``); it is called
with the recording's URL, the HTTP basic-auth pair to fetch it with, and the locale,
and returns the transcript (or None). Without one, recordings are stored untranscribed.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from canary.errors import ConfigError
from canary.settings import Settings


class SpeechToText(Protocol):
    def __call__(
        self, recording_url: str, auth: tuple[str, str] | None, locale: str
    ) -> str | None: ...


def load_hook(settings: Settings) -> SpeechToText | None:
    """The configured hook, or None. A misconfigured hook is a ConfigError."""
    target = settings.speech_to_text.strip()
    if not target:
        return None
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ConfigError(
            f"setting speech_to_text must look like 'package.module:function', got {target!r}"
        )
    try:
        hook = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"setting speech_to_text: cannot load {target!r}: {exc}") from exc
    if not callable(hook):
        raise ConfigError(f"setting speech_to_text: {target!r} is not callable")
    return hook


def auth_for(settings: Settings) -> tuple[str, str] | None:
    """Recordings may require HTTP basic auth with the account credentials."""
    if settings.twilio_account_sid and settings.twilio_auth_token:
        return (settings.twilio_account_sid, settings.twilio_auth_token)
    return None
