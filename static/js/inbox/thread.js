// The thread pane: opening a conversation, its messages (newest at the bottom, older ones on
// demand), keeping the newest in view, and telling the server what the agent has read.
import { $, h, announce, dayLabel, fullFmt, humanSize, icon, parseDate, safeUrl, timeEl, timeFmt, toast } from "./dom.js";
import { emailBody, isEmail } from "./email.js";
import { api, serial } from "./api.js";
import { sendFrame } from "./socket.js";
import { ME, hooks, narrow, setPane, state } from "./state.js";
import { rowEls, updateRow } from "./list.js";
import { renderHeader } from "./header.js";
import { renderPresence } from "./presence.js";
import { loadContact, loadVisitor, renderRating } from "./sidebar.js";

export const scroller = $("thread-scroll");
export const msgEls = new Map(); // message id → its <li>, reused while the message is unchanged

export function atBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
}

export function scrollToBottom() {
  scroller.scrollTop = scroller.scrollHeight;
  $("new-below").hidden = true;
}

export async function openConversation(id, options) {
  const opts = options || {};
  id = Number(id);
  if (!id) return;
  if (state.openId === id) {
    setPane("thread");
    if (opts.focusComposer) $("composer-text").focus();
    return;
  }
  leaveConversation();
  const token = ++state.openToken;
  state.openId = id;
  state.messages = new Map();
  state.threadLoaded = false;
  state.hasMore = false;
  state.contact = null;
  msgEls.clear();
  $("messages").replaceChildren();
  $("load-older").hidden = true;
  $("new-below").hidden = true;
  $("thread-empty").hidden = true;
  $("thread").hidden = false;
  $("contact-body").hidden = true;
  $("contact-placeholder").hidden = true;
  history.replaceState(null, "", "#conversation-" + id);
  for (const [rowId] of rowEls) updateRow(rowId);
  hooks.restoreDraft(id);
  renderHeader();
  renderPresence();
  setPane("thread");
  sendFrame({ type: "viewing", conversation_id: id, state: "opened" });
  if (opts.focusComposer) $("composer-text").focus();
  else if (narrow.matches) $("thread-contact").focus(); // the list row it came from is gone

  try {
    const [conv, page] = await Promise.all([api("conversations/" + id + "/"), api("conversations/" + id + "/messages/")]);
    if (token !== state.openToken) return;
    hooks.onConversationFromApi(conv);
    for (const m of page.results) state.messages.set(m.id, m);
    state.hasMore = page.has_more;
    state.threadLoaded = true;
    renderMessages();
    scrollToBottom();
    hooks.startDraftBaseline();
    if (conv.unread_count > 0) markRead(id, null); // no write when there is nothing to read
    loadContact(conv.contact.id, token);
    loadVisitor(id, token);
    renderRating();
  } catch (error) {
    if (token !== state.openToken) return;
    $("messages").replaceChildren(h("li", { class: "msg-activity" }, "This conversation could not be loaded. " + error.message));
  }
}

function leaveConversation() {
  const id = state.openId;
  if (!id) return;
  hooks.stopTyping();
  hooks.saveDraft(id);
  sendFrame({ type: "viewing", conversation_id: id, state: "closed" });
}

export function maxMessageId() {
  let max = 0;
  for (const id of state.messages.keys()) max = Math.max(max, id);
  return max;
}

function messageNode(m) {
  if (m.kind === "activity") {
    return h("li", { class: "msg-activity", dataset: { id: m.id } }, [
      m.text, timeEl(m.created_at, timeFmt.format(parseDate(m.created_at) || new Date())),
    ]);
  }
  const incoming = m.direction === "incoming";
  const note = m.kind === "note";
  const failed = m.delivery_status === "failed";
  const cls = "msg " + (incoming ? "msg-in" : "msg-out") + (note ? " msg-note" : "") + (failed ? " msg-failed" : "");
  const author = (m.sender && m.sender.name) || (incoming ? "Customer" : "Parley");
  const created = parseDate(m.created_at);
  const head = h("div", { class: "msg-head" }, [
    note ? h("span", { class: "note-tag" }, "Private note") : null,
    h("span", { class: "msg-author" }, author),
    timeEl(m.created_at, created ? timeFmt.format(created) : ""),
    m.data && m.data.edited_at ? h("span", { class: "muted small", title: "First version: " + (m.data.original_text || "") }, "edited") : null,
    m.data && m.data.echo ? h("span", { class: "chip-small" }, "Sent from " + (m.data.sent_via || "the app")) : null,
    m.data && m.data.template ? h("span", { class: "chip-small" }, "Template " + m.data.template.name) : null,
    m.data && m.data.message_tag ? h("span", { class: "chip-small" }, "Tag " + m.data.message_tag.toLowerCase().replace(/_/g, " ")) : null,
  ]);
  let body = m.text;
  if (m.data && m.data.unsent_at) {
    const when = parseDate(m.data.unsent_at);
    body = "The customer unsent this message" + (when ? " (" + fullFmt.format(when) + ")" : "") + ".";
  } else if (!body && !(m.attachments && m.attachments.length)) body = m.html ? "(This message only has formatted content, which is not shown here yet.)" : "(empty message)";
  const bubble = h("div", { class: "bubble" + (isEmail(m) ? " bubble-email" : "") }, isEmail(m) ? emailBody(m) : body);
  const listed = (m.attachments || []).filter((a) => !(a.inline && isEmail(m) && m.html));
  if (listed.length) {
    bubble.append(h("ul", { class: "attachments", "aria-label": "Attachments" }, listed.map((a) => {
      const url = safeUrl(a.url);
      return h("li", null, h(url ? "a" : "span", { class: "attachment", href: url, download: url ? a.filename || "" : null }, [
        icon("clip", 14),
        h("span", null, a.filename || "attachment"),
        h("span", { class: "muted" }, humanSize(a.size)),
      ]));
    })));
  }
  if (m.data && m.data.unsent_at) bubble.classList.add("bubble-unsent");
  const reactions = m.data && m.data.reactions ? Object.entries(m.data.reactions) : [];
  const reactionRow = reactions.length ? h("p", { class: "msg-reactions" }, reactions.map(([by, emoji]) =>
    h("span", { class: "reaction", title: (by === "customer" ? "The customer" : "Your team") + " reacted " + emoji }, emoji))) : null;
  const buttons = m.data && Array.isArray(m.data.quick_replies) && m.data.quick_replies.length
    ? h("p", { class: "msg-quick-replies", "aria-label": "Quick-reply buttons" }, m.data.quick_replies.map((t) => h("span", { class: "chip-small" }, t))) : null;
  const foot = !incoming && !note && m.delivery_status ? deliveryNode(m) : null;
  return h("li", { class: cls, dataset: { id: m.id } }, [head, bubble, buttons, reactionRow, rawNode(m), foot]);
}

// What the provider sent, for admins, on a message Parley could only show as a placeholder
// (a kind it does not display, or a file that could not be downloaded). Shown as text.
const SOURCES_WITH_RAW = ["whatsapp", "telegram", "messenger", "instagram", "twilio"];
function rawNode(m) {
  if (!(ME && ME.role === "admin") || !m.data || m.direction !== "incoming") return null;
  const source = SOURCES_WITH_RAW.find((key) => m.data[key] && typeof m.data[key] === "object");
  const extras = source ? m.data[source] : m.data;
  // A line that is a bracketed placeholder ("[Order: …]", "[Photo not downloaded: …]").
  const placeholder = /^\[[^\]]+\]$/m.test(m.text || "") || extras.media_error || m.data.media_error;
  const raw = extras.raw || m.data.raw;
  if (!placeholder || !raw) return null;
  return h("details", { class: "msg-raw" }, [
    h("summary", null, "What the provider sent (admins)"),
    h("pre", null, JSON.stringify(raw, null, 2)),
  ]);
}

function deliveryNode(m) {
  const labels = { queued: "Sending…", sent: "Sent", delivered: "Delivered", read: "Read", failed: "Not delivered" };
  const icons = { queued: "◷", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!" };
  const status = m.delivery_status;
  const text = labels[status] || status;
  return h("div", { class: "msg-foot delivery-" + status }, [
    h("span", { "aria-hidden": "true" }, icons[status] || ""),
    h("span", null, status === "failed" && m.delivery_error ? text + ": " + m.delivery_error : text),
    status === "failed" ? h("button", { type: "button", class: "retry-btn", dataset: { retry: m.id } }, "Retry") : null,
  ]);
}

export function renderMessages() {
  const list = $("messages");
  const sorted = [...state.messages.values()].sort((a, b) => a.id - b.id);
  const nodes = [];
  let lastDay = null;
  for (const m of sorted) {
    const date = parseDate(m.created_at);
    const day = date ? date.toDateString() : null;
    if (day && day !== lastDay) {
      nodes.push(h("li", { class: "day-sep" }, dayLabel(date)));
      lastDay = day;
    }
    let node = msgEls.get(m.id);
    if (!node || node._version !== m.updated_at) {
      node = messageNode(m);
      node._version = m.updated_at;
      msgEls.set(m.id, node);
    }
    nodes.push(node);
  }
  list.replaceChildren(...nodes);
  $("load-older").hidden = !state.hasMore;
}

async function loadOlder() {
  const id = state.openId;
  const oldest = Math.min(...state.messages.keys());
  if (!id || !isFinite(oldest)) return;
  const button = $("load-older");
  button.disabled = true;
  try {
    const page = await api("conversations/" + id + "/messages/?before=" + oldest);
    if (state.openId !== id) return;
    const before = scroller.scrollHeight;
    for (const m of page.results) state.messages.set(m.id, m);
    state.hasMore = page.has_more;
    renderMessages();
    scroller.scrollTop += scroller.scrollHeight - before;
  } catch (error) {
    toast(error.message, "error");
  } finally {
    button.disabled = false;
  }
}

export function addMessageToThread(m, created) {
  const wasAtBottom = atBottom();
  const known = state.messages.has(m.id);
  state.messages.set(m.id, m);
  if (!state.threadLoaded) return;
  renderMessages();
  const mine = m.sender && m.sender.type === "agent" && m.sender.id === ME.id;
  if (created && !known) {
    if (wasAtBottom || mine) scrollToBottom();
    else $("new-below").hidden = false;
    if (m.kind !== "activity" && !mine) {
      const who = (m.sender && m.sender.name) || "the customer";
      const what = m.kind === "note" ? "Private note from " : m.direction === "incoming" ? "New message from " : "Reply from ";
      announce(what + who + ": " + (m.text || "").slice(0, 140));
    }
  }
}

// ---------------------------------------------------------------- read positions
const readTimers = new Map();
export function markRead(id, messageId, attempt) {
  clearTimeout(readTimers.get(id));
  readTimers.set(id, setTimeout(async () => {
    readTimers.delete(id);
    const c = state.convs.get(id);
    if (c && c.unread_count) { c.unread_count = 0; updateRow(id); }
    try {
      const conv = await serial(id, () => api("conversations/" + id + "/read/", { method: "POST", body: { message_id: messageId } }));
      hooks.onConversationFromApi(conv);
    } catch (error) {
      // A server hiccup: try once more, else the unread badge would come back on reload.
      if (!attempt && (error.status === 0 || error.status >= 500)) markRead(id, messageId, 1);
    }
  }, attempt ? 1000 : 150));
}

// ---------------------------------------------------------------- wiring
export function initThread() {
  $("messages").addEventListener("click", async (e) => {
    const button = e.target instanceof Element && e.target.closest("[data-retry]");
    if (!button) return;
    button.disabled = true;
    try {
      const message = await api("messages/" + button.dataset.retry + "/retry/", { method: "POST" });
      if (message.conversation_id === state.openId) addMessageToThread(message, false);
    } catch (error) {
      toast(error.message, "error");
      button.disabled = false;
    }
  });
  $("load-older").addEventListener("click", loadOlder);
  $("new-below").addEventListener("click", scrollToBottom);
  // Keep the newest message in view when the pane changes size (keyboard, rotation, resize).
  let stuckToBottom = true;
  scroller.addEventListener("scroll", () => {
    stuckToBottom = atBottom();
    if (stuckToBottom) $("new-below").hidden = true;
  });
  if ("ResizeObserver" in window) {
    new ResizeObserver(() => { if (stuckToBottom) scroller.scrollTop = scroller.scrollHeight; }).observe(scroller);
  }
}
