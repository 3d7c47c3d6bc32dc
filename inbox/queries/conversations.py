"""The conversation list, its counts, a thread page and search. Query shape lives here."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts.models import User
from inbox.models import Contact, Conversation, ConversationTally, Message, ReadPosition
from inbox.payloads import (
    CONVERSATION_PREFETCH,
    CONVERSATION_SELECT,
    MESSAGE_PREFETCH,
    MESSAGE_SELECT,
)
from inbox.queries.access import visible_conversations, visible_inbox_ids

STATUSES = ("open", "pending", "snoozed", "resolved")


class InvalidFilter(ValueError):
    """A filter value that cannot be used; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ConversationFilters:
    status: str = "open"  # a status or "all"
    assignee: str = "any"  # me | unassigned | any | <user id>
    team: int | None = None
    inbox: int | None = None
    label: int | None = None
    priority: int | None = None
    contact: int | None = None
    sort: str = "activity"  # activity | waiting


def _int(field: str, value: str | None) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidFilter(field, "Must be an integer id.") from None
    if not 0 <= number <= 2**63 - 1:
        raise InvalidFilter(field, "Out of range.")
    return number


def parse_filters(params: Any) -> ConversationFilters:
    """From query parameters; raises InvalidFilter naming the field."""
    status = params.get("status") or "open"
    if status not in (*STATUSES, "all"):
        raise InvalidFilter("status", f"Use one of {', '.join((*STATUSES, 'all'))}.")
    assignee = params.get("assignee") or "any"
    if assignee not in ("me", "unassigned", "any"):
        _int("assignee", assignee)
    sort = params.get("sort") or "activity"
    if sort not in ("activity", "waiting"):
        raise InvalidFilter("sort", "Use activity or waiting.")
    priority = _int("priority", params.get("priority"))
    if priority is not None and priority not in Conversation.Priority.values:
        raise InvalidFilter("priority", "Use 0 (none) to 4 (urgent).")
    return ConversationFilters(
        status=status,
        assignee=assignee,
        team=_int("team", params.get("team")),
        inbox=_int("inbox", params.get("inbox")),
        label=_int("label", params.get("label")),
        priority=priority,
        contact=_int("contact", params.get("contact")),
        sort=sort,
    )


def with_unread(conversations: QuerySet[Conversation], user: User) -> QuerySet[Conversation]:
    """Annotate `unread_count`: customer messages after the user's read position."""
    last_read = ReadPosition.objects.filter(conversation=OuterRef("pk"), user=user).values(
        "last_read_message_id"
    )[:1]
    unread = (
        Message.objects.filter(
            conversation=OuterRef("pk"), direction="incoming", id__gt=OuterRef("last_read")
        )
        .order_by()
        .values("conversation")
        .annotate(n=Count("id"))
        .values("n")
    )
    return conversations.annotate(
        last_read=Coalesce(Subquery(last_read), Value(0), output_field=IntegerField()),
    ).annotate(unread_count=Coalesce(Subquery(unread), Value(0), output_field=IntegerField()))


def _filtered(user: User, filters: ConversationFilters) -> QuerySet[Conversation]:
    qs = visible_conversations(user)
    if filters.status != "all":
        qs = qs.filter(status=filters.status)
    if filters.assignee == "me":
        qs = qs.filter(assignee=user)
    elif filters.assignee == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    elif filters.assignee != "any":
        qs = qs.filter(assignee_id=int(filters.assignee))
    for field in ("team", "inbox", "contact", "priority"):
        value = getattr(filters, field)
        if value is not None:
            qs = qs.filter(**{f"{field}_id" if field != "priority" else field: value})
    if filters.label is not None:
        qs = qs.filter(labels__id=filters.label)
    return qs


def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        assert isinstance(values, list) and len(values) == 2
        return values
    except Exception:
        raise InvalidFilter("cursor", "Invalid cursor.") from None


def conversation_page(
    user: User, filters: ConversationFilters, *, cursor: str | None, size: int
) -> tuple[list[Conversation], str | None]:
    """One page, newest activity first (or longest waiting first), keyset-paginated on
    (sort key, id) so deep pages cost the same as the first."""
    qs = _filtered(user, filters)
    if filters.sort == "waiting":
        qs = qs.filter(waiting_since__isnull=False)
        key, order = "waiting_since", ["waiting_since", "id"]
    else:
        key, order = "last_activity_at", ["-last_activity_at", "-id"]
    if cursor:
        when_raw, last_id = _decode(cursor)
        try:
            when = dt.datetime.fromisoformat(when_raw)
            last_id = int(last_id)
        except (TypeError, ValueError):
            raise InvalidFilter("cursor", "Invalid cursor.") from None
        if filters.sort == "waiting":
            qs = qs.filter(Q(waiting_since__gt=when) | Q(waiting_since=when, id__gt=last_id))
        else:
            qs = qs.filter(Q(last_activity_at__lt=when) | Q(last_activity_at=when, id__lt=last_id))
    qs = (
        with_unread(qs, user)
        .select_related(*CONVERSATION_SELECT)
        .prefetch_related(*CONVERSATION_PREFETCH)
        .order_by(*order)
    )
    rows = list(qs[: size + 1])
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = _encode([getattr(last, key).isoformat(), last.pk])
    return rows, next_cursor


def conversation_counts(user: User, *, inbox: int | None = None) -> dict[str, dict[str, int]]:
    """Mine / unassigned / all per status, from one query over the tallies (a few rows per
    inbox, kept in step by every write: inbox/tallies.py), not over the conversations."""
    rows = ConversationTally.objects.all()
    if not user.is_admin:
        rows = rows.filter(inbox_id__in=visible_inbox_ids(user))
    if inbox is not None:
        rows = rows.filter(inbox_id=inbox)
    grouped = (
        rows.order_by()
        .annotate(
            who=Case(
                When(assignee_key=user.pk, then=Value("mine")),
                When(assignee_key=0, then=Value("unassigned")),
                default=Value("other"),
                output_field=CharField(),
            )
        )
        .values("status", "who")
        .annotate(n=Sum("count"))
    )
    out = {view: dict.fromkeys(STATUSES, 0) for view in ("mine", "unassigned", "all")}
    for row in grouped:
        if row["status"] not in out["all"]:
            continue
        out["all"][row["status"]] += row["n"]
        if row["who"] != "other":
            out[row["who"]][row["status"]] += row["n"]
    return out


def get_conversation(user: User, conversation_id: int) -> Conversation:
    """Raises Conversation.DoesNotExist when missing or not visible to the user."""
    return (
        with_unread(visible_conversations(user), user)
        .select_related(*CONVERSATION_SELECT)
        .prefetch_related(*CONVERSATION_PREFETCH)
        .get(pk=conversation_id)
    )


def message_page(
    conversation: Conversation, *, before: int | None, size: int = 30
) -> tuple[list[Message], bool]:
    """Messages oldest first: the newest `size`, or those before message id `before`."""
    qs = Message.objects.filter(conversation=conversation)
    if before is not None:
        qs = qs.filter(id__lt=before)
    rows = list(
        qs.select_related(*MESSAGE_SELECT)
        .prefetch_related(*MESSAGE_PREFETCH)
        .order_by("-id")[: size + 1]
    )
    has_more = len(rows) > size
    return list(reversed(rows[:size])), has_more


# Above this many matches in one source, searching walks the most recent conversations
# instead of sorting every match (see search_conversations).
SEARCH_MATCH_CAP = 5000
SEARCH_LIMIT = 50
SEARCHED_KINDS = [Message.Kind.MESSAGE, Message.Kind.NOTE]


def search_conversations(
    user: User, query: str, *, limit: int = SEARCH_LIMIT
) -> list[Conversation]:
    """The most recent conversations whose messages (and notes), subject, or contact's name
    or email match `query`: PostgreSQL full-text search ("simple" configuration, web-search
    syntax: quotes, OR, -word), or a substring match on SQLite.

    On PostgreSQL each source is searched through its own GIN index (migration 0006) and
    the matching conversation ids are collected first. A word so common that a source has
    more than SEARCH_MATCH_CAP matches would make that list huge; then the search walks
    conversations from the most recent and keeps those with a match, which finds `limit`
    of them quickly precisely because matches are everywhere (bench/list_at_scale.py)."""
    visible = visible_conversations(user)
    query = query.strip()[:200]
    if not query:
        return []
    if connection.vendor == "postgresql":
        ids = _search_postgresql(visible, query, limit)
    else:
        ids = visible.filter(
            Q(subject__icontains=query)
            | Q(contact__name__icontains=query)
            | Q(contact__email__icontains=query)
            | Q(
                id__in=Message.objects.filter(
                    text__icontains=query, kind__in=SEARCHED_KINDS
                ).values("conversation_id")
            )
        )
    return list(
        with_unread(ids, user)
        .select_related(*CONVERSATION_SELECT)
        .prefetch_related(*CONVERSATION_PREFETCH)
        .order_by("-last_activity_at", "-id")[:limit]
    )


def _search_postgresql(
    visible: QuerySet[Conversation], query: str, limit: int
) -> QuerySet[Conversation]:
    from django.contrib.postgres.search import SearchQuery, SearchVector

    search = SearchQuery(query, search_type="websearch", config="simple")
    # Each expression matches its GIN index exactly (inbox/migrations/0006_search_indexes.py).
    messages = (
        Message.objects.filter(kind__in=SEARCHED_KINDS)
        .annotate(document=SearchVector("text", config="simple"))
        .filter(document=search)
        .order_by()
    )
    contacts = (
        Contact.objects.annotate(document=SearchVector("name", "email", config="simple"))
        .filter(document=search)
        .order_by()
    )
    subjects = (
        Conversation.objects.annotate(document=SearchVector("subject", config="simple"))
        .filter(document=search)
        .order_by()
    )
    in_messages = (
        # "Not an activity line" selects the same rows as kind IN (message, note), but the
        # planner cannot prove it is the GIN index's partial condition: so it reads each
        # chunk's messages through their conversation, never a bitmap of every message
        # with this word.
        Message.objects.exclude(kind=Message.Kind.ACTIVITY)
        .annotate(document=SearchVector("text", config="simple"))
        .filter(document=search)
    )
    # A common word is found in the newest conversations at once, and collecting its
    # matches would read its whole index entry (800k messages for "refund" at 1M
    # conversations): try the newest ones first.
    newest = _walk_recent(visible, in_messages, contacts, subjects, limit=limit, max_scanned=1)
    if len(newest) >= limit:
        return visible.filter(id__in=newest)
    capped = SEARCH_MATCH_CAP + 1
    by_message = list(messages.values_list("conversation_id", flat=True)[:capped])
    contact_ids = list(contacts.values_list("id", flat=True)[:capped])
    by_subject = list(subjects.values_list("id", flat=True)[:capped])
    if max(len(by_message), len(contact_ids), len(by_subject)) < capped:
        by_contact = list(
            Conversation.objects.filter(contact_id__in=contact_ids).values_list("id", flat=True)
        )
        return visible.filter(id__in=set(by_message) | set(by_contact) | set(by_subject))
    # Too common a word to collect: test the most recent conversations, chunk by chunk.
    return visible.filter(
        id__in=_walk_recent(visible, in_messages, contacts, subjects, limit=limit)
    )


def _walk_recent(
    visible: QuerySet[Conversation],
    messages: QuerySet[Message],
    contacts: QuerySet[Contact],
    subjects: QuerySet[Conversation],
    *,
    limit: int,
    first_chunk: int = 100,
    max_scanned: int = 20_000,
) -> list[int]:
    # (max_scanned=1 reads the first chunk only.)
    """Ids of the `limit` most recent visible conversations with a match, found by reading
    conversations newest first in growing chunks and testing each chunk's messages,
    subjects and contacts. For a word in most conversations the first chunk is enough; we
    stop after `max_scanned` conversations (an agent refines such a search anyway)."""
    found: list[int] = []
    scanned, size = 0, first_chunk
    after: tuple[Any, int] | None = None
    ordered = visible.order_by("-last_activity_at", "-id")
    while len(found) < limit and scanned < max_scanned:
        page = ordered
        if after is not None:
            page = page.filter(
                Q(last_activity_at__lt=after[0]) | Q(last_activity_at=after[0], id__lt=after[1])
            )
        rows = list(page.values_list("id", "last_activity_at", "contact_id")[:size])
        if not rows:
            break
        ids = [row[0] for row in rows]
        hits = set(
            messages.filter(conversation_id__in=ids).values_list("conversation_id", flat=True)
        )
        hits |= set(subjects.filter(id__in=ids).values_list("id", flat=True))
        matching_contacts = set(
            contacts.filter(id__in={row[2] for row in rows}).values_list("id", flat=True)
        )
        hits |= {row[0] for row in rows if row[2] in matching_contacts}
        found += [i for i in ids if i in hits]
        scanned += len(rows)
        after = (rows[-1][1], rows[-1][0])
        size = min(size * 4, 5000)
    return found[:limit]
