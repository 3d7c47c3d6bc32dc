// The conversation list pane: loading and paging it, keeping rows in order as conversations
// change, the view and status tabs with their counts, and the inbox, label and sort filters.
import { $, h, avatar, labelChip, parseDate, relTime, setPressed, shortCount, timeEl, PRIORITY } from "./dom.js";
import { api } from "./api.js";
import { ME, saveFilters, state } from "./state.js";

function assigneeParam() {
  return { mine: "me", unassigned: "unassigned", all: "any" }[state.view];
}

export function matchesFilters(c) {
  if (state.search) return state.order.includes(c.id); // results stay as found, kept current
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

export async function loadList(append) {
  const token = ++state.listToken;
  const list = $("conv-list");
  $("list-error").hidden = true;
  list.setAttribute("aria-busy", "true");
  $("load-more").disabled = true;
  let url;
  if (state.search) {
    url = "search/?q=" + encodeURIComponent(state.search);
  } else if (append && state.next) {
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
    state.next = data.next || null;
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
// A state older than the one held (an API answer read before an event that arrived first,
// or the reverse) is dropped: the newer state stays.
export function remember(c, fromApi) {
  const prev = state.convs.get(c.id);
  if (prev && Date.parse(c.updated_at) < Date.parse(prev.updated_at)) return { prev, conv: prev };
  let unread = prev ? prev.unread_count || 0 : state.unreadHints.get(c.id) || 0;
  if (fromApi && typeof c.unread_count === "number") unread = c.unread_count;
  state.unreadHints.delete(c.id);
  const merged = Object.assign({}, c, { unread_count: unread });
  state.convs.set(c.id, merged);
  return { prev, conv: merged };
}

export const rowEls = new Map(); // conversation id → its <li>

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
    (c.needs_person || []).length ? h("span", { class: "prio prio-4 needs-person-chip", title: "Needs a person: " + c.needs_person.join("; ") }, "Needs a person") : null,
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
  if (empty && state.search) {
    $("list-empty-text").textContent = "No conversation matches “" + state.search + "”.";
  } else if (empty) {
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

export function placeInList(c, flash) {
  const index = state.order.indexOf(c.id);
  if (state.search) { // search results keep their order; a row only shows the latest
    if (index >= 0) updateRow(c.id);
    return;
  }
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

export function updateRow(id) {
  const li = rowEls.get(id);
  if (li && state.convs.has(id)) { renderRow(li, state.convs.get(id)); updateTitle(); }
}

// ---------------------------------------------------------------- counts
let countsTimer = null;
export function scheduleCounts(delay) {
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

export function renderFilters() {
  setPressed(".view-btn", "view", state.view);
  setPressed(".status-tab", "status", state.status);
  $("filter-sort").value = state.sort;
  renderCounts();
}

export function changeFilter(changes) {
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

export function fillSelect(select, emptyLabel, items, value) {
  select.replaceChildren(h("option", { value: "" }, emptyLabel), ...items.map((item) => h("option", { value: item.id }, item.name)));
  select.value = value || "";
}

function setSearch(term) {
  const search = term.trim().slice(0, 200);
  if (search === state.search) return;
  $("search-banner").hidden = !search;
  $("search-term").textContent = search;
  document.querySelector(".views").hidden = Boolean(search);
  document.querySelector(".status-tabs").hidden = Boolean(search);
  document.querySelector(".list-filters").hidden = Boolean(search);
  changeFilter({ search });
}

export function initList() {
  $("list-search").addEventListener("submit", (e) => {
    e.preventDefault();
    setSearch($("search-input").value);
  });
  $("search-input").addEventListener("search", (e) => { if (!e.target.value) setSearch(""); });
  $("search-input").addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.target.value = ""; setSearch(""); e.target.blur(); }
  });
  $("search-clear").addEventListener("click", () => {
    $("search-input").value = "";
    setSearch("");
    $("search-input").focus();
  });
  $("load-more").addEventListener("click", () => loadList(true));
  $("filter-inbox").addEventListener("change", (e) => changeFilter({ inbox: e.target.value }));
  $("filter-label").addEventListener("change", (e) => changeFilter({ label: e.target.value }));
  $("filter-sort").addEventListener("change", (e) => changeFilter({ sort: e.target.value }));
  setInterval(() => {
    document.querySelectorAll(".conv-time time").forEach((node) => { node.textContent = relTime(node.getAttribute("datetime")); });
  }, 60000);
}
