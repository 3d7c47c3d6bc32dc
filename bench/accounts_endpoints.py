"""The accounts endpoints (issue 2): `python bench/accounts_endpoints.py [--quick]`.

Runs in-process through Django's test client (the full middleware, auth and DRF stack,
without a network hop) against a throwaway PostgreSQL database, and reports medians with a
baseline measured in the same run, so numbers from different machines compare as ratios.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inbox.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

QUICK = "--quick" in sys.argv[1:]
REPEAT = int(os.environ.get("BENCH_REPEAT", "20" if QUICK else "60"))
USERS = int(os.environ.get("BENCH_USERS", "1000"))


def median_ms(call: Callable[[], object]) -> float:
    for _ in range(5):
        call()  # warm caches and connections
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def seed() -> tuple[str, Client]:
    from accounts.actions import create_api_token
    from accounts.models import Team, User
    from accounts.origin import SYSTEM

    admin = User.objects.create_user(
        "bench-admin@example.com", "x", name="Bench Admin", role="admin"
    )
    users = User.objects.bulk_create(
        User(email=f"agent{i}@example.com", name=f"Agent {i:04d}", password="!")
        for i in range(USERS)
    )
    for t in range(20):
        team = Team.objects.create(name=f"Team {t}")
        team.members.set(users[t::20])
    _, secret = create_api_token(user=admin, name="bench", origin=SYSTEM)
    client = Client()
    client.force_login(admin)
    return secret, client


def main() -> None:
    setup_test_environment()
    connection.settings_dict["TEST"]["NAME"] = "bench_parley"  # never the tests' database
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        secret, session_client = seed()
        bearer = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
        cases = {
            "baseline: GET /healthz (one SELECT 1)": lambda: bearer.get("/healthz"),
            "GET /api/v1/me/ (bearer token)": lambda: bearer.get("/api/v1/me/"),
            "GET /api/v1/me/ (session)": lambda: session_client.get("/api/v1/me/"),
            f"GET /api/v1/users/ (page of 50 of {USERS}, teams)": lambda: bearer.get(
                "/api/v1/users/"
            ),
            "GET /api/v1/teams/ (20 teams, all members)": lambda: bearer.get("/api/v1/teams/"),
            "GET /accounts/admin/users/ (page of 50, HTML)": lambda: session_client.get(
                "/accounts/admin/users/"
            ),
        }
        results = {name: median_ms(call) for name, call in cases.items()}
        baseline = next(iter(results.values()))
        print(f"{'case':<52} {'median ms':>10} {'× baseline':>11} {'queries':>8}")
        for name, call in cases.items():
            with CaptureQueriesContext(connection) as ctx:
                call()
            print(
                f"{name:<52} {results[name]:>10.2f} {results[name] / baseline:>11.1f} "
                f"{len(ctx.captured_queries):>8}"
            )
        print(f"\nrepeat={REPEAT} users={USERS} database={connection.vendor}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
