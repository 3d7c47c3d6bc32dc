"""Input shapes of the inbox API. Outputs are `inbox.payloads` (shared with events)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.forms import MAX_ID
from inbox.models import Conversation, Inbox


def _id(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class TemplateParams(serializers.JSONField):
    """A template's parameters: an object, in a JSON body or as JSON in a multipart form
    (a template with a file header is sent with its file)."""

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("invalid")
        return value


class MessageCreate(serializers.Serializer[Any]):
    text = serializers.CharField(max_length=65536, allow_blank=True, trim_whitespace=False)
    kind = serializers.ChoiceField(choices=["message", "note"], default="message")
    cc = serializers.ListField(
        child=serializers.CharField(max_length=320),
        max_length=20,
        required=False,
        default=list,
        help_text='Email: addresses to copy ("Name <address>" or an address).',
    )
    suggestion_id = serializers.IntegerField(
        required=False, allow_null=True, help_text="The suggested drafts the reply started from"
    )
    candidate = serializers.IntegerField(
        required=False, min_value=0, default=0, help_text="Which of them (0: the best)"
    )
    canned_reply_id = serializers.IntegerField(
        required=False, allow_null=True, help_text="The canned reply inserted by hand"
    )
    canned_attachments = serializers.ListField(
        child=serializers.IntegerField(),
        max_length=20,
        required=False,
        default=list,
        help_text="Files of canned replies to send along (their ids)",
    )
    tag = serializers.CharField(
        max_length=40,
        required=False,
        default="",
        allow_blank=True,
        help_text="Messenger/Instagram: a message tag, to write after the 24-hour window",
    )
    quick_replies = serializers.ListField(
        child=serializers.CharField(max_length=20),
        max_length=10,
        required=False,
        default=list,
        help_text="WhatsApp, Messenger, Instagram, Telegram: buttons the customer can tap",
    )
    template_id = _id(
        required=False, help_text="WhatsApp: send this approved template (text is ignored)"
    )
    template_params = TemplateParams(
        required=False,
        default=dict,
        help_text='The template\'s parameters: {"header": [...], "body": [...] or {name: value}, '
        '"buttons": {"0": [...]}} (in a multipart form, as JSON). A template whose header is '
        "an image, video or document takes that file as the one `attachments` file.",
    )


class CannedReplyPreview(serializers.Serializer[Any]):
    body = serializers.CharField(max_length=20000)


class SuggestionRef(serializers.Serializer[Any]):
    """Names one stored suggestion of the conversation."""

    suggestion_id = serializers.IntegerField()


class ConversationStart(serializers.Serializer[Any]):
    """Email: to_email, subject, text. WhatsApp: to_phone, template_id, template_params."""

    inbox = _id()
    to_email = serializers.EmailField(max_length=254, required=False)
    to_phone = serializers.CharField(max_length=32, required=False)
    to_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    subject = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    text = serializers.CharField(
        max_length=65536, trim_whitespace=False, required=False, allow_blank=True, default=""
    )
    template_id = _id(required=False)
    template_params = TemplateParams(required=False, default=dict)


class AssignInput(serializers.Serializer[Any]):
    assignee_id = _id(allow_null=True)


class TeamInput(serializers.Serializer[Any]):
    team_id = _id(allow_null=True)


class StatusInput(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    snoozed_until = serializers.DateTimeField(required=False, allow_null=True)


class PriorityInput(serializers.Serializer[Any]):
    priority = serializers.ChoiceField(choices=Conversation.Priority.choices)


class LabelsInput(serializers.Serializer[Any]):
    add = serializers.ListField(child=_id(), required=False, default=list, max_length=100)
    remove = serializers.ListField(child=_id(), required=False, default=list, max_length=100)


class ReadInput(serializers.Serializer[Any]):
    message_id = _id(required=False, allow_null=True)


class ContactUpdate(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    custom_attributes = serializers.DictField(required=False)
    is_vip = serializers.BooleanField(required=False)
    is_blocked = serializers.BooleanField(required=False)


class MergeInput(serializers.Serializer[Any]):
    duplicate_id = _id()


class InboxWrite(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False)
    kind = serializers.ChoiceField(choices=Inbox.Kind.choices, required=False)
    settings = serializers.DictField(required=False)
    secrets = serializers.DictField(required=False, write_only=True)
    business_hours = serializers.DictField(required=False)


class InboxAccess(serializers.Serializer[Any]):
    user_ids = serializers.ListField(child=_id(), max_length=1000)
    team_ids = serializers.ListField(child=_id(), max_length=1000)


class LabelWrite(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=50, required=False)
    color = serializers.CharField(max_length=7, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class CannedReplyWrite(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=200)
    shortcode = serializers.SlugField(max_length=50)
    body = serializers.CharField(max_length=20000, trim_whitespace=False)
    scope = serializers.ChoiceField(choices=["everyone", "team", "personal"], default="everyone")
    team = _id(required=False, allow_null=True, default=None)
    inbox = _id(required=False, allow_null=True, default=None)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), max_length=20, required=False, default=list
    )
    examples = serializers.ListField(
        child=serializers.CharField(max_length=500), max_length=50, required=False, default=list
    )
    language = serializers.CharField(max_length=8, required=False, allow_blank=True, default="")


class CannedReplyUse(serializers.Serializer[Any]):
    conversation = _id()
