"""Background work for accounts: the emails. Tasks take ids, never secrets: links are
rebuilt here, so a token never sits in the task queue."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks import task

from accounts.models import Invitation, User


def _send(*, to: str, template: str, context: dict[str, object]) -> None:
    context = {"product_name": settings.SITE_NAME, "site_url": settings.SITE_URL, **context}
    subject = render_to_string(f"accounts/email/{template}_subject.txt", context).strip()
    text = render_to_string(f"accounts/email/{template}.txt", context)
    html = render_to_string(f"accounts/email/{template}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    message.send()


@task()
def send_invitation_email(invitation_id: int) -> str:
    from accounts.actions import invitation_link

    invitation = Invitation.objects.select_related("invited_by").filter(pk=invitation_id).first()
    if invitation is None or invitation.status != "pending":
        return "skipped"
    _send(
        to=invitation.email,
        template="invitation",
        context={
            "invitation": invitation,
            "inviter": invitation.invited_by,
            "link": invitation_link(invitation),
            "expires_at": invitation.expires_at,
        },
    )
    return "sent"


@task()
def send_password_reset_email(user_id: int) -> str:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password():
        return "skipped"
    path = reverse(
        "accounts:password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    _send(
        to=user.email,
        template="password_reset",
        context={
            "user": user,
            "link": f"{settings.SITE_URL}{path}",
            "valid_hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        },
    )
    return "sent"
