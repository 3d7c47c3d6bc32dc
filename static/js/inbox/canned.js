// Canned replies in the composer: type "/" (at the start or after a space) and a few letters
// of a shortcode or title; arrows choose, Enter or Tab inserts the reply with its variables
// filled for this conversation, Escape closes. The agent edits it before sending.
import { $, h } from "./dom.js";
import { api } from "./api.js";
import { hooks, state } from "./state.js";

const TRIGGER = /(?:^|\s)\/([\w-]{0,40})$/;
let replies = null; // one request per page, shared by every keystroke waiting for it
let matches = [];
let active = 0;
let generation = 0; // a lookup started before the latest keystroke or insert is stale

function allReplies() {
  if (replies === null) {
    replies = api("canned-replies/").then((data) => data.results || [], () => []);
  }
  return replies;
}

function score(reply, term) {
  const t = term.toLowerCase();
  if (!t) return 1;
  if (reply.shortcode.startsWith(t)) return 3;
  if (reply.title.toLowerCase().includes(t)) return 2;
  // Letters in order ("rtl" finds "return-label"): forgiving of typos of omission.
  let i = 0;
  for (const c of reply.shortcode + " " + reply.title.toLowerCase()) if (c === t[i]) i += 1;
  return i === t.length ? 1 : 0;
}

function close(textarea) {
  generation += 1;
  matches = [];
  $("canned-menu").hidden = true;
  textarea.setAttribute("aria-expanded", "false");
  textarea.removeAttribute("aria-activedescendant");
}

function render(textarea) {
  const menu = $("canned-menu");
  menu.replaceChildren(...matches.map((reply, index) => h("li", {
    id: "canned-" + reply.id,
    role: "option",
    class: "canned-option",
    "aria-selected": String(index === active),
    dataset: { index },
  }, [h("strong", null, "/" + reply.shortcode), " ", reply.title])));
  menu.hidden = matches.length === 0;
  textarea.setAttribute("aria-expanded", String(matches.length > 0));
  if (matches.length) textarea.setAttribute("aria-activedescendant", "canned-" + matches[active].id);
}

export async function onCannedInput(textarea) {
  const before = textarea.value.slice(0, textarea.selectionStart);
  const found = before.match(TRIGGER);
  if (!found) { close(textarea); return; }
  const mine = ++generation;
  const term = found[1];
  const conv = state.convs.get(state.openId);
  const inboxId = conv ? conv.inbox.id : null;
  const all = await allReplies();
  if (mine !== generation) return;
  matches = all
    .filter((r) => !r.inbox_id || r.inbox_id === inboxId)
    .map((r) => [score(r, term), r])
    .filter(([s]) => s > 0)
    .sort((a, b) => b[0] - a[0] || a[1].title.localeCompare(b[1].title))
    .slice(0, 8)
    .map(([, r]) => r);
  active = 0;
  render(textarea);
}

async function insert(textarea, reply) {
  const before = textarea.value.slice(0, textarea.selectionStart);
  const after = textarea.value.slice(textarea.selectionStart);
  const start = before.search(/\/[\w-]*$/);
  close(textarea);
  try {
    const used = await api("canned-replies/" + reply.id + "/use/", { method: "POST", body: { conversation: state.openId } });
    textarea.value = before.slice(0, start) + used.text + after;
    if (!state.origin) state.origin = { canned_reply_id: reply.id };
    const known = new Set(state.cannedFiles.map((f) => f.id));
    state.cannedFiles = state.cannedFiles.concat((used.canned_reply.attachments || []).filter((f) => !known.has(f.id)));
    hooks.renderFiles();
    const caret = start + used.text.length;
    textarea.setSelectionRange(caret, caret);
    textarea.dispatchEvent(new Event("input"));
  } catch (error) {
    $("composer-error").textContent = error.message;
    $("composer-error").hidden = false;
  }
  textarea.focus();
}

// Returns true when the key was for the menu.
export function onCannedKey(textarea, event) {
  if (!matches.length) return false;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    active = (active + (event.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
    render(textarea);
  } else if (event.key === "Enter" || event.key === "Tab") {
    insert(textarea, matches[active]);
  } else if (event.key === "Escape") {
    close(textarea);
  } else {
    return false;
  }
  event.preventDefault();
  return true;
}

export function initCanned(textarea) {
  textarea.setAttribute("role", "combobox");
  textarea.setAttribute("aria-autocomplete", "list");
  textarea.setAttribute("aria-controls", "canned-menu");
  textarea.setAttribute("aria-expanded", "false");
  $("canned-menu").addEventListener("mousedown", (e) => {
    const option = e.target instanceof Element && e.target.closest("[data-index]");
    if (!option) return;
    e.preventDefault();
    insert(textarea, matches[Number(option.dataset.index)]);
  });
  textarea.addEventListener("blur", () => setTimeout(() => close(textarea), 150));
}
