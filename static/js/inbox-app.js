// The agent app at /inbox/: conversation list, thread and contact, kept live over /ws/agent/.
// Vanilla ES2020, no build step. Everything a customer wrote goes in with textContent (the
// `h()` helper below only ever creates text nodes), never innerHTML.
(function () {
  "use strict";

  const configNode = document.getElementById("inbox-config");
  if (!configNode) return;
  const CONFIG = JSON.parse(configNode.textContent);
  const ME = CONFIG.user;
  const API = CONFIG.api_root;
  const $ = (id) => document.getElementById(id);
  const app = $("inbox-app");

  // ---------------------------------------------------------------- small helpers
  function h(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value == null || value === false) continue;
        if (key === "class") node.className = value;
        else if (key === "text") node.textContent = value;
        else if (key === "dataset") Object.assign(node.dataset, value);
        else if (key === "hidden") node.hidden = true;
        else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    for (const child of [].concat(children == null ? [] : children)) {
      if (child != null && child !== false) node.append(child);
    }
    return node;
  }

  const SVG = "http://www.w3.org/2000/svg";
  const ICONS = {
    clip: "M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6z",
  };
  function icon(name, size) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", String(size || 16));
    svg.setAttribute("height", String(size || 16));
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // Only same-origin paths or http(s) links: never `javascript:` from a payload.
  function safeUrl(url) {
    if (typeof url !== "string" || !url) return null;
    if (url.startsWith("/") && !url.startsWith("//")) return url;
    try {
      const parsed = new URL(url);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (error) {
      return null;
    }
  }

  function safeColor(color) {
    return typeof color === "string" && /^#[0-9a-fA-F]{6}$/.test(color) ? color : "#98a2b3";
  }

  function initials(name) {
    const parts = String(name || "?").trim().split(/\s+/).filter(Boolean);
    const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || "?").slice(0, 2);
    return letters.toUpperCase();
  }

  function avatar(person, size, label) {
    const url = person && safeUrl(person.avatar_url);
    const cls = "avatar avatar-" + size;
    if (url) return h("img", { class: cls, src: url, alt: label || "", title: label || null });
    return h("span", { class: cls, title: label || null, "aria-hidden": label ? null : "true", role: label ? "img" : null, "aria-label": label || null },
      initials(person && person.name));
  }

  const PRIORITY = { 0: "None", 1: "Low", 2: "Medium", 3: "High", 4: "Urgent" };
  const STATUS_LABEL = { open: "Open", pending: "Pending", snoozed: "Snoozed", resolved: "Resolved" };
  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const dateFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
  const dateYearFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
  const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });

  function parseDate(iso) {
    const date = iso ? new Date(iso) : null;
    return date && !isNaN(date) ? date : null;
  }

  function relTime(iso) {
    const date = parseDate(iso);
    if (!date) return "";
    const seconds = Math.round((Date.now() - date.getTime()) / 1000);
    if (seconds < 45) return "now";
    if (seconds < 3600) return Math.max(1, Math.round(seconds / 60)) + "m";
    if (seconds < 86400) return Math.round(seconds / 3600) + "h";
    if (seconds < 7 * 86400) return Math.round(seconds / 86400) + "d";
    return date.getFullYear() === new Date().getFullYear() ? dateFmt.format(date) : dateYearFmt.format(date);
  }

  function timeEl(iso, text) {
    const date = parseDate(iso);
    return h("time", { datetime: iso || null, title: date ? fullFmt.format(date) : null }, text);
  }

  function dayLabel(date) {
    const today = new Date();
    const start = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
    const diff = Math.round((start(today) - start(date)) / 86400000);
    if (diff === 0) return "Today";
    if (diff === 1) return "Yesterday";
    return dayFmt.format(date);
  }

  function humanSize(bytes) {
    if (!(bytes >= 0)) return "";
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(bytes < 10240 ? 1 : 0) + " KB";
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  function shortCount(n) {
    if (n == null) return "";
    return n > 999 ? Math.floor(n / 1000) + "k+" : String(n);
  }

  function toast(message, kind) {
    const node = h("div", { class: "toast" + (kind === "error" ? " toast-error" : "") }, message);
    $("toasts").append(node);
    setTimeout(() => node.remove(), kind === "error" ? 6000 : 3000);
  }

  function announce(message) {
    const region = $("announcer");
    region.textContent = "";
    // A fresh text node after a tick makes screen readers announce repeats too.
    setTimeout(() => { region.textContent = message; }, 50);
  }

  function goSignIn() {
    sock.closedForGood = true;
    window.location.assign(CONFIG.signin_url + "?next=" + encodeURIComponent(location.pathname + location.hash));
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function errorMessage(status, data) {
    if (data && typeof data === "object") {
      if (typeof data.detail === "string") return data.detail;
      for (const value of Object.values(data)) {
        if (Array.isArray(value) && typeof value[0] === "string") return value[0];
        if (typeof value === "string") return value;
      }
    }
    if (status === 0) return "The server cannot be reached. Check your connection.";
    if (status === 404) return "Not found: it may have been moved to an inbox you cannot see.";
    return "Something went wrong (" + status + "). Try again.";
  }

  async function api(path, options) {
    const opts = options || {};
    let url = /^https?:|^\//.test(path) ? path : API + path;
    if (/^https?:/.test(url)) {
      const parsed = new URL(url);
      if (parsed.origin !== location.origin) throw new ApiError(0, "Refusing a cross-origin link.");
      url = parsed.pathname + parsed.search;
    }
    const init = { method: opts.method || "GET", credentials: "same-origin", headers: { Accept: "application/json" } };
    if (opts.form !== undefined) {
      init.body = opts.form; // multipart: the browser sets the boundary
    } else if (opts.body !== undefined) {
      init.body = JSON.stringify(opts.body);
      init.headers["Content-Type"] = "application/json";
    }
    if (init.method !== "GET") init.headers["X-CSRFToken"] = csrfToken();
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      throw new ApiError(0, errorMessage(0));
    }
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (error) { data = null; }
    }
    if (response.status === 401 || (response.status === 403 && data && /credentials|authenticat/i.test(data.detail || ""))) {
      goSignIn();
      throw new ApiError(response.status, "Signed out.");
    }
    if (!response.ok) throw new ApiError(response.status, errorMessage(response.status, data));
    return data;
  }

  // ---------------------------------------------------------------- state
  const saved = (() => { try { return JSON.parse(localStorage.getItem("parley.inbox.filters") || "{}"); } catch (e) { return {}; } })();
  const state = {
    view: ["mine", "unassigned", "all"].includes(saved.view) ? saved.view : "mine",
    status: ["open", "pending", "snoozed", "resolved"].includes(saved.status) ? saved.status : "open",
    sort: saved.sort === "waiting" ? "waiting" : "activity",
    inbox: "",
    label: "",
    convs: new Map(), // id → conversation payload + unread_count
    order: [], // ids in list order
    next: null,
    listToken: 0,
    listLoaded: false,
    unreadHints: new Map(), // conversation id → customer messages seen before we knew it
    counts: null,
    inboxes: [],
    labels: [],
    agentsByInbox: new Map(),
    teams: new Map((ME.teams || []).map((t) => [t.id, t])),
    openId: null,
    openToken: 0,
    messages: new Map(), // of the open conversation
    hasMore: false,
    threadLoaded: false,
    contact: null,
    drafts: new Map(), // conversation id → {text, mode, baseline}
    typing: new Map(), // conversation id → Map(user id → {name, timer})
    viewing: new Map(), // conversation id → Map(user id → name)
  };
  let composerMode = "message";
  let baseline = null; // highest message id seen when the current draft was started

  function saveFilters() {
    try {
      localStorage.setItem("parley.inbox.filters", JSON.stringify({ view: state.view, status: state.status, sort: state.sort }));
    } catch (e) { /* private mode */ }
  }

  const narrow = window.matchMedia("(max-width: 899px)");
  function setPane(name) {
    app.dataset.pane = name;
    if (name !== "contact") delete app.dataset.side;
  }

  // ---------------------------------------------------------------- the list
  function assigneeParam() {
    return { mine: "me", unassigned: "unassigned", all: "any" }[state.view];
  }

  function matchesFilters(c) {
    if (state.view === "mine" && !(c.assignee && c.assignee.id === ME.id)) return false;
    if (state.view === "unassigned" && c.assignee) return false;
    if (c.status !== state.status) return false;
    if (state.inbox && String(c.inbox.id) !== state.inbox) return false;
    if (state.label && !(c.labels || []).some((l) => String(l.id) === state.label)) return false;
    if (state.sort === "waiting" && !c.waiting_since) return false;
    return true;
  }

  function compare(a, b) {
    if (state.sort === "waiting") {
      const diff = (parseDate(a.waiting_since) || 0) - (parseDate(b.waiting_since) || 0);
      return diff || a.id - b.id;
    }
    const diff = (parseDate(b.last_activity_at) || 0) - (parseDate(a.last_activity_at) || 0);
    return diff || b.id - a.id;
  }

  async function loadList(append) {
    const token = ++state.listToken;
    const list = $("conv-list");
    $("list-error").hidden = true;
    list.setAttribute("aria-busy", "true");
    $("load-more").disabled = true;
    let url;
    if (append && state.next) {
      url = state.next;
    } else {
      const params = new URLSearchParams({ status: state.status, assignee: assigneeParam(), sort: state.sort });
      if (state.inbox) params.set("inbox", state.inbox);
      if (state.label) params.set("label", state.label);
      url = "conversations/?" + params.toString();
    }
    try {
      const data = await api(url);
      if (token !== state.listToken) return;
      if (!append) state.order = [];
      for (const c of data.results) {
        remember(c, true);
        if (!state.order.includes(c.id)) state.order.push(c.id);
      }
      state.next = data.next;
      state.listLoaded = true;
      renderList();
    } catch (error) {
      if (token !== state.listToken) return;
      $("list-error").textContent = "The conversations could not be loaded. " + error.message;
      $("list-error").hidden = false;
    } finally {
      if (token === state.listToken) {
        list.setAttribute("aria-busy", "false");
        $("load-more").disabled = false;
      }
    }
  }

  // Keep what we know about a conversation; the API's unread_count wins over our guess.
  function remember(c, fromApi) {
    const prev = state.convs.get(c.id);
    let unread = prev ? prev.unread_count || 0 : state.unreadHints.get(c.id) || 0;
    if (fromApi && typeof c.unread_count === "number") unread = c.unread_count;
    state.unreadHints.delete(c.id);
    const merged = Object.assign({}, c, { unread_count: unread });
    state.convs.set(c.id, merged);
    return { prev, conv: merged };
  }

  const rowEls = new Map();

  function renderRow(li, c) {
    const button = li.firstChild;
    button.dataset.id = c.id;
    button.classList.toggle("unread", c.unread_count > 0);
    if (c.id === state.openId) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
    const side = h("span", { class: "conv-side" });
    if (c.unread_count > 0) {
      side.append(h("span", { class: "unread-count", title: c.unread_count + " unread" }, [
        shortCount(c.unread_count), h("span", { class: "sr-only" }, " unread"),
      ]));
    }
    if (c.assignee) side.append(avatar(c.assignee, "xs", "Assigned to " + c.assignee.name));
    const sub = h("span", { class: "conv-sub" }, [
      h("span", null, c.inbox.name + " · #" + c.number),
      c.priority > 0 ? h("span", { class: "prio prio-" + c.priority, title: "Priority: " + PRIORITY[c.priority] }, PRIORITY[c.priority]) : null,
      c.contact.is_vip ? h("span", { class: "prio prio-3", title: "VIP contact" }, "VIP") : null,
    ]);
    const labels = (c.labels || []).length
      ? h("span", { class: "conv-labels label-chips" }, c.labels.map(labelChip))
      : null;
    const preview = c.last_message_preview || c.subject || "No messages yet";
    button.replaceChildren(...[
      h("span", { class: "conv-name" }, c.contact.name || "Unknown contact"),
      state.sort === "waiting" && c.waiting_since
        ? h("span", { class: "conv-time", title: "Waiting for a reply" }, ["waiting ", timeEl(c.waiting_since, relTime(c.waiting_since))])
        : h("span", { class: "conv-time" }, timeEl(c.last_activity_at, relTime(c.last_activity_at))),
      sub,
      h("span", null),
      h("span", { class: "conv-preview" }, preview),
      side,
      labels,
    ].filter(Boolean));
  }

  function labelChip(label) {
    return h("span", { class: "chip" }, [
      h("span", { class: "chip-dot", style: "background:" + safeColor(label.color) }),
      label.name,
    ]);
  }

  function renderList() {
    const list = $("conv-list");
    const wanted = new Set(state.order);
    for (const [id, li] of rowEls) {
      if (!wanted.has(id)) { li.remove(); rowEls.delete(id); }
    }
    let cursor = list.firstElementChild;
    for (const id of state.order) {
      const c = state.convs.get(id);
      let li = rowEls.get(id);
      if (!li) {
        li = h("li", null, h("button", { type: "button", class: "conv" }));
        rowEls.set(id, li);
      }
      renderRow(li, c);
      if (li !== cursor) list.insertBefore(li, cursor);
      else cursor = cursor.nextElementSibling;
    }
    const empty = state.listLoaded && state.order.length === 0;
    $("list-empty").hidden = !empty;
    if (empty) {
      const viewName = { mine: "assigned to you", unassigned: "unassigned", all: "" }[state.view];
      $("list-empty-text").textContent = "No " + state.status + " conversations" + (viewName ? " " + viewName : "") + ".";
    }
    $("load-more").hidden = !state.next;
    updateTitle();
  }

  function updateTitle() {
    let unread = 0;
    for (const id of state.order) unread += (state.convs.get(id).unread_count > 0) ? 1 : 0;
    document.title = (unread ? "(" + unread + ") " : "") + "Inbox · " + (document.title.split(" · ").pop() || "Parley");
  }

  function placeInList(c, flash) {
    const index = state.order.indexOf(c.id);
    if (!matchesFilters(c)) {
      if (index >= 0) { state.order.splice(index, 1); renderList(); }
      return;
    }
    if (index >= 0) state.order.splice(index, 1);
    let pos = state.order.findIndex((id) => compare(c, state.convs.get(id)) < 0);
    if (pos < 0) pos = state.order.length;
    // Past the last loaded row of a longer list: it belongs to a page not loaded yet.
    if (pos === state.order.length && state.next && index < 0) { renderList(); return; }
    state.order.splice(pos, 0, c.id);
    renderList();
    if (flash && index !== pos) {
      const button = rowEls.get(c.id) && rowEls.get(c.id).firstChild;
      if (button) {
        button.classList.remove("conv-moved");
        void button.offsetWidth;
        button.classList.add("conv-moved");
        // Else it would replay whenever the list pane is shown again (phones).
        button.addEventListener("animationend", () => button.classList.remove("conv-moved"), { once: true });
      }
    }
  }

  function updateRow(id) {
    const li = rowEls.get(id);
    if (li && state.convs.has(id)) { renderRow(li, state.convs.get(id)); updateTitle(); }
  }

  // ---------------------------------------------------------------- counts
  let countsTimer = null;
  function scheduleCounts(delay) {
    clearTimeout(countsTimer);
    countsTimer = setTimeout(loadCounts, delay == null ? 400 : delay);
  }

  async function loadCounts() {
    try {
      state.counts = await api("conversations/counts/" + (state.inbox ? "?inbox=" + encodeURIComponent(state.inbox) : ""));
      renderCounts();
    } catch (error) { /* the list still works; counts come back with the next event */ }
  }

  function renderCounts() {
    const counts = state.counts;
    if (!counts) return;
    document.querySelectorAll("[data-count-view]").forEach((node) => {
      const value = (counts[node.dataset.countView] || {})[state.status];
      node.textContent = shortCount(value);
      node.title = value == null ? "" : value + " " + state.status;
    });
    document.querySelectorAll("[data-count-status]").forEach((node) => {
      const status = node.dataset.countStatus;
      const value = (counts[state.view] || {})[status];
      node.textContent = status === "resolved" || !value ? "" : shortCount(value);
    });
  }

  function setPressed(selector, attr, value) {
    document.querySelectorAll(selector).forEach((node) => node.setAttribute("aria-pressed", String(node.dataset[attr] === value)));
  }

  function renderFilters() {
    setPressed(".view-btn", "view", state.view);
    setPressed(".status-tab", "status", state.status);
    $("filter-sort").value = state.sort;
    renderCounts();
  }

  function changeFilter(changes) {
    Object.assign(state, changes);
    saveFilters();
    renderFilters();
    state.next = null;
    state.order = [];
    state.listLoaded = false;
    renderList();
    loadList(false);
    if ("inbox" in changes) scheduleCounts(0);
  }

  // ---------------------------------------------------------------- reference data
  async function loadReference() {
    const [inboxes, labels] = await Promise.all([
      api("inboxes/").catch(() => ({ results: [] })),
      api("labels/").catch(() => ({ results: [] })),
    ]);
    state.inboxes = inboxes.results || [];
    state.labels = labels.results || [];
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

  function fillSelect(select, emptyLabel, items, value) {
    select.replaceChildren(h("option", { value: "" }, emptyLabel), ...items.map((item) => h("option", { value: item.id }, item.name)));
    select.value = value || "";
  }

  async function agentsFor(inboxId) {
    if (!state.agentsByInbox.has(inboxId)) {
      state.agentsByInbox.set(inboxId, api("agents/?inbox=" + inboxId).then((d) => d.results || []).catch(() => []));
    }
    return state.agentsByInbox.get(inboxId);
  }

  // ---------------------------------------------------------------- the thread
  const scroller = $("thread-scroll");
  const msgEls = new Map();

  function atBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
  }

  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
    $("new-below").hidden = true;
  }

  async function openConversation(id, options) {
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
    restoreDraft(id);
    renderHeader();
    renderPresence();
    setPane("thread");
    sendFrame({ type: "viewing", conversation_id: id, state: "opened" });
    if (opts.focusComposer) $("composer-text").focus();
    else if (narrow.matches) $("thread-contact").focus(); // the list row it came from is gone

    try {
      const [conv, page] = await Promise.all([api("conversations/" + id + "/"), api("conversations/" + id + "/messages/")]);
      if (token !== state.openToken) return;
      onConversationFromApi(conv);
      for (const m of page.results) state.messages.set(m.id, m);
      state.hasMore = page.has_more;
      state.threadLoaded = true;
      renderMessages();
      scrollToBottom();
      if (baseline === null && $("composer-text").value.trim()) baseline = maxMessageId();
      if (conv.unread_count > 0) markRead(id, null); // no write when there is nothing to read
      loadContact(conv.contact.id, token);
    } catch (error) {
      if (token !== state.openToken) return;
      $("messages").replaceChildren(h("li", { class: "msg-activity" }, "This conversation could not be loaded. " + error.message));
    }
  }

  function leaveConversation() {
    const id = state.openId;
    if (!id) return;
    stopTyping();
    const text = $("composer-text").value;
    if (text.trim()) state.drafts.set(id, { text, mode: composerMode, baseline });
    else state.drafts.delete(id);
    sendFrame({ type: "viewing", conversation_id: id, state: "closed" });
  }

  function restoreDraft(id) {
    const draft = state.drafts.get(id);
    pendingFiles = [];
    renderFiles();
    $("composer-text").value = draft ? draft.text : "";
    baseline = draft ? draft.baseline : null;
    setMode(draft ? draft.mode : "message");
    $("stale").hidden = true;
    $("composer-error").hidden = true;
  }

  function maxMessageId() {
    let max = 0;
    for (const id of state.messages.keys()) max = Math.max(max, id);
    return max;
  }

  function renderHeader() {
    const c = state.convs.get(state.openId);
    if (!c) return;
    $("thread-contact").textContent = c.contact.name || "Unknown contact";
    $("thread-number").textContent = "#" + c.number;
    $("thread-inbox").textContent = c.inbox.name;
    $("thread-subject").textContent = c.subject || "";
    $("thread-subject-sep").hidden = !c.subject;
    const status = $("thread-status");
    let statusText = STATUS_LABEL[c.status] || c.status;
    if (c.status === "snoozed" && c.snoozed_until) {
      const until = parseDate(c.snoozed_until);
      statusText += until ? " until " + fullFmt.format(until) : "";
    }
    status.textContent = statusText;
    $("thread-status-inline").textContent = STATUS_LABEL[c.status] || c.status;
    status.className = "badge status-" + c.status;
    $("assign-me").hidden = !!(c.assignee && c.assignee.id === ME.id);
    $("status-resolve").hidden = c.status === "resolved";
    $("status-reopen").hidden = c.status === "open";
    $("status-pending").hidden = c.status !== "open";
    $("snooze-menu").hidden = c.status === "resolved";
    $("priority-select").value = String(c.priority || 0);
    $("thread-labels").replaceChildren(...(c.labels || []).map((l) => h("li", null, labelChip(l))));
    renderAssignee(c);
    renderTeams(c);
    renderSideLabels(c);
  }

  async function renderAssignee(c) {
    const select = $("assignee-select");
    if (document.activeElement === select) return; // do not pull the list from under the agent
    const current = c.assignee ? String(c.assignee.id) : "";
    const fill = (agents) => {
      const options = [h("option", { value: "" }, "Unassigned")];
      const seen = new Set();
      for (const agent of agents) {
        seen.add(agent.id);
        let suffix = "";
        if (agent.id === ME.id) suffix = " (you)";
        else if (agent.online === false) suffix = " · offline";
        else if (agent.availability === "busy") suffix = " · busy";
        options.push(h("option", { value: agent.id }, agent.name + suffix));
      }
      if (c.assignee && !seen.has(c.assignee.id)) options.push(h("option", { value: c.assignee.id }, c.assignee.name));
      select.replaceChildren(...options);
      select.value = current;
    };
    fill([]);
    const agents = await agentsFor(c.inbox.id);
    if (state.openId === c.id && document.activeElement !== select) fill(agents);
  }

  function renderTeams(c) {
    const select = $("team-select");
    if (document.activeElement === select) return;
    const teams = new Map(state.teams);
    if (c.team) teams.set(c.team.id, c.team);
    const sorted = [...teams.values()].sort((a, b) => a.name.localeCompare(b.name));
    select.replaceChildren(h("option", { value: "" }, "No team"), ...sorted.map((t) => h("option", { value: t.id }, t.name)));
    select.value = c.team ? String(c.team.id) : "";
    select.hidden = sorted.length === 0;
  }

  function isRelevantForStale(m) {
    if (m.kind !== "message") return false;
    if (m.direction === "incoming") return true;
    return m.sender && m.sender.type === "agent" && m.sender.id !== ME.id;
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
    ]);
    let body = m.text;
    if (!body && !(m.attachments && m.attachments.length)) body = m.html ? "(This message only has formatted content, which is not shown here yet.)" : "(empty message)";
    const bubble = h("div", { class: "bubble" }, body);
    if (m.attachments && m.attachments.length) {
      bubble.append(h("ul", { class: "attachments", "aria-label": "Attachments" }, m.attachments.map((a) => {
        const url = safeUrl(a.url);
        return h("li", null, h(url ? "a" : "span", { class: "attachment", href: url, download: url ? a.filename || "" : null }, [
          icon("clip", 14),
          h("span", null, a.filename || "attachment"),
          h("span", { class: "muted" }, humanSize(a.size)),
        ]));
      })));
    }
    const foot = !incoming && !note && m.delivery_status ? deliveryNode(m) : null;
    return h("li", { class: cls, dataset: { id: m.id } }, [head, bubble, foot]);
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

  function renderMessages() {
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

  function addMessageToThread(m, created) {
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

  // One write at a time per conversation, in the order the agent made them: a read marker
  // racing an assignment of the same conversation gains nothing and costs the server locks.
  const writeChains = new Map();
  function serial(id, fn) {
    const next = (writeChains.get(id) || Promise.resolve()).catch(() => {}).then(fn);
    writeChains.set(id, next);
    next.catch(() => {}).then(() => { if (writeChains.get(id) === next) writeChains.delete(id); });
    return next;
  }

  // ---------------------------------------------------------------- read positions
  const readTimers = new Map();
  function markRead(id, messageId, attempt) {
    clearTimeout(readTimers.get(id));
    readTimers.set(id, setTimeout(async () => {
      readTimers.delete(id);
      const c = state.convs.get(id);
      if (c && c.unread_count) { c.unread_count = 0; updateRow(id); }
      try {
        const conv = await serial(id, () => api("conversations/" + id + "/read/", { method: "POST", body: { message_id: messageId } }));
        onConversationFromApi(conv);
      } catch (error) {
        // A server hiccup: try once more, else the unread badge would come back on reload.
        if (!attempt && (error.status === 0 || error.status >= 500)) markRead(id, messageId, 1);
      }
    }, attempt ? 1000 : 150));
  }

  function tabVisible() {
    return document.visibilityState === "visible";
  }

  // ---------------------------------------------------------------- contact sidebar
  async function loadContact(contactId, token) {
    try {
      const contact = await api("contacts/" + contactId + "/");
      if (token !== undefined && token !== state.openToken) return;
      state.contact = contact;
      renderContact();
    } catch (error) {
      $("contact-body").hidden = false;
      $("contact-name").textContent = "Contact unavailable";
    }
  }

  function renderContact() {
    const contact = state.contact;
    if (!contact) return;
    $("contact-body").hidden = false;
    $("contact-name").textContent = contact.name || "Unknown contact";
    $("contact-avatar").textContent = initials(contact.name);
    $("contact-vip").hidden = !contact.is_vip;
    $("contact-blocked").hidden = !contact.is_blocked;
    const email = $("contact-email");
    const emailUrl = contact.email ? "mailto:" + contact.email : null;
    email.replaceChildren(contact.email ? h("a", { href: emailUrl }, contact.email) : h("span", { class: "muted" }, "—"));
    const phone = $("contact-phone");
    phone.replaceChildren(contact.phone ? h("a", { href: "tel:" + contact.phone.replace(/[^\d+]/g, "") }, contact.phone) : h("span", { class: "muted" }, "—"));
    const inboxNames = new Map(state.inboxes.map((i) => [i.id, i.name]));
    const ids = (contact.identities || [])
      .filter((i) => !(i.kind === "email" && i.value === contact.email) && !(i.kind === "phone" && i.value === contact.phone))
      .map((i) => h("span", { class: "identity" }, i.kind === "external" ? (inboxNames.get(i.inbox_id) || "Channel") + " ID: " + i.value : i.kind + ": " + i.value));
    $("contact-ids").replaceChildren(...ids);
    $("contact-ids").hidden = $("contact-ids-label").hidden = ids.length === 0;
    const since = parseDate(contact.created_at);
    $("contact-since").textContent = since ? dateYearFmt.format(since) : "—";
    const others = (contact.conversations || []).filter((c) => c.id !== state.openId);
    $("other-convs").replaceChildren(...others.map((c) => h("li", null, h("button", {
      type: "button", class: "other-conv", dataset: { open: c.id },
    }, [
      h("strong", null, "#" + c.number + " " + (c.subject || c.last_message_preview || "Conversation")),
      h("span", { class: "muted" }, c.inbox.name + " · " + (STATUS_LABEL[c.status] || c.status) + " · " + relTime(c.last_activity_at)),
    ]))));
    $("other-none").hidden = others.length > 0;
  }

  function renderSideLabels(c) {
    $("side-labels").replaceChildren(...(c.labels || []).map((l) => h("li", null, labelChip(l))));
    $("side-labels-none").hidden = (c.labels || []).length > 0;
    const have = new Set((c.labels || []).map((l) => l.id));
    const box = $("label-options");
    const legend = box.querySelector("legend");
    const options = state.labels.map((l) => h("label", { class: "label-option" }, [
      h("input", { type: "checkbox", value: l.id, checked: have.has(l.id) }),
      h("span", { class: "chip-dot", style: "background:" + safeColor(l.color) }),
      l.name,
    ]));
    box.replaceChildren(legend, ...(options.length ? options : [h("p", { class: "muted small" }, "No labels yet. Admins create them.")]));
  }

  // ---------------------------------------------------------------- conversation actions
  // Success shows as the activity line in the thread and the header; only errors toast.
  async function act(path, body) {
    const id = state.openId;
    if (!id) return;
    try {
      const conv = await serial(id, () => api("conversations/" + id + "/" + path + "/", { method: "POST", body }));
      onConversationFromApi(conv);
    } catch (error) {
      toast(error.message, "error");
      renderHeader();
    }
  }

  function assignToMe() {
    return act("assign", { assignee_id: ME.id });
  }

  function resolve() {
    const c = state.convs.get(state.openId);
    if (c && c.status !== "resolved") return act("status", { status: "resolved" });
  }

  function snoozeUntil(kind) {
    const now = new Date();
    const at = new Date(now);
    if (kind === "hour") {
      at.setHours(at.getHours() + 1);
    } else if (kind === "tomorrow") {
      at.setDate(at.getDate() + 1);
      at.setHours(9, 0, 0, 0);
    } else if (kind === "week") {
      const days = ((8 - at.getDay()) % 7) || 7; // next Monday
      at.setDate(at.getDate() + days);
      at.setHours(9, 0, 0, 0);
    }
    return at;
  }

  function snooze(at) {
    $("snooze-menu").open = false;
    if (!(at > new Date())) { toast("Pick a time in the future.", "error"); return; }
    act("status", { status: "snoozed", snoozed_until: at.toISOString() });
  }

  // ---------------------------------------------------------------- composer
  const textarea = $("composer-text");

  function setMode(mode) {
    composerMode = mode === "note" ? "note" : "message";
    const composer = $("composer");
    composer.dataset.mode = composerMode;
    setPressed(".mode-btn", "mode", composerMode);
    const note = composerMode === "note";
    $("composer-label").textContent = note ? "Private note, only your team sees it" : "Reply to the customer";
    textarea.placeholder = note ? "Write a private note — only your team sees it…" : "Write a reply…";
    $("composer-send").textContent = note ? "Add note" : "Send";
    if (note) $("stale").hidden = true;
  }

  let typingActive = false;
  let typingSentAt = 0;
  let typingIdle = null;

  function onComposerInput() {
    const id = state.openId;
    if (!id) return;
    const text = textarea.value;
    if (!text.trim()) {
      baseline = null;
      stopTyping();
      return;
    }
    if (baseline === null) baseline = maxMessageId();
    const now = Date.now();
    if (!typingActive || now - typingSentAt >= 2000) {
      typingActive = true;
      typingSentAt = now;
      sendFrame({ type: "typing", conversation_id: id, state: "start" });
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(stopTyping, 3000);
  }

  function stopTyping() {
    clearTimeout(typingIdle);
    if (typingActive && state.openId) sendFrame({ type: "typing", conversation_id: state.openId, state: "stop" });
    typingActive = false;
  }

  function staleMessages() {
    if (baseline === null) return [];
    return [...state.messages.values()].filter((m) => m.id > baseline && isRelevantForStale(m));
  }

  let pendingFiles = [];

  function renderFiles() {
    $("composer-files").replaceChildren(...pendingFiles.map((file, index) => h("li", { class: "file-chip" }, [
      h("span", null, file.name + " · " + humanSize(file.size)),
      h("button", { type: "button", "aria-label": "Remove " + file.name, dataset: { removeFile: index } }, "×"),
    ])));
  }

  async function send(force) {
    const id = state.openId;
    const text = textarea.value;
    const files = composerMode === "message" ? pendingFiles.slice() : [];
    if (!id || (!text.trim() && !files.length)) { textarea.focus(); return; }
    if (!force && composerMode === "message" && staleMessages().length) {
      $("stale").hidden = false;
      return;
    }
    $("stale").hidden = true;
    $("composer-error").hidden = true;
    const button = $("composer-send");
    button.disabled = true;
    stopTyping();
    const kind = composerMode;
    try {
      let request = { method: "POST", body: { text, kind } };
      if (files.length) {
        const form = new FormData();
        form.append("text", text);
        form.append("kind", kind);
        for (const file of files) form.append("attachments", file, file.name);
        request = { method: "POST", form };
      }
      const message = await serial(id, () => api("conversations/" + id + "/messages/", request));
      state.drafts.delete(id);
      if (files.length) { pendingFiles = pendingFiles.filter((f) => !files.includes(f)); renderFiles(); }
      if (state.openId === id) {
        if (textarea.value === text) textarea.value = "";
        baseline = textarea.value.trim() ? maxMessageId() : null;
        addMessageToThread(message, true);
        scrollToBottom();
      }
    } catch (error) {
      $("composer-error").textContent = error.message;
      $("composer-error").hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  function review() {
    const fresh = staleMessages();
    $("stale").hidden = true;
    baseline = maxMessageId();
    for (const m of fresh) {
      const node = msgEls.get(m.id);
      if (node) {
        node.classList.add("msg-highlight");
        setTimeout(() => node.classList.remove("msg-highlight"), 4000);
      }
    }
    const first = fresh.length && msgEls.get(fresh[0].id);
    if (first) first.scrollIntoView({ block: "center" });
    textarea.focus();
  }

  // ---------------------------------------------------------------- presence
  function presenceMap(store, id) {
    if (!store.has(id)) store.set(id, new Map());
    return store.get(id);
  }

  function onTypingFrame(frame) {
    if (!frame.user || frame.user.id === ME.id) return;
    const typers = presenceMap(state.typing, frame.conversation_id);
    const prev = typers.get(frame.user.id);
    if (prev) clearTimeout(prev.timer);
    if (frame.state === "start") {
      // A lost "stop" must not leave "is typing" forever.
      const timer = setTimeout(() => { typers.delete(frame.user.id); renderPresence(); }, 6000);
      typers.set(frame.user.id, { name: frame.user.name, timer });
    } else {
      typers.delete(frame.user.id);
    }
    if (frame.conversation_id === state.openId) renderPresence();
  }

  function onViewingFrame(frame) {
    if (!frame.user || frame.user.id === ME.id) return;
    const viewers = presenceMap(state.viewing, frame.conversation_id);
    const known = viewers.has(frame.user.id);
    if (frame.state === "opened") {
      viewers.set(frame.user.id, frame.user.name);
      // They did not see us open it: say we are here (once, so this does not ping-pong).
      if (!known && frame.conversation_id === state.openId) {
        sendFrame({ type: "viewing", conversation_id: state.openId, state: "opened" });
      }
    } else {
      viewers.delete(frame.user.id);
      const typers = state.typing.get(frame.conversation_id);
      if (typers && typers.has(frame.user.id)) { clearTimeout(typers.get(frame.user.id).timer); typers.delete(frame.user.id); }
    }
    if (frame.conversation_id === state.openId) renderPresence();
  }

  function joinNames(names) {
    if (names.length <= 1) return names.join("");
    return names.slice(0, -1).join(", ") + " and " + names[names.length - 1];
  }

  function renderPresence() {
    const id = state.openId;
    const typers = [...(state.typing.get(id) || new Map()).entries()];
    const typingIds = new Set(typers.map(([uid]) => uid));
    const viewers = [...(state.viewing.get(id) || new Map()).entries()].filter(([uid]) => !typingIds.has(uid));
    const parts = [];
    if (typers.length) parts.push(joinNames(typers.map(([, t]) => t.name)) + (typers.length > 1 ? " are typing…" : " is typing…"));
    if (viewers.length) parts.push(joinNames(viewers.map(([, name]) => name)) + (viewers.length > 1 ? " are also viewing" : " is also viewing"));
    $("presence").textContent = parts.join(" · ");
  }

  // ---------------------------------------------------------------- notifications
  function notificationsSupported() {
    return "Notification" in window;
  }

  function renderNotifyButton() {
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
  function onConversationFromApi(c) {
    const { conv } = remember(c, true);
    placeInList(conv, false);
    updateRow(conv.id);
    if (conv.id === state.openId) renderHeader();
  }

  function onConversationEvent(c, changes) {
    const { prev, conv } = remember(c, false);
    placeInList(conv, changes.includes("last_activity_at"));
    updateRow(conv.id);
    if (conv.id === state.openId) renderHeader();
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
      // API data newer than this event already counts it (its conversation.updated follows it).
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

  function applyEvent(frame) {
    const payload = frame.payload || {};
    switch (frame.kind) {
      case "conversation.created":
      case "conversation.updated":
        if (payload.conversation) onConversationEvent(payload.conversation, payload.changes || []);
        break;
      case "message.created":
      case "message.updated":
        if (payload.message) onMessageEvent(payload.message, frame.kind === "message.created");
        break;
      case "contact.updated":
      case "contact.merged":
        if (payload.contact) onContactEvent(payload.contact, payload.merged_id);
        break;
      case "conversation.read":
        onReadEvent(payload);
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- the socket
  const sock = {
    ws: null,
    attempt: 0,
    pingTimer: null,
    reconnectTimer: null,
    everConnected: false,
    closedForGood: false,
    lastEventId: null, // highest event id processed
    lastSeq: new Map(), // stream → last seq processed
    lastIdByStream: new Map(), // stream → id of that event
    helloSeq: new Map(), // stream → seq the server reported in hello
    gapTried: new Set(),
    seen: new Set(),
    seenOrder: [],
    resuming: false,
    buffer: [],
    early: [], // events that arrived before the first list load
  };

  function setConn(status) {
    const node = $("conn-state");
    node.dataset.state = status;
    node.querySelector(".conn-text").textContent = { live: "Live", connecting: "Connecting…", offline: "Offline, reconnecting…" }[status];
    node.title = status === "live" ? "Live updates on" : "";
  }

  function sendFrame(frame) {
    if (sock.ws && sock.ws.readyState === WebSocket.OPEN) {
      sock.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function connect() {
    if (sock.closedForGood) return;
    clearTimeout(sock.reconnectTimer);
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + CONFIG.ws_path;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (error) {
      scheduleReconnect();
      return;
    }
    sock.ws = ws;
    setConn("connecting");
    ws.addEventListener("open", () => {
      clearInterval(sock.pingTimer);
      sock.pingTimer = setInterval(() => sendFrame({ type: "ping" }), 25000);
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (error) { return; }
      if (frame && typeof frame === "object") onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      clearInterval(sock.pingTimer);
      if (sock.ws !== ws) return;
      sock.ws = null;
      sock.resuming = false;
      sock.buffer = []; // a new socket replays them
      if (event.code === 4001 || event.code === 4003) { goSignIn(); return; }
      setConn("offline");
      clearPresence();
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (sock.closedForGood) return;
    const delay = Math.min(30000, 1000 * Math.pow(2, sock.attempt));
    sock.attempt += 1;
    clearTimeout(sock.reconnectTimer);
    sock.reconnectTimer = setTimeout(connect, delay);
  }

  function clearPresence() {
    for (const typers of state.typing.values()) for (const t of typers.values()) clearTimeout(t.timer);
    state.typing.clear();
    state.viewing.clear();
    renderPresence();
  }

  function resumeFrom(id) {
    sock.resuming = true;
    sendFrame({ resume_from: id });
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "hello":
        sock.attempt = 0;
        setConn("live");
        takeStreamPositions(frame);
        if (sock.lastEventId !== null) resumeFrom(sock.lastEventId);
        else if (sock.everConnected) reloadAll();
        sock.everConnected = true;
        if (state.openId) sendFrame({ type: "viewing", conversation_id: state.openId, state: "opened" });
        break;
      case "event":
        if (sock.resuming) sock.buffer.push(frame);
        else processEvent(frame);
        break;
      case "resumed": {
        sock.resuming = false;
        const frames = sock.buffer.sort((a, b) => a.id - b.id);
        sock.buffer = [];
        for (const f of frames) {
          if (sock.resuming) sock.buffer.push(f);
          else processEvent(f);
        }
        break;
      }
      case "resync":
        sock.resuming = false;
        sock.buffer = [];
        sock.lastSeq.clear();
        sock.lastIdByStream.clear();
        sock.helloSeq.clear();
        sock.gapTried.clear();
        reloadAll();
        break;
      case "typing":
        onTypingFrame(frame);
        break;
      case "viewing":
        onViewingFrame(frame);
        break;
      case "inboxes":
        state.agentsByInbox.clear();
        loadReference();
        reloadAll();
        break;
      case "presence":
        state.agentsByInbox.clear(); // the pickers refetch who is online
        break;
      case "session.ended":
        goSignIn();
        break;
      case "user.availability":
        document.querySelectorAll(".usermenu summary .status-dot").forEach((dot) => { dot.className = "status-dot status-" + frame.availability; });
        document.querySelectorAll('form[data-availability] input[name="availability"]').forEach((input) => { input.checked = input.value === frame.availability; });
        break;
      default:
        break;
    }
  }

  // A server that says where each stream stands in `hello` ({"streams": {name: seq},
  // "last_event_id": id}) lets us notice a drop before the first event we receive.
  function takeStreamPositions(frame) {
    if (!frame.streams || typeof frame.streams !== "object") return;
    for (const [stream, seq] of Object.entries(frame.streams)) {
      if (typeof seq !== "number" || sock.lastSeq.has(stream)) continue;
      sock.lastSeq.set(stream, seq);
      sock.helloSeq.set(stream, seq);
      if (typeof frame.last_event_id === "number") sock.lastIdByStream.set(stream, frame.last_event_id);
    }
  }

  function processEvent(frame) {
    if (typeof frame.id !== "number" || sock.seen.has(frame.id)) return;
    const last = sock.lastSeq.get(frame.stream);
    if (last !== undefined && frame.seq > last + 1) {
      const key = frame.stream + ":" + (last + 1);
      const from = sock.lastIdByStream.get(frame.stream);
      if (!sock.gapTried.has(key) && typeof from === "number") {
        // The channel layer dropped something: fetch it from the log, then go on in order.
        sock.gapTried.add(key);
        sock.buffer = [frame];
        resumeFrom(from);
        return;
      }
      scheduleReload(); // cannot fill it from the log: fall back to the API
    }
    sock.seen.add(frame.id);
    sock.seenOrder.push(frame.id);
    if (sock.seenOrder.length > 5000) sock.seen.delete(sock.seenOrder.shift());
    if (last !== undefined && frame.seq <= last) {
      // Counted in hello's positions but published after we joined: still news to us.
      if (frame.seq <= (sock.helloSeq.get(frame.stream) || 0)) applyOrKeep(frame);
      return;
    }
    sock.lastSeq.set(frame.stream, frame.seq);
    sock.lastIdByStream.set(frame.stream, frame.id);
    sock.lastEventId = Math.max(sock.lastEventId || 0, frame.id);
    applyOrKeep(frame);
  }

  function applyOrKeep(frame) {
    if (sock.early !== null) sock.early.push(frame); // the first list load is under way
    else applyEvent(frame);
  }

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

  $("actions-toggle").addEventListener("click", (e) => {
    const head = e.currentTarget.closest(".thread-head");
    const open = head.dataset.actions !== "open";
    if (open) head.dataset.actions = "open";
    else delete head.dataset.actions;
    e.currentTarget.setAttribute("aria-expanded", String(open));
  });
  $("composer-file-input").addEventListener("change", (e) => {
    pendingFiles = pendingFiles.concat([...e.target.files]);
    e.target.value = "";
    renderFiles();
    textarea.focus();
  });
  $("composer-files").addEventListener("click", (e) => {
    const button = e.target instanceof Element && e.target.closest("[data-remove-file]");
    if (!button) return;
    pendingFiles.splice(Number(button.dataset.removeFile), 1);
    renderFiles();
    textarea.focus();
  });
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
  $("load-more").addEventListener("click", () => loadList(true));
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
  $("filter-inbox").addEventListener("change", (e) => changeFilter({ inbox: e.target.value }));
  $("filter-label").addEventListener("change", (e) => changeFilter({ label: e.target.value }));
  $("filter-sort").addEventListener("change", (e) => changeFilter({ sort: e.target.value }));
  $("assign-me").addEventListener("click", assignToMe);
  $("assignee-select").addEventListener("change", (e) => {
    const value = e.target.value;
    act("assign", { assignee_id: value ? Number(value) : null });
  });
  $("team-select").addEventListener("change", (e) => {
    const value = e.target.value;
    act("team", { team_id: value ? Number(value) : null });
  });
  $("priority-select").addEventListener("change", (e) => act("priority", { priority: Number(e.target.value) }));
  $("status-resolve").addEventListener("click", resolve);
  $("status-reopen").addEventListener("click", () => act("status", { status: "open" }));
  $("status-pending").addEventListener("click", () => act("status", { status: "pending" }));
  $("snooze-menu").addEventListener("toggle", () => {
    const soon = new Date(Date.now() + 5 * 60000);
    const local = new Date(soon.getTime() - soon.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    $("snooze-at").min = local;
  });
  $("snooze-custom").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("snooze-at").value;
    if (value) snooze(new Date(value));
  });
  $("label-options").addEventListener("change", (e) => {
    const input = e.target;
    if (!(input instanceof HTMLInputElement)) return;
    const id = Number(input.value);
    act("labels", input.checked ? { add: [id], remove: [] } : { add: [], remove: [id] });
  });
  $("composer").addEventListener("submit", (e) => { e.preventDefault(); send(false); });
  $("stale-send").addEventListener("click", () => send(true));
  $("stale-review").addEventListener("click", review);
  textarea.addEventListener("input", onComposerInput);
  textarea.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(false); }
    else if (e.key === "Escape") { e.preventDefault(); textarea.blur(); scroller.focus(); }
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
  window.addEventListener("online", () => { if (!sock.ws) { sock.attempt = 0; connect(); } });
  setInterval(() => {
    document.querySelectorAll(".conv-time time").forEach((node) => { node.textContent = relTime(node.getAttribute("datetime")); });
  }, 60000);

  // ---------------------------------------------------------------- start
  async function start() {
    renderFilters();
    renderNotifyButton();
    setMode("message");
    connect();
    scheduleCounts(0);
    await Promise.all([loadReference(), loadList(false)]);
    const early = sock.early || [];
    sock.early = null;
    for (const frame of early) applyEvent(frame);
    const match = location.hash.match(/^#conversation-(\d+)$/);
    if (match) openConversation(Number(match[1]));
  }

  start();
})();
