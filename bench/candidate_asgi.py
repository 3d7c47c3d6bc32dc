"""inbox.asgi with changes the benchmarks propose but the product does not have yet, so a
before/after can be measured in one run. Never used outside bench/.

BENCH_CANDIDATES is a comma-separated list of:
- `pubsub`: channels_redis' RedisPubSubChannelLayer instead of RedisChannelLayer.

(Earlier candidates, now in the product: FOR NO KEY UPDATE row locks, one async_to_sync per
transaction's frames, no thread hop before forwarding a frame, the psycopg pool.)
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inbox.settings")
import django

django.setup()

from django.conf import settings  # noqa: E402

CANDIDATES = {c.strip() for c in os.environ.get("BENCH_CANDIDATES", "").split(",") if c.strip()}
KNOWN = {"pubsub"}
if CANDIDATES - KNOWN:
    raise SystemExit(f"unknown BENCH_CANDIDATES {sorted(CANDIDATES - KNOWN)}; use {sorted(KNOWN)}")

if "pubsub" in CANDIDATES:
    settings.CHANNEL_LAYERS["default"] = {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"],
            "prefix": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        },
    }

from inbox.asgi import application  # noqa: E402,F401
