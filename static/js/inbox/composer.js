// The composer: reply or private note, the draft kept per conversation, typing signals, files
// to attach, and the warning when someone else wrote since the agent started the draft.
import { $, h, humanSize, setPressed } from "./dom.js";
import { api, serial } from "./api.js";
import { sendFrame } from "./socket.js";
import { ME, hooks, state } from "./state.js";
import { addMessageToThread, maxMessageId, msgEls, scroller, scrollToBottom } from "./thread.js";
import { initCanned, onCannedInput, onCannedKey } from "./canned.js";
import { clearQuickReplies, currentTag, quickReplies, renderRules } from "./rules.js";
import { forgetSuggestions, initSuggestions, loadSuggestions, onComposerEdited, renderSegments } from "./suggestions.js";

export const textarea = $("composer-text");
let composerMode = "message";
let baseline = null; // highest message id seen when the current draft was started

// ---------------------------------------------------------------- drafts
export function saveDraft(id) {
  const text = textarea.value;
  if (text.trim()) state.drafts.set(id, { text, mode: composerMode, baseline, origin: state.origin, suggested: textarea.classList.contains("is-suggestion"), cannedFiles: state.cannedFiles });
  else state.drafts.delete(id);
}

// Email: the other people on the thread, offered as CC of a reply. Not ticked until the agent
// ticks them: addresses learnt from mail are not vouched for.
export function renderCc() {
  const conv = state.convs.get(state.openId);
  const cc = (conv && conv.cc) || [];
  const box = $("cc-options");
  const ticked = new Set([...box.querySelectorAll("input:checked")].map((input) => input.value));
  const fresh = box.dataset.conversation !== String(state.openId);
  box.dataset.conversation = String(state.openId);
  box.replaceChildren(...cc.map((entry) => h("label", { class: "check cc-option" }, [
    h("input", { type: "checkbox", value: entry, checked: !fresh && ticked.has(entry) }),
    entry,
  ])));
  $("composer-cc").hidden = !cc.length || composerMode !== "message";
}

function selectedCc() {
  if ($("composer-cc").hidden) return [];
  return [...$("cc-options").querySelectorAll("input:checked")].map((input) => input.value);
}

export function restoreDraft(id) {
  const draft = state.drafts.get(id);
  pendingFiles = [];
  state.cannedFiles = draft && draft.cannedFiles ? draft.cannedFiles : [];
  renderFiles();
  forgetSuggestions();
  textarea.value = draft ? draft.text : "";
  baseline = draft ? draft.baseline : null;
  state.origin = draft ? draft.origin : null;
  textarea.classList.toggle("is-suggestion", !!(draft && draft.suggested));
  setMode(draft ? draft.mode : "message");
  $("stale").hidden = true;
  $("composer-error").hidden = true;
  renderCc();
  renderSegments();
  loadSuggestions(id);
}

// A draft kept from before the thread loaded counts from the messages it has now.
export function startDraftBaseline() {
  if (baseline === null && state.threadLoaded && textarea.value.trim()) baseline = maxMessageId();
}

function isRelevantForStale(m) {
  if (m.kind !== "message") return false;
  if (m.direction === "incoming") return true;
  return m.sender && m.sender.type === "agent" && m.sender.id !== ME.id;
}

// ---------------------------------------------------------------- writing and sending
export function setMode(mode) {
  composerMode = mode === "note" ? "note" : "message";
  const composer = $("composer");
  composer.dataset.mode = composerMode;
  setPressed(".mode-btn", "mode", composerMode);
  const note = composerMode === "note";
  $("composer-label").textContent = note ? "Private note, only your team sees it" : "Reply to the customer";
  textarea.placeholder = note ? "Write a private note — only your team sees it…" : "Write a reply… (/ for canned replies)";
  $("composer-send").textContent = note ? "Add note" : "Send";
  if (note) $("stale").hidden = true;
  renderCc();
  renderRules();
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
  if (baseline === null && state.threadLoaded) baseline = maxMessageId();
  const now = Date.now();
  if (!typingActive || now - typingSentAt >= 2000) {
    typingActive = true;
    typingSentAt = now;
    // "note": other agents see it; a website visitor sees only replies being written.
    sendFrame({ type: "typing", conversation_id: id, state: "start", mode: composerMode });
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, 3000);
}

export function stopTyping() {
  clearTimeout(typingIdle);
  if (typingActive && state.openId) sendFrame({ type: "typing", conversation_id: state.openId, state: "stop" });
  typingActive = false;
}

function staleMessages() {
  if (baseline === null) return [];
  return [...state.messages.values()].filter((m) => m.id > baseline && isRelevantForStale(m));
}

let pendingFiles = [];

export function renderFiles() {
  $("composer-files").replaceChildren(
    ...state.cannedFiles.map((file, index) => h("li", { class: "file-chip" }, [
      h("span", null, file.filename + " · " + humanSize(file.size)),
      h("button", { type: "button", "aria-label": "Remove " + file.filename, dataset: { removeCanned: index } }, "×"),
    ])),
    ...pendingFiles.map((file, index) => h("li", { class: "file-chip" }, [
      h("span", null, file.name + " · " + humanSize(file.size)),
      h("button", { type: "button", "aria-label": "Remove " + file.name, dataset: { removeFile: index } }, "×"),
    ])),
  );
}

async function send(force) {
  const id = state.openId;
  const text = textarea.value;
  const files = composerMode === "message" ? pendingFiles.slice() : [];
  const cannedFiles = composerMode === "message" ? state.cannedFiles.slice() : [];
  if (!id || (!text.trim() && !files.length && !cannedFiles.length)) { textarea.focus(); return; }
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
    const cc = kind === "message" ? selectedCc() : [];
    const origin = kind === "message" && state.origin ? state.origin : {};
    const canned_attachments = cannedFiles.map((f) => f.id);
    const tag = kind === "message" ? currentTag() : "";
    const quick_replies = kind === "message" ? quickReplies() : [];
    let request = { method: "POST", body: { text, kind, cc, canned_attachments, tag, quick_replies, ...origin } };
    if (files.length) {
      const form = new FormData();
      form.append("text", text);
      form.append("kind", kind);
      for (const entry of cc) form.append("cc", entry);
      for (const [key, value] of Object.entries(origin)) form.append(key, String(value));
      for (const fileId of canned_attachments) form.append("canned_attachments", String(fileId));
      if (tag) form.append("tag", tag);
      for (const title of quick_replies) form.append("quick_replies", title);
      for (const file of files) form.append("attachments", file, file.name);
      request = { method: "POST", form };
    }
    const message = await serial(id, () => api("conversations/" + id + "/messages/", request));
    state.drafts.delete(id);
    if (quick_replies.length) clearQuickReplies();
    if (files.length || cannedFiles.length) {
      pendingFiles = pendingFiles.filter((f) => !files.includes(f));
      state.cannedFiles = state.cannedFiles.filter((f) => !cannedFiles.includes(f));
      renderFiles();
    }
    if (state.openId === id) {
      if (textarea.value === text) { textarea.value = ""; onComposerEdited(); forgetSuggestions(); }
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

// ---------------------------------------------------------------- wiring
export function initComposer() {
  $("composer-file-input").addEventListener("change", (e) => {
    pendingFiles = pendingFiles.concat([...e.target.files]);
    e.target.value = "";
    renderFiles();
    textarea.focus();
  });
  $("composer-files").addEventListener("click", (e) => {
    const canned = e.target instanceof Element && e.target.closest("[data-remove-canned]");
    if (canned) {
      state.cannedFiles.splice(Number(canned.dataset.removeCanned), 1);
      renderFiles();
      textarea.focus();
      return;
    }
    const button = e.target instanceof Element && e.target.closest("[data-remove-file]");
    if (!button) return;
    pendingFiles.splice(Number(button.dataset.removeFile), 1);
    renderFiles();
    textarea.focus();
  });
  $("composer").addEventListener("submit", (e) => { e.preventDefault(); send(false); });
  $("stale-send").addEventListener("click", () => send(true));
  $("stale-review").addEventListener("click", review);
  textarea.addEventListener("input", onComposerInput);
  textarea.addEventListener("input", () => onCannedInput(textarea));
  textarea.addEventListener("input", onComposerEdited);
  initCanned(textarea);
  initSuggestions((...args) => hooks.act(...args));
  textarea.addEventListener("keydown", (e) => {
    if (onCannedKey(textarea, e)) return;
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(false); }
    else if (e.key === "Escape") { e.preventDefault(); textarea.blur(); scroller.focus(); }
  });
}
