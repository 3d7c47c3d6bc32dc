// The contact pane: who the customer is, how else we know them, their notes, their other
// conversations, the labels of the open conversation with the editor for them; editing the
// contact, and (admins) merging a duplicate into it.
import { $, h, dateYearFmt, initials, labelChip, parseDate, relTime, safeColor, STATUS_LABEL } from "./dom.js";
import { api } from "./api.js";
import { hooks, ME, state } from "./state.js";
import { optOutReason, renderRules } from "./rules.js";

// ---------------------------------------------------------------- website visitor
// Who is behind a website chat: verified by the site or not, on the site now (which page),
// where they came from. Refreshed when the visitor's presence changes.
export async function loadVisitor(conversationId, token) {
  const section = $("visitor-section");
  const conv = state.convs.get(conversationId);
  if (!conv || conv.inbox.kind !== "widget") { section.hidden = true; return; }
  let visitor;
  try { visitor = await api("conversations/" + conversationId + "/visitor/"); } catch (error) { section.hidden = true; return; }
  if ((token !== undefined && token !== state.openToken) || state.openId !== conversationId) return;
  section.hidden = false;
  $("visitor-identity").replaceChildren(visitor.verified
    ? h("span", { class: "badge badge-ok", title: "The website signed who this is" }, "Verified" + (visitor.external_id ? " · user " + visitor.external_id : ""))
    : h("span", { class: "badge badge-muted", title: "Name and email were typed by the visitor; nobody checked them" }, "Unverified details"));
  const where = $("visitor-where");
  if (visitor.online && visitor.page_url) {
    where.replaceChildren(h("span", { class: "status-dot status-online", "aria-hidden": "true" }), " Online now on ",
      h("a", { href: safeUrl(visitor.page_url), target: "_blank", rel: "noopener noreferrer" }, visitor.page_title || visitor.page_url));
  } else {
    where.replaceChildren(h("span", { class: "muted" }, visitor.signed_out ? "Signed out" : "Left " + relTime(visitor.last_seen_at)));
  }
  const from = visitor.referrer;
  $("visitor-from").replaceChildren(from ? h("a", { href: safeUrl(from), target: "_blank", rel: "noopener noreferrer" }, from) : h("span", { class: "muted" }, "—"));
}

function safeUrl(url) {
  return /^https?:\/\//i.test(url || "") ? url : "#";
}

export function renderRating() {
  const conv = state.convs.get(state.openId);
  const rating = conv && conv.rating;
  $("rating-section").hidden = !rating;
  if (!rating) return;
  $("rating-score").textContent = "★".repeat(rating.score) + "☆".repeat(5 - rating.score) + "  " + rating.score + " / 5";
  $("rating-comment").textContent = rating.comment || "";
  $("rating-comment").hidden = !rating.comment;
}

// How a channel knows the contact: a website chat's anonymous visitor or signed-in user reads
// as such, other channels' ids as they are.
function externalIdentity(identity, inboxNames) {
  const inbox = inboxNames.get(identity.inbox_id) || "Channel";
  if (identity.value.startsWith("visitor:")) return inbox + ": anonymous visitor";
  if (identity.value.startsWith("user:")) return inbox + ": signed-in user " + identity.value.slice(5);
  return inbox + " ID: " + identity.value;
}

export async function loadContact(contactId, token) {
  try {
    const contact = await api("contacts/" + contactId + "/");
    if (token !== undefined && token !== state.openToken) return;
    const switching = !state.contact || state.contact.id !== contact.id;
    state.contact = contact;
    if (switching) {
      showForm(false);
      showMerge(false);
    }
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
    .map((i) => h("span", { class: "identity" }, i.kind === "external" ? externalIdentity(i, inboxNames) : i.kind + ": " + i.value));
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
  $("contact-notes").textContent = contact.notes || "";
  $("contact-notes").hidden = !contact.notes;
  $("contact-notes-none").hidden = Boolean(contact.notes);
  $("contact-merge").hidden = !(ME && ME.role === "admin");
  const optOuts = (contact.sms_opt_outs || []).map((o) => (inboxNames.get(o.inbox_id) || "an SMS inbox") + " (" + optOutReason(o.keyword) + ")");
  $("contact-optout").textContent = optOuts.length ? "Opted out of SMS from " + optOuts.join(", ") + ": nothing is sent to this number there." : "";
  $("contact-optout").hidden = !optOuts.length;
  // Same phone number as another contact: offered, never merged on its own (a shared family
  // or office number is not one person).
  const same = contact.same_phone || [];
  const admin = ME && ME.role === "admin";
  $("same-phone").replaceChildren(...(same.length ? [
    h("p", { class: "small" }, "Same phone number as:"),
    h("ul", { class: "merge-results" }, same.map((other) => h("li", null, [
      h("span", null, other.name || "Contact #" + other.id),
      admin ? h("button", { type: "button", class: "btn btn-secondary btn-small", dataset: { mergeId: other.id, mergeName: other.name || "" }, "aria-label": "Merge " + (other.name || "that contact") + " into " + (contact.name || "this contact") }, "Merge") : null,
    ]))),
    admin ? null : h("p", { class: "muted small" }, "An admin can merge them if they are the same person."),
  ] : []));
  $("same-phone").hidden = !same.length;
  renderRules();
}

// ---------------------------------------------------------------- editing
function showForm(open) {
  const form = $("contact-form");
  form.hidden = !open;
  $("contact-edit").setAttribute("aria-expanded", String(open));
  $("cf-error").hidden = true;
  if (!open || !state.contact) return;
  const c = state.contact;
  $("cf-name").value = c.name || "";
  $("cf-email").value = c.email || "";
  $("cf-phone").value = c.phone || "";
  $("cf-notes").value = c.notes || "";
  $("cf-vip").checked = Boolean(c.is_vip);
  $("cf-blocked").checked = Boolean(c.is_blocked);
  $("cf-name").focus();
}

async function saveContact(event) {
  event.preventDefault();
  const contact = state.contact;
  if (!contact) return;
  const body = {
    name: $("cf-name").value.trim(),
    email: $("cf-email").value.trim(),
    phone: $("cf-phone").value.trim(),
    notes: $("cf-notes").value,
    is_vip: $("cf-vip").checked,
    is_blocked: $("cf-blocked").checked,
  };
  const button = $("contact-form").querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const saved = await api("contacts/" + contact.id + "/", { method: "PATCH", body });
    state.contact = Object.assign({}, contact, saved);
    showForm(false);
    renderContact();
    $("contact-edit").focus();
  } catch (error) {
    $("cf-error").textContent = error.message;
    $("cf-error").hidden = false;
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- merging (admins)
let mergeSearchTimer = null;

function showMerge(open) {
  $("merge-panel").hidden = !open;
  $("contact-merge").setAttribute("aria-expanded", String(open));
  $("merge-error").hidden = true;
  $("merge-results").replaceChildren();
  if (open) {
    $("merge-search").value = "";
    $("merge-search").focus();
  }
}

async function searchDuplicates() {
  const term = $("merge-search").value.trim();
  const primary = state.contact;
  if (!primary || term.length < 2) {
    $("merge-results").replaceChildren();
    return;
  }
  try {
    const data = await api("contacts/?q=" + encodeURIComponent(term));
    if (term !== $("merge-search").value.trim()) return; // typed on meanwhile
    const rows = data.results.filter((c) => c.id !== primary.id);
    $("merge-results").replaceChildren(...(rows.length ? rows.map((c) => h("li", null, [
      h("span", null, [h("strong", null, c.name || "Unknown contact"), " ", h("span", { class: "muted small" }, [c.email, c.phone].filter(Boolean).join(" · "))]),
      h("button", { type: "button", class: "btn btn-secondary btn-small", dataset: { mergeId: c.id }, "aria-label": "Merge " + (c.name || "this contact") + " into " + (primary.name || "this contact") }, "Merge"),
    ])) : [h("li", { class: "muted small" }, "No other contact matches.")]));
  } catch (error) {
    $("merge-error").textContent = error.message;
    $("merge-error").hidden = false;
  }
}

async function mergeDuplicate(duplicateId, name) {
  const primary = state.contact;
  if (!primary) return;
  const into = primary.name || "this contact";
  if (!window.confirm("Merge " + (name || "this contact") + " into " + into + "? Their conversations move to " + into + ". This cannot be undone.")) return;
  try {
    await api("contacts/" + primary.id + "/merge/", { method: "POST", body: { duplicate_id: duplicateId } });
    showMerge(false);
    await loadContact(primary.id, state.openToken);
    $("contact-merge").focus();
  } catch (error) {
    $("merge-error").textContent = error.message;
    $("merge-error").hidden = false;
  }
}

export function renderSideLabels(c) {
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

export function initSidebar() {
  $("contact-edit").addEventListener("click", () => showForm($("contact-form").hidden));
  $("cf-cancel").addEventListener("click", () => { showForm(false); $("contact-edit").focus(); });
  $("contact-form").addEventListener("submit", saveContact);
  $("contact-merge").addEventListener("click", () => showMerge($("merge-panel").hidden));
  $("same-phone").addEventListener("click", (e) => {
    const button = e.target instanceof Element && e.target.closest("[data-merge-id]");
    if (button) mergeDuplicate(Number(button.dataset.mergeId), button.dataset.mergeName);
  });
  $("merge-search").addEventListener("input", () => {
    clearTimeout(mergeSearchTimer);
    mergeSearchTimer = setTimeout(searchDuplicates, 250);
  });
  $("merge-results").addEventListener("click", (e) => {
    const button = e.target instanceof Element ? e.target.closest("button[data-merge-id]") : null;
    if (!button) return;
    const row = button.closest("li");
    mergeDuplicate(Number(button.dataset.mergeId), row ? row.querySelector("strong").textContent : "");
  });
  $("label-options").addEventListener("change", (e) => {
    const input = e.target;
    if (!(input instanceof HTMLInputElement)) return;
    const id = Number(input.value);
    hooks.act("labels", input.checked ? { add: [id], remove: [] } : { add: [], remove: [id] });
  });
}
