"""Admin pages: users and invitations."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from accounts import actions, queries
from accounts.forms import InviteForm, RoleForm
from accounts.models import Invitation, User
from accounts.origin import Origin
from accounts.permissions import admin_required


@admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "active")
    if status not in {"active", "deactivated", "all"}:
        status = "active"  # as queries.users_for_admin treats it
    q = request.GET.get("q", "").strip()[:100]
    page = Paginator(queries.users_for_admin(status=status, q=q), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "accounts/admin/user_list.html",
        {
            "page": page,
            "status": status,
            "q": q,
            "query": urlencode({"status": status, "q": q}),
            "invitations": queries.pending_invitations() if status != "deactivated" else [],
            "nav": "users",
        },
    )


@admin_required
def invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = actions.invite_user(
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
                teams=form.cleaned_data["teams"],
                invited_by=request.user,  # type: ignore[arg-type]
                origin=Origin.from_request(request),
            )
        except actions.AccountsError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("accounts:user_list")
    return render(request, "accounts/admin/invite.html", {"form": form, "nav": "users"})


@admin_required
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    person = get_object_or_404(User.objects.prefetch_related("teams"), pk=user_id)
    form = RoleForm(request.POST or None, initial={"role": person.role})
    if request.method == "POST" and form.is_valid():
        try:
            actions.change_role(
                user=person,
                role=form.cleaned_data["role"],
                actor=request.user,  # type: ignore[arg-type]
                origin=Origin.from_request(request),
            )
        except actions.AccountsError as exc:
            form.add_error("role", exc.message)
        else:
            messages.success(request, f"{person} is now {form.cleaned_data['role']}.")
            return redirect("accounts:user_detail", user_id=person.pk)
    recent = queries.audit_entries(target_type="user", target_id=str(person.pk))[:10]
    return render(
        request,
        "accounts/admin/user_detail.html",
        {
            "person": person,
            "form": form,
            "recent": recent,
            "nav": "users",
        },
    )


@admin_required
@require_POST
def deactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    person = get_object_or_404(User, pk=user_id)
    try:
        actions.deactivate_user(
            user=person,
            actor=request.user,  # type: ignore[arg-type]
            origin=Origin.from_request(request),
        )
    except actions.AccountsError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{person} is deactivated and was signed out everywhere.")
    return redirect("accounts:user_detail", user_id=person.pk)


@admin_required
@require_POST
def reactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    person = get_object_or_404(User, pk=user_id)
    actions.reactivate_user(
        user=person,
        actor=request.user,  # type: ignore[arg-type]
        origin=Origin.from_request(request),
    )
    messages.success(request, f"{person} can sign in again.")
    return redirect("accounts:user_detail", user_id=person.pk)


@admin_required
@require_POST
def resend_invitation(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id)
    try:
        actions.resend_invitation(
            invitation=invitation,
            actor=request.user,  # type: ignore[arg-type]
            origin=Origin.from_request(request),
        )
    except actions.AccountsError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"A new invitation link was sent to {invitation.email}.")
    return redirect("accounts:user_list")


@admin_required
@require_POST
def revoke_invitation(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id)
    try:
        actions.revoke_invitation(
            invitation=invitation,
            actor=request.user,  # type: ignore[arg-type]
            origin=Origin.from_request(request),
        )
    except actions.AccountsError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The invitation for {invitation.email} was withdrawn.")
    return redirect("accounts:user_list")
