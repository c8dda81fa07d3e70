"""What can be wrong with a delivery. Each message names the problem and what to do."""

from __future__ import annotations

from canary.errors import FeedFormatError


class EmptyFile(FeedFormatError):
    """The file has no bytes (or only blank lines)."""


class HeaderOnly(FeedFormatError):
    """The file has a header but no data rows, so there is nothing to hide canaries among."""


class RaggedRows(FeedFormatError):
    """A data row has a different number of cells than the header."""


class UndecodableFile(FeedFormatError):
    """The bytes are not text in any encoding we accept."""


class EncryptedWorkbook(FeedFormatError):
    """A password-protected workbook (an OLE/CFB container, not a zip)."""


class CorruptWorkbook(FeedFormatError):
    """Not a readable XLSX package."""


class WorkbookTooLarge(FeedFormatError):
    """Decompressed size, compression ratio or cell count over the limits (zip bomb guard)."""

    http_status = 413


class NoMatchingSheet(FeedFormatError):
    """No sheet of the workbook has the feed's mapped columns in its header."""


class MissingColumn(FeedFormatError):
    """The feed's column mapping names a column the file does not have."""


class UnsupportedFormat(FeedFormatError):
    """A format or a variant of one we cannot write faithfully."""


class InvalidJson(FeedFormatError):
    """Not JSON, or not an array (or lines) of objects."""
