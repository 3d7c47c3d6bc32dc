from django.urls import path

from accounts.views import audit, auth, people, profile, teams

app_name = "accounts"

urlpatterns = [
    path("signin/", auth.SignInView.as_view(), name="login"),
    path("signout/", auth.sign_out, name="logout"),
    path("password/change/", auth.PasswordChangeView.as_view(), name="password_change"),
    path("password/reset/", auth.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", auth.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        auth.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("invitation/<str:token>/", auth.accept_invitation, name="accept_invitation"),
    path("profile/", profile.profile, name="profile"),
    path("profile/availability/", profile.set_availability, name="set_availability"),
    path("profile/tokens/", profile.tokens, name="tokens"),
    path("profile/tokens/<int:token_id>/revoke/", profile.revoke_token, name="revoke_token"),
    path("admin/users/", people.user_list, name="user_list"),
    path("admin/users/invite/", people.invite, name="invite"),
    path("admin/users/<int:user_id>/", people.user_detail, name="user_detail"),
    path("admin/users/<int:user_id>/deactivate/", people.deactivate, name="deactivate"),
    path("admin/users/<int:user_id>/reactivate/", people.reactivate, name="reactivate"),
    path(
        "admin/invitations/<int:invitation_id>/resend/",
        people.resend_invitation,
        name="resend_invitation",
    ),
    path(
        "admin/invitations/<int:invitation_id>/revoke/",
        people.revoke_invitation,
        name="revoke_invitation",
    ),
    path("admin/teams/", teams.team_list, name="team_list"),
    path("admin/teams/new/", teams.team_create, name="team_create"),
    path("admin/teams/<int:team_id>/", teams.team_edit, name="team_edit"),
    path("admin/audit/", audit.audit_log, name="audit_log"),
]
