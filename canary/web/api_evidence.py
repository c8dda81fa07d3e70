"""JSON API for evidence: download an incident's bundle, check the live log."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, send_file

from canary.evidence import bundle, log
from canary.web.auth import ctx, principal, requires

bp = Blueprint("api_evidence", __name__, url_prefix="/api/evidence")


@bp.get("/<int:incident_id>/bundle")
@requires("evidence:export")
def download_bundle(incident_id: int):
    """The incident's evidence bundle as a zip (built fresh, audited, logged).

    Built in a private temporary folder and streamed from disk (a bundle carries the
    whole chain, which can be large); the folder goes when the response is closed.
    """
    c = ctx()
    folder = Path(tempfile.mkdtemp(prefix="canary-bundle-"))
    target = folder / f"incident-{incident_id}-evidence.zip"
    try:
        with c.db.session() as session:
            bundle.export(session, c, incident_id, target, principal().actor, principal=principal())
        response = send_file(
            target, mimetype="application/zip", as_attachment=True, download_name=target.name
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    response.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    return response


@bp.get("/log/verify")
@requires("evidence:export")
def verify_log():
    """Check every link and signature of the live log."""
    c = ctx()
    with c.db.session() as session:
        report = log.verify_chain(session, c.keys.evidence_public_key())
    return report.as_dict()


@bp.get("/public-key")
@requires("incidents:read")
def public_key():
    key = ctx().keys.evidence_public_key_b64()
    return {"public_key": key, "fingerprint": bundle.fingerprint(key)}
