// "New email" / "New conversation": an agent writes first to a contact from one of their email
// inboxes, or (WhatsApp) to a phone number with an approved template. The conversation is
// created assigned to the agent and opened once sent.
import { $, h, toast } from "./dom.js";
import { api } from "./api.js";
import { state } from "./state.js";
import { emptyParam, fillTemplateSelect, paramValues, renderParams, renderPreview, templateById, templateRequest, templatesOf } from "./templates.js";

const KINDS = { email: "Email", whatsapp: "WhatsApp" };

function startable() {
  return state.inboxes.filter((i) => i.kind in KINDS);
}

export function renderNewConversationButton() {
  const inboxes = startable();
  const onlyEmail = inboxes.every((i) => i.kind === "email");
  $("new-conv-btn").hidden = inboxes.length === 0;
  $("new-conv-btn").textContent = onlyEmail ? "New email" : "New conversation";
  const select = $("nc-inbox");
  const chosen = select.value;
  select.replaceChildren(...inboxes.map((i) => h("option", { value: i.id, dataset: { kind: i.kind } }, onlyEmail ? i.name : i.name + " (" + KINDS[i.kind] + ")")));
  if (inboxes.some((i) => String(i.id) === chosen)) select.value = chosen;
}

function chosenKind() {
  const option = $("nc-inbox").selectedOptions[0];
  return option ? option.dataset.kind : "email";
}

function chosenTemplate() {
  return templateById(Number($("nc-inbox").value), $("nc-template").value);
}

function renderTemplate() {
  renderParams($("nc-params"), chosenTemplate(), "nc");
  renderPreview($("nc-preview"), chosenTemplate(), paramValues($("nc-params")));
}

async function showKind() {
  const whatsapp = chosenKind() === "whatsapp";
  for (const node of document.querySelectorAll(".nc-email")) node.hidden = whatsapp;
  for (const node of document.querySelectorAll(".nc-whatsapp")) node.hidden = !whatsapp;
  $("new-conv-title").textContent = whatsapp ? "New WhatsApp conversation" : "New email";
  if (!whatsapp) { renderParams($("nc-params"), null, "nc"); return; }
  try {
    fillTemplateSelect($("nc-template"), await templatesOf(Number($("nc-inbox").value), false));
  } catch (error) {
    $("nc-error").textContent = error.message;
    $("nc-error").hidden = false;
  }
  renderTemplate();
}

function request() {
  const common = { inbox: Number($("nc-inbox").value), to_name: $("nc-name").value.trim() };
  if (chosenKind() === "whatsapp") {
    const template = chosenTemplate();
    if (!template) throw new Error("Choose a template.");
    const empty = emptyParam($("nc-params"));
    if (empty) throw new Error(empty.type === "file" ? "Attach the header's " + template.header.media + "." : "Fill in every parameter of the template.");
    return templateRequest($("nc-params"), { ...common, to_phone: $("nc-phone").value.trim(), template_id: template.id });
  }
  return { method: "POST", body: { ...common, to_email: $("nc-to").value.trim(), subject: $("nc-subject").value.trim(), text: $("nc-text").value } };
}

export function initNewConversation(open) {
  const dialog = $("new-conv");
  const form = $("new-conv-form");
  $("new-conv-btn").addEventListener("click", async () => {
    form.reset();
    $("nc-error").hidden = true;
    dialog.showModal();
    await showKind();
    (chosenKind() === "whatsapp" ? $("nc-phone") : $("nc-to")).focus();
  });
  $("nc-inbox").addEventListener("change", showKind);
  $("nc-template").addEventListener("change", renderTemplate);
  $("nc-params").addEventListener("input", () => renderPreview($("nc-preview"), chosenTemplate(), paramValues($("nc-params"))));
  $("nc-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const send = form.querySelector("button[type=submit]");
    send.disabled = true;
    $("nc-error").hidden = true;
    try {
      const conversation = await api("conversations/", request());
      dialog.close();
      const who = conversation.contact.email || conversation.contact.phone || conversation.contact.name;
      toast((chosenKind() === "whatsapp" ? "WhatsApp template queued to " : "Email queued to ") + who);
      open(conversation.id);
    } catch (error) {
      $("nc-error").textContent = error.message;
      $("nc-error").hidden = false;
    } finally {
      send.disabled = false;
    }
  });
}
