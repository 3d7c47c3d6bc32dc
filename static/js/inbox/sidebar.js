// The contact pane: who the customer is, how else we know them, their other conversations,
// and the labels of the open conversation with the editor for them.
import { $, h, dateYearFmt, initials, labelChip, parseDate, relTime, safeColor, STATUS_LABEL } from "./dom.js";
import { api } from "./api.js";
import { hooks, state } from "./state.js";

export async function loadContact(contactId, token) {
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
  $("label-options").addEventListener("change", (e) => {
    const input = e.target;
    if (!(input instanceof HTMLInputElement)) return;
    const id = Number(input.value);
    hooks.act("labels", input.checked ? { add: [id], remove: [] } : { add: [], remove: [id] });
  });
}
