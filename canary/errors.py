"""Domain exceptions. The edges (CLI, API) turn these into exit codes and 4xx answers."""


class CanaryError(Exception):
    """Base class: a problem the user can fix; the message says how."""

    http_status = 400


class ConfigError(CanaryError):
    pass


class NotFound(CanaryError):
    http_status = 404


class AlreadyExists(CanaryError):
    http_status = 409


class PermissionDenied(CanaryError):
    http_status = 403


class AuthenticationRequired(CanaryError):
    http_status = 401


class FeedFormatError(CanaryError):
    """The input file cannot be read as the feed's format."""

    http_status = 422


class UploadTooLarge(CanaryError):
    http_status = 413


class NoPlausibleNumber(CanaryError):
    """The pool has no number that would pass as a phone of this feed."""

    http_status = 409


class KeyMaterialError(CanaryError):
    """Keys are missing, unreadable or have unsafe permissions."""

    http_status = 500


class EvidenceTampered(CanaryError):
    pass
