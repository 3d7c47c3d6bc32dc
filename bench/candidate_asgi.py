"""inbox.asgi with changes the benchmarks propose but the product does not have yet, so a
before/after can be measured in one run. Never used outside bench/.

BENCH_CANDIDATES is a comma-separated list of:
- `lists`: channels_redis' list-based RedisChannelLayer instead of the pub/sub layer the
  product uses (to compare connection rates and fan-out).

(Earlier candidates, now in the product: FOR NO KEY UPDATE row locks, one async_to_sync per
transaction's frames, no thread hop before forwarding a frame, the psycopg pool, the pub/sub
layer.)
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inbox.settings")
import django

django.setup()

from django.conf import settings  # noqa: E402

CANDIDATES = {c.strip() for c in os.environ.get("BENCH_CANDIDATES", "").split(",") if c.strip()}
KNOWN = {"lists"}
if CANDIDATES - KNOWN:
    raise SystemExit(f"unknown BENCH_CANDIDATES {sorted(CANDIDATES - KNOWN)}; use {sorted(KNOWN)}")

if "lists" in CANDIDATES:
    settings.CHANNEL_LAYERS["default"] = {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"],
            "prefix": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            "capacity": 1000,
            "expiry": 60,
        },
    }

from inbox.asgi import application  # noqa: E402,F401
