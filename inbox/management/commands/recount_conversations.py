from typing import Any

from django.core.management.base import BaseCommand

from inbox import tallies


class Command(BaseCommand):
    help = (
        "Rebuild the sidebar counts (conversations per inbox, status and assignee) from the "
        "conversations: after loading conversations in bulk, or a write that bypassed Parley."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Recounted: {tallies.recount()} tally rows.")
