"""REST endpoints of the inbox. Views validate, scope every lookup to what the caller may
see (404 otherwise), call actions, and answer with `inbox.payloads` shapes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status as http
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Team, User
from accounts.origin import Origin
from accounts.permissions import IsAdminRole, is_admin
from inbox import actions, canned
from inbox.actions.templates import send_template, start_whatsapp_conversation, store_templates
from inbox.api import serializers as s
from inbox.api.files import PayloadTooLarge, uploaded_attachments
from inbox.models import (
    CannedReply,
    Contact,
    Conversation,
    DraftSuggestion,
    Inbox,
    Label,
    Message,
    MessageTemplate,
    SmsOptOut,
)
from inbox.payloads import (
    CONVERSATION_PREFETCH,
    CONVERSATION_SELECT,
    MESSAGE_PREFETCH,
    MESSAGE_SELECT,
    contact_payload,
    conversation_payload,
    inbox_summary,
    label_payload,
    message_payload,
)
from inbox.presence import online_user_ids
from inbox.queries import conversations as q
from inbox.queries.access import can_see_inbox, visible_contacts, visible_inboxes
from inbox.queries.canned import visible_canned_replies
from inbox.sources.meta import GraphError
from inbox.sources.whatsapp.templates import fetch as fetch_templates
from inbox.sources.whatsapp.templates import spec as template_spec

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
OBJ = OpenApiTypes.OBJECT


def _me(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


def _pk(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise NotFound() from None
    if not 0 < number <= 2**63 - 1:
        raise NotFound()
    return number


def _valid(serializer_class: type, data: Any, *, partial: bool = False) -> dict[str, Any]:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _refuse(exc: actions.InboxError) -> ValidationError:
    return ValidationError({exc.field or "detail": [exc.message]})


def _too_large(exc: PayloadTooLarge) -> Response:
    return Response(
        {"detail": str(exc), "limit_bytes": exc.limit},
        status=http.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


def _require_admin(request: Request) -> None:
    if not is_admin(request.user):
        raise PermissionDenied("Only admins can do this.")


def message_json(message_id: int) -> dict[str, Any]:
    return message_payload(
        Message.objects.select_related(*MESSAGE_SELECT)
        .prefetch_related(*MESSAGE_PREFETCH)
        .get(pk=message_id)
    )


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    return {
        **conversation_payload(conversation),
        "unread_count": getattr(conversation, "unread_count", 0),
    }


class ConversationViewSet(viewsets.ViewSet):
    """Conversations in the inboxes you can see."""

    queryset = Conversation.objects.none()  # for the schema's path parameter type

    def _get(self, request: Request, pk: Any) -> Conversation:
        try:
            return q.get_conversation(_me(request), _pk(pk))
        except Conversation.DoesNotExist:
            raise NotFound() from None

    def _answer(self, request: Request, conversation: Conversation) -> Response:
        return Response(conversation_json(self._get(request, conversation.pk)))

    def _template(self, inbox: Inbox, template_id: int | None) -> MessageTemplate:
        template = MessageTemplate.objects.filter(pk=template_id or 0, inbox=inbox).first()
        if template is None:
            raise ValidationError({"template_id": ["Choose one of this inbox's templates."]})
        return template

    @extend_schema(
        operation_id="conversations_list",
        parameters=[
            OpenApiParameter("status", str, enum=[*q.STATUSES, "all"]),
            OpenApiParameter("assignee", str, description="me, unassigned, any or a user id"),
            OpenApiParameter("team", int),
            OpenApiParameter("inbox", int),
            OpenApiParameter("label", int),
            OpenApiParameter("priority", int),
            OpenApiParameter("contact", int),
            OpenApiParameter("sort", str, enum=["activity", "waiting"]),
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses=OBJ,
    )
    def list(self, request: Request) -> Response:
        try:
            filters = q.parse_filters(request.query_params)
            size = min(
                max(int(request.query_params.get("page_size") or PAGE_SIZE), 1), MAX_PAGE_SIZE
            )
            rows, cursor = q.conversation_page(
                _me(request), filters, size=size, cursor=request.query_params.get("cursor")
            )
        except q.InvalidFilter as exc:
            raise ValidationError({exc.field: [exc.message]}) from exc
        except ValueError:
            raise ValidationError({"page_size": ["Must be an integer."]}) from None
        next_url = None
        if cursor:
            params = request.query_params.copy()
            params["cursor"] = cursor
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return Response({"results": [conversation_json(c) for c in rows], "next": next_url})

    @extend_schema(parameters=[OpenApiParameter("inbox", int)], responses=OBJ)
    @action(detail=False)
    def counts(self, request: Request) -> Response:
        inbox = request.query_params.get("inbox")
        return Response(q.conversation_counts(_me(request), inbox=_pk(inbox) if inbox else None))

    @extend_schema(responses=OBJ)
    def retrieve(self, request: Request, pk: Any = None) -> Response:
        return Response(conversation_json(self._get(request, pk)))

    @extend_schema(
        operation_id="conversations_create",
        request=s.ConversationStart,
        responses={201: OBJ},
        description="Write first: a new email conversation with a contact, assigned to you.",
    )
    def create(self, request: Request) -> Response:
        data = _valid(s.ConversationStart, request.data)
        try:
            attachments = uploaded_attachments(request)
        except PayloadTooLarge as exc:
            return _too_large(exc)
        me = _me(request)
        inbox = visible_inboxes(me).filter(pk=data["inbox"]).first()
        if inbox is None:
            raise ValidationError({"inbox": ["No such inbox."]})
        try:
            if inbox.kind == Inbox.Kind.WHATSAPP:
                message = start_whatsapp_conversation(
                    inbox=inbox,
                    author=me,
                    phone=data.get("to_phone") or "",
                    name=data["to_name"],
                    template=self._template(inbox, data.get("template_id")),
                    params=data["template_params"],
                    attachments=attachments,
                )
            else:
                if not data.get("to_email"):
                    raise ValidationError({"to_email": ["Write the address to write to."]})
                message = actions.start_conversation(
                    inbox=inbox,
                    author=me,
                    to=actions.IdentityInput(
                        kind="email", value=data["to_email"], name=data["to_name"]
                    ),
                    subject=data["subject"],
                    text=data["text"],
                )
        except actions.InboxError as exc:
            raise _refuse(exc) from exc
        return Response(
            conversation_json(self._get(request, message.conversation_id)),
            status=http.HTTP_201_CREATED,
        )

    @extend_schema(responses=OBJ)
    @action(detail=True, methods=["get"])
    def suggestions(self, request: Request, pk: Any = None) -> Response:
        """Drafts for the latest customer message, best first, rendered for you and for the
        channel, each with its reason and confidence (none when nothing is confident
        enough), plus why the conversation needs a person, if it does."""
        from inbox.queries.drafts import suggestions_for

        conversation = self._get(request, pk)
        return Response(suggestions_for(conversation, _me(request)))

    @extend_schema(request=s.SuggestionRef, responses=OBJ)
    @action(detail=True, methods=["post"], url_path="suggestions/discard")
    def discard_suggestion(self, request: Request, pk: Any = None) -> Response:
        """Put the suggested drafts aside (counted as discarded in the insights)."""
        conversation = self._get(request, pk)
        data = _valid(s.SuggestionRef, request.data)
        draft = DraftSuggestion.objects.filter(
            pk=data["suggestion_id"], conversation=conversation
        ).first()
        if draft is None:
            raise NotFound("No such suggestion in this conversation.")
        draft = actions.discard_suggestion(draft=draft, actor=_me(request))
        return Response({"suggestion_id": draft.pk, "outcome": draft.outcome})

    @extend_schema(request=s.SuggestionRef, responses=OBJ)
    @action(detail=True, methods=["post"], url_path="suggestions/shown")
    def suggestion_shown(self, request: Request, pk: Any = None) -> Response:
        """Your composer showed the suggested drafts (counted once per agent as "shown" in
        the insights)."""
        conversation = self._get(request, pk)
        data = _valid(s.SuggestionRef, request.data)
        draft = DraftSuggestion.objects.filter(
            pk=data["suggestion_id"], conversation=conversation
        ).first()
        if draft is None:
            raise NotFound("No such suggestion in this conversation.")
        actions.mark_suggestion_shown(draft=draft, agent=_me(request))
        return Response({"suggestion_id": draft.pk, "shown": True})

    @extend_schema(responses=OBJ)
    @action(detail=True, methods=["get"])
    def visitor(self, request: Request, pk: Any = None) -> Response:
        """Website chat: the visitor behind the conversation: whether the site verified who
        they are, whether they are on the site now, the page they are on and where they
        came from. 404 for other channels."""
        from inbox.models import WidgetVisitor

        conversation = self._get(request, pk)
        visitor = (
            WidgetVisitor.objects.filter(
                inbox_id=conversation.inbox_id, contact_id=conversation.contact_id
            )
            .order_by("-sockets", "-last_seen_at")
            .first()
        )
        if visitor is None:
            raise NotFound("No website visitor for this conversation.")
        return Response(
            {
                "verified": visitor.verified,
                "external_id": visitor.external_id if visitor.verified else "",
                "name": visitor.name,
                "email": visitor.email,
                "online": visitor.is_online,
                "page_url": visitor.page_url,
                "page_title": visitor.page_title,
                "referrer": visitor.referrer,
                "last_seen_at": visitor.last_seen_at,
                "signed_out": visitor.revoked_at is not None,
            }
        )

    @extend_schema(responses=OBJ)
    @action(detail=True, methods=["delete"], url_path="needs-person")
    def clear_needs_person(self, request: Request, pk: Any = None) -> Response:
        """Clear the “needs a person” flag (automatic messages may resume)."""
        conversation = self._get(request, pk)
        actions.clear_needs_person(conversation=conversation, actor=_me(request))
        return self._answer(request, conversation)

    @extend_schema(methods=["GET"], parameters=[OpenApiParameter("before", int)], responses=OBJ)
    @extend_schema(methods=["POST"], request=s.MessageCreate, responses={201: OBJ})
    @action(detail=True, methods=["get", "post"])
    def messages(self, request: Request, pk: Any = None) -> Response:
        conversation = self._get(request, pk)
        if request.method == "GET":
            before = request.query_params.get("before")
            rows, has_more = q.message_page(conversation, before=_pk(before) if before else None)
            return Response({"results": [message_payload(m) for m in rows], "has_more": has_more})
        data = _valid(s.MessageCreate, request.data)
        try:
            attachments = uploaded_attachments(request)
        except PayloadTooLarge as exc:
            return _too_large(exc)
        try:
            if data["kind"] == "note":
                message = actions.add_note(
                    conversation=conversation, author=_me(request), text=data["text"]
                )
            elif data.get("template_id"):
                message = send_template(
                    conversation=conversation,
                    author=_me(request),
                    template=self._template(conversation.inbox, data["template_id"]),
                    params=data["template_params"],
                    attachments=attachments,
                )
            else:
                message = actions.send_reply(
                    conversation=conversation,
                    author=_me(request),
                    text=data["text"],
                    attachments=attachments,
                    cc=data["cc"],
                    canned_attachment_ids=data["canned_attachments"],
                    started_from={
                        "suggestion_id": data.get("suggestion_id"),
                        "candidate": data.get("candidate") or 0,
                        "canned_reply_id": data.get("canned_reply_id"),
                    },
                    tag=data["tag"],
                    quick_replies=data["quick_replies"],
                )
        except actions.InboxError as exc:
            raise _refuse(exc) from exc
        return Response(message_json(message.pk), status=http.HTTP_201_CREATED)

    @extend_schema(request=s.AssignInput, responses=OBJ)
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: Any = None) -> Response:
        conversation = self._get(request, pk)
        data = _valid(s.AssignInput, request.data)
        assignee = None
        if data["assignee_id"] is not None:
            assignee = User.objects.filter(pk=data["assignee_id"], is_active=True).first()
            if assignee is None:
                raise ValidationError({"assignee_id": ["No such active agent."]})
        try:
            actions.assign(conversation=conversation, assignee=assignee, actor=_me(request))
        except actions.InboxError as exc:
            raise ValidationError({"assignee_id": [exc.message]}) from exc
        return self._answer(request, conversation)

    @extend_schema(request=s.TeamInput, responses=OBJ)
    @action(detail=True, methods=["post"])
    def team(self, request: Request, pk: Any = None) -> Response:
        conversation = self._get(request, pk)
        data = _valid(s.TeamInput, request.data)
        team = None
        if data["team_id"] is not None:
            team = Team.objects.filter(pk=data["team_id"]).first()
            if team is None:
                raise ValidationError({"team_id": ["No such team."]})
        actions.assign_team(conversation=conversation, team=team, actor=_me(request))
        return self._answer(request, conversation)

    @extend_schema(request=s.StatusInput, responses=OBJ)
    @action(detail=True, methods=["post"])
    def status(self, request: Request, pk: Any = None) -> Response:
        conversation = self._get(request, pk)
        data = _valid(s.StatusInput, request.data)
        try:
            actions.set_status(
                conversation=conversation,
                status=data["status"],
                snoozed_until=data.get("snoozed_until"),
                actor=_me(request),
            )
        except actions.InboxError as exc:
            raise _refuse(exc) from exc
        return self._answer(request, conversation)

    @extend_schema(request=s.PriorityInput, responses=OBJ)
    @action(detail=True, methods=["post"])
    def priority(self, request: Request, pk: Any = None) -> Response:
        conversation = self._get(request, pk)
        data = _valid(s.PriorityInput, request.data)
        actions.set_priority(
            conversation=conversation, priority=int(data["priority"]), actor=_me(request)
        )
        return self._answer(request, conversation)

    @extend_schema(request=s.LabelsInput, responses=OBJ)
    @action(detail=True, methods=["post"])
    def labels(self, request: Request, pk: Any = None) -> Response:
        conversation = self._get(request, pk)
        data = _valid(s.LabelsInput, request.data)
        wanted = set(data["add"]) | set(data["remove"])
        found = {label.pk: label for label in Label.objects.filter(pk__in=wanted)}
        if len(found) != len(wanted):
            raise ValidationError({"add": ["Unknown label id."]})
        actions.set_labels(
            conversation=conversation,
            actor=_me(request),
            add=[found[i] for i in data["add"]],
            remove=[found[i] for i in data["remove"]],
        )
        return self._answer(request, conversation)

    @extend_schema(request=s.ReadInput, responses=OBJ)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: Any = None) -> Response:
        conversation = self._get(request, pk)
        data = _valid(s.ReadInput, request.data)
        actions.mark_read(
            conversation=conversation, user=_me(request), up_to_message_id=data.get("message_id")
        )
        return self._answer(request, conversation)


def _contact_channels(contact: Contact, me: User) -> dict[str, Any]:
    """What the contact pane shows beyond the contact, as far as `me` may see:
    `sms_opt_outs`, the SMS inboxes this number said STOP to (nothing is sent to it from
    them), and `same_phone`, other contacts with the same number, offered for merging (never
    merged silently: a shared family or office number is not one person)."""
    if not contact.phone:
        return {"sms_opt_outs": [], "same_phone": []}
    inboxes = visible_inboxes(me)
    opt_outs = SmsOptOut.objects.filter(phone=contact.phone, inbox__in=inboxes).order_by("id")
    same = (
        visible_contacts(me)
        .filter(phone=contact.phone, merged_into__isnull=True)
        .exclude(pk=contact.pk)
        .order_by("id")[:5]
    )
    return {
        "sms_opt_outs": [
            {"inbox_id": row.inbox_id, "keyword": row.keyword, "since": row.created_at.isoformat()}
            for row in opt_outs
        ],
        "same_phone": [{"id": other.pk, "name": other.display_name} for other in same],
    }


class ContactViewSet(viewsets.ViewSet):
    """Contacts you can see through a conversation in one of your inboxes."""

    queryset = Contact.objects.none()  # for the schema's path parameter type

    def _get(self, request: Request, pk: Any) -> Contact:
        contact = (
            visible_contacts(_me(request)).prefetch_related("identities").filter(pk=_pk(pk)).first()
        )
        if contact is None:
            raise NotFound()
        return contact

    @extend_schema(
        operation_id="contacts_list", parameters=[OpenApiParameter("q", str)], responses=OBJ
    )
    def list(self, request: Request) -> Response:
        term = (request.query_params.get("q") or "").strip()[:100]
        contacts = visible_contacts(_me(request)).prefetch_related("identities")
        if term:
            contacts = contacts.filter(
                Q(name__icontains=term) | Q(email__icontains=term) | Q(phone__icontains=term)
            )
        rows = list(contacts.order_by("name", "id")[:50])
        return Response({"results": [contact_payload(c) for c in rows]})

    @extend_schema(responses=OBJ)
    def retrieve(self, request: Request, pk: Any = None) -> Response:
        contact = self._get(request, pk)
        conversations = (
            q.with_unread(
                q.visible_conversations(_me(request)).filter(contact=contact), _me(request)
            )
            .select_related(*CONVERSATION_SELECT)
            .prefetch_related(*CONVERSATION_PREFETCH)
            .order_by("-last_activity_at")[:50]
        )
        return Response(
            {
                **contact_payload(contact),
                **_contact_channels(contact, _me(request)),
                "conversations": [conversation_json(c) for c in conversations],
            }
        )

    @extend_schema(request=s.ContactUpdate, responses=OBJ)
    def partial_update(self, request: Request, pk: Any = None) -> Response:
        contact = self._get(request, pk)
        data = _valid(s.ContactUpdate, request.data)
        try:
            actions.update_contact(contact=contact, actor=_me(request), **data)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        return Response(contact_payload(self._get(request, pk)))

    @extend_schema(request=s.MergeInput, responses=OBJ)
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: Any = None) -> Response:
        """Admins: fold another contact into this one."""
        _require_admin(request)
        primary = self._get(request, pk)
        data = _valid(s.MergeInput, request.data)
        duplicate = self._get(request, data["duplicate_id"])
        try:
            actions.merge_contacts(primary=primary, duplicate=duplicate, actor=_me(request))
        except actions.InboxError as exc:
            raise _refuse(exc) from exc
        return Response(contact_payload(self._get(request, pk)))


def inbox_json(inbox: Inbox, *, full: bool) -> dict[str, Any]:
    body = {**inbox_summary(inbox), "public_id": str(inbox.public_id)}
    if full:
        body.update(
            settings=inbox.settings,
            business_hours=inbox.business_hours,
            secret_keys=sorted(inbox.get_secrets()),
            user_ids=sorted(u.pk for u in inbox.members.all()),
            team_ids=sorted(t.pk for t in inbox.teams.all()),
        )
    return body


def _templates_json(inbox: Inbox) -> dict[str, Any]:
    rows = list(MessageTemplate.objects.filter(inbox=inbox).order_by("name", "language"))
    synced = max((row.synced_at for row in rows), default=None)
    return {
        "results": [template_spec(row) for row in rows],
        "synced_at": synced.isoformat() if synced else None,
    }


class InboxViewSet(viewsets.ViewSet):
    """Inboxes you can see; admins create and configure them (secret values are write-only)."""

    queryset = Inbox.objects.none()  # for the schema's path parameter type

    def _get(self, request: Request, pk: Any) -> Inbox:
        inbox = visible_inboxes(_me(request)).filter(pk=_pk(pk)).first()
        if inbox is None:
            raise NotFound()
        return inbox

    @extend_schema(operation_id="inboxes_list", responses=OBJ)
    def list(self, request: Request) -> Response:
        rows = visible_inboxes(_me(request)).order_by("name", "id")
        return Response({"results": [inbox_json(i, full=False) for i in rows]})

    @extend_schema(responses=OBJ)
    def retrieve(self, request: Request, pk: Any = None) -> Response:
        return Response(inbox_json(self._get(request, pk), full=is_admin(request.user)))

    @extend_schema(request=s.InboxWrite, responses={201: OBJ})
    def create(self, request: Request) -> Response:
        _require_admin(request)
        data = _valid(s.InboxWrite, request.data)
        try:
            inbox = actions.create_inbox(
                name=data.get("name", ""),
                kind=data.get("kind", ""),
                actor=_me(request),
                origin=Origin.from_request(request),
                settings=data.get("settings"),
                secrets=data.get("secrets"),
            )
        except actions.InboxError as exc:
            raise _refuse(exc) from exc
        return Response(inbox_json(inbox, full=True), status=http.HTTP_201_CREATED)

    @extend_schema(request=s.InboxWrite, responses=OBJ)
    def partial_update(self, request: Request, pk: Any = None) -> Response:
        _require_admin(request)
        inbox = self._get(request, pk)
        data = _valid(s.InboxWrite, request.data)
        try:
            inbox = actions.update_inbox(
                inbox=inbox,
                actor=_me(request),
                origin=Origin.from_request(request),
                name=data.get("name"),
                settings=data.get("settings"),
                secrets=data.get("secrets"),
                business_hours=data.get("business_hours"),
            )
        except actions.InboxError as exc:
            raise _refuse(exc) from exc
        return Response(inbox_json(inbox, full=True))

    @extend_schema(responses=OBJ)
    @action(detail=True, methods=["get"])
    def templates(self, request: Request, pk: Any = None) -> Response:
        """WhatsApp: the inbox's message templates as last synced, with their parameters
        and whether Parley can send them."""
        return Response(_templates_json(self._get(request, pk)))

    @extend_schema(request=None, responses=OBJ)
    @action(detail=True, methods=["post"], url_path="templates/sync")
    def sync_templates(self, request: Request, pk: Any = None) -> Response:
        """WhatsApp: fetch the templates from the provider now."""
        inbox = self._get(request, pk)
        if inbox.kind != Inbox.Kind.WHATSAPP:
            raise ValidationError({"detail": "Only WhatsApp inboxes have templates."})
        try:
            store_templates(inbox=inbox, rows=fetch_templates(inbox))
        except GraphError as exc:
            raise ValidationError({"detail": f"WhatsApp answered: {exc}"}) from exc
        return Response(_templates_json(inbox))

    @extend_schema(request=s.InboxAccess, responses=OBJ)
    @action(detail=True, methods=["put"])
    def access(self, request: Request, pk: Any = None) -> Response:
        """Admins: who may see the inbox (users and teams; replaces the lists)."""
        _require_admin(request)
        inbox = self._get(request, pk)
        data = _valid(s.InboxAccess, request.data)
        users = list(User.objects.filter(pk__in=set(data["user_ids"]), is_active=True))
        teams = list(Team.objects.filter(pk__in=set(data["team_ids"])))
        if len(users) != len(set(data["user_ids"])):
            raise ValidationError({"user_ids": ["Unknown or deactivated user id."]})
        if len(teams) != len(set(data["team_ids"])):
            raise ValidationError({"team_ids": ["Unknown team id."]})
        inbox = actions.set_inbox_access(
            inbox=inbox,
            users=users,
            teams=teams,
            actor=_me(request),
            origin=Origin.from_request(request),
        )
        return Response(inbox_json(inbox, full=True))


class LabelViewSet(viewsets.ViewSet):
    """Labels: everyone reads them; admins manage them."""

    queryset = Label.objects.none()  # for the schema's path parameter type

    def _get(self, pk: Any) -> Label:
        label = Label.objects.filter(pk=_pk(pk)).first()
        if label is None:
            raise NotFound()
        return label

    @extend_schema(operation_id="labels_list", responses=OBJ)
    def list(self, request: Request) -> Response:
        return Response({"results": [label_payload(x) for x in Label.objects.order_by("name")]})

    @extend_schema(request=s.LabelWrite, responses={201: OBJ})
    def create(self, request: Request) -> Response:
        _require_admin(request)
        data = _valid(s.LabelWrite, request.data)
        try:
            label = actions.create_label(
                name=data.get("name", ""),
                color=data.get("color", "#6366f1"),
                description=data.get("description", ""),
            )
        except actions.InboxError as exc:
            raise _refuse(exc) from exc
        return Response(label_payload(label), status=http.HTTP_201_CREATED)

    @extend_schema(request=s.LabelWrite, responses=OBJ)
    def partial_update(self, request: Request, pk: Any = None) -> Response:
        _require_admin(request)
        data = _valid(s.LabelWrite, request.data)
        try:
            label = actions.update_label(label=self._get(pk), **data)
        except actions.InboxError as exc:
            raise _refuse(exc) from exc
        return Response(label_payload(label))

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: Any = None) -> Response:
        _require_admin(request)
        actions.delete_label(label=self._get(pk))
        return Response(status=http.HTTP_204_NO_CONTENT)


class AgentListView(APIView):
    """Active agents, for assignment pickers; with `inbox`, only those who can see it."""

    @extend_schema(parameters=[OpenApiParameter("inbox", int)], responses=OBJ)
    def get(self, request: Request) -> Response:
        users = User.objects.filter(is_active=True).order_by("name")
        inbox = request.query_params.get("inbox")
        if inbox:
            inbox_id = _pk(inbox)
            if not can_see_inbox(_me(request), inbox_id):
                raise NotFound()
            users = users.filter(
                Q(role=User.Role.ADMIN) | Q(inboxes__id=inbox_id) | Q(teams__inboxes__id=inbox_id)
            ).distinct()
        rows = list(users)
        online = online_user_ids([u.pk for u in rows])
        return Response(
            {
                "results": [
                    {
                        "id": u.pk,
                        "online": u.pk in online,
                        "name": u.name,
                        "availability": u.availability,
                        "avatar_url": u.avatar.url if u.avatar else None,
                    }
                    for u in rows
                ]
            }
        )


class SearchView(APIView):
    """Full-text search over message text, subjects and contact names and emails."""

    @extend_schema(parameters=[OpenApiParameter("q", str, required=True)], responses=OBJ)
    def get(self, request: Request) -> Response:
        term = request.query_params.get("q", "")
        if not term.strip():
            raise ValidationError({"q": ["Type something to search for."]})
        rows = q.search_conversations(_me(request), term)
        return Response({"results": [conversation_json(c) for c in rows]})


class InsightsView(APIView):
    """Suggested drafts, reply origins, canned-reply use, flags and first-response times
    for a period (admins; the same numbers as the Insights page)."""

    permission_classes = [IsAdminRole]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE),
            OpenApiParameter("to", OpenApiTypes.DATE),
            OpenApiParameter("inbox", int),
        ],
        responses=OBJ,
    )
    def get(self, request: Request) -> Response:
        from inbox.queries.insights import insights
        from inbox.web.insights import BadPeriod, period_from

        visible = list(Inbox.objects.values_list("pk", flat=True))
        try:
            p = period_from(request.query_params, visible)
        except BadPeriod as exc:
            raise ValidationError({"detail": [str(exc)]}) from exc
        return Response(insights(p))


class RetryDeliveryView(APIView):
    """Send a failed outgoing message again."""

    @extend_schema(request=None, responses=OBJ)
    def post(self, request: Request, message_id: int) -> Response:
        message = Message.objects.filter(
            pk=message_id, conversation__in=q.visible_conversations(_me(request))
        ).first()
        if message is None:
            raise NotFound()
        try:
            message = actions.retry_delivery(message=message, actor=_me(request))
        except actions.InboxError as exc:
            raise _refuse(exc) from exc
        return Response(message_json(message.pk))


def canned_json(reply: CannedReply) -> dict[str, Any]:
    return {
        "id": reply.pk,
        "title": reply.title,
        "shortcode": reply.shortcode,
        "body": reply.body,
        "scope": reply.scope,
        "team": {"id": reply.team.pk, "name": reply.team.name} if reply.team else None,
        "owner_id": reply.owner_id,
        "inbox_id": reply.inbox_id,
        "tags": reply.tags,
        "examples": reply.examples,
        "language": reply.language,
        "usage_count": reply.usage_count,
        "attachments": canned_files_json(reply),
        "updated_at": reply.updated_at.isoformat(),
    }


def canned_files_json(reply: CannedReply) -> list[dict[str, Any]]:
    return [
        {"id": a.pk, "filename": a.filename, "content_type": a.content_type, "size": a.size}
        for a in reply.attachments.all()
    ]


class CannedReplyViewSet(viewsets.ViewSet):
    """Canned replies you can use; admins share them, everyone keeps personal ones."""

    queryset = CannedReply.objects.none()  # for the schema's path parameter type

    def _get(self, request: Request, pk: Any) -> CannedReply:
        reply = visible_canned_replies(_me(request)).filter(pk=_pk(pk)).first()
        if reply is None:
            raise NotFound()
        return reply

    @extend_schema(
        operation_id="canned_replies_list",
        parameters=[OpenApiParameter("q", str), OpenApiParameter("inbox", int)],
        responses=OBJ,
    )
    def list(self, request: Request) -> Response:
        inbox = request.query_params.get("inbox")
        rows = visible_canned_replies(
            _me(request),
            inbox_id=_pk(inbox) if inbox else None,
            search=request.query_params.get("q") or "",
        ).prefetch_related("attachments")[:200]
        return Response({"results": [canned_json(r) for r in rows]})

    @extend_schema(responses=OBJ)
    def retrieve(self, request: Request, pk: Any = None) -> Response:
        return Response(canned_json(self._get(request, pk)))

    @extend_schema(request=s.CannedReplyWrite, responses={201: OBJ})
    def create(self, request: Request) -> Response:
        data = _valid(s.CannedReplyWrite, request.data)
        try:
            reply = actions.create_canned_reply(actor=_me(request), **data)
        except actions.InboxError as exc:
            raise _refuse(exc) from exc
        return Response(canned_json(reply), status=http.HTTP_201_CREATED)

    @extend_schema(request=s.CannedReplyWrite, responses=OBJ)
    def partial_update(self, request: Request, pk: Any = None) -> Response:
        reply = self._get(request, pk)
        data = _valid(s.CannedReplyWrite, request.data, partial=True)
        try:
            reply = actions.update_canned_reply(reply=reply, actor=_me(request), **data)
        except actions.InboxError as exc:
            raise _refuse(exc) from exc
        return Response(canned_json(reply))

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: Any = None) -> Response:
        reply = self._get(request, pk)
        try:
            actions.delete_canned_reply(reply=reply, actor=_me(request))
        except actions.InboxError as exc:
            raise _refuse(exc) from exc
        return Response(status=http.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.CannedReplyUse, responses=OBJ)
    @action(detail=True, methods=["post"])
    def use(self, request: Request, pk: Any = None) -> Response:
        """The reply rendered for a conversation (variables filled), counted as used."""
        reply = self._get(request, pk)
        data = _valid(s.CannedReplyUse, request.data)
        try:
            conversation = q.get_conversation(_me(request), data["conversation"])
        except Conversation.DoesNotExist:
            raise ValidationError({"conversation": ["No such conversation."]}) from None
        filled = canned.values(
            contact=conversation.contact,
            agent=_me(request),
            inbox=conversation.inbox,
            conversation=conversation,
        )
        try:
            text = canned.render(reply.body, filled)
        except canned.VariableError as exc:
            raise ValidationError({"body": [str(exc)]}) from exc
        actions.record_canned_use(reply=reply)
        return Response({"text": text, "canned_reply": canned_json(reply)})

    @extend_schema(request=s.CannedReplyPreview, responses=OBJ)
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        """A body rendered for a sample contact (Alex Martin), as the admin pages show it;
        an unknown or malformed variable is a 400 naming it."""
        data = _valid(s.CannedReplyPreview, request.data)
        try:
            text = canned.preview(data["body"], agent=_me(request))
        except canned.VariableError as exc:
            raise ValidationError({"body": [str(exc)]}) from exc
        return Response({"text": text})
