"""Checks on a path canary is about to write: a copy of a feed, an evidence bundle.

Outputs are written to a temporary file beside the target and moved over it, so a
target that is a device, pipe or folder would be replaced, not written to: as root,
``-o /dev/null`` would swap the device for a file of personal data. Checking first
also means a refused path costs nothing (no canary is minted, no bundle assembled).
"""

from __future__ import annotations

import os
from pathlib import Path

from canary.errors import CanaryError


def check_output_path(path: str | Path) -> Path:
    """``path`` if canary may write a regular file there; a clear CanaryError if not."""
    path = Path(path)
    if "\x00" in str(path):
        raise CanaryError("the output path contains a NUL character")
    if path.exists() and not path.is_symlink() and not path.is_file():
        raise CanaryError(f"the output {str(path)!r} exists and is not a regular file")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise CanaryError(f"cannot create {str(path)!r}: {str(folder)!r} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CanaryError(f"cannot write into {str(folder)!r}: permission denied")
    return path
