"""The insights page (admins): the balance between automation and people over a period,
with a CSV export of the same numbers (inbox/queries/insights.py)."""

from __future__ import annotations

import csv
from datetime import date
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.permissions import admin_required
from inbox.models import Inbox
from inbox.queries.insights import Period, csv_rows, insights, period
from inbox.web.settings_views import FORMULA_START


class BadPeriod(ValueError):
    pass


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadPeriod(f"“{value}” is not a date (YYYY-MM-DD).") from exc


def period_from(params: Any, visible: list[int]) -> Period:
    """The period and inbox asked for in query parameters `from`, `to`, `inbox`."""
    inbox = params.get("inbox") or ""
    if inbox and not inbox.isdigit():
        raise BadPeriod("Unknown inbox.")
    return period(
        start=_date(params.get("from")),
        end=_date(params.get("to")),
        inbox_id=int(inbox) if inbox else None,
        visible=visible,
    )


def _bars(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Daily rows with each value as a share of the busiest day (for the CSS bar chart)."""
    peak = max([1, *(row[key] for row in rows for key in keys)])
    return [
        {**row, "bars": [(key, row[key], round(100 * row[key] / peak, 1)) for key in keys]}
        for row in rows
    ]


@admin_required
def insights_page(request: HttpRequest) -> HttpResponse:
    inboxes = list(Inbox.objects.order_by("name"))
    error = ""
    try:
        p = period_from(request.GET, [i.pk for i in inboxes])
    except BadPeriod as exc:
        error = str(exc)
        p = period(start=None, end=None, inbox_id=None, visible=[i.pk for i in inboxes])
    data = insights(p)
    s = data["suggestions"]
    context = {
        "nav": "insights",
        "data": data,
        "error": error,
        "inboxes": inboxes,
        "selected_inbox": request.GET.get("inbox", ""),
        "daily": _bars(data["daily"], ("suggested", "accepted", "discarded", "automated")),
        "outcome_bars": [
            (label, s[key], round(100 * s[key] / s["shown"], 1) if s["shown"] else 0)
            for key, label in (
                ("used", "Sent as suggested"),
                ("edited", "Sent with edits"),
                ("discarded", "Discarded"),
            )
        ],
        "query": request.GET.urlencode(),
    }
    return render(request, "web/insights.html", context)


@admin_required
def insights_csv(request: HttpRequest) -> HttpResponse:
    visible = list(Inbox.objects.values_list("pk", flat=True))
    try:
        p = period_from(request.GET, visible)
    except BadPeriod as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="parley-insights-{p.start}-{p.end}.csv"'
    )
    writer = csv.writer(response)
    for row in csv_rows(insights(p)):
        # A cell starting with = + - @ is a formula to spreadsheets: keep it text.
        writer.writerow(
            ["'" + v if isinstance(v, str) and v[:1] in FORMULA_START else v for v in row]
        )
    return response
