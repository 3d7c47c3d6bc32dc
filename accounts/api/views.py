"""REST endpoints for accounts. Views validate and call actions; nothing else writes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import actions, queries
from accounts.api import serializers as s
from accounts.models import ApiToken, Invitation, Team, User
from accounts.origin import Origin
from accounts.permissions import IsAdminRole


def _refuse(exc: actions.AccountsError) -> ValidationError:
    return ValidationError({exc.field or "detail": [exc.message]})


def _me(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


class MeView(APIView):
    """The authenticated user."""

    @extend_schema(responses=s.UserSerializer)
    def get(self, request: Request) -> Response:
        return Response(s.UserSerializer(_me(request)).data)

    @extend_schema(request=s.MeUpdateSerializer, responses=s.UserSerializer)
    def patch(self, request: Request) -> Response:
        data = s.MeUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        me = _me(request)
        try:
            with transaction.atomic():  # all fields or none
                if {"name", "time_zone"} & data.validated_data.keys():
                    me = actions.update_profile(
                        user=me,
                        name=data.validated_data.get("name", me.name),
                        time_zone=data.validated_data.get("time_zone", me.time_zone),
                    )
                if "availability" in data.validated_data:
                    actions.set_availability(
                        user=me, availability=data.validated_data["availability"]
                    )
        except actions.AccountsError as exc:
            raise _refuse(exc) from exc
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        return Response(s.UserSerializer(me).data)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=["active", "deactivated", "all"]),
            OpenApiParameter("q", str, description="Name or email contains"),
        ]
    ),
)
class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Users (admins only). Change a role with PATCH; deactivate/reactivate with the actions."""

    permission_classes = [IsAdminRole]
    serializer_class = s.UserSerializer

    def get_queryset(self) -> QuerySet[User]:
        if self.action == "list":
            return queries.users_for_admin(
                status=self.request.query_params.get("status", "active"),
                q=self.request.query_params.get("q", "")[:100],
            )
        return User.objects.prefetch_related("teams")

    @extend_schema(request=s.UserUpdateSerializer, responses=s.UserSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        person = self.get_object()
        data = s.UserUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            person = actions.change_role(
                user=person,
                role=data.validated_data["role"],
                actor=_me(request),
                origin=Origin.from_request(request),
            )
        except actions.AccountsError as exc:
            raise _refuse(exc) from exc
        return Response(s.UserSerializer(person).data)

    @extend_schema(request=None, responses=s.UserSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str | None = None) -> Response:
        try:
            person = actions.deactivate_user(
                user=self.get_object(), actor=_me(request), origin=Origin.from_request(request)
            )
        except actions.AccountsError as exc:
            raise _refuse(exc) from exc
        return Response(s.UserSerializer(person).data)

    @extend_schema(request=None, responses=s.UserSerializer)
    @action(detail=True, methods=["post"])
    def reactivate(self, request: Request, pk: str | None = None) -> Response:
        person = actions.reactivate_user(
            user=self.get_object(), actor=_me(request), origin=Origin.from_request(request)
        )
        return Response(s.UserSerializer(person).data)


class InvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Invitations (admins only). DELETE withdraws a pending invitation."""

    permission_classes = [IsAdminRole]
    serializer_class = s.InvitationSerializer

    def get_queryset(self) -> QuerySet[Invitation]:
        if self.action == "list" and self.request.query_params.get("status") != "all":
            return queries.pending_invitations().prefetch_related("teams")
        return Invitation.objects.select_related("invited_by").prefetch_related("teams")

    @extend_schema(request=s.InvitationCreateSerializer, responses={201: s.InvitationSerializer})
    def create(self, request: Request) -> Response:
        data = s.InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team_ids = set(data.validated_data["team_ids"])
        teams = list(Team.objects.filter(pk__in=team_ids))
        if len(teams) != len(team_ids):
            raise ValidationError({"team_ids": ["Unknown team id."]})
        try:
            invitation = actions.invite_user(
                email=data.validated_data["email"],
                name=data.validated_data["name"],
                role=data.validated_data["role"],
                teams=teams,
                invited_by=_me(request),
                origin=Origin.from_request(request),
            )
        except actions.AccountsError as exc:
            raise _refuse(exc) from exc
        return Response(s.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.InvitationSerializer)
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk: str | None = None) -> Response:
        try:
            invitation = actions.resend_invitation(
                invitation=self.get_object(),
                actor=_me(request),
                origin=Origin.from_request(request),
            )
        except actions.AccountsError as exc:
            raise _refuse(exc) from exc
        return Response(s.InvitationSerializer(invitation).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        try:
            actions.revoke_invitation(
                invitation=self.get_object(),
                actor=_me(request),
                origin=Origin.from_request(request),
            )
        except actions.AccountsError as exc:
            raise _refuse(exc) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Teams (admins only). `member_ids` replaces the whole member list."""

    permission_classes = [IsAdminRole]
    serializer_class = s.TeamSerializer

    def get_queryset(self) -> QuerySet[Team]:
        return queries.teams_with_counts()

    def _members(self, ids: list[int] | None) -> list[User] | None:
        if ids is None:
            return None
        members = list(User.objects.filter(pk__in=set(ids), is_active=True))
        if len(members) != len(set(ids)):
            raise ValidationError({"member_ids": ["Unknown or deactivated user id."]})
        return members

    @extend_schema(request=s.TeamWriteSerializer, responses={201: s.TeamSerializer})
    def create(self, request: Request) -> Response:
        data = s.TeamWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            team = actions.create_team(
                name=data.validated_data.get("name", ""),
                description=data.validated_data.get("description", ""),
                members=self._members(data.validated_data.get("member_ids")) or [],
                actor=_me(request),
                origin=Origin.from_request(request),
            )
        except actions.AccountsError as exc:
            raise _refuse(exc) from exc
        return Response(
            s.TeamSerializer(self.get_queryset().get(pk=team.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=s.TeamWriteSerializer, responses=s.TeamSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        team = self.get_object()
        data = s.TeamWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        try:
            actions.update_team(
                team=team,
                name=data.validated_data.get("name"),
                description=data.validated_data.get("description"),
                members=self._members(data.validated_data.get("member_ids")),
                actor=_me(request),
                origin=Origin.from_request(request),
            )
        except actions.AccountsError as exc:
            raise _refuse(exc) from exc
        return Response(s.TeamSerializer(self.get_queryset().get(pk=team.pk)).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        actions.delete_team(
            team=self.get_object(), actor=_me(request), origin=Origin.from_request(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Your own API tokens. The secret is in the create response only. DELETE revokes."""

    serializer_class = s.ApiTokenSerializer

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ApiToken.objects.none()
        return queries.tokens_of(_me(self.request))

    @extend_schema(request=s.ApiTokenCreateSerializer, responses={201: s.ApiTokenCreatedSerializer})
    def create(self, request: Request) -> Response:
        data = s.ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            token, secret = actions.create_api_token(
                user=_me(request),
                name=data.validated_data["name"],
                origin=Origin.from_request(request),
            )
        except actions.AccountsError as exc:
            raise _refuse(exc) from exc
        body: dict[str, Any] = dict(s.ApiTokenSerializer(token).data)
        body["token"] = secret
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        token = self.get_object()
        actions.revoke_api_token(
            token=token, actor=_me(request), origin=Origin.from_request(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("action", str),
            OpenApiParameter("actor", int),
            OpenApiParameter("q", str),
            OpenApiParameter("since", str, description="YYYY-MM-DD"),
            OpenApiParameter("until", str, description="YYYY-MM-DD"),
        ]
    )
)
class AuditLogViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The audit log of admin actions, newest first (admins only)."""

    permission_classes = [IsAdminRole]
    serializer_class = s.AuditEntrySerializer

    def get_queryset(self) -> Any:
        from accounts.forms import AuditFilterForm

        form = AuditFilterForm(self.request.query_params)
        if not form.is_valid():
            raise ValidationError(
                {
                    field: [e["message"] for e in errors]
                    for field, errors in form.errors.get_json_data().items()
                }
            )
        return queries.audit_entries(**queries.audit_filters_from(form.cleaned_data))
