"""POST /api/inject: upload a delivery, get back the holder's copy (or a zip of copies)."""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from pathlib import Path

from flask import Blueprint, request, send_file

from canary.errors import CanaryError
from canary.feeds.inject import inject
from canary.web.auth import ctx, principal, requires
from canary.web.inputs import form_text, upload_name

bp = Blueprint("api_inject", __name__, url_prefix="/api")


@bp.post("/inject")
@requires("inject")
def post_inject():
    """multipart/form-data: file, feed, holders (comma-separated), period (optional)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise CanaryError("attach the delivery as the multipart field 'file'")
    feed = form_text("feed")
    if not feed:
        raise CanaryError("name the feed in the form field 'feed'")
    holders = [h.strip() for h in form_text("holders").split(",") if h.strip()]
    if not holders:
        raise CanaryError("name one or more holders in the form field 'holders' (comma-separated)")
    period = form_text("period") or None
    stem, suffix = upload_name(upload.filename)
    work = Path(tempfile.mkdtemp(prefix="canary-inject-"))
    try:
        input_path = work / f"{stem}{suffix}"
        upload.save(input_path)
        out_dir = work / "out"
        result = inject(
            ctx(),
            feed=feed,
            input_path=input_path,
            holders=holders,
            period=period,
            out_dir=out_dir,
            actor=principal().actor,
        )
        if len(result.outputs) == 1:
            path = Path(result.outputs[0].path)
            body = io.BytesIO(path.read_bytes())
            return send_file(body, as_attachment=True, download_name=path.name)
        body = io.BytesIO()
        with zipfile.ZipFile(body, "w", zipfile.ZIP_DEFLATED) as bundle:
            for out in result.outputs:
                bundle.write(out.path, arcname=Path(out.path).name)
        body.seek(0)
        return send_file(
            body, as_attachment=True, download_name=f"{stem}.copies.zip", mimetype="application/zip"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
