"""Who may see what. Every lookup by id goes through these scopes."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User
from inbox.models import Contact, Conversation, Inbox


def visible_inboxes(user: User) -> QuerySet[Inbox]:
    """Admins see every inbox; agents see inboxes they or one of their teams belong to."""
    if user.is_admin:
        return Inbox.objects.all()
    return Inbox.objects.filter(Q(members=user) | Q(teams__members=user)).distinct()


def visible_inbox_ids(user: User) -> list[int]:
    return list(visible_inboxes(user).order_by().values_list("id", flat=True).distinct())


def visible_conversations(user: User) -> QuerySet[Conversation]:
    if user.is_admin:
        return Conversation.objects.all()
    return Conversation.objects.filter(inbox_id__in=visible_inbox_ids(user))


def visible_contacts(user: User) -> QuerySet[Contact]:
    """A contact is visible through a conversation in a visible inbox."""
    contacts = Contact.objects.filter(merged_into__isnull=True)
    if user.is_admin:
        return contacts
    return contacts.filter(
        pk__in=Conversation.objects.filter(inbox_id__in=visible_inbox_ids(user)).values(
            "contact_id"
        )
    )


def inbox_audience(inbox: Inbox) -> set[int]:
    """Ids of active users who may see the inbox."""
    return set(
        User.objects.filter(is_active=True)
        .filter(Q(role=User.Role.ADMIN) | Q(inboxes=inbox) | Q(teams__inboxes=inbox))
        .values_list("id", flat=True)
        .distinct()
    )


def can_see_inbox(user: User, inbox_id: int) -> bool:
    return user.is_active and (user.is_admin or inbox_id in visible_inbox_ids(user))
