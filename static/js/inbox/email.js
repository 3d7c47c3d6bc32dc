// How an email message reads in the thread: the new part first (quoted history and
// signature behind "Show quoted text"), HTML in a sandboxed frame whose Content-Security-
// Policy keeps remote images (trackers) out until the agent asks for them, the CC line,
// auto-reply and bounce flags, and a link to the original .eml.
import { h, safeUrl } from "./dom.js";

const REMOTE_IMAGE = /<img\b[^>]*\bsrc\s*=\s*["']?https?:/i;

function frameDocument(html, attachments, remoteImages) {
  const byCid = new Map((attachments || []).filter((a) => a.content_id).map((a) => [a.content_id, safeUrl(a.url)]));
  // Inline images (cid:) point at their attachment; the sanitiser already dropped anything
  // that is not http(s), mailto, tel or cid.
  const body = html.replace(/(\bsrc\s*=\s*["'])cid:([^"']+)(["'])/gi, (all, start, id, end) => {
    let decoded = id;
    try { decoded = decodeURIComponent(id); } catch (error) { /* a malformed escape: keep it */ }
    const url = byCid.get(id) || byCid.get(decoded);
    return url ? start + url + end : all;
  });
  // Images from our attachment downloads only (not any URL of the app: customer HTML must not
  // make signed-in requests), plus remote ones when the agent asks.
  const own = location.origin + "/api/v1/attachments/";
  const csp = "default-src 'none'; style-src 'unsafe-inline'; font-src 'none'; img-src " + own + " data:" + (remoteImages ? " https: http:" : "");
  return "<!doctype html><html><head><meta charset=\"utf-8\">" +
    "<meta http-equiv=\"Content-Security-Policy\" content=\"" + csp + "\">" +
    "<base target=\"_blank\"><meta name=\"referrer\" content=\"no-referrer\">" +
    "<style>body{margin:0;font:14px/1.5 system-ui,sans-serif;color:#1f2937;overflow-wrap:anywhere}img{max-width:100%;height:auto}table{max-width:100%}</style>" +
    "</head><body>" + body + "</body></html>";
}

function htmlFrame(html, attachments, remoteImages) {
  // No allow-scripts: nothing in it can run. allow-same-origin only so that our own
  // attachment URLs load and the frame can be sized to its content.
  const frame = h("iframe", {
    class: "email-frame",
    title: "Email content",
    sandbox: "allow-same-origin allow-popups allow-popups-to-escape-sandbox",
    referrerpolicy: "no-referrer",
  });
  frame.srcdoc = frameDocument(html, attachments, remoteImages);
  frame.addEventListener("load", () => {
    const doc = frame.contentDocument;
    if (doc && doc.documentElement) frame.style.height = Math.min(doc.documentElement.scrollHeight + 2, 4000) + "px";
  });
  return frame;
}

export function isEmail(m) {
  return Boolean(m.data && m.data.email);
}

export function emailBody(m) {
  const mail = m.data.email;
  const hasQuote = Boolean(mail.new_text || mail.new_html);
  const view = { full: false, remoteImages: false };
  const content = h("div", { class: "email-content" });
  const tools = h("div", { class: "email-tools" });

  function render() {
    const html = view.full ? m.html : mail.new_html || m.html;
    if (m.html) {
      content.replaceChildren(htmlFrame(html, m.attachments, view.remoteImages));
    } else {
      const text = view.full ? m.text : mail.new_text || m.text;
      content.replaceChildren(h("div", { class: "email-text" }, text || "(empty message)"));
    }
    const buttons = [];
    if (hasQuote) {
      buttons.push(h("button", { type: "button", class: "link-btn", "aria-expanded": String(view.full), onclick: () => { view.full = !view.full; render(); } },
        view.full ? "Hide quoted text" : "Show quoted text"));
    }
    if (m.html && !view.remoteImages && REMOTE_IMAGE.test(html)) {
      buttons.push(h("button", { type: "button", class: "link-btn", onclick: () => { view.remoteImages = true; render(); } }, "Load remote images"));
    }
    buttons.push(h("a", { class: "link-btn", href: "/api/v1/messages/" + m.id + "/raw", download: "" }, "Original email"));
    tools.replaceChildren(...buttons);
  }
  render();
  const flags = [];
  if (mail.automated === "bounce") flags.push(h("p", { class: "email-flag" }, "Delivery failure report" + (mail.bounce_reason ? ": " + mail.bounce_reason : "")));
  else if (mail.automated) flags.push(h("p", { class: "email-flag" }, "Automatic reply: it does not reopen the conversation"));
  const cc = (mail.cc || []).length ? h("p", { class: "email-meta" }, "Cc: " + mail.cc.join(", ")) : null;
  return [...flags, cc, content, tools];
}
