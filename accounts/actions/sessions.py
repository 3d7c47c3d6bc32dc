from __future__ import annotations

from accounts.models import User, UserSession
from inbox.events import end_user_sockets_on_commit


def end_user_sessions(*, user: User, reason: str, keep_session_key: str | None = None) -> int:
    """Delete the user's sessions (all but `keep_session_key`) and close their open
    websockets after commit. Returns the number of sessions ended."""
    sessions = UserSession.objects.filter(user_id=user.pk)
    if keep_session_key:
        sessions = sessions.exclude(session_key=keep_session_key)
    count, _ = sessions.delete()
    end_user_sockets_on_commit(user.pk, reason=reason, keep_session_key=keep_session_key)
    return count
