"""Demo data for `make run`: an admin, two agents, a team, two inboxes with labels,
contacts and conversations in several states. Idempotent: each part is created once."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Team, User
from accounts.origin import SYSTEM
from inbox import actions
from inbox.models import Inbox, Label, Message

DEMO_PASSWORD = "demo-password-1"
DEMO_USERS = [
    ("admin@example.com", "Ada Admin", User.Role.ADMIN),
    ("agent@example.com", "Ben Agent", User.Role.AGENT),
    ("agent2@example.com", "Chloe Agent", User.Role.AGENT),
]
LABELS = [
    ("delivery", "#0ea5e9"),
    ("refund", "#f59e0b"),
    ("bug", "#ef4444"),
    ("feedback", "#10b981"),
]


class Command(BaseCommand):
    help = "Create the demo accounts, inboxes and conversations if they do not exist yet."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            users = []
            for email, name, role in DEMO_USERS:
                user = User.objects.filter(email=email).first()
                if user is None:
                    user = User.objects.create_user(
                        email,
                        DEMO_PASSWORD,
                        name=name,
                        role=role,
                        is_staff=role == User.Role.ADMIN,
                        is_superuser=role == User.Role.ADMIN,
                    )
                users.append(user)
            team, _ = Team.objects.get_or_create(
                name="Support", defaults={"description": "First line: every new conversation"}
            )
            team.members.add(*users[1:])
        if not Inbox.objects.exists():
            self._conversations(*users, team=team)
        if not Inbox.objects.filter(kind=Inbox.Kind.WIDGET).exists():
            self._website_chat(users[0], team)
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Demo accounts (password for all: {DEMO_PASSWORD}):"))
        for email, _, role in DEMO_USERS:
            self.stdout.write(f"  {role:<6} {email}")
        self.stdout.write("")

    def _website_chat(self, admin: User, team: Team) -> None:
        """A website chat that the demo page (/widget/demo/) and localhost may show."""
        from urllib.parse import urlsplit

        from django.conf import settings

        site = urlsplit(settings.SITE_URL)
        origins = {
            f"{site.scheme}://{site.netloc}",
            "http://127.0.0.1:8000",
            "http://localhost:8000",
        }
        actions.create_inbox(
            name="Website chat",
            kind="widget",
            actor=admin,
            origin=SYSTEM,
            teams=[team],
            settings={"widget": {"allowed_origins": sorted(origins)}},
            secrets={"identity_secret": secrets.token_hex(32)},
        )

    def _conversations(self, admin: User, ben: User, chloe: User, *, team: Team) -> None:
        labels = {
            name: actions.create_label(name=name, color=color)
            for name, color in LABELS
            if not Label.objects.filter(name=name).exists()
        }
        support = actions.create_inbox(
            name="Support",
            kind="api",
            actor=admin,
            origin=SYSTEM,
            teams=[team],
            secrets={
                "api_key": secrets.token_urlsafe(24),
                "signing_secret": secrets.token_urlsafe(24),
            },
        )
        billing = actions.create_inbox(
            name="Billing",
            kind="api",
            actor=admin,
            origin=SYSTEM,
            members=[chloe],
            secrets={
                "api_key": secrets.token_urlsafe(24),
                "signing_secret": secrets.token_urlsafe(24),
            },
        )
        now = timezone.now()

        def customer(
            inbox: Inbox, who: str, name: str, text: str, minutes_ago: int, subject: str = ""
        ) -> Any:
            return actions.receive_inbound_message(
                inbox=inbox,
                text=text,
                subject=subject,
                identity=actions.IdentityInput(kind="email", value=who, name=name),
                received_at=now - timedelta(minutes=minutes_ago),
            )

        order = customer(
            support,
            "maria.garcia@example.com",
            "María García",
            "Hi! My order #4411 was supposed to arrive on Monday and the tracking "
            "hasn't moved since Friday. Can you check?",
            190,
            "Order #4411 late",
        )
        customer(
            support,
            "maria.garcia@example.com",
            "María García",
            "It's a birthday present, so I'd really like it by Saturday.",
            185,
        )
        actions.set_labels(conversation=order.conversation, add=[labels["delivery"]], actor=None)

        charge = customer(
            billing,
            "tom.becker@example.com",
            "Tom Becker",
            "I was charged twice for my March invoice (INV-2031). Please refund the duplicate.",
            300,
            "Charged twice",
        )
        actions.assign(conversation=charge.conversation, assignee=chloe, actor=chloe)
        actions.add_note(
            conversation=charge.conversation,
            author=chloe,
            text="Checked Stripe: two captures of 49.00, 2 minutes apart.",
        )
        actions.send_reply(
            conversation=charge.conversation,
            author=chloe,
            text="Hi Tom, you're right, sorry about that. I've refunded the "
            "duplicate 49.00; it shows in 3-5 business days.",
        )
        actions.set_labels(conversation=charge.conversation, add=[labels["refund"]], actor=None)

        angry = customer(
            support,
            "sam.okoro@example.com",
            "Sam Okoro",
            "This is the THIRD time I'm writing. The app logs me out every five "
            "minutes. I want to speak to a person, not a bot.",
            25,
            "Logged out",
        )
        actions.set_priority(conversation=angry.conversation, priority=4, actor=None)
        actions.set_labels(conversation=angry.conversation, add=[labels["bug"]], actor=None)
        actions.assign(conversation=angry.conversation, assignee=ben, actor=admin)

        reset = customer(
            support,
            "lee.chen@example.com",
            "Lee Chen",
            "The password reset email never arrives. I checked spam.",
            600,
            "Password reset email",
        )
        actions.send_reply(
            conversation=reset.conversation,
            author=ben,
            text="Hi Lee, could you confirm the address you signed up with? "
            "I'll resend it from here.",
        )
        actions.set_status(conversation=reset.conversation, status="pending", actor=ben)

        snoozed = customer(
            support,
            "ana.silva@example.com",
            "Ana Silva",
            "Could you call me back next week about the team plan?",
            1500,
            "Team plan",
        )
        actions.set_status(
            conversation=snoozed.conversation,
            status="snoozed",
            actor=ben,
            snoozed_until=now + timedelta(days=3),
        )

        # The seeded replies are history: they were delivered, not waiting for a callback.
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.filter(
            task_path="inbox.tasks.deliver_message", status="READY"
        ).delete()
        for message in Message.objects.filter(delivery_status="queued"):
            actions.set_delivery_status(message=message, status="delivered")

        done = customer(
            support,
            "jo.martin@example.com",
            "Jo Martin",
            "Found the export button, thanks for the help!",
            2900,
            "Export",
        )
        actions.set_labels(conversation=done.conversation, add=[labels["feedback"]], actor=None)
        actions.set_status(conversation=done.conversation, status="resolved", actor=ben)
