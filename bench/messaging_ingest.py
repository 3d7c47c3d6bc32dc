# ruff: noqa: E501  (report lines read better unwrapped)
"""Messaging ingestion: signed provider webhooks to stored messages and published events, per
source (WhatsApp, Messenger, Instagram, Telegram, SMS), beside the API source in the same run.

    python bench/messaging_ingest.py            # 10 s of load per source, 3 rounds: medians
    python bench/messaging_ingest.py --quick    # 6 s per source, once

The production shape on this machine's two cores: one Daphne process answering the webhooks
(through the intake, inbox/sources/intake.py) and one `manage.py db_worker` turning the
stored deliveries into messages in batches (and running the drafts tasks they queue, at a
lower priority), PostgreSQL and Redis. `DRAFTS_ENABLED=false` leaves the drafts out. Closed-loop HTTP clients
(8 keep-alive connections) post signed text messages, 30 % from new contacts, as fast as
answers come, for the load window; then the bench waits until every accepted delivery is a
stored message. Reported per source:

- accepted/s: webhooks answered 200 (signature checked, raw body stored, task queued), with
  the answer's p50/p99;
- end to end/s: messages stored (and their events published) from the first request until
  the last accepted delivery became a message;
- ratio to the API source, whose POST stores the message within the request (the same
  Daphne + worker, the worker running only the drafts tasks);
- how long after that the follow-up work (drafts, human-touch checks, profile lookups) was
  done: the next measurement starts once the queue is empty, so one source's backlog never
  slows the next. Each source runs `--repeat` times, in rounds; the medians are reported.

Target (issue 8): ≥ 500 text messages/s per source. Meta's profile lookups (Messenger and
Instagram name new contacts) go to a fake Graph API on loopback that answers at once.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import secrets as pysecrets
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness
from ingest import Load  # closed-loop keep-alive clients, the API source's bench

TARGET = 500.0
KNOWN = 100  # contacts per source who already have a conversation
NEW_SHARE = 0.30
TEXT = "Hi, my order {n} has not arrived yet and the tracking page shows nothing since Monday."
APP_SECRET = "bench-app-secret"
AUTH_TOKEN = "bench-twilio-auth-token"
ACCOUNT_SID = "AC" + "0" * 32
SMS_NUMBER = "+15550001111"


def seed() -> dict[str, Any]:
    from accounts.models import User
    from accounts.origin import SYSTEM
    from inbox.actions import IdentityInput, create_inbox, receive_inbound_message

    admin = User.objects.create_user(
        "bench-admin@example.com", "bench-password-1", name="Bench Admin", role="admin"
    )
    agents = User.objects.bulk_create(
        User(email=f"agent{i}@example.com", name=f"Agent {i}", password="!") for i in range(5)
    )
    meta = {"app_secret": APP_SECRET, "access_token": "bench-token", "verify_token": "v"}
    specs = {
        "api": ({}, {"api_key": pysecrets.token_urlsafe(32), "signing_secret": "s"}),
        "whatsapp": ({"phone_number_id": "1065", "business_account_id": "WABA"}, meta),
        "messenger": ({"page_id": "PAGE1", "app_id": "APP1"}, meta),
        "instagram": ({"instagram_account_id": "IG1", "app_id": "APP1"}, meta),
        "telegram": ({}, {"bot_token": "1:bench", "webhook_secret": "bench-secret"}),
        "sms": (
            {"account_sid": ACCOUNT_SID, "phone_number": SMS_NUMBER},
            {"auth_token": AUTH_TOKEN},
        ),
    }
    inboxes = {}
    for kind, (settings, keys) in specs.items():
        inbox = create_inbox(
            name=f"Bench {kind}",
            kind=kind,
            actor=admin,
            origin=SYSTEM,
            members=agents,
            settings=settings,
            secrets=keys,
        )
        for i in range(
            KNOWN
        ):  # known contacts, each with a conversation (identity as the source makes it)
            value, kind_of = known_identity(kind, i)
            receive_inbound_message(
                inbox=inbox,
                identity=IdentityInput(kind=kind_of, value=value, name=f"Known {i}"),
                text=TEXT.format(n=i),
            )
        inboxes[kind] = inbox
    return inboxes


def known_identity(kind: str, i: int) -> tuple[str, str]:
    if kind == "sms":
        return f"+1555{i:07d}", "phone"
    if kind in ("whatsapp",):
        return f"4477009{i:05d}", "external"
    if kind == "telegram":
        return str(100000 + i), "external"
    return f"known-{i}", "external"


def requests_for(kind: str, inbox: Any, port: int) -> Any:
    """A generator of signed requests as the provider sends them."""
    from inbox.sources.meta import signature as meta_signature
    from inbox.sources.sms.twilio import signature as twilio_signature

    counter = itertools.count()
    rng = random.Random()
    run = pysecrets.token_hex(3)
    first_id = int(time.time() * 1e6) % 2**50  # Telegram ids are numbers: fresh per run
    path = {"api": f"/sources/api/{inbox.public_id}/messages"}.get(
        kind, f"/sources/{kind}/{inbox.public_id}/"
    )
    api_key = inbox.get_secrets().get("api_key", "")

    def who(n: int) -> tuple[str, str]:
        if rng.random() < NEW_SHARE:
            fresh = {
                "sms": f"+1666{n:07d}",
                "whatsapp": f"4488{n:08d}",
                "telegram": str(900000 + n),
            }
            return fresh.get(kind, f"new-{run}-{n}"), f"New {n}"
        return known_identity(kind, rng.randrange(KNOWN))[0], ""

    def make() -> tuple[str, str, bytes, dict[str, str]]:
        n = next(counter)
        sender, _name = who(n)
        text = TEXT.format(n=n)
        now = int(time.time())
        if kind == "api":
            body = json.dumps(
                {
                    "contact": {"kind": "external", "identifier": sender, "name": _name or sender},
                    "text": text,
                    "external_id": f"b-{run}-{n}",
                }
            ).encode()
            return (
                "POST",
                path,
                body,
                {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
            )
        if kind == "whatsapp":
            value = {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1065"},
                "contacts": [{"profile": {"name": _name or "Known"}, "wa_id": sender}],
                "messages": [
                    {
                        "from": sender,
                        "id": f"wamid.{run}{n}",
                        "timestamp": str(now),
                        "type": "text",
                        "text": {"body": text},
                    }
                ],
            }
            payload: Any = {
                "object": "whatsapp_business_account",
                "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}],
            }
        elif kind in ("messenger", "instagram"):
            account = "PAGE1" if kind == "messenger" else "IG1"
            item = {
                "sender": {"id": sender},
                "recipient": {"id": account},
                "timestamp": now * 1000,
                "message": {"mid": f"m_{run}{n}", "text": text},
            }
            payload = {
                "object": "page" if kind == "messenger" else "instagram",
                "entry": [{"id": account, "time": now * 1000, "messaging": [item]}],
            }
        elif kind == "telegram":
            user = int(sender)
            message = {
                "message_id": first_id + n,  # a chat's ids never repeat across runs
                "from": {"id": user, "is_bot": False, "first_name": _name or "Known"},
                "chat": {"id": user, "type": "private"},
                "date": now,
                "text": text,
            }
            body = json.dumps({"update_id": first_id + n, "message": message}).encode()
            return (
                "POST",
                path,
                body,
                {
                    "Content-Type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": "bench-secret",
                    "X-Bench-Run": run,
                },
            )
        else:  # sms
            params = [
                ("AccountSid", ACCOUNT_SID),
                ("Body", text),
                ("From", sender),
                ("MessageSid", f"SM{run}{n:026d}"[:34]),
                ("NumMedia", "0"),
                ("SmsStatus", "received"),
                ("To", SMS_NUMBER),
            ]
            url = f"http://127.0.0.1:{port}{path}"
            body = urllib.parse.urlencode(params).encode()
            return (
                "POST",
                path,
                body,
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, params),
                },
            )
        body = json.dumps(payload).encode()
        return (
            "POST",
            path,
            body,
            {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": meta_signature(APP_SECRET, body),
            },
        )

    return make


def count_messages(inbox_id: int) -> int:
    from inbox.models import Message

    return Message.objects.filter(inbox_id=inbox_id, direction="incoming").count()


def pending_events(inbox_id: int) -> int:
    from inbox.models import ProviderEvent

    return ProviderEvent.objects.filter(inbox_id=inbox_id, status="pending").count()


def waiting_tasks() -> int:
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).count()


def drain(limit: float = 900) -> float:
    """Wait until the worker has done all the follow-up work (drafts, profiles); seconds."""
    started = time.monotonic()
    while waiting_tasks() and time.monotonic() - started < limit:
        time.sleep(0.5)
    return time.monotonic() - started


def run_source(
    kind: str, inbox: Any, port: int, pids: dict[str, int], threads: int, seconds: float
) -> dict[str, float]:
    before = count_messages(inbox.pk)
    load = Load([port], threads, seconds, requests_for(kind, inbox, port))
    cpu = harness.CpuWindow(pids)
    started = time.monotonic()
    accepted_rate = load.run()
    accepted = (
        load.statuses.get(200, 0)
        + load.statuses.get(201, 0)
        + load.statuses.get(202, 0)
        + load.statuses.get(204, 0)
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # the worker catches up with the backlog
        stored = count_messages(inbox.pk) - before
        if stored >= accepted or (kind == "api"):
            break
        time.sleep(0.2)
    finished = time.monotonic()
    stored = count_messages(inbox.pk) - before
    usage = cpu.report()
    s = harness.summary(load.latencies)
    end_to_end = stored / (finished - started)
    drained = drain()  # the next measurement starts from a quiet queue
    print(
        f"{kind:10} accepted {accepted_rate:7.1f}/s (p50 {s['p50']:6.1f} ms, p99 {s['p99']:7.1f} ms)  "
        f"end to end {end_to_end:7.1f} msg/s ({stored} stored of {accepted} accepted in {finished - started:.1f} s; "
        f"pending {pending_events(inbox.pk)})  CPU % of a core: daphne {usage['daphne']:.0f}, workers {' + '.join(f'{v:.0f}' for k, v in usage.items() if k.startswith('worker'))}, "
        f"bench {usage['bench']:.0f}, machine {usage['machine']:.0f} % of 2; follow-up work done {drained:.0f} s later",
        flush=True,
    )
    if load.errors:
        print(f"  errors: {load.errors[:3]}")
    return {"accepted": accepted_rate, "end_to_end": end_to_end, "p50": s["p50"], "p99": s["p99"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 s of load per source, once")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--sources", default="api,whatsapp,messenger,instagram,telegram,sms")
    parser.add_argument("--workers", type=int, default=1, help="db_worker processes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per source (medians)")
    args = parser.parse_args()
    seconds = args.seconds or (6.0 if args.quick else 10.0)
    if args.quick:
        args.repeat = 1
    harness.raise_fd_limit()
    env = harness.services_env()
    redis = harness.bench_redis_url(env["REDIS_URL"])
    from tests.fake_provider import FakeProvider

    graph = FakeProvider(
        default=lambda request: (
            200,
            {
                "first_name": "Bench",
                "last_name": "Customer",
                "name": "Bench Customer",
                "username": "bench",
            },
            {},
        )
    )
    os.environ["META_GRAPH_URL"] = graph.url + "/v21.0"
    print(
        f"messaging ingest — {harness.run_stamp()} — {harness.machine()}; background load {harness.background_load():.0f} %"
    )
    with harness.bench_database(env["DATABASE_URL"], "bench_messaging") as db_url:
        harness.django_setup(db_url, redis)
        inboxes = seed()
        from django.db import connections

        connections.close_all()
        print(
            f"1 Daphne + {args.workers} db_worker; {args.threads} client threads, {seconds:g} s of load per source, {int(NEW_SHARE * 100)} % new contacts"
        )
        server_env = dict(
            os.environ, DATABASE_URL=db_url, REDIS_URL=redis, **harness.server_env_overrides()
        )
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "db_worker",
                    "--no-startup-delay",
                    "--interval",
                    "0.05",
                ],
                cwd=harness.ROOT,
                env=server_env,
                stdout=subprocess.DEVNULL,
                stderr=open(f"/tmp/parley-bench-worker{i}.log", "wb"),  # noqa: SIM115
            )
            for i in range(args.workers)
        ]
        results: dict[str, list[dict[str, float]]] = {}
        try:
            with harness.daphne(db_url, redis, log_name="messaging") as server:
                pids = {
                    "daphne": server.pid,
                    **{f"worker{i}": w.pid for i, w in enumerate(workers)},
                    "bench": os.getpid(),
                }
                warm = Load([server.port], 2, 1.0, requests_for("api", inboxes["api"], server.port))
                warm.run()
                drain()
                for round_ in range(args.repeat):  # rounds, so that drift spreads evenly
                    print(f"round {round_ + 1} of {args.repeat}", flush=True)
                    for kind in args.sources.split(","):
                        results.setdefault(kind, []).append(
                            run_source(
                                kind, inboxes[kind], server.port, pids, args.threads, seconds
                            )
                        )
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(timeout=30)
            graph.close()

        def median(kind: str, key: str) -> float:
            return statistics.median(r[key] for r in results[kind])

        api = median("api", "end_to_end") if "api" in results else 0.0
        print(f"\nmedians of {args.repeat} runs; end to end, ratio to the API source (same run):")
        for kind in results:
            rate = median(kind, "end_to_end")
            spread = [r["end_to_end"] for r in results[kind]]
            verdict = "met" if rate >= TARGET else "NOT met"
            print(
                f"  {kind:10} {rate:7.1f} msg/s (runs {min(spread):.0f}–{max(spread):.0f})  "
                f"×{rate / api if api else 0.0:.2f}  accepted {median(kind, 'accepted'):.0f}/s  "
                f"(target ≥ {TARGET:g}/s: {verdict})"
            )
        connections.close_all()


if __name__ == "__main__":
    main()
