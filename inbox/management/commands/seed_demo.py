"""Demo data for `make run`: an admin, two agents and a team. Idempotent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Team, User

DEMO_PASSWORD = "demo-password-1"
DEMO_USERS = [
    ("admin@example.com", "Ada Admin", User.Role.ADMIN),
    ("agent@example.com", "Ben Agent", User.Role.AGENT),
    ("agent2@example.com", "Chloe Agent", User.Role.AGENT),
]


class Command(BaseCommand):
    help = "Create the demo admin, agents and team if they do not exist yet."

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
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Demo accounts (password for all: {DEMO_PASSWORD}):"))
        for email, _, role in DEMO_USERS:
            self.stdout.write(f"  {role:<6} {email}")
        self.stdout.write("")
