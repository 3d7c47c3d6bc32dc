"""Sign-in, sign-out, password change and reset, invitation acceptance."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts import actions
from accounts.forms import AcceptInvitationForm, QueuedPasswordResetForm, SignInForm
from accounts.models import User
from accounts.origin import Origin


def start_session(request: HttpRequest, user: User) -> None:
    """Sign `user` in on this request, remembering where from (shown in the session row)."""
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    origin = Origin.from_request(request)
    request.session["_client_ip"] = origin.ip_address
    request.session["_user_agent"] = origin.user_agent
    if user.availability == User.Availability.OFFLINE:
        actions.set_availability(user=user, availability=User.Availability.ONLINE)


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        start_session(self.request, user)
        return HttpResponseRedirect(self.get_success_url())


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)  # accounts.apps closes this session's sockets (user_logged_out)
    messages.info(request, "You are signed out.")
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("accounts:login")


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form: Any) -> HttpResponse:
        form.save()
        old_key = self.request.session.session_key
        update_session_auth_hash(self.request, form.user)  # rotates the session key
        actions.record_password_change(
            user=form.user,
            origin=Origin.from_request(self.request),
            keep=[key for key in (old_key, self.request.session.session_key) if key],
        )
        messages.success(self.request, "Password changed. Your other sessions were signed out.")
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    form_class = QueuedPasswordResetForm
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:login")

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.save()
        actions.record_password_change(
            user=user, origin=Origin.from_request(self.request), reset=True
        )
        # The user's sessions are gone, possibly this one too: start this browser afresh.
        self.request.session.flush()
        messages.success(self.request, "Your password is set. Sign in with it now.")
        return HttpResponseRedirect(self.get_success_url())


@never_cache
@sensitive_post_parameters("password1", "password2")
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    invitation = actions.find_invitation(token)
    if invitation is None:
        return render(
            request, "accounts/invitation_invalid.html", {"reason": "invalid"}, status=404
        )
    if invitation.status != "pending":
        return render(
            request,
            "accounts/invitation_invalid.html",
            {"reason": invitation.status, "invitation": invitation},
            status=410,
        )
    if request.user.is_authenticated:
        # Never sign someone out on a GET a third-party page could trigger: ask instead.
        return render(
            request,
            "accounts/invitation_signed_in.html",
            {"invitation": invitation, "next": request.get_full_path()},
        )
    form = AcceptInvitationForm(request.POST or None, initial={"name": invitation.name})
    if request.method == "POST" and form.is_valid():
        try:
            user = actions.accept_invitation(
                invitation=invitation,
                name=form.cleaned_data["name"],
                password=form.cleaned_data["password1"],
                time_zone=form.cleaned_data["time_zone"],
                origin=Origin.from_request(request),
            )
        except actions.AccountsError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            start_session(request, user)
            messages.success(request, f"Welcome to {settings.SITE_NAME}, {user.first_name}!")
            return redirect("web:home")
    return render(
        request, "accounts/accept_invitation.html", {"form": form, "invitation": invitation}
    )
