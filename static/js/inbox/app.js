// The agent app at /inbox/: conversation list, thread and contact, kept live over /ws/agent/.
// Native ES modules, no build step. This entry point wires the panes together: reference data,
// the realtime socket and what its frames do, global clicks and keyboard shortcuts, and start.
// Everything a customer wrote goes in as text (see `h()` in dom.js), never innerHTML.
import { $, toast } from "./dom.js";
import { api, configureApi } from "./api.js";
import { reconnectNow, sendFrame, startSocket, stopReconnecting } from "./socket.js";
import { CONFIG, ME, app, hooks, narrow, setPane, state, tabVisible } from "./state.js";
import { changeFilter, fillSelect, initList, loadList, renderFilters, rowEls, scheduleCounts } from "./list.js";
import { addMessageToThread, atBottom, initThread, markRead, openConversation, renderMessages, scrollToBottom } from "./thread.js";
import { act, assignToMe, initHeader, renderHeader, resolve, snooze, snoozeUntil } from "./header.js";
import { initSidebar, loadContact, loadVisitor } from "./sidebar.js";
import { initComposer, renderFiles, restoreDraft, saveDraft, setMode, startDraftBaseline, stopTyping, textarea } from "./composer.js";
import { clearPresence, onTypingFrame, onViewingFrame, onVisitorTypingFrame } from "./presence.js";
import { applyEvent, onConversationFromApi, renderNotifyButton } from "./events.js";
import { initNewConversation, renderNewConversationButton } from "./newconv.js";
import { initRules } from "./rules.js";

// The calls lower modules make upwards (see `hooks` in state.js).
Object.assign(hooks, { act, addMessageToThread, onConversationFromApi, renderFiles, restoreDraft, saveDraft, scrollToBottom, startDraftBaseline, stopTyping });

function goSignIn() {
  stopReconnecting();
  window.location.assign(CONFIG.signin_url + "?next=" + encodeURIComponent(location.pathname + location.hash));
}

// ---------------------------------------------------------------- reference data
async function loadReference() {
  const [inboxes, labels] = await Promise.all([
    api("inboxes/").catch(() => ({ results: [] })),
    api("labels/").catch(() => ({ results: [] })),
  ]);
  state.inboxes = inboxes.results || [];
  state.labels = labels.results || [];
  renderNewConversationButton();
  fillSelect($("filter-inbox"), "All inboxes", state.inboxes, state.inbox);
  fillSelect($("filter-label"), "Any label", state.labels, state.label);
  $("filter-label").hidden = state.labels.length === 0;
  if (ME.role === "admin") {
    api("teams/").then((data) => {
      for (const team of data.results || data || []) state.teams.set(team.id, { id: team.id, name: team.name });
      renderHeader();
    }).catch(() => {});
  }
}

// ---------------------------------------------------------------- the socket
let early = []; // events that arrived before the first list load

function applyOrKeep(frame) {
  if (early !== null) early.push(frame); // the first list load is under way
  else applyEvent(frame);
}

function setConn(status) {
  const node = $("conn-state");
  node.dataset.state = status;
  node.querySelector(".conn-text").textContent = { live: "Live", connecting: "Connecting…", offline: "Offline, reconnecting…" }[status];
  node.title = status === "live" ? "Live updates on" : "";
}

function onOtherFrame(frame) {
  switch (frame.type) {
    case "typing":
      onTypingFrame(frame);
      break;
    case "viewing":
      onViewingFrame(frame);
      break;
    case "presence":
      state.agentsByInbox.clear(); // the pickers refetch who is online
      break;
    case "visitor.typing":
      onVisitorTypingFrame(frame);
      break;
    case "visitor.presence":
      if (frame.conversation_id && frame.conversation_id === state.openId) loadVisitor(state.openId, state.openToken);
      break;
    case "user.availability":
      document.querySelectorAll(".usermenu summary .status-dot").forEach((dot) => { dot.className = "status-dot status-" + frame.availability; });
      document.querySelectorAll('form[data-availability] input[name="availability"]').forEach((input) => { input.checked = input.value === frame.availability; });
      break;
    default:
      break;
  }
}

const socketCallbacks = {
  onStatus(status) {
    setConn(status);
    if (status === "offline") clearPresence();
  },
  onHello() {
    if (state.openId) sendFrame({ type: "viewing", conversation_id: state.openId, state: "opened" });
  },
  onEvent: applyOrKeep,
  onReload: reloadAll,
  onGap: scheduleReload,
  onInboxes() {
    state.agentsByInbox.clear();
    loadReference();
    reloadAll();
  },
  onSignedOut: goSignIn,
  onFrame: onOtherFrame,
};

let reloadTimer = null;
function scheduleReload() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(reloadAll, 300);
}

function reloadAll() {
  loadList(false);
  scheduleCounts(0);
  const id = state.openId;
  if (!id) return;
  const token = state.openToken;
  Promise.all([api("conversations/" + id + "/"), api("conversations/" + id + "/messages/")]).then(([conv, page]) => {
    if (token !== state.openToken) return;
    onConversationFromApi(conv);
    const wasAtBottom = atBottom();
    state.messages = new Map(page.results.map((m) => [m.id, m]));
    state.hasMore = page.has_more;
    state.threadLoaded = true;
    renderMessages();
    if (wasAtBottom) scrollToBottom();
    if (tabVisible() && conv.unread_count > 0) markRead(id, null);
    loadContact(conv.contact.id, token);
  }).catch(() => {});
}

// ---------------------------------------------------------------- wiring
function visibleIndex() {
  return state.order.indexOf(state.openId);
}

function move(step) {
  if (!state.order.length) return;
  const index = visibleIndex();
  let next = index < 0 ? 0 : index + step;
  next = Math.max(0, Math.min(state.order.length - 1, next));
  const id = state.order[next];
  openConversation(id);
  const li = rowEls.get(id);
  if (li) { li.firstChild.focus({ preventScroll: true }); li.scrollIntoView({ block: "nearest" }); }
}

function toggleContact() {
  if (narrow.matches) { setPane("contact"); $("contact-name").focus(); }
  else if (app.dataset.side === "open") delete app.dataset.side;
  else app.dataset.side = "open";
}

function wire() {
  initList();
  initThread();
  initHeader();
  initSidebar();
  initComposer();
  initRules();
  initNewConversation((id) => openConversation(id));

  document.addEventListener("click", (event) => {
    const target = event.target;
    if (!(target instanceof Element)) return;
    const row = target.closest(".conv");
    if (row) { openConversation(row.dataset.id); return; }
    const other = target.closest("[data-open]");
    if (other) { openConversation(other.dataset.open); return; }
    const view = target.closest("[data-view]");
    if (view) { if (view.dataset.view !== state.view) changeFilter({ view: view.dataset.view }); return; }
    const status = target.closest("[data-status]");
    if (status) { if (status.dataset.status !== state.status) changeFilter({ status: status.dataset.status }); return; }
    const mode = target.closest(".mode-btn");
    if (mode) { setMode(mode.dataset.mode); textarea.focus(); return; }
    const back = target.closest("[data-back]");
    if (back) {
      if (back.dataset.back === "list") { setPane("list"); const li = rowEls.get(state.openId); if (li) li.firstChild.focus(); }
      else if (narrow.matches) setPane("thread");
      else delete app.dataset.side;
      return;
    }
    if (target.closest("[data-show='contact']")) { toggleContact(); return; }
    const snoozePreset = target.closest("[data-snooze]");
    if (snoozePreset) { snooze(snoozeUntil(snoozePreset.dataset.snooze)); return; }
    // Close open dropdowns when clicking elsewhere.
    document.querySelectorAll("details.dropdown[open]").forEach((menu) => { if (!menu.contains(target)) menu.open = false; });
  });

  $("shortcuts-btn").addEventListener("click", () => $("shortcuts").showModal());
  $("notify-btn").addEventListener("click", () => {
    Notification.requestPermission().then(() => {
      renderNotifyButton();
      if (Notification.permission === "granted") toast("Desktop notifications are on");
    });
  });

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const target = e.target;
    if (target instanceof Element && target.closest("input, textarea, select, [contenteditable], dialog")) return;
    if (e.key === "Escape" && app.dataset.side === "open") { delete app.dataset.side; return; }
    const handlers = {
      j: () => move(1),
      k: () => move(-1),
      r: () => { if (state.openId) { setMode("message"); openConversation(state.openId, { focusComposer: true }); } },
      n: () => { if (state.openId) { setMode("note"); openConversation(state.openId, { focusComposer: true }); } },
      e: () => resolve(),
      a: () => { if (state.openId) assignToMe(); },
      "?": () => $("shortcuts").showModal(),
      "/": () => { setPane("list"); $("search-input").focus(); },
    };
    const handler = handlers[e.key];
    if (handler) { e.preventDefault(); handler(); }
  });

  document.addEventListener("visibilitychange", () => {
    if (!tabVisible()) return;
    const c = state.convs.get(state.openId);
    if (c && c.unread_count > 0) markRead(c.id, null);
  });
  window.addEventListener("pagehide", () => {
    stopTyping();
    if (state.openId) sendFrame({ type: "viewing", conversation_id: state.openId, state: "closed" });
  });
  window.addEventListener("online", reconnectNow);
}

// ---------------------------------------------------------------- start
async function start() {
  configureApi({ root: CONFIG.api_root, signedOut: goSignIn });
  renderFilters();
  renderNotifyButton();
  setMode("message");
  startSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + CONFIG.ws_path, socketCallbacks);
  scheduleCounts(0);
  await Promise.all([loadReference(), loadList(false)]);
  const frames = early || [];
  early = null;
  for (const frame of frames) applyEvent(frame);
  const match = location.hash.match(/^#conversation-(\d+)$/);
  if (match) openConversation(Number(match[1]));
}

if (CONFIG) {
  wire();
  start();
}
