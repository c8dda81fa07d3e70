"""The least a voice webhook can do and still keep the non-negotiables; benchmark only.

``benchmarks/webhooks.py --floor`` serves this beside the bare endpoint and the real
service, under the same gunicorn settings. Per webhook it reads the body as the
service does, parses it, checks the signature and the parameters with the service's
own functions, encrypts the body and appends it to a file with one write(2) before
answering the same TwiML. It matches no pool number and stores nothing in a database:
what the service does beyond this is the pool match, the record's framing, and
storing the event. Its throughput against the bare endpoint is an upper bound on what
any design of the service can reach on the machine it runs on.
"""

from __future__ import annotations

import os

from flask import Flask, Response, request

from canary.security.crypto import KeyRing
from canary.settings import load_settings
from canary.telephony import inbound, twiml, validation
from canary.telephony.forms import parse_form

_settings = load_settings()
_keys = KeyRing.load(_settings.master_key, _settings.key_path)
_TWIML = twiml.voicemail(_settings, "zh_CN")
_files: dict[int, int] = {}  # pid -> descriptor: gunicorn forks after import

app = Flask("floor")


def _file() -> int:
    fd = _files.get(os.getpid())
    if fd is None:
        folder = _settings.home_path / "floor"
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / f"{os.getpid()}.bin"
        fd = _files[os.getpid()] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return fd


@app.post("/twilio/voice")
def voice():
    environ = request.environ
    raw = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    form = parse_form(raw.decode())
    url = validation.public_url(_settings.public_base_url, request.path, "")
    verdict = validation.verify(
        auth_token=_settings.twilio_auth_token,
        url=url,
        params=form,
        raw_body=None,
        signature=request.headers.get(validation.SIGNATURE_HEADER),
    )
    if not verdict.valid:
        return Response(verdict.reason, status=403)
    item = inbound.read("call", form.flat())
    sealed = _keys.encrypt(raw, f"floor:{item.sid}".encode())
    os.write(_file(), len(sealed).to_bytes(4, "big") + sealed)
    return Response(_TWIML, mimetype="application/xml")
