"""Admin pages of the messaging-app inboxes (WhatsApp, Messenger, Instagram, Telegram, SMS):
one page per inbox built from its source's `SourceSetup` (inbox/sources/setup.py): the
fields, the webhook URL and verify token to copy into the provider's dashboard, and "Test
connection", which calls the provider."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.origin import Origin
from accounts.permissions import admin_required
from inbox import actions
from inbox.models import Inbox, MessageTemplate
from inbox.sources.setup import ConnectionProblem, SourceSetup, setup_for
from inbox.web.settings_views import InboxAccessForm, _show_refusal

logger = logging.getLogger(__name__)


def _setup(kind: str) -> SourceSetup:
    setup = setup_for(kind)
    if setup is None:
        raise Http404("No such kind of messaging inbox.")
    return setup


def _form_class(setup: SourceSetup, *, editing: bool) -> type[forms.Form]:
    fields: dict[str, forms.Field] = {"name": forms.CharField(max_length=100)}
    for spec in setup.fields:
        if spec.kind == "checkbox":
            fields[spec.name] = forms.BooleanField(
                label=spec.label, help_text=spec.help, required=False
            )
        elif spec.secret:
            help_text = spec.help + (" Leave blank to keep the current value." if editing else "")
            fields[spec.name] = forms.CharField(
                label=spec.label,
                help_text=help_text.strip(),
                required=spec.required and not editing,
                max_length=1000,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
            )
        else:
            fields[spec.name] = forms.CharField(
                label=spec.label, help_text=spec.help, required=spec.required, max_length=300
            )
    order = ["name", *(spec.name for spec in setup.fields), "members", "teams"]
    return type("MessagingInboxForm", (InboxAccessForm,), {**fields, "field_order": order})


def webhook_url(setup: SourceSetup, inbox: Inbox) -> str:
    path = reverse(setup.webhook_url_name, kwargs={"inbox_id": inbox.public_id})
    base = str((inbox.settings or {}).get("public_url") or "").strip().rstrip("/")
    return (base or settings.SITE_URL) + path


def _split(setup: SourceSetup, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    plain: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for spec in setup.fields:
        value = data.get(spec.name)
        if spec.secret:
            if value:
                secret[spec.name] = str(value).strip()
        else:
            plain[spec.name] = value if spec.kind == "checkbox" else str(value or "").strip()
    return plain, secret


@admin_required
def messaging_inbox_create(request: HttpRequest, kind: str) -> HttpResponse:
    setup = _setup(kind)
    form = _form_class(setup, editing=False)(request.POST or None)
    if request.method == "POST" and form.is_valid():
        plain, secret = _split(setup, form.cleaned_data)
        for name in setup.generated_secrets + (("verify_token",) if setup.verify_token else ()):
            secret[name] = secrets.token_urlsafe(24)
        try:
            inbox = actions.create_inbox(
                name=form.cleaned_data["name"],
                kind=kind,
                actor=request.user,  # type: ignore[arg-type]
                origin=Origin.from_request(request),
                settings=plain,
                secrets=secret,
                members=form.cleaned_data["members"],
                teams=form.cleaned_data["teams"],
            )
        except actions.InboxError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(
                request,
                f"Inbox “{inbox.name}” created. Now connect it to {inbox.get_kind_display()}.",
            )
            return redirect("inbox_settings:messaging_inbox_edit", inbox_id=inbox.pk)
    return render(
        request,
        "web/settings/messaging_inbox_form.html",
        {
            "form": form,
            "inbox": None,
            "setup": setup,
            "nav": "inboxes",
            "kind_name": Inbox.Kind(kind).label,
        },
    )


@admin_required
def messaging_inbox_edit(request: HttpRequest, inbox_id: int) -> HttpResponse:
    inbox = get_object_or_404(Inbox, pk=inbox_id)
    setup = _setup(inbox.kind)
    stored_secrets = inbox.get_secrets()
    initial: dict[str, Any] = {
        "name": inbox.name,
        "members": list(inbox.members.values_list("pk", flat=True)),
        "teams": list(inbox.teams.values_list("pk", flat=True)),
        **{s.name: (inbox.settings or {}).get(s.name, "") for s in setup.fields if not s.secret},
    }
    form = _form_class(setup, editing=True)(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        plain, secret = _split(setup, form.cleaned_data)
        origin, actor = Origin.from_request(request), request.user
        try:
            actions.update_inbox(
                inbox=inbox,
                actor=actor,  # type: ignore[arg-type]
                origin=origin,
                name=form.cleaned_data["name"],
                settings=plain,
                secrets=secret,
            )
            actions.set_inbox_access(
                inbox=inbox,
                users=form.cleaned_data["members"],
                teams=form.cleaned_data["teams"],
                actor=actor,  # type: ignore[arg-type]
                origin=origin,
            )
        except actions.InboxError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(request, f"Inbox “{form.cleaned_data['name']}” saved.")
            return redirect("inbox_settings:messaging_inbox_edit", inbox_id=inbox.pk)
    templates = (
        list(MessageTemplate.objects.filter(inbox=inbox).order_by("name", "language"))
        if inbox.kind == Inbox.Kind.WHATSAPP
        else []
    )
    response = render(
        request,
        "web/settings/messaging_inbox_form.html",
        {
            "form": form,
            "inbox": inbox,
            "setup": setup,
            "nav": "inboxes",
            "kind_name": inbox.get_kind_display(),
            "webhook_url": webhook_url(setup, inbox),
            "verify_token": stored_secrets.get("verify_token", "") if setup.verify_token else "",
            "secrets_set": [
                s.label for s in setup.fields if s.secret and stored_secrets.get(s.name)
            ],
            "templates": templates,
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@admin_required
@require_POST
def messaging_inbox_test(request: HttpRequest, inbox_id: int) -> HttpResponse:
    inbox = get_object_or_404(Inbox, pk=inbox_id)
    setup = _setup(inbox.kind)
    try:
        outcome = setup.test_connection(inbox, webhook_url(setup, inbox))
    except ConnectionProblem as exc:
        messages.error(request, f"Test connection failed: {exc}")
    except Exception as exc:  # a provider answering nonsense must not become a 500 page
        logger.exception("test connection of inbox %s", inbox.pk)
        messages.error(request, f"Test connection failed: {type(exc).__name__}: {exc}")
    else:
        messages.success(request, outcome)
    return redirect("inbox_settings:messaging_inbox_edit", inbox_id=inbox.pk)
