"""POST /api/scan: scan an uploaded file (or, for administrators, a server-side path)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, jsonify, request

from canary.errors import CanaryError, PermissionDenied
from canary.forensics.service import scan
from canary.web.auth import ctx, principal, requires
from canary.web.inputs import json_object, text, upload_name

bp = Blueprint("api_scan", __name__, url_prefix="/api")


@bp.post("/scan")
@requires("scan")
def post_scan():
    """multipart/form-data with the file in ``file``; or JSON ``{"path": ...}`` (admins).

    Uploads above ``max_upload_bytes`` are refused with 413 before they are read.
    """
    if request.is_json:
        raw = text(json_object(), "path").strip()
        if not raw:
            raise CanaryError('send the file as multipart field "file", or JSON {"path": ...}')
        if principal().role != "admin":
            raise PermissionDenied("only administrators may scan a file on the server's disk")
        path = Path(raw)
        try:
            readable = path.is_file() and os.access(path, os.R_OK)
        except OSError:  # a name too long for the filesystem, a loop of links
            readable = False
        if not readable:
            raise CanaryError("the path is not a readable file on the server")
        result = scan(ctx(), path, principal=principal(), via="api")
        return jsonify(result.to_dict())
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise CanaryError('attach the file to scan as the multipart field "file"')
    work = Path(tempfile.mkdtemp(prefix="canary-scan-"))
    try:
        target = work / "upload"
        upload.save(target)
        stem, suffix = upload_name(upload.filename)
        name = f"{stem}{suffix}"
        result = scan(ctx(), target, principal=principal(), via="api", file_name=name)
        return jsonify(result.to_dict())
    finally:
        shutil.rmtree(work, ignore_errors=True)
