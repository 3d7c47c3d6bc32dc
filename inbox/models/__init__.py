"""The inbox domain. Rows are written only by `inbox.actions`."""

from inbox.models.canned import CannedAttachment, CannedReply
from inbox.models.contacts import Contact, ContactIdentity
from inbox.models.conversations import Conversation, ConversationTally, Label, ReadPosition
from inbox.models.drafts import (
    AutoSendRule,
    DraftSuggestion,
    ReplyMemory,
    ReplyMetric,
    SuggestionView,
)
from inbox.models.email import ImapState, InboundEmail, InboxAddress
from inbox.models.events import Event, EventCounter, EventStream, SocketSession
from inbox.models.inboxes import Inbox
from inbox.models.messages import Attachment, Message
from inbox.models.messaging import MessageTemplate, SmsOptOut
from inbox.models.webhooks import ProviderEvent
from inbox.models.widget import WidgetVisitor

__all__ = [
    "Attachment",
    "AutoSendRule",
    "CannedAttachment",
    "CannedReply",
    "Contact",
    "ContactIdentity",
    "Conversation",
    "ConversationTally",
    "DraftSuggestion",
    "Event",
    "EventCounter",
    "EventStream",
    "ImapState",
    "InboundEmail",
    "Inbox",
    "InboxAddress",
    "Label",
    "Message",
    "MessageTemplate",
    "ProviderEvent",
    "ReadPosition",
    "ReplyMemory",
    "ReplyMetric",
    "SmsOptOut",
    "SocketSession",
    "SuggestionView",
    "WidgetVisitor",
]
