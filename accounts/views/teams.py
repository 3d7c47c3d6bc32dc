"""Admin pages: teams."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts import actions, queries
from accounts.forms import TeamForm
from accounts.models import Team
from accounts.origin import Origin
from accounts.permissions import admin_required


@admin_required
def team_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/admin/team_list.html",
        {"teams": queries.teams_with_counts(), "nav": "teams"},
    )


@admin_required
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = actions.create_team(
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                members=form.cleaned_data["members"],
                actor=request.user,  # type: ignore[arg-type]
                origin=Origin.from_request(request),
            )
        except actions.AccountsError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, f"Team “{team.name}” created.")
            return redirect("accounts:team_list")
    return render(
        request, "accounts/admin/team_form.html", {"form": form, "team": None, "nav": "teams"}
    )


@admin_required
def team_edit(request: HttpRequest, team_id: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=team_id)
    initial = {
        "name": team.name,
        "description": team.description,
        "members": list(team.members.values_list("pk", flat=True)),
    }
    form = TeamForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if request.POST.get("delete") == "1":
            actions.delete_team(
                team=team,
                actor=request.user,  # type: ignore[arg-type]
                origin=Origin.from_request(request),
            )
            messages.success(request, f"Team “{team.name}” deleted.")
            return redirect("accounts:team_list")
        if form.is_valid():
            try:
                actions.update_team(
                    team=team,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    members=form.cleaned_data["members"],
                    actor=request.user,  # type: ignore[arg-type]
                    origin=Origin.from_request(request),
                )
            except actions.AccountsError as exc:
                form.add_error(exc.field, exc.message)
            else:
                messages.success(request, f"Team “{form.cleaned_data['name']}” saved.")
                return redirect("accounts:team_list")
    return render(
        request, "accounts/admin/team_form.html", {"form": form, "team": team, "nav": "teams"}
    )
