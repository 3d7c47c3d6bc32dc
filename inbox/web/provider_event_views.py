"""Admin page: messaging-provider webhook deliveries that did not become messages (not
understood, or still waiting long after they arrived), with the reason and the raw
payload, and a way to process them again once the cause is fixed."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.permissions import admin_required
from inbox.models import ProviderEvent

STUCK_AFTER = timedelta(minutes=10)


def needing_attention() -> QuerySet[ProviderEvent]:
    return ProviderEvent.objects.filter(
        Q(status=ProviderEvent.Status.UNPROCESSABLE)
        | Q(status=ProviderEvent.Status.PENDING, received_at__lt=timezone.now() - STUCK_AFTER)
    )


@admin_required
def provider_event_list(request: HttpRequest) -> HttpResponse:
    rows = []
    for event in needing_attention().select_related("inbox").order_by("-received_at")[:200]:
        body = bytes(event.body)
        rows.append(
            {
                "event": event,
                "payload": body[:2000].decode("utf-8", "replace"),
                "cut": len(body) > 2000,
            }
        )
    return render(
        request, "web/settings/provider_event_list.html", {"rows": rows, "nav": "inboxes"}
    )


@admin_required
@require_POST
def provider_event_reprocess(request: HttpRequest, event_id: int) -> HttpResponse:
    from inbox.sources.webhooks import process_event

    event = needing_attention().select_related("inbox").filter(pk=event_id).first()
    if event is not None:
        event.status = ProviderEvent.Status.PENDING
        outcome = process_event(event)
        if outcome == ProviderEvent.Status.PROCESSED:
            messages.success(request, "The delivery became a message.")
        else:
            messages.error(request, "It still cannot be processed; the reason is shown.")
    return redirect("inbox_settings:provider_event_list")
