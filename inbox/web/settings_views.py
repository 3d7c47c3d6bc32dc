"""Admin pages for inboxes and labels (the REST API offers the same operations), and the
emails that could not be processed."""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.forms import IdMultipleChoiceField
from accounts.models import Team, User
from accounts.origin import Origin
from accounts.permissions import admin_required
from inbox import actions, canned
from inbox.api.files import raw_email_response
from inbox.models import CannedReply, InboundEmail, Inbox, Label
from inbox.sources.email.webhooks import webhooks_enabled

NEW_SECRETS_KEY = "_new_inbox_secrets"
# A CSV cell starting with one of these is a formula to spreadsheets: exported with a '.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _show_refusal(form: forms.Form, exc: actions.InboxError) -> None:
    """An action's refusal, on the field it names (or the whole form)."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


class InboxAccessForm(forms.Form):
    """Who sees an inbox: the fields every kind of inbox form ends with."""

    members = IdMultipleChoiceField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Agents who see this inbox",
    )
    teams = IdMultipleChoiceField(
        queryset=Team.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Teams who see this inbox",
    )


class InboxForm(InboxAccessForm):
    name = forms.CharField(max_length=100)
    callback_url = forms.URLField(
        label="Callback URL",
        required=False,
        assume_scheme="https",
        help_text="Agents' replies are POSTed here, signed (see docs/sources/api.md).",
    )
    field_order = ["name", "callback_url", "members", "teams"]


class LabelForm(forms.Form):
    name = forms.CharField(max_length=50)
    color = forms.CharField(
        max_length=7, initial="#6366f1", widget=forms.TextInput(attrs={"type": "color"})
    )
    description = forms.CharField(max_length=200, required=False)


def _new_secrets() -> dict[str, str]:
    return {"api_key": secrets.token_urlsafe(32), "signing_secret": secrets.token_urlsafe(32)}


@admin_required
def inbox_list(request: HttpRequest) -> HttpResponse:
    inboxes = (
        Inbox.objects.select_related("imap").prefetch_related("members", "teams").order_by("name")
    )
    from inbox.sources.email.inbound import needs_attention
    from inbox.web.provider_event_views import needing_attention

    failed = needs_attention().count()
    return render(
        request,
        "web/settings/inbox_list.html",
        {
            "inboxes": inboxes,
            "nav": "inboxes",
            "failed_emails": failed,
            "unprocessed_deliveries": needing_attention().count(),
        },
    )


@admin_required
def inbox_create(request: HttpRequest) -> HttpResponse:
    form = InboxForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        keys = _new_secrets()
        inbox = actions.create_inbox(
            name=form.cleaned_data["name"],
            kind=Inbox.Kind.API,
            actor=request.user,  # type: ignore[arg-type]
            origin=Origin.from_request(request),
            settings={"callback_url": form.cleaned_data["callback_url"]},
            secrets=keys,
            members=form.cleaned_data["members"],
            teams=form.cleaned_data["teams"],
        )
        request.session[NEW_SECRETS_KEY] = keys
        messages.success(request, f"Inbox “{inbox.name}” created.")
        return redirect("inbox_settings:inbox_edit", inbox_id=inbox.pk)
    return render(
        request, "web/settings/inbox_form.html", {"form": form, "inbox": None, "nav": "inboxes"}
    )


@admin_required
def inbox_edit(request: HttpRequest, inbox_id: int) -> HttpResponse:
    inbox = get_object_or_404(Inbox, pk=inbox_id)
    if inbox.kind == Inbox.Kind.EMAIL:
        return redirect("inbox_settings:email_inbox_edit", inbox_id=inbox.pk)
    if inbox.kind == Inbox.Kind.WIDGET:
        return redirect("inbox_settings:widget_inbox_edit", inbox_id=inbox.pk)
    if inbox.kind != Inbox.Kind.API:
        return redirect("inbox_settings:messaging_inbox_edit", inbox_id=inbox.pk)
    initial: dict[str, Any] = {
        "name": inbox.name,
        "callback_url": inbox.settings.get("callback_url", ""),
        "members": list(inbox.members.values_list("pk", flat=True)),
        "teams": list(inbox.teams.values_list("pk", flat=True)),
    }
    form = InboxForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        origin = Origin.from_request(request)
        actor: Any = request.user
        actions.update_inbox(
            inbox=inbox,
            actor=actor,
            origin=origin,
            name=form.cleaned_data["name"],
            settings={"callback_url": form.cleaned_data["callback_url"]},
        )
        actions.set_inbox_access(
            inbox=inbox,
            users=form.cleaned_data["members"],
            teams=form.cleaned_data["teams"],
            actor=actor,
            origin=origin,
        )
        messages.success(request, f"Inbox “{form.cleaned_data['name']}” saved.")
        return redirect("inbox_settings:inbox_list")
    response = render(
        request,
        "web/settings/inbox_form.html",
        {
            "form": form,
            "inbox": inbox,
            "nav": "inboxes",
            "new_secrets": request.session.pop(NEW_SECRETS_KEY, None),
            "endpoint": request.build_absolute_uri(f"/sources/api/{inbox.public_id}/messages"),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@admin_required
@require_POST
def inbox_rotate_keys(request: HttpRequest, inbox_id: int) -> HttpResponse:
    inbox = get_object_or_404(Inbox, pk=inbox_id)
    keys = _new_secrets()
    actions.update_inbox(
        inbox=inbox,
        actor=request.user,  # type: ignore[arg-type]
        origin=Origin.from_request(request),
        secrets=keys,
    )
    request.session[NEW_SECRETS_KEY] = keys
    messages.success(request, "New keys generated. The old ones stopped working.")
    return redirect("inbox_settings:inbox_edit", inbox_id=inbox.pk)


@admin_required
def label_list(request: HttpRequest) -> HttpResponse:
    form = LabelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            label = actions.create_label(**form.cleaned_data)
        except actions.InboxError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(request, f"Label “{label.name}” created.")
            return redirect("inbox_settings:label_list")
    return render(
        request,
        "web/settings/label_list.html",
        {"form": form, "labels": Label.objects.order_by("name"), "nav": "labels"},
    )


@admin_required
def label_edit(request: HttpRequest, label_id: int) -> HttpResponse:
    label = get_object_or_404(Label, pk=label_id)
    form = LabelForm(
        request.POST or None,
        initial={"name": label.name, "color": label.color, "description": label.description},
    )
    if request.method == "POST":
        if request.POST.get("delete") == "1":
            actions.delete_label(label=label)
            messages.success(request, f"Label “{label.name}” deleted.")
            return redirect("inbox_settings:label_list")
        if form.is_valid():
            try:
                actions.update_label(label=label, **form.cleaned_data)
            except actions.InboxError as exc:
                _show_refusal(form, exc)
            else:
                messages.success(request, "Label saved.")
                return redirect("inbox_settings:label_list")
    return render(
        request, "web/settings/label_form.html", {"form": form, "label": label, "nav": "labels"}
    )


# --- Emails that could not be processed ------------------------------------------------------


@admin_required
def failed_email_list(request: HttpRequest) -> HttpResponse:
    from inbox.sources.email.inbound import needs_attention

    rows = needs_attention().select_related("inbox")[:200]
    return render(request, "web/settings/failed_email_list.html", {"rows": rows, "nav": "inboxes"})


@admin_required
@require_POST
def failed_email_reprocess(request: HttpRequest, email_id: int | None = None) -> HttpResponse:
    from inbox.sources.email.inbound import needs_attention, reprocess_inbound_email

    rows = needs_attention().select_related("inbox")
    if email_id is not None:
        rows = rows.filter(pk=email_id)
    done = failed = 0
    for row in rows.order_by("id")[:500]:
        if reprocess_inbound_email(row).status == InboundEmail.Status.FAILED:
            failed += 1
        else:
            done += 1
    if done:
        messages.success(request, f"{done} email(s) processed.")
    if failed:
        messages.error(request, f"{failed} email(s) still failed; the reason is shown.")
    return redirect("inbox_settings:failed_email_list")


@admin_required
def failed_email_raw(request: HttpRequest, email_id: int) -> HttpResponse:
    row = get_object_or_404(InboundEmail, pk=email_id)
    return raw_email_response(row, f"email-{row.pk}.eml")  # type: ignore[return-value]


@admin_required
@require_POST
def inbox_check_mail(request: HttpRequest, inbox_id: int) -> HttpResponse:
    """Poll the inbox's IMAP mailbox now and say what happened."""
    from inbox.sources.email.imap import ImapFailed, poll_inbox

    inbox = get_object_or_404(Inbox, pk=inbox_id, kind=Inbox.Kind.EMAIL)
    try:
        result = poll_inbox(inbox)
    except ImapFailed as exc:
        messages.error(request, f"{inbox.name}: {exc}")
    else:
        messages.success(request, f"{inbox.name}: {result.imported} new email(s).")
    return redirect("inbox_settings:inbox_list")


# --- Email inboxes -----------------------------------------------------------------------------

SECURITY_CHOICES = [
    ("ssl", "SSL/TLS"),
    ("starttls", "STARTTLS"),
    ("none", "None (trusted network only)"),
]


class EmailInboxForm(InboxAccessForm):
    name = forms.CharField(max_length=100)
    address = forms.EmailField(
        help_text="The address customers write to, e.g. support@example.com."
    )
    aliases = forms.CharField(
        required=False,
        help_text="Other addresses of this inbox, separated by commas.",
    )
    signature = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="Added below replies."
    )
    quote_history = forms.BooleanField(
        required=False,
        initial=True,
        label="Quote the customer's last message below replies",
    )
    imap_host = forms.CharField(
        label="IMAP server", required=False, help_text="Leave empty if mail is delivered to Parley."
    )
    imap_port = forms.IntegerField(label="IMAP port", required=False, min_value=1, max_value=65535)
    imap_security = forms.ChoiceField(
        label="IMAP security", choices=SECURITY_CHOICES, initial="ssl"
    )
    imap_username = forms.CharField(label="IMAP user name", required=False)
    imap_password = forms.CharField(
        label="IMAP password",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current one.",
    )
    imap_folder = forms.CharField(label="IMAP folder", required=False, initial="INBOX")
    smtp_host = forms.CharField(
        label="Outgoing SMTP server",
        required=False,
        help_text="Leave empty to send through the site's email settings.",
    )
    smtp_port = forms.IntegerField(label="SMTP port", required=False, min_value=1, max_value=65535)
    smtp_security = forms.ChoiceField(
        label="SMTP security", choices=SECURITY_CHOICES, initial="starttls"
    )
    smtp_username = forms.CharField(label="SMTP user name", required=False)
    smtp_password = forms.CharField(
        label="SMTP password",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current one.",
    )

    def inbox_settings(self) -> dict[str, Any]:
        data = self.cleaned_data
        smtp_security = data["smtp_security"]
        return {
            "address": data["address"],
            "aliases": [a.strip() for a in (data["aliases"] or "").split(",") if a.strip()],
            "signature": data["signature"],
            "quote_history": data["quote_history"],
            "imap_host": data["imap_host"].strip(),
            "imap_port": data["imap_port"],
            "imap_security": data["imap_security"],
            "imap_username": data["imap_username"],
            "imap_folder": data["imap_folder"] or "INBOX",
            "smtp_host": data["smtp_host"].strip(),
            "smtp_port": data["smtp_port"],
            "smtp_starttls": smtp_security == "starttls",
            "smtp_ssl": smtp_security == "ssl",
            "smtp_username": data["smtp_username"],
        }

    def inbox_secrets(self) -> dict[str, str]:
        return {
            key: self.cleaned_data[key]
            for key in ("imap_password", "smtp_password")
            if self.cleaned_data[key]
        }


def _email_initial(inbox: Inbox) -> dict[str, Any]:
    config = inbox.settings or {}
    security = (
        "ssl"
        if config.get("smtp_ssl")
        else ("starttls" if config.get("smtp_starttls", True) else "none")
    )
    return {
        **{
            key: config.get(key, "")
            for key in (
                "address",
                "signature",
                "imap_host",
                "imap_port",
                "imap_security",
                "imap_username",
                "imap_folder",
                "smtp_host",
                "smtp_port",
                "smtp_username",
            )
        },
        "name": inbox.name,
        "aliases": ", ".join(config.get("aliases") or []),
        "quote_history": config.get("quote_history", True),
        "smtp_security": security,
        "members": list(inbox.members.values_list("pk", flat=True)),
        "teams": list(inbox.teams.values_list("pk", flat=True)),
    }


def _save_email_inbox(
    request: HttpRequest, form: EmailInboxForm, inbox: Inbox | None
) -> Inbox | None:
    actor: Any = request.user
    origin = Origin.from_request(request)
    try:
        if inbox is None:
            return actions.create_inbox(
                name=form.cleaned_data["name"],
                kind=Inbox.Kind.EMAIL,
                actor=actor,
                origin=origin,
                settings=form.inbox_settings(),
                secrets=form.inbox_secrets(),
                members=form.cleaned_data["members"],
                teams=form.cleaned_data["teams"],
            )
        actions.update_inbox(
            inbox=inbox,
            actor=actor,
            origin=origin,
            name=form.cleaned_data["name"],
            settings=form.inbox_settings(),
            secrets=form.inbox_secrets(),
        )
        actions.set_inbox_access(
            inbox=inbox,
            users=form.cleaned_data["members"],
            teams=form.cleaned_data["teams"],
            actor=actor,
            origin=origin,
        )
        return inbox
    except actions.InboxError as exc:
        _show_refusal(form, exc)
        return None


@admin_required
def email_inbox_create(request: HttpRequest) -> HttpResponse:
    form = EmailInboxForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        inbox = _save_email_inbox(request, form, None)
        if inbox is not None:
            messages.success(request, f"Inbox “{inbox.name}” created. Now choose how mail arrives.")
            return redirect("inbox_settings:email_inbox_edit", inbox_id=inbox.pk)
    return render(
        request,
        "web/settings/email_inbox_form.html",
        {"form": form, "inbox": None, "nav": "inboxes"},
    )


@admin_required
def email_inbox_edit(request: HttpRequest, inbox_id: int) -> HttpResponse:
    inbox = get_object_or_404(Inbox, pk=inbox_id, kind=Inbox.Kind.EMAIL)
    form = EmailInboxForm(request.POST or None, initial=_email_initial(inbox))
    saved = request.method == "POST" and form.is_valid() and _save_email_inbox(request, form, inbox)
    if saved:
        messages.success(request, f"Inbox “{form.cleaned_data['name']}” saved.")
        return redirect("inbox_settings:email_inbox_edit", inbox_id=inbox.pk)
    base = request.build_absolute_uri("/").rstrip("/")
    providers = ["mailgun", "postmark", "sendgrid", "amazon_ses", "brevo", "mailjet", "postal"]
    return render(
        request,
        "web/settings/email_inbox_form.html",
        {
            "form": form,
            "inbox": inbox,
            "nav": "inboxes",
            "address": inbox.settings.get("address", ""),
            "webhooks": [(p, f"{base}/webhooks/email/{p}/inbound/") for p in providers],
            "webhooks_enabled": webhooks_enabled(),
            "host": request.get_host().split(":")[0],
        },
    )


@admin_required
@require_POST
def email_inbox_test_imap(request: HttpRequest, inbox_id: int) -> HttpResponse:
    from inbox.sources.email.imap import ImapFailed, check_connection

    inbox = get_object_or_404(Inbox, pk=inbox_id, kind=Inbox.Kind.EMAIL)
    if not inbox.settings.get("imap_host"):
        messages.error(request, "Set an IMAP server first.")
    else:
        try:
            messages.success(request, check_connection(inbox))
        except ImapFailed as exc:
            messages.error(request, str(exc))
    return redirect("inbox_settings:email_inbox_edit", inbox_id=inbox.pk)


@admin_required
@require_POST
def email_inbox_test_send(request: HttpRequest, inbox_id: int) -> HttpResponse:
    """Send a short test email to the admin through the inbox's outgoing connection."""
    from django.core.mail import EmailMessage

    from inbox.sources.email.outbound import connection_for

    inbox = get_object_or_404(Inbox, pk=inbox_id, kind=Inbox.Kind.EMAIL)
    user: Any = request.user
    test = EmailMessage(
        subject=f"Parley test email from {inbox.name}",
        body="If you can read this, replies from this inbox can be sent.",
        from_email=inbox.settings.get("address"),
        to=[user.email],
    )
    try:
        with connection_for(inbox) as connection:
            connection.send_messages([test])
    except Exception as exc:  # any backend's error is shown to the admin, not raised
        messages.error(request, f"The test email could not be sent: {exc}")
    else:
        messages.success(request, f"Test email sent to {user.email}.")
    return redirect("inbox_settings:email_inbox_edit", inbox_id=inbox.pk)


# --- Canned replies ----------------------------------------------------------------------------


class CannedReplyForm(forms.Form):
    title = forms.CharField(max_length=200)
    shortcode = forms.SlugField(max_length=50, help_text="Agents type / and this in the composer.")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=(
            "Variables: {{contact.first_name|there}}, {{contact.name}}, {{contact.email}}, "
            "{{agent.first_name}}, {{agent.name}}, {{inbox.name}}, {{conversation.number}}, "
            "{{contact.custom.<key>}}. After | comes the fallback."
        ),
    )
    scope = forms.ChoiceField(choices=[("everyone", "Everyone"), ("team", "A team")])
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False)
    inbox = forms.ModelChoiceField(
        queryset=Inbox.objects.all(), required=False, help_text="Offer it in this inbox only."
    )
    tags = forms.CharField(required=False, help_text="Separated by commas.")
    examples = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Customer questions this reply answers, one per line.",
    )
    language = forms.CharField(max_length=8, required=False, help_text="e.g. en, fr.")

    def fields_for_action(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["tags"] = [t.strip() for t in data["tags"].split(",") if t.strip()]
        data["examples"] = [e.strip() for e in data["examples"].splitlines() if e.strip()]
        return data


def _canned_initial(reply: Any) -> dict[str, Any]:
    return {
        "title": reply.title,
        "shortcode": reply.shortcode,
        "body": reply.body,
        "scope": reply.scope,
        "team": reply.team_id,
        "inbox": reply.inbox_id,
        "tags": ", ".join(reply.tags),
        "examples": "\n".join(reply.examples),
        "language": reply.language,
    }


@admin_required
def canned_list(request: HttpRequest) -> HttpResponse:
    search = (request.GET.get("q") or "").strip()
    rows = CannedReply.objects.exclude(scope=CannedReply.Scope.PERSONAL).select_related(
        "team", "inbox"
    )
    if search:
        rows = rows.filter(title__icontains=search) | rows.filter(shortcode__icontains=search)
    form = CannedReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.create_canned_reply(actor=request.user, **form.fields_for_action())  # type: ignore[arg-type]
        except actions.InboxError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(request, "Canned reply saved.")
            return redirect("inbox_settings:canned_list")
    return render(
        request,
        "web/settings/canned_list.html",
        {"rows": rows.order_by("title")[:500], "form": form, "search": search, "nav": "canned"},
    )


@admin_required
def canned_edit(request: HttpRequest, reply_id: int) -> HttpResponse:
    reply = get_object_or_404(CannedReply.objects.exclude(scope="personal"), pk=reply_id)
    form = CannedReplyForm(request.POST or None, initial=_canned_initial(reply))
    if request.method == "POST" and "delete" in request.POST:
        actions.delete_canned_reply(reply=reply, actor=request.user)  # type: ignore[arg-type]
        messages.success(request, f"“{reply.title}” deleted.")
        return redirect("inbox_settings:canned_list")
    if request.method == "POST" and "preview" not in request.POST and form.is_valid():
        try:
            actions.update_canned_reply(
                reply=reply,
                actor=request.user,  # type: ignore[arg-type]
                **form.fields_for_action(),
            )
        except actions.InboxError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(request, "Canned reply saved.")
            return redirect("inbox_settings:canned_list")
    if request.method == "POST" and "add_file" in request.POST:
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise actions.InboxError("Choose a file.", field="file")
            actions.add_canned_attachment(
                reply=reply,
                actor=request.user,  # type: ignore[arg-type]
                filename=upload.name or "",
                content_type=upload.content_type or "",
                content=upload.read(),
            )
        except actions.InboxError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"“{upload.name}” will be sent with this reply.")
        return redirect("inbox_settings:canned_edit", reply_id=reply.pk)
    if request.method == "POST" and "remove_file" in request.POST:
        attachment = reply.attachments.filter(pk=request.POST.get("remove_file") or 0).first()
        if attachment is not None:
            actions.remove_canned_attachment(
                attachment=attachment,
                actor=request.user,  # type: ignore[arg-type]
            )
            messages.success(request, f"“{attachment.filename}” removed.")
        return redirect("inbox_settings:canned_edit", reply_id=reply.pk)
    body = form.data.get("body", reply.body) if form.is_bound else reply.body
    try:
        preview = canned.preview(body, agent=request.user, inbox=reply.inbox)
    except canned.VariableError:
        preview = ""  # the form shows the error
    return render(
        request,
        "web/settings/canned_form.html",
        {
            "form": form,
            "reply": reply,
            "nav": "canned",
            "preview": preview,
            "files": reply.attachments.all(),
        },
    )


@admin_required
def canned_export(request: HttpRequest) -> HttpResponse:
    """Every shared canned reply as JSON, or as CSV with `?format=csv` (tags separated by
    “;”, one example question per line)."""
    import csv
    import json

    rows = CannedReply.objects.exclude(scope="personal").select_related("team", "inbox")
    data = [
        {
            "title": r.title,
            "shortcode": r.shortcode,
            "body": r.body,
            "scope": r.scope,
            "team": r.team.name if r.team else None,
            "inbox": r.inbox.name if r.inbox else None,
            "tags": r.tags,
            "examples": r.examples,
            "language": r.language,
        }
        for r in rows.order_by("title")
    ]
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="canned-replies.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for item in data:
            cells = [
                "; ".join(item["tags"])
                if key == "tags"
                else "\n".join(item["examples"])
                if key == "examples"
                else item[key] or ""
                for key in CSV_COLUMNS
            ]
            # A cell starting with = + - @ would be a formula in a spreadsheet.
            writer.writerow(["'" + c if c[:1] in FORMULA_START else c for c in cells])
        return response
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json"
    )
    response["Content-Disposition"] = 'attachment; filename="canned-replies.json"'
    return response


CSV_COLUMNS = (
    "title",
    "shortcode",
    "body",
    "scope",
    "team",
    "inbox",
    "tags",
    "examples",
    "language",
)


def _canned_items(raw: bytes, filename: str) -> list[Any]:
    """The replies of an uploaded JSON or CSV export (ValueError when it is neither)."""
    import csv
    import io
    import json

    text = raw.decode("utf-8-sig")
    if filename.lower().endswith(".csv") or not text.lstrip().startswith("["):
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not {"title", "shortcode", "body"} <= set(reader.fieldnames):
            raise ValueError("a CSV needs the columns title, shortcode and body")
        items = []
        for row in reader:
            item: dict[str, Any] = {key: (row.get(key) or "").strip() for key in CSV_COLUMNS}
            item["body"] = (row.get("body") or "").strip()
            for key in CSV_COLUMNS:
                if (
                    isinstance(item[key], str)
                    and item[key][:1] == "'"
                    and (item[key][1:2] in FORMULA_START)
                ):
                    item[key] = item[key][1:]  # our export's escape of a formula start
            item["tags"] = [
                t.strip() for t in item["tags"].replace(",", ";").split(";") if t.strip()
            ]
            item["examples"] = [e.strip() for e in item["examples"].splitlines() if e.strip()]
            items.append(item)
        return items
    items = json.loads(text)
    if not isinstance(items, list):
        raise ValueError("expected a list of replies")
    return items


@admin_required
@require_POST
def canned_import(request: HttpRequest) -> HttpResponse:
    """Import a JSON or CSV export: new shortcodes are added, existing ones updated; each
    reply is checked like one typed in the form, and refused ones are named."""
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ValueError("choose a file")
        items = _canned_items(upload.read(), upload.name or "")
    except (ValueError, UnicodeDecodeError) as exc:
        messages.error(request, f"That file is not a canned replies export: {exc}")
        return redirect("inbox_settings:canned_list")
    added = updated = 0
    refused = []
    for item in items[:2000]:
        if not isinstance(item, dict):
            continue
        fields = {
            "title": str(item.get("title") or ""),
            "shortcode": str(item.get("shortcode") or ""),
            "body": str(item.get("body") or ""),
            "scope": "team" if item.get("team") else "everyone",
            "team": Team.objects.filter(name=item.get("team")).first()
            if item.get("team")
            else None,
            "inbox": Inbox.objects.filter(name=item.get("inbox")).first()
            if item.get("inbox")
            else None,
            "tags": list(item.get("tags") or []),
            "examples": list(item.get("examples") or []),
            "language": str(item.get("language") or "")[:8],
        }
        existing = (
            CannedReply.objects.exclude(scope="personal")
            .filter(shortcode=fields["shortcode"])
            .first()
        )
        try:
            if existing:
                actions.update_canned_reply(reply=existing, actor=request.user, **fields)  # type: ignore[arg-type]
                updated += 1
            else:
                actions.create_canned_reply(actor=request.user, **fields)  # type: ignore[arg-type]
                added += 1
        except actions.InboxError as exc:
            refused.append(f"/{fields['shortcode'] or '?'}: {exc.message}")
    messages.success(request, f"Imported: {added} added, {updated} updated.")
    if refused:
        messages.error(request, "Not imported: " + "; ".join(refused[:10]))
    return redirect("inbox_settings:canned_list")
