import threading

from canary.scheduling import jobs


def test_a_slot_is_claimed_by_exactly_one_worker(context):
    wins = []
    barrier = threading.Barrier(4)

    def worker(name):
        barrier.wait()
        wins.append(jobs.claim(context, "drain-outbox", "10:42", worker=name))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False, False, False, True]


def test_run_job_skips_when_another_process_holds_the_slot(context, monkeypatch):
    calls = []
    job = jobs.Job("fake", "tests.scheduling.test_jobs:_count_call", "outbox_interval_seconds")
    monkeypatch.setattr("tests.scheduling.test_jobs._CALLS", calls)
    assert jobs.run_job(context, job, slot="s1") == 1
    assert jobs.run_job(context, job, slot="s1") is None
    assert jobs.run_job(context, job, slot="s2") == 1
    assert len(calls) == 2


def test_a_failing_job_does_not_raise(context):
    job = jobs.Job("boom", "tests.scheduling.test_jobs:_explode", "outbox_interval_seconds")
    assert jobs.run_job(context, job, slot="s1") is None


_CALLS: list = []


def _count_call(ctx):
    _CALLS.append(ctx)
    return 1


def _explode(ctx):
    raise RuntimeError("job failed")


def test_the_attribute_pending_job_logs_stored_events_before_attributing_them(context, monkeypatch):
    """Webhooks only store; the scheduled job must append each event's evidence entry
    and then attribute it, even when attribution fails."""
    from sqlalchemy import select

    from canary.attribution import service
    from canary.evidence.models import EvidenceEntry
    from canary.telephony import intake, simulator
    from canary.telephony.models import Event

    context.settings = context.settings.replace(attribute_in_webhook=False)
    params = simulator.call_params("+14155550100", "+8613912345678")
    event_id = intake.receive(context, "call", params).event_id

    def broken(ctx):
        raise RuntimeError("attribution is down")

    monkeypatch.setattr(service, "process_pending", broken)
    [job] = [j for j in jobs.JOBS if j.name == "attribute-pending"]
    assert jobs.run_job(context, job, slot="s1") is None  # failed, retried next slot
    with context.db.session() as s:
        assert not s.get(Event, event_id).evidence_pending
        entries = s.scalars(select(EvidenceEntry.event_id)).all()
    assert entries == [event_id]
