"""Session engine: Django's database sessions, with the owner's id on each row.

Set as SESSION_ENGINE. Keeping `user_id` on the row lets `end_user_sessions` delete every
session of a user in one statement (deactivation, password change and reset).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DBStore


class SessionStore(DBStore):
    @classmethod
    def get_model_class(cls) -> Any:
        from accounts.models import UserSession

        return UserSession

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        obj: Any = super().create_model_instance(data)
        raw = data.get(SESSION_KEY)
        try:
            obj.user_id = int(raw) if raw is not None and data.get(HASH_SESSION_KEY) else None
        except (TypeError, ValueError):
            obj.user_id = None
        obj.ip_address = data.get("_client_ip")
        obj.user_agent = (data.get("_user_agent") or "")[:300]
        return obj
