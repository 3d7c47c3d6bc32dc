from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import partial
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError

from accounts.models import AuditEntry, Team, User

ALLOWED_AVATAR_FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}
TIME_ZONE_CHOICES = [(tz, tz.replace("_", " ")) for tz in sorted(zoneinfo.available_timezones())]


MAX_ID = 2**63 - 1
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(9999, 12, 30)


def _is_id(value: object) -> bool:
    try:
        return 0 < int(str(value)) <= MAX_ID
    except ValueError:
        return False


class IdChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """Refuses ids out of the database's range as an invalid choice instead of letting
    the lookup overflow (SQLite raises OverflowError, a 500)."""

    def to_python(self, value: Any) -> Any:
        if value not in self.empty_values and not _is_id(value):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class IdMultipleChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def _check_values(self, value: Any) -> Any:
        for pk in value if isinstance(value, list | tuple) else []:
            if not _is_id(pk):
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)  # type: ignore[misc]


class SignInForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    # Deactivated accounts fail authentication itself (ModelBackend), so they get this
    # message too and we do not reveal that the account exists.
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an active account.",
    }


class QueuedPasswordResetForm(PasswordResetForm):
    """Sends the reset email from the task queue instead of inside the request. Unknown
    addresses get the same answer as known ones (no account enumeration)."""

    def save(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        from django.db import transaction

        from accounts.tasks import send_password_reset_email

        for user in self.get_users(self.cleaned_data["email"]):
            transaction.on_commit(partial(send_password_reset_email.enqueue, user.pk))


class AcceptInvitationForm(forms.Form):
    name = forms.CharField(
        label="Your name", max_length=120, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password1 = forms.CharField(
        label="Choose a password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters; not a common password.",
    )
    password2 = forms.CharField(
        label="Repeat the password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=TIME_ZONE_CHOICES,
        initial="UTC",
        widget=forms.Select(attrs={"data-detect-zone": ""}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    name = forms.CharField(label="Name (optional)", max_length=120, required=False)
    role = forms.ChoiceField(
        choices=User.Role.choices, initial=User.Role.AGENT, widget=forms.RadioSelect
    )
    teams = IdMultipleChoiceField(
        queryset=Team.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=User.Role.choices)


class TeamForm(forms.Form):
    name = forms.CharField(max_length=80)
    description = forms.CharField(max_length=240, required=False)
    members = IdMultipleChoiceField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class ProfileForm(forms.Form):
    name = forms.CharField(label="Display name", max_length=120)
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES)
    signature = forms.CharField(
        label="Email signature",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Added below your email replies, above the inbox's own signature.",
    )
    avatar = forms.ImageField(required=False, help_text="PNG, JPEG, GIF or WebP, up to 2 MB.")
    remove_avatar = forms.BooleanField(required=False, label="Remove the current picture")

    def clean_avatar(self) -> Any:
        from django.conf import settings

        avatar = self.cleaned_data.get("avatar")
        if avatar and avatar.size > settings.AVATAR_MAX_BYTES:
            raise ValidationError("The picture is larger than 2 MB.")
        image = getattr(avatar, "image", None) if avatar else None
        if image is not None and (image.format or "").upper() not in ALLOWED_AVATAR_FORMATS:
            raise ValidationError("Use a PNG, JPEG, GIF or WebP picture.")
        return avatar


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=80,
        help_text="What will use it, e.g. “CRM sync”. You will see the token once.",
    )


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("", "All actions"), *AuditEntry.Action.choices], required=False
    )
    actor = IdChoiceField(queryset=User.objects.all(), required=False, empty_label="Anyone")
    q = forms.CharField(label="Target contains", required=False, max_length=100)
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    # Set by links such as a user's "full history"; not shown in the filter bar.
    target_type = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    target_id = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def _bounded(self, name: str) -> dt.date | None:
        value = self.cleaned_data.get(name)
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
            raise ValidationError("Choose a date between 2000 and 9999.")
        return value

    def clean_since(self) -> dt.date | None:
        return self._bounded("since")

    def clean_until(self) -> dt.date | None:
        return self._bounded("until")
