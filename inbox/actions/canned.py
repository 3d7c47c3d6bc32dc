"""Canned replies: admins manage shared ones (everyone, a team); every agent manages their
own personal ones. Bodies are checked for variables when saved (inbox/canned.py)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F

from accounts.models import Team, User
from inbox.actions.errors import InboxError
from inbox.canned import VariableError, variables
from inbox.models import CannedAttachment, CannedReply, Inbox

FIELDS = {"title", "shortcode", "body", "scope", "team", "inbox", "tags", "examples", "language"}


def _check(reply: CannedReply, actor: User) -> None:
    if not reply.title.strip():
        raise InboxError("A canned reply needs a title.", field="title")
    if not reply.body.strip():
        raise InboxError("A canned reply needs a body.", field="body")
    try:
        variables(reply.body)
    except VariableError as exc:
        raise InboxError(str(exc), field="body") from exc
    if reply.scope == CannedReply.Scope.PERSONAL:
        reply.owner, reply.team = reply.owner or actor, None
    elif not actor.is_admin:
        raise InboxError("Only admins share canned replies; keep it personal.", field="scope")
    else:
        reply.owner = None
        if reply.scope == CannedReply.Scope.TEAM and reply.team is None:
            raise InboxError("Choose the team this reply is for.", field="team")
        if reply.scope == CannedReply.Scope.EVERYONE:
            reply.team = None
    reply.tags = [str(t).strip()[:50] for t in reply.tags or [] if str(t).strip()][:20]
    reply.examples = [str(e).strip()[:500] for e in reply.examples or [] if str(e).strip()][:50]
    clash = CannedReply.objects.filter(shortcode=reply.shortcode).exclude(pk=reply.pk)
    if reply.scope == CannedReply.Scope.PERSONAL:
        clash = clash.filter(owner=reply.owner)
    else:
        clash = clash.exclude(scope=CannedReply.Scope.PERSONAL)
    if clash.exists():
        raise InboxError(f"The shortcode /{reply.shortcode} is taken.", field="shortcode")


def _apply(reply: CannedReply, changes: dict[str, Any]) -> None:
    unknown = set(changes) - FIELDS
    if unknown:
        raise InboxError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    for name, value in changes.items():
        if name == "team":
            value = (
                value if isinstance(value, Team) or value is None else Team.objects.get(pk=value)
            )
        if name == "inbox":
            value = (
                value if isinstance(value, Inbox) or value is None else Inbox.objects.get(pk=value)
            )
        setattr(reply, name, value)


def create_canned_reply(*, actor: User, **fields: Any) -> CannedReply:
    reply = CannedReply(created_by=actor)
    _apply(reply, fields)
    _check(reply, actor)
    reply.save()
    return reply


def can_edit(actor: User, reply: CannedReply) -> bool:
    return (
        reply.owner_id == actor.pk if reply.scope == CannedReply.Scope.PERSONAL else actor.is_admin
    )


def update_canned_reply(*, reply: CannedReply, actor: User, **changes: Any) -> CannedReply:
    if not can_edit(actor, reply):
        raise InboxError("You cannot change this canned reply.")
    with transaction.atomic():
        reply = CannedReply.objects.select_for_update(no_key=True).get(pk=reply.pk)
        _apply(reply, changes)
        _check(reply, actor)
        reply.save()
    return reply


def delete_canned_reply(*, reply: CannedReply, actor: User) -> None:
    if not can_edit(actor, reply):
        raise InboxError("You cannot delete this canned reply.")
    reply.delete()


def record_canned_use(*, reply: CannedReply) -> None:
    CannedReply.objects.filter(pk=reply.pk).update(usage_count=F("usage_count") + 1)


MAX_CANNED_FILES = 5


def add_canned_attachment(
    *, reply: CannedReply, actor: User, filename: str, content_type: str, content: bytes
) -> CannedAttachment:
    """A file sent with the reply. Same size limit as an agent's upload."""
    from django.conf import settings
    from django.core.files.base import ContentFile

    if not can_edit(actor, reply):
        raise InboxError("You cannot change this canned reply.")
    if not content:
        raise InboxError("That file is empty.", field="file")
    if len(content) > settings.ATTACHMENT_MAX_BYTES:
        limit = settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)
        raise InboxError(f"Files are limited to {limit} MB.", field="file")
    if reply.attachments.count() >= MAX_CANNED_FILES:
        raise InboxError(f"A canned reply carries at most {MAX_CANNED_FILES} files.", field="file")
    attachment = CannedAttachment(
        canned_reply=reply,
        filename=(filename or "attachment")[:255],
        content_type=(content_type or "application/octet-stream")[:100],
        size=len(content),
    )
    attachment.file.save(attachment.filename, ContentFile(content), save=False)
    attachment.save()
    return attachment


def remove_canned_attachment(*, attachment: CannedAttachment, actor: User) -> None:
    if not can_edit(actor, attachment.canned_reply):
        raise InboxError("You cannot change this canned reply.")
    attachment.file.delete(save=False)
    attachment.delete()
