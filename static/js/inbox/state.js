// What the agent app knows: the server's config for this page, the one shared `state`
// object every pane reads and writes, the saved list filters and which pane is shown.

const configNode = document.getElementById("inbox-config");
export const CONFIG = configNode ? JSON.parse(configNode.textContent) : null;
export const ME = CONFIG ? CONFIG.user : null;

const saved = (() => { try { return JSON.parse(localStorage.getItem("parley.inbox.filters") || "{}"); } catch (e) { return {}; } })();
export const state = {
  view: ["mine", "unassigned", "all"].includes(saved.view) ? saved.view : "mine",
  status: ["open", "pending", "snoozed", "resolved"].includes(saved.status) ? saved.status : "open",
  sort: saved.sort === "waiting" ? "waiting" : "activity",
  inbox: "",
  label: "",
  search: "", // a search term: the list shows its results instead of a view
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
  teams: new Map(((ME && ME.teams) || []).map((t) => [t.id, t])),
  openId: null,
  openToken: 0,
  messages: new Map(), // of the open conversation
  hasMore: false,
  threadLoaded: false,
  contact: null,
  drafts: new Map(), // conversation id → {text, mode, baseline, origin}
  // Where the composer's text started: {suggestion_id, candidate} or {canned_reply_id}; null.
  origin: null,
  cannedFiles: [], // files of the canned reply inserted: {id, filename, size}, sent along
  typing: new Map(), // conversation id → Map(user id → {name, timer})
  viewing: new Map(), // conversation id → Map(user id → name)
};

export function saveFilters() {
  try {
    localStorage.setItem("parley.inbox.filters", JSON.stringify({ view: state.view, status: state.status, sort: state.sort }));
  } catch (e) { /* private mode */ }
}

// ---------------------------------------------------------------- panes
export const app = document.getElementById("inbox-app");
export const narrow = window.matchMedia("(max-width: 899px)");

export function setPane(name) {
  app.dataset.pane = name;
  if (name !== "contact") delete app.dataset.side;
}

export function tabVisible() {
  return document.visibilityState === "visible";
}

// ---------------------------------------------------------------- hooks
// Modules import only downwards: dom, api, state, socket ← list, presence ← sidebar ← header
// ← thread ← composer ← events ← app. Where a lower module has to reach a higher one it calls
// through `hooks`, which app.js fills before anything runs:
//   act(path, body)            header.js   a conversation action (sidebar's label editor)
//   onConversationFromApi(c)   events.js   apply a conversation the API returned (header, thread)
//   stopTyping(), saveDraft(id), restoreDraft(id), startDraftBaseline(), renderFiles()
//                              composer.js the draft as the thread leaves and opens conversations
export const hooks = {};
