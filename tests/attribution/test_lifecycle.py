"""Incident lifecycle: who changed what and why; invalid moves are refused."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from canary.attribution import lifecycle
from canary.attribution.models import Incident, IncidentChange
from canary.errors import CanaryError, NotFound

AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _incident(context) -> int:
    with context.db.session() as s:
        incident = Incident(status="open", opened_at=AT, updated_at=AT, unit_key="copy:1")
        s.add(incident)
        s.flush()
        return incident.id


def test_open_acknowledged_resolved_records_who_and_why(context):
    context.clock = lambda: AT
    incident_id = _incident(context)
    with context.db.session() as s:
        lifecycle.acknowledge(s, context, incident_id, "analyst:li", "calling the clerk's manager")
        lifecycle.resolve(s, context, incident_id, "analyst:wang", "access revoked, case filed")
    with context.db.session() as s:
        assert s.get(Incident, incident_id).status == "resolved"
        changes = s.scalars(select(IncidentChange).order_by(IncidentChange.id)).all()
        assert [(c.actor, c.from_status, c.to_status, c.reason) for c in changes] == [
            ("analyst:li", "open", "acknowledged", "calling the clerk's manager"),
            ("analyst:wang", "acknowledged", "resolved", "access revoked, case filed"),
        ]
        assert all(c.at == AT for c in changes)


def test_false_positive_from_open_or_acknowledged(context):
    first, second = _incident(context), _incident(context)
    with context.db.session() as s:
        lifecycle.mark_false_positive(s, context, first, "a", "our own after-sales desk")
        lifecycle.acknowledge(s, context, second, "a", "looking")
        lifecycle.mark_false_positive(s, context, second, "a", "test call by IT")
    with context.db.session() as s:
        assert {s.get(Incident, i).status for i in (first, second)} == {"false_positive"}


@pytest.mark.parametrize(
    ("steps", "bad"),
    [
        ([lifecycle.resolve], lifecycle.acknowledge),
        ([lifecycle.resolve], lifecycle.resolve),
        ([lifecycle.mark_false_positive], lifecycle.resolve),
        ([lifecycle.acknowledge], lifecycle.acknowledge),
    ],
)
def test_invalid_transitions_are_refused_and_leave_no_record(context, steps, bad):
    incident_id = _incident(context)
    with context.db.session() as s:
        for step in steps:
            step(s, context, incident_id, "a", "why")
    with pytest.raises(CanaryError), context.db.session() as s:
        bad(s, context, incident_id, "a", "why")
    with context.db.session() as s:
        assert len(s.scalars(select(IncidentChange)).all()) == len(steps)


def test_a_change_without_a_reason_is_refused(context):
    incident_id = _incident(context)
    with pytest.raises(CanaryError, match="reason"), context.db.session() as s:
        lifecycle.acknowledge(s, context, incident_id, "a", "  ")


def test_unknown_incident_is_not_found(context):
    with pytest.raises(NotFound), context.db.session() as s:
        lifecycle.resolve(s, context, 999, "a", "why")
