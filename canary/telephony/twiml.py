"""What the canary number says: a private voicemail that records, built with the SDK.

The caller must hear nothing that reveals a trap: a plain personal voicemail greeting
in the number's language, a beep, and a recording. Twilio's built-in ``<Record
transcribe>`` is English-only and limited to 2–120 s recordings, so it is requested
only for English locales; other languages go through the speech-to-text hook
(``canary.telephony.speech``) when the recording arrives.
"""

from __future__ import annotations

import functools

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from canary.settings import Settings

# The number's country decides the greeting's language (a Shanghai mobile answers in
# Mandarin whatever the service's default locale is).
LOCALE_OF_COUNTRY = {
    "CN": "zh_CN",
    "TW": "zh_TW",
    "HK": "zh_HK",
    "US": "en_US",
    "CA": "en_US",
    "GB": "en_GB",
    "AU": "en_AU",
}
# Twilio <Say> language codes (Mandarin is "cmn-CN" for the Polly/Google voices).
SAY_LANGUAGE = {"zh_CN": "cmn-CN", "zh_TW": "cmn-TW", "zh_HK": "yue-HK"}
MAX_RECORDING_SECONDS = 120  # Twilio transcription limit; marketers rarely talk longer


def locale_for(country: str | None, settings: Settings) -> str:
    return LOCALE_OF_COUNTRY.get((country or "").upper(), settings.locale)


def voicemail(settings: Settings, locale: str) -> str:
    """Greeting, then record with status callbacks pointing at this service."""
    return _voicemail(settings.public_base_url.rstrip("/"), settings.greeting(locale), locale)


# The answer depends only on these three strings: built once per process, not per call.
@functools.lru_cache(maxsize=64)
def _voicemail(base: str, greeting: str, locale: str) -> str:
    response = VoiceResponse()
    if greeting:
        response.say(greeting, language=SAY_LANGUAGE.get(locale, locale.replace("_", "-")))
    record = {
        "max_length": MAX_RECORDING_SECONDS,
        "timeout": 5,
        "play_beep": True,
        "trim": "trim-silence",
        # Without an action Twilio would POST back to /voice and replay the greeting.
        "action": f"{base}/twilio/recording",
        "recording_status_callback": f"{base}/twilio/recording",
        "recording_status_callback_event": "completed",
    }
    if locale.startswith("en"):
        record.update(transcribe=True, transcribe_callback=f"{base}/twilio/transcription")
    response.record(**record)
    response.hangup()
    return str(response)


@functools.cache
def hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


@functools.cache
def empty_messaging() -> str:
    """No reply to an SMS: a private phone does not answer marketers automatically."""
    return str(MessagingResponse())
