"""The only code that writes accounts rows. Each function takes keyword-only, typed
arguments (domain objects and an `Origin`, never a request), runs in one transaction and
writes its audit entry in it. Permission checks are the caller's job unless a docstring
says otherwise; invariants (last admin, single-use links) are enforced here."""

from accounts.actions.errors import AccountsError
from accounts.actions.invitations import (
    accept_invitation,
    find_invitation,
    invitation_link,
    invite_user,
    resend_invitation,
    revoke_invitation,
)
from accounts.actions.sessions import end_user_sessions
from accounts.actions.teams import create_team, delete_team, update_team
from accounts.actions.tokens import authenticate_token, create_api_token, revoke_api_token
from accounts.actions.users import (
    change_role,
    deactivate_user,
    reactivate_user,
    record_password_change,
    set_availability,
    update_profile,
)

__all__ = [
    "AccountsError",
    "accept_invitation",
    "authenticate_token",
    "change_role",
    "create_api_token",
    "create_team",
    "deactivate_user",
    "delete_team",
    "end_user_sessions",
    "find_invitation",
    "invitation_link",
    "invite_user",
    "reactivate_user",
    "record_password_change",
    "resend_invitation",
    "revoke_api_token",
    "revoke_invitation",
    "set_availability",
    "update_profile",
    "update_team",
]
