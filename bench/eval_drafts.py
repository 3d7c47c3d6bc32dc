"""Suggested drafts: how well the engines pick the canned reply for real-looking customer
messages (bench/drafts_eval/: the library, 245 labelled messages, README).

    python bench/eval_drafts.py                    # the table
    python bench/eval_drafts.py --verbose          # and every miss
    python bench/eval_drafts.py --json out.json    # and the metrics as JSON
    python bench/eval_drafts.py --threshold 0.4    # another confidence threshold
    python bench/eval_drafts.py --semantic on      # with the semantic engine (off: without;
                                                   # only: it alone; default: as configured)
    python bench/eval_drafts.py --subset even      # only the messages with even (odd) ids:
                                                   # tune on one half, report on the other

Runs on a throwaway SQLite database (no services needed): migrates it, creates an admin, an
agent and one inbox per channel, loads the library with `create_canned_reply`, stores each
message with `receive_inbound_message` (emails as the email source stores them: the quoted
history and signature split off by the production splitter into data.email.new_text), then
times `suggest(context_for(conversation, agent), limit=3)`.

Metrics. Top-1 accuracy and top-3 recall are over labelled messages, at the threshold (no
suggestion counts as wrong). Abstention = no suggestion at/above the threshold; its
precision and recall are measured against the messages no reply fits (label null). The
"ranking" rows and the threshold sweep come from one more call with threshold 0 filtered
afterwards, which is what `suggest(threshold=t)` returns (engines never see the threshold).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "drafts_eval"
CHANNEL_INBOX_KIND = {"email": "email", "chat": "api", "sms": "sms", "whatsapp": "whatsapp"}
CANNED_FIELDS = ("title", "shortcode", "body", "tags", "examples", "language")
SEMANTIC = "inbox.drafts.semantic.SemanticRanker"
SWEEP = [0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7]
ABSTAIN = "—"


# --- setup ----------------------------------------------------------------------------------


def setup_django(workdir: str) -> None:
    """Django on a fresh SQLite file in `workdir`, migrated, nothing shared with var/."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "inbox.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/parley-eval-{os.getpid()}.sqlite3"
    os.environ["INBOX_VAR_DIR"] = workdir
    os.environ["MEDIA_ROOT"] = os.path.join(workdir, "media")
    os.environ["INBOX_IN_PROCESS_WORKER"] = "false"
    # Only suggest() is measured: no background draft pipeline queued per message.
    os.environ["DRAFTS_ENABLED"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


class EngineFailures(logging.Handler):
    """Counts engines that raised inside suggest() (it logs them and carries on)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def load_library(admin: Any) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    """Creates the canned replies; returns shortcode → id and shortcode → its JSON entry."""
    from inbox.actions import create_canned_reply

    entries = json.loads((DATA / "canned.json").read_text(encoding="utf-8"))
    ids, by_code = {}, {}
    for entry in entries:
        fields = {name: entry[name] for name in CANNED_FIELDS if name in entry}
        reply = create_canned_reply(actor=admin, **fields)
        ids[entry["shortcode"]] = reply.pk
        by_code[entry["shortcode"]] = entry
    return ids, by_code


def load_messages(subset: str | None = None) -> list[dict[str, Any]]:
    """The labelled messages; `subset` "odd" or "even": those whose id's number is."""
    with (DATA / "messages.jsonl").open(encoding="utf-8") as handle:
        items = [json.loads(line) for line in handle if line.strip()]
    if subset:
        parity = 1 if subset == "odd" else 0
        items = [i for i in items if int(i["id"].rsplit("-", 1)[1]) % 2 == parity]
    return items


def store(item: dict[str, Any], number: int, inboxes: dict[str, Any]) -> Any:
    """The message as its source stores it; returns its (new) conversation."""
    from inbox.actions import IdentityInput, receive_inbound_message
    from inbox.sources.email import quotes

    channel = item["channel"]
    inbox = inboxes[channel]
    name = f"Customer {number}"
    text = item["text"]
    if channel == "email":
        address = f"customer{number}@example.com"
        message_id = f"<eval-{item['id']}@example.com>"
        email_data: dict[str, Any] = {
            "from": f"{name} <{address}>",
            "to": ["support@shop.example"],
            "cc": [],
            "message_id": message_id,
            "in_reply_to": [],
            "references": [],
            "threaded_by": "new",
        }
        new_text = quotes.new_text(text)  # as inbox/sources/email/inbound.py does
        if new_text is not None:
            email_data["new_text"] = new_text
        result = receive_inbound_message(
            inbox=inbox,
            identity=IdentityInput(kind="email", value=address, name=name),
            text=text,
            subject=item.get("subject", ""),
            external_id=message_id,
            start_new=True,
            data={"email": email_data},
            preview=new_text,
        )
    elif channel in ("sms", "whatsapp"):
        result = receive_inbound_message(
            inbox=inbox,
            identity=IdentityInput(kind="phone", value=f"+4477009{number:05d}", name=name),
            text=text,
            external_id=f"eval-{item['id']}",
            start_new=True,
        )
    else:
        result = receive_inbound_message(
            inbox=inbox,
            identity=IdentityInput(kind="external", value=f"visitor-{number}", name=name),
            text=text,
            external_id=f"eval-{item['id']}",
            start_new=True,
        )
    return result.conversation


# --- metrics --------------------------------------------------------------------------------


def ratio(hits: int, total: int) -> float | None:
    return hits / total if total else None


def metrics(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Top-1/top-3 (labelled) and abstention precision/recall (null) at `threshold`, from
    each row's threshold-0 ranking."""
    labelled = [r for r in rows if r["label"]]
    nulls = [r for r in rows if not r["label"]]
    top1 = top3 = abstained = abstained_null = wrong_language = 0
    for row in rows:
        kept = [s for s in row["ranking"] if s["score"] >= threshold][:3]
        codes = [s["shortcode"] for s in kept]
        if not kept:
            abstained += 1
            abstained_null += not row["label"]
        if row["label"]:
            top1 += bool(codes) and codes[0] == row["label"]
            top3 += row["label"] in codes
            wrong_language += (
                bool(codes)
                and codes[0] != row["label"]
                and (row["topics"].get(codes[0]) == row["topics"].get(row["label"]))
            )
    correct = top1 + abstained_null  # the right reply first, or nothing when none fits
    return {
        "n": len(rows),
        "labelled": len(labelled),
        "null": len(nulls),
        "top1": ratio(top1, len(labelled)),
        "top3": ratio(top3, len(labelled)),
        "abstain_precision": ratio(abstained_null, abstained),
        "abstain_recall": ratio(abstained_null, len(nulls)),
        "abstained": abstained,
        "wrong_language_top1": wrong_language,
        "overall": ratio(correct, len(rows)),
    }


def pct(value: float | None) -> str:
    return "   –" if value is None else f"{100 * value:4.0f}"


def table(title: str, groups: dict[str, list[dict[str, Any]]], threshold: float) -> list[str]:
    lines = [
        f"{title:<14} {'n':>4} {'lab':>4} {'null':>4} {'top1%':>6} {'top3%':>6} "
        f"{'absP%':>6} {'absR%':>6} {'ok%':>5}"
    ]
    for name, rows in groups.items():
        m = metrics(rows, threshold)
        lines.append(
            f"{name:<14} {m['n']:>4} {m['labelled']:>4} {m['null']:>4} {pct(m['top1']):>6} "
            f"{pct(m['top3']):>6} {pct(m['abstain_precision']):>6} "
            f"{pct(m['abstain_recall']):>6} {pct(m['overall']):>5}"
        )
    return lines


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# --- run ------------------------------------------------------------------------------------


def configure_engines(choice: str | None) -> None:
    """--semantic: add the semantic engine to the configured ones (on), take it out (off),
    or run it alone (only). Engines are read from settings on every suggest() call."""
    from django.conf import settings

    if choice is None:
        return
    others = [path for path in settings.DRAFT_ENGINES if path != SEMANTIC]
    settings.DRAFT_ENGINES = {"on": [*others, SEMANTIC], "off": others, "only": [SEMANTIC]}[choice]


def warm_semantic() -> str:
    """Loads the model and embeds the library before the timed calls, so that the
    suggest() timings are per query; returns what that one-off cost."""
    from django.conf import settings

    if SEMANTIC not in settings.DRAFT_ENGINES:
        return ""
    from inbox.drafts import semantic

    started = time.perf_counter()
    model = semantic.encoder()
    loaded = time.perf_counter()
    known = semantic.library(model, inline=None)
    assert known is not None
    done = time.perf_counter()
    return (
        f"semantic engine: model loaded in {loaded - started:.2f} s, {len(known.ids)} replies "
        f"({len(known.matrix)} texts) embedded in {done - loaded:.2f} s"
    )


def run(args: argparse.Namespace) -> int:
    from django.conf import settings

    from accounts.models import User
    from accounts.origin import SYSTEM
    from inbox.actions import create_inbox
    from inbox.drafts.engines import context_for, suggest

    failures = EngineFailures()
    logging.getLogger("inbox.drafts.engines").addHandler(failures)
    threshold = settings.DRAFT_CONFIDENCE_THRESHOLD if args.threshold is None else args.threshold

    admin = User.objects.create_user(
        "admin@shop.example", "x" * 20, name="Alex Admin", role=User.Role.ADMIN
    )
    agent = User.objects.create_user(
        "anna@shop.example", "x" * 20, name="Anna Agent", role=User.Role.AGENT
    )
    inboxes = {
        channel: create_inbox(
            name=f"Shop {channel}",
            kind=kind,
            actor=admin,
            origin=SYSTEM,
            members=[agent],
            settings={"address": "support@shop.example"} if kind == "email" else {},
        )
        for channel, kind in CHANNEL_INBOX_KIND.items()
    }
    ids, library = load_library(admin)
    code_of = {pk: code for code, pk in ids.items()}
    topics = {code: entry.get("topic", code) for code, entry in library.items()}
    items = load_messages(args.subset)
    configure_engines(args.semantic)
    warmed = warm_semantic()

    rows: list[dict[str, Any]] = []
    timings: list[float] = []
    for number, item in enumerate(items, start=1):
        conversation = store(item, number, inboxes)
        context = context_for(conversation, agent)
        started = time.perf_counter()
        shown = suggest(context, limit=3, threshold=threshold)
        timings.append((time.perf_counter() - started) * 1000)
        ranking = suggest(context, limit=3, threshold=0.0)

        def described(found: list[Any]) -> list[dict[str, Any]]:
            return [
                {
                    "shortcode": code_of.get(s.canned_reply_id, f"({s.engine})"),
                    "score": float(s.score),
                }
                for s in found
            ]

        rows.append(
            {
                **{k: item.get(k) for k in ("id", "channel", "language", "label", "note")},
                "seen_text": context.text,
                "detected_language": getattr(context, "language", ""),
                "shown": described(shown),
                "ranking": described(ranking),
                "topics": topics,
            }
        )

    overall = metrics(rows, threshold)
    ranking_only = metrics(rows, 0.0)
    # What suggest() itself returned must match the threshold-0 ranking filtered.
    mismatches = [
        r["id"]
        for r in rows
        if [s["shortcode"] for s in r["shown"]]
        != [s["shortcode"] for s in r["ranking"] if s["score"] >= threshold][:3]
    ]

    by_channel = defaultdict(list)
    by_language = defaultdict(list)
    for row in rows:
        by_channel[row["channel"]].append(row)
        by_language[row["language"]].append(row)

    engines = ", ".join(p.rsplit(".", 1)[-1] for p in settings.DRAFT_ENGINES)
    print(
        f"drafts eval: {len(rows)} messages ({overall['labelled']} labelled, "
        f"{overall['null']} no-fit), {len(ids)} canned replies; engines: {engines}; "
        f"threshold {threshold:g}" + (f"; {args.subset} ids only" if args.subset else "")
    )
    if warmed:
        print(warmed)
    print()
    lines = table("all", {"all": rows}, threshold)
    lines += table("channel", dict(sorted(by_channel.items())), threshold)[1:]
    lines += table("language", dict(sorted(by_language.items())), threshold)[1:]
    print("\n".join(lines))
    print(
        "  top1/top3: labelled messages, abstaining counts as wrong; absP/absR: abstention "
        "precision/recall vs label null; ok: top-1 right or rightly silent"
    )
    print()
    print(
        f"ranking alone (threshold 0): top-1 {pct(ranking_only['top1']).strip()}%, "
        f"top-3 {pct(ranking_only['top3']).strip()}%; right topic, wrong language at top-1: "
        f"{overall['wrong_language_top1']}"
    )
    detected = [r for r in rows if r["detected_language"]]
    agree = sum(r["detected_language"] == r["language"] for r in detected)
    print(
        f"language detection (context.language): {agree}/{len(detected)} agree with the "
        f"label, {len(rows) - len(detected)} undetected"
    )
    print(
        f"suggest(): median {statistics.median(timings):.1f} ms, "
        f"p95 {percentile(timings, 95):.1f} ms, max {max(timings):.1f} ms"
    )
    print()
    print("threshold sweep:  t     top1%  top3%  absP%  absR%  ok%")
    sweep = {}
    for t in sorted({*SWEEP, threshold}):
        m = metrics(rows, t)
        sweep[f"{t:g}"] = m
        mark = " <" if t == threshold else ""
        print(
            f"               {t:5.2f}   {pct(m['top1'])}   {pct(m['top3'])}   "
            f"{pct(m['abstain_precision'])}   {pct(m['abstain_recall'])}  "
            f"{pct(m['overall'])}{mark}"
        )

    misses = [
        r
        for r in rows
        if (r["label"] and (not r["shown"] or r["shown"][0]["shortcode"] != r["label"]))
        or (not r["label"] and r["shown"])
    ]
    if args.verbose:
        print()
        print(f"misses at threshold {threshold:g} ({len(misses)}):")
        for r in misses:
            got = r["shown"][0] if r["shown"] else None
            best = r["ranking"][0] if r["ranking"] else None
            seen = " ".join(r["seen_text"].split())
            print(
                f"  {r['id']:<7} {r['channel']:<8} {r['language']}  "
                f"label={r['label'] or ABSTAIN:<24} "
                f"got={got['shortcode'] if got else ABSTAIN:<24} "
                f"score={got['score'] if got else (best['score'] if best else 0):.3f}"
                + ("" if got or not best else f" (best below: {best['shortcode']})")
            )
            ranked = ", ".join(f"{s['shortcode']} {s['score']:.2f}" for s in r["ranking"])
            print(f"          ranking: {ranked or '(nothing)'}")
            print(f"          seen: {seen[:150]!r}{'…' if len(seen) > 150 else ''}")

    if args.json:
        out = {
            "threshold": threshold,
            "engines": list(settings.DRAFT_ENGINES),
            "overall": overall,
            "ranking_only": ranking_only,
            "by_channel": {k: metrics(v, threshold) for k, v in sorted(by_channel.items())},
            "by_language": {k: metrics(v, threshold) for k, v in sorted(by_language.items())},
            "sweep": sweep,
            "suggest_ms": {
                "median": statistics.median(timings),
                "p95": percentile(timings, 95),
                "max": max(timings),
            },
            "engine_failures": len(failures.records),
            "messages": [
                {k: v for k, v in r.items() if k != "topics"} | {"miss": r in misses} for r in rows
            ],
        }
        Path(args.json).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        print(f"\nmetrics written to {args.json}")

    if mismatches:
        print(f"\nnote: suggest(threshold) differs from the filtered ranking for {mismatches}")
    if failures.records:
        first = failures.records[0]
        detail = f"{first.getMessage()}: {first.exc_info[1]!r}" if first.exc_info else ""
        print(
            f"\nWARNING: draft engines failed {len(failures.records)} times ({detail}); "
            "these numbers do not measure the ranker.",
            file=sys.stderr,
        )
        return 1
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    parser.add_argument("--json", metavar="PATH", help="write the metrics (and each result)")
    parser.add_argument(
        "--threshold", type=float, help="confidence threshold (default: the settings')"
    )
    parser.add_argument(
        "--semantic",
        choices=["on", "off", "only"],
        help="with the semantic engine (on), without it (off), or it alone (only); "
        "default: the engines the settings configure",
    )
    parser.add_argument(
        "--subset",
        choices=["odd", "even"],
        help="only the messages whose id number is odd (or even), to report on a held-out half",
    )
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="parley-eval-")
    try:
        setup_django(workdir)
        code = run(args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
