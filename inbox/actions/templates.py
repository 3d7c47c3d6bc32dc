"""WhatsApp message templates: kept as the provider holds them, and sent, to answer after the
24-hour window closed or to start a conversation with a contact."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from inbox.actions.common import conversation_changed
from inbox.actions.contacts import IdentityInput, find_or_create_contact
from inbox.actions.errors import InboxError
from inbox.actions.messages import AttachmentInput, _new_conversation, send_reply
from inbox.events import writing
from inbox.models import Conversation, Inbox, Message, MessageTemplate


def store_templates(*, inbox: Inbox, rows: Iterable[dict[str, Any]]) -> int:
    """Replace the inbox's templates with the provider's list (name, language, category,
    status, components). Returns how many there are now."""
    now = timezone.now()
    kept = []
    with transaction.atomic():
        for row in rows:
            name, language = str(row.get("name") or ""), str(row.get("language") or "")
            if not name or not language:
                continue
            components = row.get("components") if isinstance(row.get("components"), list) else []
            template, _ = MessageTemplate.objects.update_or_create(
                inbox=inbox,
                name=name[:512],
                language=language[:20],
                defaults={
                    "category": str(row.get("category") or "")[:30],
                    "status": str(row.get("status") or "")[:30].upper(),
                    "components": components,
                    "provider_id": str(row.get("id") or "")[:100],
                    "synced_at": now,
                },
            )
            kept.append(template.pk)
        MessageTemplate.objects.filter(inbox=inbox).exclude(pk__in=kept).delete()
    return len(kept)


def set_template_status(
    *, inbox: Inbox, provider_id: str, name: str, language: str, status: str
) -> bool:
    """WhatsApp approved, rejected, paused or disabled a template (its status webhook)."""
    rows = MessageTemplate.objects.filter(inbox=inbox)
    rows = rows.filter(provider_id=provider_id) if provider_id else rows.filter(name=name)
    if language:
        rows = rows.filter(language=language)
    return bool(rows.update(status=status.upper()[:30], synced_at=timezone.now()))


def send_template(
    *,
    conversation: Conversation,
    author: User,
    template: MessageTemplate,
    params: dict[str, Any],
    attachments: Sequence[AttachmentInput] = (),
) -> Message:
    """Send an approved template in a WhatsApp conversation, with its parameters filled (the
    thread shows the filled text) and, when its header is an image, video or document, the
    one file in `attachments`. Allowed whether or not the 24-hour window is open.
    Raises InboxError."""
    from inbox.sources.whatsapp import templates

    if template.inbox_id != conversation.inbox_id:
        raise InboxError("That template belongs to another inbox.", field="template")
    try:
        cleaned = templates.clean_params(template, params)
        templates.check_header_file(template, [(f.filename, f.content_type) for f in attachments])
    except templates.TemplateError as exc:
        raise InboxError(str(exc), field="template") from exc
    named = any(not key.isdigit() for part in ("header", "body") for key in cleaned[part])
    return send_reply(
        conversation=conversation,
        author=author,
        text=templates.render(template, cleaned),
        attachments=attachments,
        template={
            "id": template.pk,
            "name": template.name,
            "language": template.language,
            "params": cleaned,
            "named": named,
            "header_media": templates.spec(template)["header"]["media"],
        },
    )


def start_whatsapp_conversation(
    *,
    inbox: Inbox,
    author: User,
    phone: str,
    name: str = "",
    template: MessageTemplate,
    params: dict[str, Any],
    attachments: Sequence[AttachmentInput] = (),
) -> Message:
    """Write first to a phone number on WhatsApp: only a template may open the conversation.
    The contact is found by their WhatsApp id (the number's digits) or created; their open
    or pending conversation in this inbox, if any, is continued (WhatsApp's 24-hour window
    is per customer, not per conversation), else a new one is started, assigned to the
    author. Raises InboxError."""
    if inbox.kind != Inbox.Kind.WHATSAPP:
        raise InboxError("Not a WhatsApp inbox.", field="inbox")
    digits = "".join(ch for ch in phone if ch.isdigit())
    if not 7 <= len(digits) <= 15:
        raise InboxError(
            "Write the number with its country code, e.g. +44 7700 900123.", field="to"
        )
    with writing():
        contact = find_or_create_contact(
            inbox=inbox,
            identity=IdentityInput(kind="external", value=digits, name=name, phone=f"+{digits}"),
        )
        current = (
            Conversation.objects.filter(
                inbox=inbox,
                contact=contact,
                status__in=(Conversation.Status.OPEN, Conversation.Status.PENDING),
            )
            .order_by("-last_activity_at", "-id")
            .first()
        )
        if current is not None:
            conversation = current
        else:
            conversation = _new_conversation(
                inbox=inbox, contact=contact, subject="", assignee=author
            )
            conversation_changed(conversation, kind="conversation.created")
        message = send_template(
            conversation=conversation,
            author=author,
            template=template,
            params=params,
            attachments=attachments,
        )
    return message
