"""The only writers of inbox rows (see ../../shared/DESIGN.md). Keyword-only, typed; each
runs in one `writing()` transaction that appends its events, published after commit.
Callers have checked that the actor may see the inbox; what else is checked is in the
docstrings. Refusals raise `InboxError` with a message safe to show."""

from inbox.actions.canned import (
    add_canned_attachment,
    create_canned_reply,
    delete_canned_reply,
    record_canned_use,
    remove_canned_attachment,
    update_canned_reply,
)
from inbox.actions.contacts import (
    IdentityInput,
    find_or_create_contact,
    merge_contacts,
    update_contact,
)
from inbox.actions.conversations import (
    assign,
    assign_team,
    mark_read,
    reopen_if_snooze_due,
    set_labels,
    set_priority,
    set_status,
)
from inbox.actions.drafts import (
    clear_needs_person,
    discard_suggestion,
    flag_needs_person,
    mark_suggestion_shown,
    record_reply_metric,
    send_automated,
    store_suggestions,
)
from inbox.actions.errors import InboxError
from inbox.actions.inboxes import (
    create_inbox,
    create_label,
    delete_auto_send_rule,
    delete_label,
    set_auto_send_rule,
    set_inbox_access,
    update_inbox,
    update_label,
)
from inbox.actions.messages import (
    AttachmentInput,
    InboundResult,
    add_note,
    edit_inbound_message,
    receive_inbound_message,
    record_delivery_attempt,
    record_sent_part,
    retry_delivery,
    send_reply,
    set_delivery_status,
    start_conversation,
)

__all__ = [
    "AttachmentInput",
    "IdentityInput",
    "InboundResult",
    "InboxError",
    "add_canned_attachment",
    "add_note",
    "assign",
    "assign_team",
    "clear_needs_person",
    "create_canned_reply",
    "create_inbox",
    "create_label",
    "delete_auto_send_rule",
    "delete_canned_reply",
    "delete_label",
    "discard_suggestion",
    "edit_inbound_message",
    "find_or_create_contact",
    "flag_needs_person",
    "mark_read",
    "mark_suggestion_shown",
    "merge_contacts",
    "receive_inbound_message",
    "record_canned_use",
    "record_delivery_attempt",
    "record_reply_metric",
    "record_sent_part",
    "remove_canned_attachment",
    "reopen_if_snooze_due",
    "retry_delivery",
    "send_automated",
    "send_reply",
    "set_auto_send_rule",
    "set_delivery_status",
    "set_inbox_access",
    "set_labels",
    "set_priority",
    "set_status",
    "start_conversation",
    "store_suggestions",
    "update_canned_reply",
    "update_contact",
    "update_inbox",
    "update_label",
]
