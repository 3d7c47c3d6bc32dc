"""The “Drafts & human touch” page of an inbox (admins): suggested drafts, when a
conversation needs a person, business hours, the automatic acknowledgement, and the canned
replies an admin lets the inbox send on its own (inbox/policy.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Team
from accounts.origin import Origin
from accounts.permissions import admin_required
from inbox import actions, hours
from inbox.models import AutoSendRule, CannedReply, Conversation, Inbox
from inbox.policy import TONES, Policy, PolicyError, clean, policy_for

DAY_NAMES = dict(
    zip(
        hours.DAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)


POLICY_FIELDS = set(Policy.__dataclass_fields__)


def _lines(text: str) -> list[str]:
    return [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]


class PolicyForm(forms.Form):
    suggestions = forms.BooleanField(required=False, label="Suggest drafts to agents")
    threshold = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        label="Confidence threshold",
        help_text="0–1. Below it no draft is shown rather than a wrong one. Empty: the "
        "server's default.",
    )
    tone = forms.ChoiceField(choices=[(t, t.capitalize()) for t in TONES])
    greeting = forms.CharField(
        required=False,
        max_length=200,
        label="Email greeting",
        help_text="Added above email drafts that have none, e.g. "
        "“Hello {{contact.first_name|there}},”. Empty: one in the customer's language.",
    )
    flag_vip = forms.BooleanField(required=False, label="VIP contacts need a person")
    segments = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="High-value segments",
        help_text="One per line as attribute=value (a contact custom attribute), e.g. "
        "plan=enterprise.",
    )
    flag_person_request = forms.BooleanField(
        required=False, label="A customer asking for a person needs a person"
    )
    flag_negative = forms.BooleanField(required=False, label="An angry or very negative tone")
    flag_vulnerable = forms.BooleanField(
        required=False, label="Bereavement, illness, fraud or financial hardship"
    )
    repeat_hours = forms.IntegerField(
        min_value=0,
        max_value=720,
        label="Repeat contact window (hours)",
        help_text="A customer writing again about the same thing within this many hours "
        "needs a person. 0: off.",
    )
    keywords = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Comma- or line-separated; “cancel” also finds “cancelled”.",
    )
    flag_priority = forms.TypedChoiceField(
        coerce=int,
        choices=Conversation.Priority.choices,
        label="Priority of flagged conversations",
    )
    flag_team = forms.ModelChoiceField(
        queryset=Team.objects.all(),
        required=False,
        label="Route flagged conversations to",
        empty_label="Keep their team",
    )
    ack_enabled = forms.BooleanField(required=False, label="Send an automatic acknowledgement")
    ack_outside_hours = forms.BooleanField(required=False, label="Outside business hours")
    ack_first_contact = forms.BooleanField(required=False, label="On a customer's first contact")
    ack_text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Acknowledgement",
        help_text="{{reply_eta}} becomes “today at 14:00”, “tomorrow at 09:00”… or "
        "“shortly”. Never sent to auto-replies, bounces or conversations that need a person.",
    )
    throttle_hours = forms.IntegerField(
        min_value=1,
        max_value=720,
        label="At most one automated message per contact every (hours)",
    )
    time_zone = forms.CharField(max_length=64, initial="UTC", label="Time zone")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for day, name in DAY_NAMES.items():
            self.fields[f"hours_{day}"] = forms.CharField(
                required=False,
                label=name,
                help_text="e.g. 09:00-12:30, 13:30-17:00; empty: closed" if day == "mon" else "",
            )


def _initial(inbox: Inbox) -> dict[str, Any]:
    policy = policy_for(inbox)
    initial: dict[str, Any] = policy.as_dict()
    initial["segments"] = "\n".join(policy.segments)
    initial["keywords"] = ", ".join(policy.keywords)
    initial["flag_team"] = policy.flag_team_id
    initial["time_zone"] = (inbox.business_hours or {}).get("time_zone", "UTC")
    for day, spans in ((inbox.business_hours or {}).get("days") or {}).items():
        initial[f"hours_{day}"] = ", ".join(f"{a}-{b}" for a, b in spans)
    return initial


@admin_required
def inbox_policy(request: HttpRequest, inbox_id: int) -> HttpResponse:
    inbox = get_object_or_404(Inbox, pk=inbox_id)
    form = PolicyForm(request.POST or None, initial=_initial(inbox))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            days = {}
            for day in hours.DAYS:
                spans = hours.parse_line(data[f"hours_{day}"])
                if spans:
                    days[day] = spans
            business = hours.clean({"time_zone": data["time_zone"], "days": days})
        except hours.HoursError as exc:
            form.add_error(None, str(exc))
        else:
            try:
                policy = clean(
                    {
                        **{key: data[key] for key in data if key in POLICY_FIELDS},
                        "segments": _lines(data["segments"]),
                        "keywords": _lines(data["keywords"]),
                        "flag_team_id": data["flag_team"].pk if data["flag_team"] else None,
                    }
                )
            except PolicyError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                actions.update_inbox(
                    inbox=inbox,
                    actor=request.user,  # type: ignore[arg-type]
                    origin=Origin.from_request(request),
                    settings={"policy": policy.as_dict()},
                    business_hours=business,
                )
                messages.success(request, f"Drafts and human touch of “{inbox.name}” saved.")
                return redirect("inbox_settings:inbox_policy", inbox_id=inbox.pk)
    rules = AutoSendRule.objects.filter(inbox=inbox).select_related("canned_reply")
    canned = CannedReply.objects.exclude(scope=CannedReply.Scope.PERSONAL).order_by("title")
    return render(
        request,
        "web/settings/inbox_policy.html",
        {
            "inbox": inbox,
            "form": form,
            "nav": "inboxes",
            "rules": rules,
            "canned": canned,
            "day_fields": [form[f"hours_{day}"] for day in hours.DAYS],
        },
    )


@admin_required
@require_POST
def auto_send_add(request: HttpRequest, inbox_id: int) -> HttpResponse:
    inbox = get_object_or_404(Inbox, pk=inbox_id)
    reply = CannedReply.objects.filter(pk=request.POST.get("canned_reply") or 0).first()
    try:
        floor = float(request.POST.get("min_confidence") or "")
    except ValueError:
        floor = -1
    try:
        if reply is None:
            raise actions.InboxError("Choose a canned reply.")
        actions.set_auto_send_rule(
            inbox=inbox,
            reply=reply,
            min_confidence=floor,
            actor=request.user,  # type: ignore[arg-type]
            origin=Origin.from_request(request),
        )
    except actions.InboxError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"“{reply.title}” is now sent automatically on {inbox.name}.")
    return redirect("inbox_settings:inbox_policy", inbox_id=inbox.pk)


@admin_required
@require_POST
def auto_send_delete(request: HttpRequest, inbox_id: int, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(AutoSendRule, pk=rule_id, inbox_id=inbox_id)
    actions.delete_auto_send_rule(
        rule=rule,
        actor=request.user,  # type: ignore[arg-type]
        origin=Origin.from_request(request),
    )
    messages.success(request, "Automatic sending stopped.")
    return redirect("inbox_settings:inbox_policy", inbox_id=inbox_id)
