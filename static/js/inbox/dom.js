// Pure DOM and formatting helpers for the agent app: no app state, no network.
// Everything a customer wrote goes in as text: `h()` only ever creates text nodes for strings,
// never innerHTML.

export const $ = (id) => document.getElementById(id);

export function h(tag, props, children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value == null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "hidden") node.hidden = true;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of [].concat(children == null ? [] : children)) {
    if (child != null && child !== false) node.append(child);
  }
  return node;
}

const SVG = "http://www.w3.org/2000/svg";
const ICONS = {
  clip: "M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6z",
};

export function icon(name, size) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size || 16));
  svg.setAttribute("height", String(size || 16));
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

// Only same-origin paths or http(s) links: never `javascript:` from a payload.
export function safeUrl(url) {
  if (typeof url !== "string" || !url) return null;
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch (error) {
    return null;
  }
}

export function safeColor(color) {
  return typeof color === "string" && /^#[0-9a-fA-F]{6}$/.test(color) ? color : "#98a2b3";
}

export function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || "?").slice(0, 2);
  return letters.toUpperCase();
}

export function avatar(person, size, label) {
  const url = person && safeUrl(person.avatar_url);
  const cls = "avatar avatar-" + size;
  if (url) return h("img", { class: cls, src: url, alt: label || "", title: label || null });
  return h("span", { class: cls, title: label || null, "aria-hidden": label ? null : "true", role: label ? "img" : null, "aria-label": label || null },
    initials(person && person.name));
}

export function labelChip(label) {
  return h("span", { class: "chip" }, [
    h("span", { class: "chip-dot", style: "background:" + safeColor(label.color) }),
    label.name,
  ]);
}

export function setPressed(selector, attr, value) {
  document.querySelectorAll(selector).forEach((node) => node.setAttribute("aria-pressed", String(node.dataset[attr] === value)));
}

// ---------------------------------------------------------------- words, times and sizes
export const PRIORITY = { 0: "None", 1: "Low", 2: "Medium", 3: "High", 4: "Urgent" };
export const STATUS_LABEL = { open: "Open", pending: "Pending", snoozed: "Snoozed", resolved: "Resolved" };
export const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
export const dateYearFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
export const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });

export function parseDate(iso) {
  const date = iso ? new Date(iso) : null;
  return date && !isNaN(date) ? date : null;
}

export function relTime(iso) {
  const date = parseDate(iso);
  if (!date) return "";
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (seconds < 45) return "now";
  if (seconds < 3600) return Math.max(1, Math.round(seconds / 60)) + "m";
  if (seconds < 86400) return Math.round(seconds / 3600) + "h";
  if (seconds < 7 * 86400) return Math.round(seconds / 86400) + "d";
  return date.getFullYear() === new Date().getFullYear() ? dateFmt.format(date) : dateYearFmt.format(date);
}

export function timeEl(iso, text) {
  const date = parseDate(iso);
  return h("time", { datetime: iso || null, title: date ? fullFmt.format(date) : null }, text);
}

export function dayLabel(date) {
  const today = new Date();
  const start = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const diff = Math.round((start(today) - start(date)) / 86400000);
  if (diff === 0) return "Today";
  if (diff === 1) return "Yesterday";
  return dayFmt.format(date);
}

export function humanSize(bytes) {
  if (!(bytes >= 0)) return "";
  if (bytes < 1024) return bytes + " B";
  if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(bytes < 10240 ? 1 : 0) + " KB";
  return (bytes / 1024 / 1024).toFixed(1) + " MB";
}

export function shortCount(n) {
  if (n == null) return "";
  return n > 999 ? Math.floor(n / 1000) + "k+" : String(n);
}

export function joinNames(names) {
  if (names.length <= 1) return names.join("");
  return names.slice(0, -1).join(", ") + " and " + names[names.length - 1];
}

// ---------------------------------------------------------------- telling the agent
export function toast(message, kind) {
  const node = h("div", { class: "toast" + (kind === "error" ? " toast-error" : "") }, message);
  $("toasts").append(node);
  setTimeout(() => node.remove(), kind === "error" ? 6000 : 3000);
}

export function announce(message) {
  const region = $("announcer");
  region.textContent = "";
  // A fresh text node after a tick makes screen readers announce repeats too.
  setTimeout(() => { region.textContent = message; }, 50);
}
