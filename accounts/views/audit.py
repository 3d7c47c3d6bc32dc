"""Admin page: the audit log."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import queries
from accounts.forms import AuditFilterForm
from accounts.permissions import admin_required


@admin_required
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        entries = queries.audit_entries().none()  # show the errors, not an unfiltered list
    else:
        filters = queries.audit_filters_from(form.cleaned_data) if form.is_bound else {}
        entries = queries.audit_entries(**filters)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/admin/audit_log.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "nav": "audit",
        },
    )
