"""Imports every domain's models so that Base.metadata knows all tables (Alembic, tests)."""

from canary.alerts.models import AlertDelivery, Destination
from canary.attribution.models import Incident, IncidentChange
from canary.canaries.models import Canary, CanaryContact
from canary.evidence.models import EvidenceEntry
from canary.flow.models import Copy, Feed, Holder, HolderLink, Source
from canary.scheduling.models import JobClaim
from canary.security.models import ApiToken, AuditEntry
from canary.telephony.models import AllowedCaller, ContactPoint, Event, EventCanary, PollCursor

__all__ = [
    "AlertDelivery",
    "AllowedCaller",
    "ApiToken",
    "AuditEntry",
    "Canary",
    "CanaryContact",
    "ContactPoint",
    "Copy",
    "Destination",
    "Event",
    "EventCanary",
    "EvidenceEntry",
    "Feed",
    "Holder",
    "HolderLink",
    "Incident",
    "IncidentChange",
    "JobClaim",
    "PollCursor",
    "Source",
]
