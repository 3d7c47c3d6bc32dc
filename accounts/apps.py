from typing import Any

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        user_logged_out.connect(close_sockets_of_ended_session, dispatch_uid="accounts-logout")


def close_sockets_of_ended_session(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Every sign-out path (our page, Django's admin, middleware) closes the websockets
    opened from that session. Django's own signal, so no path can forget it."""
    from inbox.events import end_user_sockets_on_commit

    if user is None or request is None:
        return
    end_user_sockets_on_commit(
        user.pk, reason="signed_out", only_session_key=request.session.session_key
    )
