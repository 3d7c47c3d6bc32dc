"""Background work of the inbox (Django's tasks API; see inbox/worker.py)."""

from __future__ import annotations

import logging
from typing import Any

from django_tasks import task

from inbox.models import Conversation, Message

logger = logging.getLogger(__name__)


@task()
def wake_snoozed(conversation_id: int) -> str:
    from inbox.actions import reopen_if_snooze_due

    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        return "gone"
    reopen_if_snooze_due(conversation=conversation)
    return "checked"


@task()
def deliver_message(message_id: int) -> str:
    """Hand an outgoing message to its inbox's source."""
    from inbox.sources import deliver

    message = Message.objects.select_related("inbox", "conversation").filter(pk=message_id).first()
    if message is None:
        return "gone"
    return deliver(message)


@task()
def process_inbound_email(inbound_email_id: int) -> str:
    """Parse a stored email into a message (inbox/sources/email/inbound.py)."""
    from inbox.models import InboundEmail
    from inbox.sources.email.inbound import process_inbound_email as process

    row = InboundEmail.objects.select_related("inbox").filter(pk=inbound_email_id).first()
    if row is None:
        return "gone"
    if row.status != InboundEmail.Status.PENDING:
        return f"already {row.status}"
    return process(row).status


@task()
def poll_imap_now(inbox_id: int) -> str:
    """Fetch an inbox's new mail now (the "Check now" button)."""
    from inbox.models import Inbox
    from inbox.sources.email.imap import ImapFailed, poll_inbox

    inbox = Inbox.objects.filter(pk=inbox_id, kind=Inbox.Kind.EMAIL).first()
    if inbox is None:
        return "gone"
    try:
        return f"{poll_inbox(inbox).imported} new"
    except ImapFailed as exc:
        return f"failed: {exc}"


@task()
def after_customer_message(message_id: int) -> str:
    """Human-touch checks, suggested drafts and automated messages for a new customer
    message (inbox/drafts/pipeline.py)."""
    from inbox.drafts.pipeline import after_customer_message as run

    return run(message_id)


@task()
def after_customer_messages(message_ids: list[int]) -> str:
    """The same for the messages of one batch (inbox/actions/inbound_batch.py); drafts only
    for the batch's last message of each conversation."""
    from inbox.drafts.pipeline import after_customer_message as run

    conversation_of = dict(
        Message.objects.filter(pk__in=message_ids).values_list("pk", "conversation_id")
    )
    newest: dict[int, int] = {}
    for message_id, conversation_id in conversation_of.items():
        newest[conversation_id] = max(newest.get(conversation_id, 0), message_id)
    outcomes: dict[str, int] = {}
    for message_id in message_ids:
        superseded = newest.get(conversation_of.get(message_id, 0)) != message_id
        try:
            outcome = run(message_id, superseded=superseded)
        except Exception:  # one message's failure must not cost the others their drafts
            logger.exception("drafts for message %s failed", message_id)
            outcome = "failed"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))


@task()
def slow_drafts(message_id: int) -> str:
    """The slow draft engines (a language model) for a customer message."""
    from inbox.drafts.pipeline import slow_drafts as run

    return run(message_id)


@task()
def remember_conversation(conversation_id: int) -> str:
    """Add a resolved conversation's replies to team memory (inbox/drafts/memory.py)."""
    from inbox.drafts.memory import remember

    conversation = Conversation.objects.select_related("contact").filter(pk=conversation_id).first()
    if conversation is None:
        return "gone"
    return f"{remember(conversation)} remembered"


@task()
def learn_meta_profiles(wanted: list[list[Any]]) -> str:
    """Name new Messenger or Instagram contacts from their profiles (after a batch):
    `[inbox id, contact id, customer id]` each."""
    from inbox.sources.messenger.receiving import learn_profiles

    return learn_profiles(wanted)


# Ingestion goes before the work that follows it (drafts, team memory): in a burst, messages
# are stored first and their drafts catch up after (docs/sources/messaging.md).
INGEST_PRIORITY = 10


@task(priority=INGEST_PRIORITY)
def process_provider_events(event_ids: list[int]) -> str:
    """Process stored provider webhooks, kept together by the intake
    (inbox/sources/webhooks.py: process_events)."""
    from inbox.sources.webhooks import process_events

    return process_events(event_ids)
