// WhatsApp message templates in the agent app: each inbox's list (fetched once, refreshed on
// demand), the form of a template's parameters and its live preview. The composer
// (rules.js) and "New conversation" (newconv.js) both use them.
import { h } from "./dom.js";
import { api } from "./api.js";

const byInbox = new Map(); // inbox id → {results, synced_at}
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

export async function templatesOf(inboxId, refresh) {
  if (refresh) byInbox.set(inboxId, await api("inboxes/" + inboxId + "/templates/sync/", { method: "POST" }));
  else if (!byInbox.has(inboxId)) byInbox.set(inboxId, await api("inboxes/" + inboxId + "/templates/"));
  return byInbox.get(inboxId);
}

export function templateById(inboxId, id) {
  const listing = byInbox.get(inboxId);
  return listing && id ? (listing.results || []).find((t) => t.id === Number(id)) || null : null;
}

// The <select>'s options: approved templates to choose, the others disabled with the reason.
export function fillTemplateSelect(select, listing) {
  const rows = listing.results || [];
  select.replaceChildren(
    h("option", { value: "" }, rows.length ? "Choose a template…" : "No templates synced yet: refresh the list"),
    ...rows.map((t) => h("option", { value: t.id, disabled: !t.sendable }, t.name + " · " + t.language + (t.sendable ? "" : " — " + t.reason))),
  );
  const sendable = rows.filter((t) => t.sendable);
  if (sendable.length === 1) select.value = String(sendable[0].id);
}

function inputs(prefix, part, names, label) {
  return names.map((name) => {
    const id = prefix + "-" + part + "-" + name;
    return h("div", { class: "field template-param" }, [
      h("label", { for: id }, label + " {{" + name + "}}"),
      h("input", { id, type: "text", maxlength: "1024", dataset: { part, name }, required: true }),
    ]);
  });
}

const MEDIA_TYPES = { "image/jpeg,image/png": "JPEG or PNG", "video/mp4,video/3gpp": "MP4 or 3GP" };

// The file a template's image, video or document header is sent with.
function headerFileInput(prefix, template) {
  const media = template.header.media;
  if (!media) return [];
  const id = prefix + "-header-file";
  const kinds = MEDIA_TYPES[template.header.accept] || "any document";
  return [h("div", { class: "field template-param" }, [
    h("label", { for: id }, "Header " + media + " (" + kinds + ")"),
    h("input", { id, type: "file", accept: template.header.accept || null, dataset: { headerFile: "" }, required: true }),
  ])];
}

// One input per parameter of the header, the body and each URL button (and the header's
// file when it is an image, video or document).
export function renderParams(box, template, prefix) {
  if (!template) { box.replaceChildren(); return; }
  box.replaceChildren(
    ...headerFileInput(prefix, template),
    ...inputs(prefix, "header", template.header.params, "Header"),
    ...inputs(prefix, "body", template.body.params, "Message"),
    ...template.buttons.flatMap((b) => inputs(prefix, "button-" + b.index, b.params, "“" + b.text + "” link")),
  );
}

// {"header": {name: value}, "body": {...}, "buttons": {index: {...}}}: what the API takes.
export function paramValues(box) {
  const values = { header: {}, body: {}, buttons: {} };
  for (const input of box.querySelectorAll("input[data-part]")) {
    const { part, name } = input.dataset;
    if (part.startsWith("button-")) (values.buttons[part.slice(7)] ||= {})[name] = input.value;
    else values[part][name] = input.value;
  }
  return values;
}

export function emptyParam(box) {
  return [...box.querySelectorAll("input[data-part], input[data-header-file]")].find((input) => !input.value.trim()) || null;
}

// The API request's options for a template send: JSON, or a multipart form with the
// header's file.
export function templateRequest(box, fields) {
  const file = box.querySelector("input[data-header-file]");
  const body = { ...fields, template_params: paramValues(box) };
  if (!file || !file.files.length) return { method: "POST", body };
  const form = new FormData();
  for (const [key, value] of Object.entries(body)) form.append(key, typeof value === "object" ? JSON.stringify(value) : String(value));
  form.append("attachments", file.files[0], file.files[0].name);
  return { method: "POST", form };
}

function fill(text, values) {
  return text.replace(PLACEHOLDER, (whole, name) => (values[name] ? values[name] : whole));
}

// The template as the customer will see it, with what is filled in so far (text nodes only).
export function renderPreview(out, template, values) {
  if (!template) { out.replaceChildren(h("span", { class: "muted" }, "Choose a template to see it.")); return; }
  out.replaceChildren(...[
    template.header.media ? h("p", { class: "muted small" }, "[" + template.header.media[0].toUpperCase() + template.header.media.slice(1) + ": the file you attach]") : null,
    template.header.format === "TEXT" && template.header.text ? h("strong", { class: "template-preview-header" }, fill(template.header.text, values.header)) : null,
    h("p", null, fill(template.body.text, values.body)),
    template.footer ? h("p", { class: "muted small" }, template.footer) : null,
    template.buttons.length ? h("p", { class: "template-buttons" }, template.buttons.map((b) => h("span", { class: "chip-small" }, b.text))) : null,
  ].filter(Boolean));
}
