// What the messaging platform lets the agent send now (inbox/sources/rules.py decides on the
// server; this shows it): the 24-hour window of WhatsApp, Messenger and Instagram with when it
// closes, WhatsApp templates (the only thing allowed after it), Messenger/Instagram message
// tags, and an SMS number that opted out. Re-checked every 30 s against the browser's clock.
import { $, h, fullFmt, parseDate, timeFmt } from "./dom.js";
import { api, serial } from "./api.js";
import { hooks, state } from "./state.js";
import { emptyParam, fillTemplateSelect, paramValues, renderParams, renderPreview, templateById, templateRequest, templatesOf } from "./templates.js";

let shownFor = null; // conversation id the template panel was filled for

function inHours(ms) {
  const minutes = Math.round(ms / 60000);
  if (minutes < 60) return minutes + " min";
  const hours = Math.floor(minutes / 60);
  return hours + " h" + (minutes % 60 ? " " + (minutes % 60) + " min" : "");
}

function when(date) {
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay ? timeFmt.format(date) : fullFmt.format(date);
}

// Why a number is opted out, in words: the keyword they texted, or the provider's signal.
export function optOutReason(keyword) {
  if (!keyword) return "the provider reported it";
  if (/^twilio/i.test(keyword)) return "Twilio reports they unsubscribed";
  return "they texted " + keyword;
}

// What blocks a free-form reply now ("" when nothing does) and the tags allowed.
export function replyState(conv, now) {
  const rules = conv && conv.reply_rules;
  const optOut = conv && conv.inbox.kind === "sms" && state.contact && state.contact.id === conv.contact.id &&
    (state.contact.sms_opt_outs || []).find((o) => o.inbox_id === conv.inbox.id);
  if (optOut) return { blocked: "This number opted out of SMS from this inbox (" + optOutReason(optOut.keyword) + "). Nothing can be sent until they text START.", tags: [], open: false };
  if (!rules) return { blocked: "", tags: [], open: true };
  const closes = parseDate(rules.window_closes_at);
  const open = !!closes && closes.getTime() > now;
  if (open) return { blocked: "", tags: [], open, closes };
  const tags = (rules.tags || []).filter((t) => !t.until || parseDate(t.until).getTime() > now);
  const closed = closes ? "The 24-hour window closed " + when(closes) + "." : "The 24-hour window is not open: the customer has not written yet.";
  if (rules.templates) return { blocked: closed + " WhatsApp only takes approved templates until the customer writes again.", tags: [], open, closes, templates: true };
  if (tags.length) return { blocked: "", tags, open, closes, note: closed + " Choose a message tag the platform allows." };
  return { blocked: closed + " Nothing can be sent until the customer writes again.", tags: [], open, closes };
}

const QUICK_REPLY_KINDS = new Set(["whatsapp", "messenger", "instagram", "telegram"]);

// The quick-reply buttons typed for this reply (an empty list when the channel has none).
export function quickReplies() {
  if ($("quick-replies").hidden) return [];
  return $("quick-replies-input").value.split(",").map((t) => t.trim()).filter(Boolean);
}

export function clearQuickReplies() {
  $("quick-replies-input").value = "";
  $("quick-replies").open = false;
}

export function currentTag() {
  const box = $("composer-tag");
  return box.hidden ? "" : $("tag-select").value;
}

export function renderRules() {
  const conv = state.convs.get(state.openId);
  const now = Date.now();
  const rs = replyState(conv, now);
  const banner = $("reply-window");
  const composer = $("composer");
  const rules = conv && conv.reply_rules;
  if (rs.blocked || rs.note) {
    banner.textContent = rs.blocked || rs.note;
    // Closed: red when nothing free-form can go; amber when a message tag still allows it.
    banner.className = "reply-window " + (rs.blocked ? "reply-window-closed" : "reply-window-soon");
    banner.hidden = false;
  } else if (rules && rs.open) {
    banner.textContent = "24-hour window open · replies allowed until " + when(rs.closes) + " (" + inHours(rs.closes.getTime() - now) + " left)";
    banner.className = "reply-window" + (rs.closes.getTime() - now < 2 * 3600000 ? " reply-window-soon" : "");
    banner.hidden = false;
  } else banner.hidden = true;
  composer.dataset.blocked = rs.blocked ? "true" : "false";
  const tagBox = $("composer-tag");
  const tags = rs.tags || [];
  const select = $("tag-select");
  const chosen = select.value;
  select.replaceChildren(...tags.map((t) => h("option", { value: t.tag }, t.label)));
  if (tags.some((t) => t.tag === chosen)) select.value = chosen;
  tagBox.hidden = !tags.length || composer.dataset.mode === "note";
  $("quick-replies").hidden = !(conv && QUICK_REPLY_KINDS.has(conv.inbox.kind)) || composer.dataset.mode === "note";
  const templates = !!(rules && rules.templates);
  $("template-open").hidden = !templates || composer.dataset.mode === "note";
  if (!templates || (conv && shownFor !== null && shownFor !== conv.id)) closeTemplates();
  else if (rs.blocked && composer.dataset.mode !== "note" && $("template-panel").hidden) openTemplates(false);
}

// ---------------------------------------------------------------- templates
export async function openTemplates(focus) {
  const conv = state.convs.get(state.openId);
  if (!conv) return;
  const panel = $("template-panel");
  panel.hidden = false;
  $("template-open").setAttribute("aria-expanded", "true");
  if (shownFor !== conv.id) {
    shownFor = conv.id;
    $("template-error").hidden = true;
    await fillTemplates(conv, false);
  }
  if (focus) $("template-select").focus();
}

function closeTemplates() {
  $("template-panel").hidden = true;
  $("template-open").setAttribute("aria-expanded", "false");
  shownFor = null;
}

async function fillTemplates(conv, refresh) {
  try {
    const listing = await templatesOf(conv.inbox.id, refresh);
    if (state.openId !== conv.id) return;
    fillTemplateSelect($("template-select"), listing);
    const synced = parseDate(listing.synced_at);
    $("template-info").textContent = synced ? "Synced from WhatsApp " + when(synced) + "." : "";
  } catch (error) {
    showTemplateError(error.message);
  }
  renderTemplateParams();
}

function chosenTemplate() {
  const conv = state.convs.get(state.openId);
  return conv ? templateById(conv.inbox.id, $("template-select").value) : null;
}

function renderTemplateParams() {
  renderParams($("template-params"), chosenTemplate(), "tp");
  renderPreviewNow();
}

function renderPreviewNow() {
  renderPreview($("template-preview"), chosenTemplate(), paramValues($("template-params")));
}

function showTemplateError(message) {
  $("template-error").textContent = message;
  $("template-error").hidden = false;
}

async function sendTemplate() {
  const id = state.openId;
  const t = chosenTemplate();
  $("template-error").hidden = true;
  if (!t) { showTemplateError("Choose a template."); $("template-select").focus(); return; }
  const empty = emptyParam($("template-params"));
  if (empty) {
    showTemplateError(empty.type === "file" ? "Attach the header's " + t.header.media + "." : "Fill in every parameter.");
    empty.focus();
    return;
  }
  const button = $("template-send");
  button.disabled = true;
  try {
    const message = await serial(id, () => api("conversations/" + id + "/messages/",
      templateRequest($("template-params"), { text: "", template_id: t.id })));
    if (state.openId === id) {
      hooks.addMessageToThread(message, true);
      hooks.scrollToBottom();
      for (const input of $("template-params").querySelectorAll("input")) input.value = ""; // files too
      renderPreviewNow();
      if (replyState(state.convs.get(id), Date.now()).blocked === "") closeTemplates();
    }
  } catch (error) {
    showTemplateError(error.message);
  } finally {
    button.disabled = false;
  }
}

export function initRules() {
  $("template-open").addEventListener("click", () => ($("template-panel").hidden ? openTemplates(true) : closeTemplates()));
  $("template-close").addEventListener("click", () => { closeTemplates(); $("composer-text").focus(); });
  $("template-select").addEventListener("change", renderTemplateParams);
  $("template-params").addEventListener("input", renderPreviewNow);
  $("template-send").addEventListener("click", sendTemplate);
  $("template-refresh").addEventListener("click", async () => {
    const conv = state.convs.get(state.openId);
    if (!conv) return;
    $("template-error").hidden = true;
    await fillTemplates(conv, true);
  });
  setInterval(renderRules, 30000);
}
