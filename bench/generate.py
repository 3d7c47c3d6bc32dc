# ruff: noqa: E501  (SQL and report lines read better unwrapped)
"""Generate a large inbox in a throwaway PostgreSQL database, fast: set-based SQL
(`INSERT … SELECT generate_series`), not the ORM.

    python bench/generate.py                 # 1,000,000 conversations, 5,000,000 messages,
                                             # 200,000 contacts, 50 inboxes → bench_list_full
    python bench/generate.py --quick         # 100k / 500k / 20k → bench_list_quick
    python bench/generate.py --conversations 300000 --messages 1500000 --contacts 60000 --db bench_list_x

The shape (deterministic: the same counts give the same data):
- 50 inboxes; 100 agents plus one admin. Agent k belongs to the 10 inboxes whose index ≡ k
  (mod 5), so every inbox has 20 members. `agent0@example.com` is the benchmarks' "me".
- Conversations spread evenly over inboxes (a hash of the id); 15 % open, 5 % pending,
  3 % snoozed, 77 % resolved; open/pending/snoozed active in the last 30 days, resolved over
  two years; 25 % unassigned, the rest assigned to a member of the inbox; 60 % of open ones
  have a customer waiting; 10 % carry one of 10 labels.
- Messages: conversation = message id modulo the conversation count (about 5 each), 60 %
  incoming, 5 % private notes, 5 % activity lines; text from 3 of 5,000 generated sentences
  over a vocabulary of ~8,000 words with a skewed frequency (common and rare words), plus
  the order number.
- Contacts with varied first and last names, an email identity each; the agent "me" has
  read positions on the conversations assigned to them.

Foreign keys are not checked during the load (session_replication_role = replica) and
secondary indexes are dropped before it and rebuilt after, then the database is vacuumed and
analysed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

INBOXES = 50
AGENTS = 100
SCALES = {
    "quick": {"conversations": 100_000, "messages": 500_000, "contacts": 20_000},
    "full": {"conversations": 1_000_000, "messages": 5_000_000, "contacts": 200_000},
}
FIRST = [
    "Chloé",
    "Liam",
    "Emma",
    "Noah",
    "Olivia",
    "Lucas",
    "Amelia",
    "Mateo",
    "Sofia",
    "Ethan",
    "Mia",
    "Hugo",
    "Aisha",
    "Omar",
    "Yuki",
    "Kenji",
    "Ana",
    "Pedro",
    "Lena",
    "Jonas",
    "Zoe",
    "Arjun",
    "Priya",
    "Wei",
    "Mei",
    "Ivan",
    "Olga",
    "Fatima",
    "Kofi",
    "Amara",
    "Diego",
    "Lucia",
    "Sven",
    "Ingrid",
    "Marek",
    "Petra",
    "Tomas",
    "Nadia",
    "Rafael",
    "Ines",
]
LAST = [
    "Martin",
    "Smith",
    "Garcia",
    "Müller",
    "Rossi",
    "Nguyen",
    "Kim",
    "Tanaka",
    "Silva",
    "Kowalski",
    "Novak",
    "Dubois",
    "Jensen",
    "Hansen",
    "Costa",
    "Ivanova",
    "Okafor",
    "Mensah",
    "Patel",
    "Chen",
    "Wang",
    "Lopez",
    "Fischer",
    "Weber",
    "Moreau",
    "Leroy",
    "Bakker",
    "Visser",
    "Larsen",
    "Berg",
    "Horvat",
    "Popescu",
    "Yilmaz",
    "Haddad",
    "Cohen",
    "Murphy",
    "Kelly",
    "Walsh",
    "Byrne",
    "Ryan",
    "Brennan",
    "Doyle",
    "Lynch",
    "Quinn",
    "Nolan",
    "Kennedy",
    "Rahman",
    "Hossain",
    "Akhtar",
    "Farouk",
]
COMMON = [
    "order",
    "refund",
    "delivery",
    "package",
    "shipping",
    "invoice",
    "payment",
    "account",
    "password",
    "login",
    "app",
    "subscription",
    "cancel",
    "return",
    "exchange",
    "broken",
    "damaged",
    "late",
    "tracking",
    "address",
    "card",
    "charged",
    "twice",
    "discount",
    "coupon",
    "size",
    "color",
    "warranty",
    "replacement",
    "help",
    "please",
    "thanks",
    "hello",
    "urgent",
    "support",
    "question",
    "issue",
    "problem",
    "error",
    "update",
    "email",
    "phone",
    "store",
    "price",
]
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "ti",
    "vo",
    "be",
    "da",
    "fi",
    "gu",
    "ha",
    "je",
    "ko",
    "lu",
    "ma",
    "no",
    "pi",
    "re",
]


def _sql_array(words: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + w.replace("'", "''") + "'" for w in words) + "]"


def generate(db_url: str, conversations: int, messages: int, contacts: int) -> dict[str, float]:
    """Fill an empty, migrated database. Returns seconds per step."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from accounts.models import User
    from inbox.models import Inbox, Label

    timings: dict[str, float] = {}
    t = time.monotonic()
    password = make_password("bench-password-1")
    User.objects.create(
        email="bench-admin@example.com", name="Bench Admin", role="admin", password=password
    )
    User.objects.bulk_create(
        User(email=f"agent{k}@example.com", name=f"Agent {k:03d}", password=password)
        for k in range(AGENTS)
    )
    kinds = ["email", "widget", "whatsapp", "api", "messenger"]
    Inbox.objects.bulk_create(
        Inbox(name=f"Inbox {j:02d}", kind=kinds[j % len(kinds)]) for j in range(INBOXES)
    )
    Label.objects.bulk_create(Label(name=f"label-{i}") for i in range(10))
    timings["users, inboxes, labels (ORM)"] = time.monotonic() - t

    with connection.cursor() as cur:

        def step(name: str, sql: str, params: list[object] | None = None) -> None:
            start = time.monotonic()
            cur.execute(sql, params or [])
            timings[name] = time.monotonic() - start
            print(f"  {name}: {timings[name]:.1f} s", flush=True)

        cur.execute("SET session_replication_role = replica")
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET work_mem = '256MB'")
        cur.execute("SELECT min(id) FROM accounts_user WHERE role = 'agent'")
        first_agent = cur.fetchone()[0]
        cur.execute("SELECT min(id) FROM inbox_inbox")
        first_inbox = cur.fetchone()[0]
        cur.execute("SELECT min(id) FROM inbox_label")
        first_label = cur.fetchone()[0]
        # Inbox j (0-based) has the agents k ≡ j (mod 5).
        step(
            "memberships",
            """INSERT INTO inbox_inbox_members (inbox_id, user_id)
               SELECT %s + j, %s + k FROM generate_series(0, %s) j, generate_series(0, %s) k
               WHERE k %% 5 = j %% 5""",
            [first_inbox, first_agent, INBOXES - 1, AGENTS - 1],
        )
        # Secondary indexes go while loading; they are rebuilt from their own definitions.
        tables = [
            "inbox_contact",
            "inbox_contactidentity",
            "inbox_conversation",
            "inbox_message",
            "inbox_conversation_labels",
            "inbox_readposition",
        ]
        cur.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
               FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
               WHERE t.relname = ANY(%s) AND NOT i.indisprimary
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
            [tables],
        )
        dropped = cur.fetchall()
        for name, _ in dropped:
            cur.execute(f"DROP INDEX {name}")

        step(
            "contacts",
            f"""INSERT INTO inbox_contact (name, email, phone, avatar, notes, custom_attributes,
                    is_vip, is_blocked, created_at, updated_at)
               SELECT f[1 + i %% {len(FIRST)}] || ' ' || l[1 + (i / {len(FIRST)}) %% {len(LAST)}],
                      'customer' || i || '@example.com', '', '', '', '{{}}', i %% 97 = 0, false,
                      now() - (i %% 730) * interval '1 day', now()
               FROM generate_series(1, %s) i,
                    (SELECT {_sql_array(FIRST)} f, {_sql_array(LAST)} l) names""",
            [contacts],
        )
        step(
            "identities",
            """INSERT INTO inbox_contactidentity (kind, value, created_at, contact_id, inbox_id)
               SELECT 'email', email, created_at, id, NULL FROM inbox_contact""",
        )
        cur.execute("SELECT min(id) FROM inbox_contact")
        first_contact = cur.fetchone()[0]
        cur.execute("SELECT setseed(0.42)")
        # Conversation attributes that messages need (inbox, contact) are functions of the id,
        # so messages are generated without a join.
        # (`%%`: these go into queries with parameters.)
        inbox_of = f"({first_inbox} + abs(hashint8(c::bigint)::bigint) %% {INBOXES})"
        contact_of = f"({first_contact} + abs(hashint8(c::bigint * 31 + 7)::bigint) %% {contacts})"
        step(
            "conversations",
            f"""INSERT INTO inbox_conversation (id, number, subject, status, snoozed_until,
                    priority, last_activity_at, waiting_since, first_response_at, resolved_at,
                    last_message_preview, last_incoming_message_id, created_at, updated_at,
                    assignee_id, contact_id, team_id, inbox_id, cc, needs_person, rating_comment)
               SELECT c, c, s.topic || ' (order ' || (100000 + c) || ')', s.status,
                      CASE WHEN s.status = 'snoozed' THEN now() + (1 + c %% 7) * interval '1 day' END,
                      CASE WHEN c %% 20 = 0 THEN 3 ELSE 0 END,
                      s.at,
                      CASE WHEN s.status = 'open' AND s.r2 < 0.6 THEN s.at END,
                      CASE WHEN s.status <> 'open' OR s.r2 >= 0.6 THEN s.at - interval '1 hour' END,
                      CASE WHEN s.status = 'resolved' THEN s.at END,
                      'About order ' || (100000 + c), NULL,
                      s.at - (c %% 5) * interval '1 day', now(),
                      CASE WHEN s.r3 < 0.25 THEN NULL
                           ELSE %s + ((s.inbox - %s) %% 5) + 5 * floor(s.r4 * 20)::int END,
                      s.contact, NULL, s.inbox, '[]', '[]', ''
               FROM (
                 SELECT c, {inbox_of} AS inbox, {contact_of} AS contact, r1, random() r2,
                        random() r3, random() r4,
                        CASE WHEN r1 < 0.15 THEN 'open' WHEN r1 < 0.20 THEN 'pending'
                             WHEN r1 < 0.23 THEN 'snoozed' ELSE 'resolved' END AS status,
                        CASE WHEN r1 < 0.23 THEN now() - random() * interval '30 days'
                             ELSE now() - interval '30 days' - random() * interval '700 days'
                        END AS at,
                        (ARRAY['Where is my order','Refund request','Cannot log in',
                               'Damaged package','Change my address','Invoice copy',
                               'Charged twice','Cancel subscription','Size exchange',
                               'Warranty claim'])[1 + c %% 10] AS topic
                 FROM (SELECT c, random() r1 FROM generate_series(1, %s) c) g
               ) s""",
            [first_agent, first_inbox, conversations],
        )
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('inbox_conversation', 'id'), %s)", [conversations]
        )
        cur.execute(
            """UPDATE inbox_inbox i SET last_conversation_number = m.n
               FROM (SELECT inbox_id, max(number) n FROM inbox_conversation GROUP BY inbox_id) m
               WHERE m.inbox_id = i.id"""
        )
        # 5,000 sentences of 5 words over ~8,000 words: word rank = 8000 * r^3 (skewed).
        step(
            "sentences",
            f"""CREATE TEMP TABLE bench_sentence AS
               SELECT s AS id, string_agg(
                   CASE WHEN w.rank < {len(COMMON)} THEN ({_sql_array(COMMON)})[1 + w.rank]
                        ELSE sy[1 + w.rank %% 20] || sy[1 + (w.rank / 20) %% 20] ||
                             sy[1 + (w.rank / 400) %% 20] END, ' ') AS text
               FROM generate_series(0, 4999) s,
                    LATERAL (SELECT floor(8000 * power(random(), 3))::int + 0 * s AS rank
                             FROM generate_series(1, 5)) w,
                    (SELECT {_sql_array(SYLLABLES)} sy) syl
               GROUP BY s""",
        )
        step(
            "messages",
            f"""INSERT INTO inbox_message (id, direction, kind, text, html, external_id,
                    delivery_status, delivery_error, data, created_at, updated_at,
                    conversation_id, inbox_id, sender_contact_id, sender_user_id)
               SELECT m.id,
                      CASE WHEN m.id %% 20 IN (1, 2) OR m.id %% 10 >= 6 THEN 'outgoing' ELSE 'incoming' END,
                      CASE WHEN m.id %% 20 = 1 THEN 'note' WHEN m.id %% 20 = 2 THEN 'activity'
                           ELSE 'message' END,
                      a.text || '. ' || b.text || '. ' || d.text || ' (order ' || (100000 + m.c) || ')',
                      '', '', CASE WHEN m.id %% 10 >= 6 THEN 'delivered' ELSE '' END, '', '{{}}',
                      now() - (m.id %% 700) * interval '1 day', now(),
                      m.c, {inbox_of.replace("c::", "m.c::")},
                      CASE WHEN m.id %% 20 IN (1, 2) OR m.id %% 10 >= 6 THEN NULL
                           ELSE {contact_of.replace("c::", "m.c::")} END,
                      NULL
               FROM (SELECT g AS id, 1 + (g - 1) %% %s AS c FROM generate_series(1::bigint, %s::bigint) g) m
               JOIN bench_sentence a ON a.id = abs(hashint8(m.id)::bigint) %% 5000
               JOIN bench_sentence b ON b.id = abs(hashint8(m.id + 1000000007)::bigint) %% 5000
               JOIN bench_sentence d ON d.id = abs(hashint8(m.id + 2000000011)::bigint) %% 5000""",
            [conversations, messages],
        )
        cur.execute("SELECT setval(pg_get_serial_sequence('inbox_message', 'id'), %s)", [messages])
        step(
            "last incoming message",
            """UPDATE inbox_conversation c SET last_incoming_message_id = m.id
               FROM (SELECT conversation_id, max(id) id FROM inbox_message
                     WHERE direction = 'incoming' GROUP BY conversation_id) m
               WHERE m.conversation_id = c.id""",
        )
        step(
            "labels",
            """INSERT INTO inbox_conversation_labels (conversation_id, label_id)
               SELECT id, %s + id %% 10 FROM inbox_conversation WHERE id %% 10 = 3""",
            [first_label],
        )
        step(
            "read positions",
            """INSERT INTO inbox_readposition (last_read_message_id, read_at, conversation_id, user_id)
               SELECT coalesce(last_incoming_message_id, 0), now(), id, assignee_id
               FROM inbox_conversation WHERE assignee_id = %s""",
            [first_agent],
        )
        start = time.monotonic()
        from inbox import tallies

        rows = tallies.recount()  # the sidebar counts, as Conversation.save() keeps them
        timings["conversation tallies"] = time.monotonic() - start
        print(f"  conversation tallies ({rows} rows): {timings['conversation tallies']:.1f} s")
        start = time.monotonic()
        for _name, definition in dropped:
            cur.execute(definition)
        timings["rebuild indexes"] = time.monotonic() - start
        print(f"  rebuild {len(dropped)} indexes: {timings['rebuild indexes']:.1f} s", flush=True)
        cur.execute("SET session_replication_role = DEFAULT")
        # As autovacuum leaves a steady-state table: statistics and the visibility map
        # (index-only scans).
        step("vacuum analyze", "VACUUM (ANALYZE)")
        cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        print(f"  database size {cur.fetchone()[0]}")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k conversations")
    parser.add_argument("--conversations", type=int)
    parser.add_argument("--messages", type=int)
    parser.add_argument("--contacts", type=int)
    parser.add_argument("--db", help="database name (bench_*)")
    args = parser.parse_args()
    scale = dict(SCALES["quick" if args.quick else "full"])
    for key in scale:
        if getattr(args, key):
            scale[key] = getattr(args, key)
    name = args.db or f"bench_list_{'quick' if args.quick else 'full'}"
    env = harness.services_env()
    start = time.monotonic()
    url = harness.create_database(env["DATABASE_URL"], name)
    harness.django_setup(url, None)
    print(f"generating {scale} into {name}")
    generate(url, **scale)
    print(
        f"done in {time.monotonic() - start:.0f} s (kept: drop it with "
        f"`dropdb {name}` or bench/list_at_scale.py without --keep)"
    )


if __name__ == "__main__":
    main()
