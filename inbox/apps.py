from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.models import User
        from inbox.models import Conversation

        post_delete.connect(_conversation_deleted, sender=Conversation)
        post_delete.connect(_user_deleted, sender=User)

        from anymail.signals import inbound, tracking

        from inbox.sources.email.webhooks import on_inbound, on_tracking

        inbound.connect(on_inbound, dispatch_uid="parley-inbound-email")
        tracking.connect(on_tracking, dispatch_uid="parley-email-tracking")


def _conversation_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    from inbox import tallies

    tallies.moved(getattr(instance, "_saved_tally_key", None) or instance.tally_key(), None)


def _user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    # Their conversations were unassigned by a bulk UPDATE (on_delete=SET_NULL), which
    # bypasses Conversation.save(): count again.
    from inbox import tallies

    tallies.recount()
