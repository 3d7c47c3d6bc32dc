"""Admin pages of a website chat inbox: create it, get the snippet for the website, choose the
allowed websites, the look, the pre-chat form, identity verification and the satisfaction
prompt, and rotate the identity secret (docs/sources/widget.md)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.origin import Origin
from accounts.permissions import admin_required
from inbox import actions
from inbox.models import Inbox
from inbox.sources.widget import identity
from inbox.sources.widget.config import PRECHAT, config_for
from inbox.web.settings_views import InboxAccessForm, _show_refusal

NEW_SECRET_KEY = "_new_widget_secret"
PRECHAT_CHOICES = [(value, value.capitalize()) for value in PRECHAT]


class WidgetInboxForm(InboxAccessForm):
    name = forms.CharField(max_length=100)
    allowed_origins = forms.CharField(
        label="Websites allowed to show the chat",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "https://www.example.com"}),
        help_text="One address per line (scheme, host and port). Every other site is refused.",
    )
    color = forms.CharField(
        max_length=7, initial="#1f6feb", widget=forms.TextInput(attrs={"type": "color"})
    )
    position = forms.ChoiceField(choices=[("right", "Bottom right"), ("left", "Bottom left")])
    greeting = forms.CharField(max_length=300, required=False)
    launcher_text = forms.CharField(
        max_length=40,
        required=False,
        help_text="Empty: “Chat with us” in the visitor's language.",
    )
    prechat_name = forms.ChoiceField(label="Ask for a name", choices=PRECHAT_CHOICES)
    prechat_email = forms.ChoiceField(label="Ask for an email address", choices=PRECHAT_CHOICES)
    privacy_url = forms.URLField(
        label="Privacy policy",
        required=False,
        assume_scheme="https",
        help_text="Linked from a consent line under the chat's first message.",
    )
    identity_required = forms.BooleanField(
        label="Require identity verification",
        required=False,
        help_text="identify() calls without a valid hash are refused.",
    )
    identity_max_age = forms.IntegerField(
        label="Signed identities expire after (seconds)",
        min_value=0,
        max_value=86400 * 30,
        required=False,
        help_text="0: a hash without a timestamp is accepted for ever.",
    )
    satisfaction = forms.BooleanField(
        label="Ask for a rating when a conversation is resolved", required=False
    )
    email_inbox = forms.TypedChoiceField(
        label="Email replies to visitors who left through",
        required=False,
        coerce=int,
        empty_value=None,
        help_text="When a visitor who gave their email address has left the site, the reply "
        "is emailed from this inbox; their answer comes back into the chat.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["email_inbox"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", "Don't email (shown on their next visit)")] + [
            (inbox.pk, inbox.name) for inbox in Inbox.objects.filter(kind=Inbox.Kind.EMAIL)
        ]

    field_order = [
        "name",
        "allowed_origins",
        "color",
        "position",
        "greeting",
        "launcher_text",
        "prechat_name",
        "prechat_email",
        "privacy_url",
        "identity_required",
        "identity_max_age",
        "satisfaction",
        "email_inbox",
        "members",
        "teams",
    ]

    def widget_settings(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "allowed_origins": [
                line.strip() for line in data["allowed_origins"].splitlines() if line.strip()
            ],
            "color": data["color"],
            "position": data["position"],
            "greeting": data["greeting"],
            "launcher_text": data["launcher_text"],
            "prechat_name": data["prechat_name"],
            "prechat_email": data["prechat_email"],
            "privacy_url": data["privacy_url"],
            "identity_required": data["identity_required"],
            "identity_max_age": data["identity_max_age"] or 0,
            "satisfaction": data["satisfaction"],
            "email_inbox_id": data["email_inbox"],
        }


def _initial(inbox: Inbox) -> dict[str, Any]:
    config = config_for(inbox)
    return {
        "name": inbox.name,
        "allowed_origins": "\n".join(config.allowed_origins),
        "color": config.color,
        "position": config.position,
        "greeting": config.greeting,
        "launcher_text": config.launcher_text,
        "prechat_name": config.prechat_name,
        "prechat_email": config.prechat_email,
        "privacy_url": config.privacy_url,
        "identity_required": config.identity_required,
        "identity_max_age": config.identity_max_age,
        "satisfaction": config.satisfaction,
        "email_inbox": config.email_inbox_id,
        "members": list(inbox.members.values_list("pk", flat=True)),
        "teams": list(inbox.teams.values_list("pk", flat=True)),
    }


@admin_required
def widget_inbox_create(request: HttpRequest) -> HttpResponse:
    form = WidgetInboxForm(
        request.POST or None, initial={"prechat_name": "optional", "prechat_email": "optional"}
    )
    if request.method == "POST" and form.is_valid():
        secret = identity.new_identity_secret()
        try:
            inbox = actions.create_inbox(
                name=form.cleaned_data["name"],
                kind=Inbox.Kind.WIDGET,
                actor=request.user,  # type: ignore[arg-type]
                origin=Origin.from_request(request),
                settings={"widget": form.widget_settings()},
                secrets={"identity_secret": secret},
                members=form.cleaned_data["members"],
                teams=form.cleaned_data["teams"],
            )
        except actions.InboxError as exc:
            _show_refusal(form, exc)
        else:
            request.session[NEW_SECRET_KEY] = secret
            messages.success(request, f"Website chat “{inbox.name}” created.")
            return redirect("inbox_settings:widget_inbox_edit", inbox_id=inbox.pk)
    return render(
        request,
        "web/settings/widget_inbox_form.html",
        {"form": form, "inbox": None, "nav": "inboxes"},
    )


@admin_required
def widget_inbox_edit(request: HttpRequest, inbox_id: int) -> HttpResponse:
    inbox = get_object_or_404(Inbox, pk=inbox_id, kind=Inbox.Kind.WIDGET)
    form = WidgetInboxForm(request.POST or None, initial=_initial(inbox))
    if request.method == "POST" and form.is_valid():
        origin = Origin.from_request(request)
        actor: Any = request.user
        try:
            actions.update_inbox(
                inbox=inbox,
                actor=actor,
                origin=origin,
                name=form.cleaned_data["name"],
                settings={"widget": form.widget_settings()},
            )
        except actions.InboxError as exc:
            _show_refusal(form, exc)
        else:
            actions.set_inbox_access(
                inbox=inbox,
                users=form.cleaned_data["members"],
                teams=form.cleaned_data["teams"],
                actor=actor,
                origin=origin,
            )
            messages.success(request, f"Website chat “{form.cleaned_data['name']}” saved.")
            return redirect("inbox_settings:widget_inbox_edit", inbox_id=inbox.pk)
    site = settings.SITE_URL
    response = render(
        request,
        "web/settings/widget_inbox_form.html",
        {
            "form": form,
            "inbox": inbox,
            "nav": "inboxes",
            "snippet": (
                f'<script src="{site}/static/widget/loader.js" '
                f'data-inbox="{inbox.public_id}" async></script>'
            ),
            "new_secret": request.session.pop(NEW_SECRET_KEY, None),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@admin_required
@require_POST
def widget_rotate_secret(request: HttpRequest, inbox_id: int) -> HttpResponse:
    inbox = get_object_or_404(Inbox, pk=inbox_id, kind=Inbox.Kind.WIDGET)
    secret = identity.new_identity_secret()
    actions.update_inbox(
        inbox=inbox,
        actor=request.user,  # type: ignore[arg-type]
        origin=Origin.from_request(request),
        secrets={"identity_secret": secret},
    )
    request.session[NEW_SECRET_KEY] = secret
    messages.success(request, "New identity secret generated. Hashes made with the old one fail.")
    return redirect("inbox_settings:widget_inbox_edit", inbox_id=inbox.pk)


def widget_demo(request: HttpRequest) -> HttpResponse:
    """A stand-in customer website embedding the first website chat (the embedded shape and
    debug only: `make run` seeds a chat that allows this site)."""
    inbox = Inbox.objects.filter(kind=Inbox.Kind.WIDGET, is_active=True).order_by("pk").first()
    if inbox is None:
        return HttpResponse("No website chat inbox yet.", status=404, content_type="text/plain")
    site = settings.SITE_URL
    snippet = (
        f'<script src="{site}/static/widget/loader.js" data-inbox="{inbox.public_id}" '
        "async></script>"
    )
    return render(
        request, "web/widget_demo.html", {"inbox": inbox, "site": site, "snippet": snippet}
    )
