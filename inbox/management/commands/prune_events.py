from typing import Any

from django.core.management.base import BaseCommand

from inbox.actions.maintenance import prune_events


class Command(BaseCommand):
    help = "Delete events older than EVENT_RETENTION_HOURS (run hourly at scale, e.g. cron)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Deleted {prune_events()} events.")
