// Applying what the server says to the state and the panes: conversations fetched from the
// API, and the domain events of the socket (conversation, message, contact and read changes),
// with desktop notifications for what is the agent's to answer.
import { $ } from "./dom.js";
import { api } from "./api.js";
import { ME, state, tabVisible } from "./state.js";
import { matchesFilters, placeInList, remember, scheduleCounts, updateRow } from "./list.js";
import { addMessageToThread, markRead, openConversation } from "./thread.js";
import { renderHeader } from "./header.js";
import { renderCc } from "./composer.js";
import { loadContact, renderRating } from "./sidebar.js";
import { onSuggestedEvent, renderNeedsPersonBadge } from "./suggestions.js";

// ---------------------------------------------------------------- notifications
function notificationsSupported() {
  return "Notification" in window;
}

export function renderNotifyButton() {
  $("notify-btn").hidden = !notificationsSupported() || Notification.permission !== "default";
}

function notify(title, body, conversationId) {
  if (!notificationsSupported() || Notification.permission !== "granted" || tabVisible()) return;
  try {
    const n = new Notification(title, { body: (body || "").slice(0, 180), tag: "conversation-" + conversationId });
    n.onclick = () => { window.focus(); openConversation(conversationId); n.close(); };
  } catch (error) { /* some platforms only allow service-worker notifications */ }
}

// ---------------------------------------------------------------- applying events
export function onConversationFromApi(c) {
  const { conv } = remember(c, true);
  placeInList(conv, false);
  updateRow(conv.id);
  if (conv.id === state.openId) { renderHeader(); renderCc(); renderNeedsPersonBadge(); }
}

function onConversationEvent(c, changes) {
  const { prev, conv } = remember(c, false);
  placeInList(conv, changes.includes("last_activity_at"));
  updateRow(conv.id);
  if (conv.id === state.openId) { renderHeader(); renderCc(); renderNeedsPersonBadge(); renderRating(); }
  if (!prev && matchesFilters(conv)) refreshConversation(conv.id);
  const assignedToMe = conv.assignee && conv.assignee.id === ME.id;
  if (changes.includes("assignee") && assignedToMe && !(prev && prev.assignee && prev.assignee.id === ME.id)) {
    notify("Assigned to you: " + conv.contact.name, conv.last_message_preview || conv.subject || "", conv.id);
  }
  scheduleCounts();
}

async function refreshConversation(id) {
  try {
    onConversationFromApi(await api("conversations/" + id + "/"));
  } catch (error) { /* gone or no longer visible */ }
}

function onMessageEvent(m, created) {
  const c = state.convs.get(m.conversation_id);
  const customer = m.direction === "incoming" && m.kind === "message";
  const isOpen = m.conversation_id === state.openId;
  if (created && customer) {
    // API data newer than this event already counts it (the conversation state follows).
    const counted = c && (c.last_incoming_message_id || 0) >= m.id;
    if (!(isOpen && tabVisible()) && !counted) {
      if (c) { c.unread_count = (c.unread_count || 0) + 1; updateRow(c.id); }
      else state.unreadHints.set(m.conversation_id, (state.unreadHints.get(m.conversation_id) || 0) + 1);
    }
    if (c && c.assignee && c.assignee.id === ME.id) {
      notify("New message from " + ((m.sender && m.sender.name) || c.contact.name), m.text, m.conversation_id);
    }
  }
  if (isOpen) {
    addMessageToThread(m, created);
    if (created && customer && tabVisible()) markRead(m.conversation_id, m.id);
  }
}

function onContactEvent(contact, mergedId) {
  for (const c of state.convs.values()) {
    if (c.contact.id === contact.id) {
      Object.assign(c.contact, { name: contact.name, email: contact.email, phone: contact.phone, is_vip: contact.is_vip, is_blocked: contact.is_blocked });
      updateRow(c.id);
    }
  }
  const open = state.convs.get(state.openId);
  if (open && (open.contact.id === contact.id || open.contact.id === mergedId)) {
    renderHeader();
    loadContact(contact.id, state.openToken);
  }
}

function onReadEvent(payload) {
  const c = state.convs.get(payload.conversation_id);
  if (!c) return;
  if (payload.last_read_message_id >= (c.last_incoming_message_id || 0)) {
    c.unread_count = 0;
    updateRow(c.id);
  } else {
    refreshConversation(c.id);
  }
}

export function applyEvent(frame) {
  const payload = frame.payload || {};
  switch (frame.kind) {
    case "conversation.created":
    case "conversation.updated":
      if (payload.conversation) onConversationEvent(payload.conversation, payload.changes || []);
      break;
    case "message.created":
    case "message.updated":
      if (payload.message) onMessageEvent(payload.message, frame.kind === "message.created");
      // A new message carries its conversation's new state (no separate conversation.updated).
      if (payload.conversation) onConversationEvent(payload.conversation, payload.changes || []);
      break;
    case "contact.updated":
    case "contact.merged":
      if (payload.contact) onContactEvent(payload.contact, payload.merged_id);
      break;
    case "conversation.read":
      onReadEvent(payload);
      break;
    case "draft.suggested":
      onSuggestedEvent(payload);
      break;
    default:
      break;
  }
}
