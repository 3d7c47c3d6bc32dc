from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.forms import MAX_ID
from accounts.models import ApiToken, AuditEntry, Invitation, Team, User, validate_time_zone


class TeamRefSerializer(serializers.ModelSerializer[Team]):
    class Meta:
        model = Team
        fields = ["id", "name"]


class UserSerializer(serializers.ModelSerializer[User]):
    teams = TeamRefSerializer(many=True, read_only=True)
    avatar_url = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "name",
            "role",
            "availability",
            "is_active",
            "time_zone",
            "avatar_url",
            "teams",
            "date_joined",
            "last_seen_at",
            "deactivated_at",
        ]
        read_only_fields = fields

    def get_avatar_url(self, user: User) -> str | None:
        return user.avatar.url if user.avatar else None


class UserUpdateSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=User.Role.choices)


class MeUpdateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120, required=False)
    time_zone = serializers.CharField(
        max_length=64, required=False, validators=[validate_time_zone]
    )
    availability = serializers.ChoiceField(choices=User.Availability.choices, required=False)


class InvitationSerializer(serializers.ModelSerializer[Invitation]):
    status = serializers.CharField(read_only=True)
    invited_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="email", read_only=True
    )
    teams = TeamRefSerializer(many=True, read_only=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "name",
            "role",
            "teams",
            "status",
            "invited_by",
            "created_at",
            "sent_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        ]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=User.Role.choices, default=User.Role.AGENT)
    team_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, default=list
    )


class TeamSerializer(serializers.ModelSerializer[Team]):
    members = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["id", "name", "description", "members", "created_at", "updated_at"]
        read_only_fields = fields

    def get_members(self, team: Team) -> list[dict[str, Any]]:
        return [{"id": u.pk, "name": u.name, "email": u.email} for u in team.members.all()]


class TeamWriteSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=80, required=False)
    description = serializers.CharField(max_length=240, required=False, allow_blank=True)
    member_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False
    )


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once. Store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=80)


class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "created_at",
            "actor",
            "actor_email",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "details",
            "ip_address",
            "user_agent",
        ]
        read_only_fields = fields
