"""The semantic draft engine's costs (inbox/drafts/semantic.py): model load time and memory,
the one-off cost of embedding a canned-reply library, the cost of an edit, and the
per-query latency once the library is embedded.

    python bench/semantic.py                     # 2,000 replies, 245 queries
    python bench/semantic.py --replies 500
    python bench/semantic.py --no-examples       # replies without example questions (their
                                                 # bodies are embedded instead: the worst case)

Runs on a throwaway SQLite database like bench/eval_drafts.py. The library is the evaluation
set's 43 replies repeated with a variant number in the title and examples (token lengths
like real ones); the queries are the evaluation set's 245 customer messages. Timings depend
on the CPU and on what else runs: OPENBLAS_NUM_THREADS=1 is steadier on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from typing import Any

from eval_drafts import DATA, load_messages, percentile, setup_django

LEXICAL = "inbox.drafts.lexical.CannedReplyRanker"
SEMANTIC = "inbox.drafts.semantic.SemanticRanker"


def rss_mb() -> float:
    """This process's resident memory now (Linux), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def build_library(admin: Any, count: int, *, examples: bool) -> None:
    from inbox.models import CannedReply

    entries = json.loads((DATA / "canned.json").read_text(encoding="utf-8"))
    rows = []
    for n in range(count):
        entry = entries[n % len(entries)]
        variant = n // len(entries)
        rows.append(
            CannedReply(
                title=f"{entry['title']} ({variant})" if variant else entry["title"],
                shortcode=f"{entry['shortcode']}-{variant}",
                body=entry["body"],
                tags=entry.get("tags", []),
                examples=[f"{e} ({variant})" for e in entry["examples"]] if examples else [],
                language=entry.get("language", ""),
                created_by=admin,
            )
        )
    CannedReply.objects.bulk_create(rows, batch_size=500)


def timed(call: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - started) * 1000


def summary(samples: list[float]) -> str:
    return (
        f"p50 {statistics.median(samples):6.1f} ms  p95 {percentile(samples, 95):6.1f} ms  "
        f"max {max(samples):6.1f} ms"
    )


def run(args: argparse.Namespace) -> None:
    from django.conf import settings

    from accounts.models import User
    from accounts.origin import SYSTEM
    from inbox import actions
    from inbox.actions import IdentityInput, create_inbox, receive_inbound_message
    from inbox.drafts import semantic
    from inbox.drafts.engines import context_for, suggest
    from inbox.models import CannedReply

    admin = User.objects.create_user(
        "admin@shop.example", "x" * 20, name="Alex Admin", role=User.Role.ADMIN
    )
    agent = User.objects.create_user(
        "anna@shop.example", "x" * 20, name="Anna Agent", role=User.Role.AGENT
    )
    inbox = create_inbox(name="Shop", kind="api", actor=admin, origin=SYSTEM, members=[agent])
    build_library(admin, args.replies, examples=not args.no_examples)
    conversation = receive_inbound_message(
        inbox=inbox, identity=IdentityInput(kind="external", value="c1"), text="hello"
    ).conversation
    base = context_for(conversation, agent)
    queries = [m["text"] for m in load_messages() if m["text"].strip()]
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    print(
        f"semantic engine: {args.replies} canned replies "
        f"({'no examples' if args.no_examples else 'with examples'}), {len(queries)} queries, "
        f"{os.cpu_count()} CPUs, BLAS threads: {threads or 'default'}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )

    before = rss_mb()
    model, load_ms = timed(semantic.encoder)
    loaded = rss_mb()
    print(f"model load: {load_ms / 1000:.2f} s, +{loaded - before:.0f} MB (RSS {loaded:.0f} MB)")

    known, embed_ms = timed(lambda: semantic.library(model, inline=None))
    texts = len(known.matrix)
    print(
        f"embedding the library: {embed_ms / 1000:.1f} s for {len(known.ids)} replies, "
        f"{texts} texts ({texts / (embed_ms / 1000):.0f} texts/s), "
        f"+{rss_mb() - loaded:.0f} MB (matrix {known.matrix.nbytes / 2**20:.1f} MB)"
    )

    engine = semantic.SemanticRanker()
    engine_ms = [timed(lambda q=q: engine.suggest(replace(base, text=q), 3))[1] for q in queries]
    print(f"SemanticRanker.suggest(), per query:   {summary(engine_ms)}")
    encode_ms = [timed(lambda q=q: model.encode([q]))[1] for q in queries]
    print(f"  of which the query's forward pass:    {summary(encode_ms)}")

    settings.DRAFT_ENGINES = [LEXICAL]
    lexical_ms = [timed(lambda q=q: suggest(replace(base, text=q)))[1] for q in queries]
    settings.DRAFT_ENGINES = [LEXICAL, SEMANTIC]
    both_ms = [timed(lambda q=q: suggest(replace(base, text=q)))[1] for q in queries]
    print(f"suggest(), lexical engine only:        {summary(lexical_ms)}")
    print(f"suggest(), lexical + semantic engines: {summary(both_ms)}")

    reply = CannedReply.objects.order_by("id").first()
    assert reply is not None
    actions.update_canned_reply(reply=reply, actor=admin, title=reply.title + " (edited)")
    _, edit_ms = timed(lambda: engine.suggest(replace(base, text=queries[0]), 3))
    print(f"first query after an edit (re-embeds that reply only): {edit_ms:.1f} ms")
    print(f"peak RSS {resource_peak_mb():.0f} MB")


def resource_peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument("--no-examples", action="store_true", help="replies without examples")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="parley-semantic-")
    try:
        setup_django(workdir)
        run(args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
