from __future__ import annotations

from collections.abc import Collection

from accounts.models import User, UserSession
from inbox.events import end_user_sockets_on_commit


def end_user_sessions(*, user: User, reason: str, keep: Collection[str] = ()) -> int:
    """Delete the user's sessions except those whose keys are in `keep`, and close their
    other open websockets after commit. Returns the number of sessions ended.
    `keep` may name a key that was just rotated (a socket still knows the old key)."""
    sessions = UserSession.objects.filter(user_id=user.pk).exclude(session_key__in=list(keep))
    count, _ = sessions.delete()
    end_user_sockets_on_commit(user.pk, reason=reason, keep_session_keys=sorted(keep))
    return count
