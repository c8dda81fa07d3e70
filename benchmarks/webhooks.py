"""Signed voice webhooks per second under gunicorn, against a bare Flask baseline.

Builds a fresh database with a pool of 1,000 local numbers (forwarding to 10 Twilio
numbers) and 100,000 live canaries on them, starts the real service under gunicorn on
loopback (fixed worker count, scheduler off), and sends a fixed number of signed
voice webhooks (each a new CallSid from a random caller to a random pool number, via
ForwardedFrom) from concurrent clients. Then it runs the same requests against a bare
Flask endpoint that returns the same TwiML under the same gunicorn settings, and
prints throughput and p50/p99 latency as ratios to that baseline. Finally it checks
that every webhook became exactly one stored event, runs the evidence part of the
scheduler's attribute-pending job (the webhook only stores; the job appends the signed,
hash-chained entries) and checks every event reached the log and the chain verifies.

Attribution runs in the scheduler by default here (``attribute_in_webhook=false``, the
setting recommended for large registries); ``--inline-attribution`` measures the
webhook with attribution inside it.

    .venv/bin/python benchmarks/webhooks.py                  # 1,000 numbers, 100k canaries
    .venv/bin/python benchmarks/webhooks.py --requests 3000 --workers 2 --clients 8
    .venv/bin/python benchmarks/webhooks.py --prefill-events 100000  # a table in use
    .venv/bin/python benchmarks/webhooks.py --floor  # and the least any design must do
    .venv/bin/python benchmarks/webhooks.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask, Response  # noqa: E402

from canary.settings import load_settings  # noqa: E402
from canary.telephony import storer, twiml  # noqa: E402

AUTH_TOKEN = "benchmark-auth-token"
ACCOUNT = "AC" + "0" * 32
TWILIO_NUMBERS = [f"+1415555{i:04d}" for i in range(10)]

# The baseline: the same TwiML the service answers a CN number with, no work at all.
_BARE_TWIML = twiml.voicemail(
    load_settings({"public_base_url": "http://127.0.0.1"}, environ={}), "zh_CN"
)
bare_app = Flask("bare")


@bare_app.post("/twilio/voice")
def _bare_voice():
    return Response(_BARE_TWIML, mimetype="application/xml")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(env: dict[str, str], numbers: int, canaries: int) -> list[str]:
    """Create the pool and the canaries; returns the local numbers."""
    from sqlalchemy import insert

    from canary.canaries.models import Canary, CanaryContact
    from canary.context import open_context
    from canary.flow import service as flow
    from canary.settings import load_settings
    from canary.telephony import codewords, pool

    ctx = open_context(load_settings(environ=env), initialise=True)
    locals_: list[str] = []
    with ctx.db.session() as s:
        for i in range(numbers):
            local = f"+86138{i:08d}"
            pool.add_number(
                s,
                ctx,
                local,
                forwards_to=TWILIO_NUMBERS[i % len(TWILIO_NUMBERS)],
                quarantine_days=0,
                actor="benchmark",
            )
            locals_.append(local)
        flow.add_source(s, "Hospital", "benchmark")
        flow.add_feed(s, "Newborns", "benchmark", source="Hospital")
        copies = 200
        for h in range(copies):
            flow.add_holder(s, f"holder {h:03d}", "benchmark", receives=["Newborns"])
    from sqlalchemy import select

    from canary.flow.models import Copy
    from canary.telephony.models import ContactPoint

    with ctx.db.session() as s:
        copy_ids = list(s.scalars(select(Copy.id)))
        point_ids = list(s.scalars(select(ContactPoint.id).order_by(ContactPoint.id)))
    # Bulk insert: each (copy, week) gets its codeword of distinct numbers, exactly as
    # allocation would, without 100,000 round trips through allocate().
    weeks = max(1, canaries // (len(copy_ids) * 10))
    per_week = -(-canaries // (len(copy_ids) * weeks))
    now = ctx.clock()
    canary_rows, made = [], 0
    for copy_id in copy_ids:
        for w in range(weeks):
            period = f"2026-W{(w % 52) + 1:02d}" if w < 52 else f"2025-W{(w % 52) + 1:02d}"
            seed = ctx.keys.derive("codeword", f"copy:{copy_id}", period)
            for slot, cp_id in enumerate(codewords.assign(seed, point_ids, per_week)):
                if made >= canaries:
                    break
                aad = f"canary:{copy_id}:{period}:{slot}"
                persona = {"name": "王芳", "birth_date": "2026-11-20"}
                row = {
                    "copy_id": copy_id,
                    "period": period,
                    "slot": slot,
                    "live_from": now,
                    "created_at": now,
                    "name_key": secrets.token_hex(8),
                    "fields_enc": ctx.keys.encrypt_json({"row": {}, "persona": persona}, aad),
                }
                canary_rows.append((row, cp_id))
                made += 1
    with ctx.db.session() as s:
        for start in range(0, len(canary_rows), 10000):
            chunk = canary_rows[start : start + 10000]
            ids = s.scalars(
                insert(Canary).returning(Canary.id, sort_by_parameter_order=True),
                [row for row, _ in chunk],
            ).all()
            s.execute(
                insert(CanaryContact),
                [
                    {"canary_id": i, "contact_point_id": cp, "role": "phone"}
                    for i, (_, cp) in zip(ids, chunk, strict=True)
                ],
            )
    ctx.close()
    return locals_


def prepare(
    base_url: str, locals_: list[str], count: int, rng: random.Random
) -> list[tuple[bytes, str]]:
    """Signed request bodies, made before timing so the client does little work."""
    from canary.telephony import simulator

    out = []
    for _ in range(count):
        local = rng.choice(locals_)
        to = TWILIO_NUMBERS[int(local[-8:]) % len(TWILIO_NUMBERS)]
        caller = f"+86139{rng.randrange(10**8):08d}"
        params = simulator.call_params(to, caller, forwarded_from=local, account_sid=ACCOUNT)
        signature = simulator.sign(AUTH_TOKEN, base_url + "/twilio/voice", params)
        out.append((urlencode(params).encode(), signature))
    return out


def prefill(env: dict[str, str], base_url: str, locals_: list[str], count: int, rng) -> None:
    """Store ``count`` earlier calls, as the journal stores webhooks, so that the rounds
    run against a table of a production's size. They count as history: their evidence
    entries are taken as written (not appended again by the final check)."""
    from urllib.parse import parse_qsl

    from sqlalchemy import update

    from canary.context import open_context
    from canary.settings import load_settings
    from canary.telephony import intake
    from canary.telephony.models import Event

    ctx = open_context(load_settings(environ=env))
    try:
        for start in range(0, count, 1000):
            batch = []
            for body, _signature in prepare(base_url, locals_, min(1000, count - start), rng):
                params = dict(parse_qsl(body.decode(), keep_blank_values=True))
                batch.append(
                    intake.accept(
                        ctx,
                        "call",
                        params,
                        raw_body=body,
                        body_format=intake.BODY_FORM,
                        url=base_url + "/twilio/voice",
                    )
                )
            for part in range(0, len(batch), 500):
                intake.store_many(ctx, batch[part : part + 500])
        with ctx.db.session() as s:
            s.execute(update(Event).values(evidence_pending=False))
    finally:
        ctx.close()


def fire(
    port: int, requests_: list[tuple[bytes, str]], clients: int
) -> tuple[float, list[float], int]:
    """Send all requests from ``clients`` threads; returns (seconds, latencies, failures)."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    queue = iter(requests_)

    def worker():
        nonlocal failures
        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                return
            body, signature = item
            start = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request(
                    "POST",
                    "/twilio/voice",
                    body,
                    {
                        "Content-Type": "application/x-www-form-urlencoded",
                        "X-Twilio-Signature": signature,
                    },
                )
                response = conn.getresponse()
                data = response.read()
                ok = response.status == 200 and b"<Record" in data
            except OSError:
                ok = False
            finally:
                conn.close()
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                failures += not ok

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - began, latencies, failures


def gunicorn(
    app: str, port: int, workers: int, env: dict[str, str], threads: int = 1
) -> subprocess.Popen:
    # Both sides always get the same worker class, count and threads.
    worker_class = ["-k", "sync"] if threads <= 1 else ["-k", "gthread", "--threads", str(threads)]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            *worker_class,
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app,
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn for {app} exited with {process.returncode}") from None
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"gunicorn for {app} did not start")


def server_cpu(master_pid: int, journal: Path | None = None) -> float:
    """CPU seconds (user + system) used so far by a gunicorn master and its workers,
    and by the journal storer process serving ``journal`` (it runs in a session of
    its own, outside gunicorn's process tree)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [master_pid]
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    if journal is not None and (pid := storer.pid_of(journal)) is not None:
        pids.append(pid)
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(args) -> int:
    home = Path(tempfile.mkdtemp(prefix="canary-bench-"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANARY_")}
    env.update(
        CANARY_HOME=str(home),
        CANARY_TWILIO_ACCOUNT_SID=ACCOUNT,
        CANARY_TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        CANARY_PUBLIC_BASE_URL=base_url,
        CANARY_SCHEDULER_IN_SERVE="false",
        CANARY_LOG_LEVEL="WARNING",
    )
    env["CANARY_ATTRIBUTE_IN_WEBHOOK"] = "true" if args.inline_attribution else "false"
    env["CANARY_WEBHOOK_JOURNAL"] = "false" if args.no_journal else "true"
    env["CANARY_WEBHOOK_JOURNAL_STORER"] = args.journal_storer
    journal_path = load_settings(environ=env).journal_path
    scratch = None
    if args.database_url:
        scratch = _scratch_database(args.database_url)
        env["CANARY_DATABASE_URL"] = scratch or args.database_url
    began = time.perf_counter()
    locals_ = build(env, args.numbers, args.canaries)
    print(
        f"set-up: {args.numbers} pool numbers, {args.canaries} live canaries "
        f"in {time.perf_counter() - began:.1f} s ({home})"
    )
    rng = random.Random(args.seed)
    if args.prefill_events:
        began = time.perf_counter()
        prefill(env, base_url, locals_, args.prefill_events, rng)
        print(
            f"prefill: {args.prefill_events} earlier call events stored "
            f"in {time.perf_counter() - began:.1f} s"
        )
    # Bare and canary alternate, each round with fresh CallSids: other load on the
    # machine then weighs on both sides alike, and the median ratio is reported.
    rounds = [
        (
            prepare(base_url, locals_, args.warmup, rng),
            prepare(base_url, locals_, args.requests, rng),
        )
        for _ in range(args.rounds)
    ]
    counter = open_counter(env)
    sent = args.prefill_events
    ratios: dict[str, list[float]] = {"rps": [], "p50": [], "p99": []}
    floor_ratios: list[float] = []
    cpu_extra: list[float] = []
    failed = 0
    sides = [("bare", "benchmarks.webhooks:bare_app"), ("canary", "wsgi:app")]
    if args.floor:
        sides.insert(1, ("floor", "benchmarks.webhook_floor:app"))
    for number, (warm, measured) in enumerate(rounds, 1):
        results = {}
        for name, app in sides:
            process = gunicorn(app, port, args.workers, env, args.threads)
            journal = journal_path if name == "canary" else None
            try:
                fire(port, warm, args.clients)
                if name == "canary":
                    # The warm-up is stored before timing starts (and the storer
                    # process, started by the first webhook, is running).
                    stored_calls(counter, sent + len(warm))
                cpu_before = server_cpu(process.pid, journal)
                seconds, latencies, failures = fire(port, measured, args.clients)
                if name == "canary":
                    # A journalled webhook is answered before it is in the database:
                    # the clock runs until every one is.
                    sent += len(warm) + len(measured)
                    seconds += stored_calls(counter, sent)
                cpu = server_cpu(process.pid, journal) - cpu_before
            finally:
                stop(process)
                if journal is not None:
                    # Gone before the next side's round: each canary round starts its own.
                    storer.stop_running(journal)
            r = results[name] = {
                "rps": len(measured) / seconds,
                "p50": pct(latencies, 0.50) * 1000,
                "p99": pct(latencies, 0.99) * 1000,
                "cpu": cpu / len(measured) * 1e6,
            }
            failed += failures if name != "bare" else 0
            print(
                f"round {number} {name:>6}: {r['rps']:7.1f} req/s  p50 {r['p50']:6.2f} ms  "
                f"p99 {r['p99']:6.2f} ms  server CPU {r['cpu']:5.0f} us/req  failures {failures}"
            )
        for key in ratios:
            ratios[key].append(results["canary"][key] / results["bare"][key])
        cpu_extra.append(results["canary"]["cpu"] - results["bare"]["cpu"])
        if args.floor:
            floor_ratios.append(results["floor"]["rps"] / results["bare"]["rps"])
    counter.close()
    recovered = _recover_journals(env)
    stored = _stored_calls(env)
    sent_in_rounds = sum(len(warm) + len(measured) for warm, measured in rounds)
    expected = args.prefill_events + sent_in_rounds
    logged, appended, pending, seconds, chain_ok = _drain_evidence(env)
    mode = "inline" if args.inline_attribution else "scheduler (attribute_in_webhook=false)"
    print(
        f"workers={args.workers} threads={args.threads} clients={args.clients} "
        f"requests={args.requests} "
        f"rounds={args.rounds} attribution={mode}"
    )
    each = ", ".join(f"{r:.2f}" for r in ratios["rps"])
    print(
        f"throughput ratio (canary / bare), median of rounds: "
        f"{statistics.median(ratios['rps']):.2f}x  (goal >= 0.70x; rounds: {each})"
    )
    print(
        f"p50 latency ratio: {statistics.median(ratios['p50']):.2f}x   "
        f"p99 latency ratio: {statistics.median(ratios['p99']):.2f}x"
    )
    # Less sensitive to other load on the machine than wall-clock rates.
    print(f"server CPU per webhook beyond the bare endpoint: {statistics.median(cpu_extra):.0f} us")
    if args.floor:
        each = ", ".join(f"{r:.2f}" for r in floor_ratios)
        print(
            f"floor (signature, checks, encrypted append; no match, nothing stored) / bare, "
            f"median of rounds: {statistics.median(floor_ratios):.2f}x  (rounds: {each})"
        )
    if args.no_journal:
        journal_mode = "off (each webhook committed before its answer)"
    else:
        journal_mode = f"on, stored by a storer {args.journal_storer}"
    print(
        f"webhook journal: {journal_mode}; "
        f"{recovered} records left in journals by stopped workers and stored afterwards"
    )
    print(
        f"events stored: {stored} of {expected} "
        f"({args.prefill_events} prefilled + {sent_in_rounds} webhooks) "
        f"({'all stored, none duplicated' if stored == expected else 'MISMATCH'})"
    )
    print(
        f"evidence: {logged} event entries in the log, {appended} appended afterwards by "
        f"the attribute-pending job in {seconds:.2f} s ({appended / max(seconds, 1e-9):.0f}/s), "
        f"{pending} left pending, "
        f"chain {'verifies' if chain_ok else 'DOES NOT VERIFY'}"
    )
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
        if scratch:
            _drop_scratch(args.database_url, scratch)
    evidence_ok = logged == sent_in_rounds and pending == 0 and chain_ok
    return 0 if stored == expected and failed == 0 and evidence_ok else 1


def _scratch_database(url: str) -> str | None:
    """On PostgreSQL, a fresh database beside the given one (dropped afterwards), so
    the figures never depend on what an earlier run or a test left behind."""
    if not url.startswith("postgresql"):
        return None
    from sqlalchemy import create_engine, make_url, text

    name = f"canary_bench_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _drop_scratch(url: str, scratch: str) -> None:
    from sqlalchemy import create_engine, make_url, text

    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(scratch).database}"'))
    admin.dispose()


def _drain_evidence(env: dict[str, str]) -> tuple[int, int, int, float, bool]:
    """Run the evidence part of the scheduler's job: (event entries in the log, of which
    appended by the job, still pending, seconds, chain verifies). The webhook only stores; every event must still reach the log."""
    from sqlalchemy import func, select

    from canary.context import open_context
    from canary.evidence import log
    from canary.evidence.models import EvidenceEntry
    from canary.settings import load_settings
    from canary.telephony import evidence
    from canary.telephony.models import Event

    ctx = open_context(load_settings(environ=env))
    try:
        began = time.perf_counter()
        appended = evidence.log_pending(ctx)
        seconds = time.perf_counter() - began
        with ctx.db.session() as s:
            logged = s.scalar(
                select(func.count(EvidenceEntry.id)).where(EvidenceEntry.kind == "event")
            )
            pending = s.scalar(select(func.count(Event.id)).where(Event.evidence_pending))
            chain_ok = log.verify_chain(s, ctx.keys.evidence_public_key()).ok
        return int(logged), appended, int(pending), seconds, chain_ok
    finally:
        ctx.close()


class open_counter:
    """Counts stored call events while the service runs (its own connection)."""

    def __init__(self, env: dict[str, str]):
        from canary.context import open_context
        from canary.settings import load_settings

        self.ctx = open_context(load_settings(environ=env), upgrade=False)

    def count(self) -> int:
        from sqlalchemy import func, select

        from canary.telephony.models import Event

        with self.ctx.db.engine.connect() as conn:
            return int(conn.scalar(select(func.count(Event.id)).where(Event.kind == "call")))

    def close(self) -> None:
        self.ctx.close()


def stored_calls(counter: open_counter, expected: int, timeout: float = 60.0) -> float:
    """Seconds until ``expected`` call events are in the database."""
    began = time.perf_counter()
    while counter.count() < expected and time.perf_counter() - began < timeout:
        time.sleep(0.005)
    return time.perf_counter() - began


def _recover_journals(env: dict[str, str]) -> int:
    """Store what stopped workers left in their journals (normally nothing)."""
    from canary.context import open_context
    from canary.settings import load_settings
    from canary.telephony import journal

    ctx = open_context(load_settings(environ=env), upgrade=False)
    try:
        return journal.recover(ctx, ctx.settings.journal_path)
    finally:
        ctx.close()


def _stored_calls(env: dict[str, str]) -> int:
    from sqlalchemy import func, select

    from canary.context import open_context
    from canary.settings import load_settings
    from canary.telephony.models import Event

    ctx = open_context(load_settings(environ=env))
    try:
        with ctx.db.session() as s:
            return int(s.scalar(select(func.count(Event.id)).where(Event.kind == "call")))
    finally:
        ctx.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--numbers", type=int, default=1000)
    parser.add_argument("--canaries", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per worker (gthread) on both sides; 1 = sync workers",
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--rounds", type=int, default=5, help="Alternating bare/canary rounds (median ratio)."
    )
    parser.add_argument(
        "--inline-attribution",
        action="store_true",
        help="Attribute inside the webhook (attribute_in_webhook=true) instead of leaving it "
        "to the scheduler; slow with 100k canaries, use a small --requests.",
    )
    parser.add_argument(
        "--no-journal",
        action="store_true",
        help="webhook_journal=false: commit each webhook before answering it.",
    )
    parser.add_argument(
        "--journal-storer",
        choices=("process", "thread"),
        default="process",
        help="webhook_journal_storer: a storer process per journal folder (the default), "
        "or a thread in each worker.",
    )
    parser.add_argument(
        "--prefill-events",
        type=int,
        default=0,
        help="Store this many earlier calls before the rounds (a table of production "
        "size: its random-keyed indexes cost more per stored row as it grows).",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="Also run benchmarks/webhook_floor.py in every round: the signature, the "
        "parameter checks and an encrypted append, nothing stored in a database. Its "
        "ratio to bare bounds what any design of the service can reach on this machine.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary database.")
    parser.add_argument(
        "--database-url",
        default="",
        help="Default: SQLite in a temp folder. A PostgreSQL URL names the server: the "
        "benchmark creates a scratch database there and drops it afterwards.",
    )
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
