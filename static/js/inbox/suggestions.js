// Suggested drafts in the composer. When the customer is waiting and the composer is empty,
// the best draft is put in the composer, marked as a suggestion with its reason; the other
// candidates are one click away and "Discard" puts them aside. The server learns where the
// reply started (`state.origin`) to measure how much agents change suggestions.
// The "needs a person" badge of a conversation is shown here too, above the composer.
import { $, h } from "./dom.js";
import { api } from "./api.js";
import { hooks, state } from "./state.js";
import { countSegments } from "./segments.js";

let current = null; // the suggestions of the open conversation, as the API returned them
let token = 0;
let inserted = null; // the draft text put in the composer: replaced or cleared only while unedited
const reported = new Set(); // suggestion ids this page told the server it showed

// Counted as "shown" to this agent in the insights once the panel is on screen.
function reportShown(conversationId, suggestionId) {
  if (!suggestionId || reported.has(suggestionId)) return;
  reported.add(suggestionId);
  api("conversations/" + conversationId + "/suggestions/shown/", { method: "POST", body: { suggestion_id: suggestionId } })
    .catch(() => reported.delete(suggestionId));
}

function textarea() {
  return $("composer-text");
}

function percent(score) {
  return Math.round(score * 100) + " %";
}

// The origin is kept while the agent edits what was inserted; an emptied composer starts over.
export function onComposerEdited() {
  const box = textarea();
  if (!box.value.trim()) {
    state.origin = null;
    box.classList.remove("is-suggestion");
  }
  renderSegments();
}

export function renderSegments() {
  const conv = state.convs.get(state.openId);
  const out = $("composer-segments");
  if (!conv || conv.inbox.kind !== "sms" || !textarea().value) { out.hidden = true; return; }
  const s = countSegments(textarea().value);
  out.hidden = false;
  out.textContent = s.segments + (s.segments === 1 ? " SMS" : " SMS segments") + " · " + s.encoding + " · " + s.remaining + " left";
}

function use(result, { focus = true } = {}) {
  const box = textarea();
  box.value = result.text;
  inserted = result.text;
  box.classList.add("is-suggestion");
  state.origin = current.suggestion_id ? { suggestion_id: current.suggestion_id, candidate: result.index } : (result.canned_reply_id ? { canned_reply_id: result.canned_reply_id } : null);
  state.cannedFiles = (result.attachments || []).slice();
  hooks.renderFiles();
  // Not an "input" event: a draft put in the composer is not the agent typing.
  hooks.startDraftBaseline();
  renderSegments();
  render();
  if (focus) { box.focus(); box.setSelectionRange(box.value.length, box.value.length); }
}

function chosenIndex() {
  if (!state.origin || state.origin.candidate === undefined) return null;
  return state.origin.candidate;
}

function render() {
  const panel = $("suggestion");
  const c = state.convs.get(state.openId);
  renderNeedsPerson(c);
  if (!current || !current.results.length || current.outcome !== "pending") { panel.hidden = true; return; }
  const chosen = chosenIndex();
  const shown = current.results.find((r) => r.index === chosen) || current.results[0];
  const others = current.results.filter((r) => r !== shown);
  const inComposer = chosen !== null && textarea().classList.contains("is-suggestion");
  panel.replaceChildren(...[
    h("div", { class: "suggestion-head" }, [
      h("span", { class: "badge badge-suggestion" }, "Suggested draft"),
      h("span", { class: "suggestion-reason" }, shown.reason),
      h("span", { class: "muted small", title: "Confidence" }, percent(shown.score)),
    ]),
    shown.language_mismatch ? h("p", { class: "suggestion-warning small" }, "This draft is not in the customer's language: check it or translate before sending.") : null,
    shown.signature ? h("p", { class: "muted small suggestion-signature" }, "Your signature is added when the email is sent.") : null,
    inComposer ? null : h("p", { class: "suggestion-preview" }, shown.text),
    h("div", { class: "suggestion-actions" }, [
      inComposer ? null : h("button", { type: "button", class: "btn btn-small", dataset: { useSuggestion: shown.index } }, "Use this draft"),
      ...others.map((r) => h("button", { type: "button", class: "btn btn-secondary btn-small", title: r.reason + " · " + percent(r.score), dataset: { useSuggestion: r.index } }, "Try: " + r.reason)),
      h("button", { type: "button", class: "btn btn-secondary btn-small", id: "suggestion-discard" }, "Discard"),
    ]),
  ].filter(Boolean));
  panel.hidden = false;
  reportShown(state.openId, current.suggestion_id);
}

function renderNeedsPerson(c) {
  const box = $("needs-person");
  const reasons = (c && c.needs_person) || [];
  box.hidden = !reasons.length;
  if (!reasons.length) return;
  box.replaceChildren(
    h("strong", null, "Needs a person"),
    h("span", null, " — " + reasons.join("; ") + ". No automatic message will be sent."),
    h("button", { type: "button", class: "btn btn-secondary btn-small", id: "needs-person-clear" }, "Clear flag"),
  );
}

// Called when a conversation opens (after its saved draft was restored) and on draft.suggested.
export async function loadSuggestions(id) {
  const mine = ++token;
  current = null;
  render();
  let data;
  try { data = await api("conversations/" + id + "/suggestions/"); } catch (error) { return; }
  if (mine !== token || state.openId !== id) return;
  current = data;
  const box = textarea();
  const untouchedSuggestion = inserted !== null && box.value === inserted && state.origin && state.origin.suggestion_id !== data.suggestion_id;
  if (data.outcome === "pending" && data.results.length && (!box.value.trim() || untouchedSuggestion)) {
    use(data.results[0], { focus: false });
  } else {
    render();
  }
}

export function forgetSuggestions() {
  token += 1;
  current = null;
  inserted = null;
  textarea().classList.remove("is-suggestion");
  $("suggestion").hidden = true;
}

export function onSuggestedEvent(payload) {
  if (payload.conversation_id !== state.openId) return;
  const box = textarea();
  // Only replace what the agent has not started writing.
  if (box.value.trim() && box.value !== inserted) { loadQuietly(payload.conversation_id); return; }
  loadSuggestions(payload.conversation_id);
}

async function loadQuietly(id) {
  try {
    const data = await api("conversations/" + id + "/suggestions/");
    if (state.openId === id) { current = data; render(); }
  } catch (error) { /* shown on the next open */ }
}

export function renderNeedsPersonBadge() {
  renderNeedsPerson(state.convs.get(state.openId));
}

export function initSuggestions(act) {
  $("suggestion").addEventListener("click", async (e) => {
    const target = e.target instanceof Element ? e.target : null;
    if (!target || !current) return;
    const button = target.closest("[data-use-suggestion]");
    if (button) {
      const result = current.results.find((r) => r.index === Number(button.dataset.useSuggestion));
      if (result) use(result);
      return;
    }
    if (target.id === "suggestion-discard") {
      const id = state.openId;
      if (current.suggestion_id) {
        try { await api("conversations/" + id + "/suggestions/discard/", { method: "POST", body: { suggestion_id: current.suggestion_id } }); } catch (error) { /* still hide it */ }
      }
      if (inserted !== null && textarea().value === inserted) {
        state.cannedFiles = [];
        hooks.renderFiles();
        textarea().value = "";
        textarea().dispatchEvent(new Event("input"));
      }
      current = { ...current, outcome: "discarded" };
      render();
      textarea().focus();
    }
  });
  $("needs-person").addEventListener("click", async (e) => {
    if (!(e.target instanceof Element) || e.target.id !== "needs-person-clear") return;
    await act("needs-person", null, "DELETE");
  });
}
