"""The signed-in user's own pages: profile, availability, API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import actions, queries
from accounts.forms import ProfileForm, TokenForm
from accounts.models import ApiToken, User
from accounts.origin import Origin


def _me(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    form = ProfileForm(
        request.POST or None,
        request.FILES or None,
        initial={"name": me.name, "time_zone": me.time_zone, "signature": me.signature},
    )
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_profile(
                user=me,
                name=form.cleaned_data["name"],
                time_zone=form.cleaned_data["time_zone"],
                avatar=form.cleaned_data["avatar"] or None,
                remove_avatar=form.cleaned_data["remove_avatar"],
                signature=form.cleaned_data["signature"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Profile saved.")
            return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form, "nav": "profile"})


@login_required
@require_POST
def set_availability(request: HttpRequest) -> HttpResponse:
    """The availability switch in the user menu: a form post, or a fetch() that wants JSON."""
    wants_json = request.headers.get("X-Requested-With") == "fetch"
    try:
        actions.set_availability(
            user=_me(request), availability=request.POST.get("availability", "")
        )
    except actions.AccountsError as exc:
        if wants_json:
            return JsonResponse({"error": exc.message}, status=400)
        messages.error(request, exc.message)
    if wants_json:
        return JsonResponse({"availability": _me(request).availability})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        target = "web:home"
    return redirect(target)


NEW_TOKEN_KEY = "_new_api_token"


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    """Create (post, then redirect) and list tokens. A new secret rides in the session
    to the next page view only, so a reload neither re-posts nor shows it again."""
    me = _me(request)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _, secret = actions.create_api_token(
                user=me, name=form.cleaned_data["name"], origin=Origin.from_request(request)
            )
        except actions.AccountsError as exc:
            form.add_error("name", exc.message)
        else:
            request.session[NEW_TOKEN_KEY] = secret
            return redirect("accounts:tokens")
    response = render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "tokens": queries.tokens_of(me),
            "new_secret": request.session.pop(NEW_TOKEN_KEY, None),
            "nav": "tokens",
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=_me(request))
    actions.revoke_api_token(token=token, actor=_me(request), origin=Origin.from_request(request))
    messages.success(request, f"Token “{token.name}” revoked. Calls using it now fail.")
    return redirect("accounts:tokens")
