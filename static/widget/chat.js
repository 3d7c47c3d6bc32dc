/*
 * Parley website chat widget: the chat window.
 *
 * Loaded by loader.js (into the widget's shadow root) on first open, or at once when there is an
 * ongoing conversation or an unread message. It registers itself with window.Parley.__parley and
 * gets the loader's "core": config, visitor token, HTTP helper, unread counter and event emitter.
 * Server and visitor data is only ever put into the page with textContent / attributes.
 */
(function () {
  "use strict";
  var P = window.Parley;
  if (!P || !P.__parley) return;

  /* All interface text. {name} placeholders are filled by tr(). German uses "Sie", Spanish "tú". */
  var STRINGS = {
    en: {
      dialog: "Chat with {name}", close: "Close chat", greeting: "Hi! How can we help?",
      reply: "We typically reply {when}", r_minutes: "in a few minutes", r_hour: "within an hour",
      r_hours: "within a few hours", r_day: "within a day", r_unknown: "We'll get back to you as soon as we can",
      away: "We're away right now.", back_today: "We'll be back today at {time}.",
      back_tomorrow: "We'll be back tomorrow at {time}.", back_day: "We'll be back on {day} at {time}.",
      back_date: "We'll be back on {date}.",
      placeholder: "Write a message…", send: "Send", attach: "Attach a file", remove_file: "Remove attachment",
      typing: "{name} is typing…", someone: "Someone", you: "You", bot: "Bot", messages: "Messages",
      st_sending: "Sending…", st_sent: "Sent", st_delivered: "Delivered", st_read: "Read", st_failed: "Not delivered",
      prechat: "Before we start, tell us how to reach you.", name: "Name", email: "Email", optional: "optional",
      err_name: "Please enter your name.", err_email: "Please enter your email address.",
      err_email_bad: "Please enter a valid email address.",
      consent_pre: "By chatting you agree to our ", consent_link: "privacy policy", consent_post: ".",
      away_ask: "We're away. Leave your email and we'll reply there.", away_save: "Notify me",
      away_saved: "Thanks! We'll reply to {email}.",
      rate_q: "How would you rate this conversation?", rate_n: "{n} out of 5",
      rate_comment: "Anything to add? (optional)", rate_send: "Send feedback", rate_thanks: "Thanks for your feedback!",
      resolved: "This conversation has been resolved.",
      err_size: "{file} is too large. The limit is {max}.", err_type: "{file} can't be sent. Allowed: {types}.",
      err_network: "Couldn't send. Check your connection and try again.",
      err_generic: "Something went wrong. Please try again.",
      reconnecting: "Reconnecting…", unavailable: "The chat is unavailable right now.",
      load_earlier: "Load earlier messages", new_msg: "New message", sent_file: "sent a file", dismiss: "Dismiss"
    },
    fr: {
      dialog: "Discuter avec {name}", close: "Fermer la discussion", greeting: "Bonjour ! Comment pouvons-nous vous aider ?",
      reply: "Nous répondons généralement {when}", r_minutes: "en quelques minutes", r_hour: "en moins d'une heure",
      r_hours: "en quelques heures", r_day: "dans la journée", r_unknown: "Nous vous répondrons dès que possible",
      away: "Nous sommes absents pour le moment.", back_today: "De retour aujourd'hui à {time}.",
      back_tomorrow: "De retour demain à {time}.", back_day: "De retour {day} à {time}.",
      back_date: "De retour le {date}.",
      placeholder: "Écrivez un message…", send: "Envoyer", attach: "Joindre un fichier", remove_file: "Retirer la pièce jointe",
      typing: "{name} est en train d'écrire…", someone: "Quelqu'un", you: "Vous", bot: "Bot", messages: "Messages",
      st_sending: "Envoi…", st_sent: "Envoyé", st_delivered: "Distribué", st_read: "Lu", st_failed: "Non distribué",
      prechat: "Avant de commencer, dites-nous comment vous joindre.", name: "Nom", email: "E-mail", optional: "facultatif",
      err_name: "Veuillez indiquer votre nom.", err_email: "Veuillez indiquer votre adresse e-mail.",
      err_email_bad: "Veuillez saisir une adresse e-mail valide.",
      consent_pre: "En discutant avec nous, vous acceptez notre ", consent_link: "politique de confidentialité", consent_post: ".",
      away_ask: "Nous sommes absents. Laissez votre e-mail et nous vous répondrons par ce biais.", away_save: "Me prévenir",
      away_saved: "Merci ! Nous répondrons à {email}.",
      rate_q: "Comment évaluez-vous cette conversation ?", rate_n: "{n} sur 5",
      rate_comment: "Un commentaire ? (facultatif)", rate_send: "Envoyer l'avis", rate_thanks: "Merci pour votre avis !",
      resolved: "Cette conversation est résolue.",
      err_size: "{file} est trop volumineux. La limite est de {max}.",
      err_type: "{file} ne peut pas être envoyé. Formats acceptés : {types}.",
      err_network: "Envoi impossible. Vérifiez votre connexion et réessayez.",
      err_generic: "Une erreur s'est produite. Veuillez réessayer.",
      reconnecting: "Reconnexion…", unavailable: "Le chat est indisponible pour le moment.",
      load_earlier: "Afficher les messages précédents", new_msg: "Nouveau message", sent_file: "a envoyé un fichier",
      dismiss: "Fermer"
    },
    es: {
      dialog: "Chatear con {name}", close: "Cerrar el chat", greeting: "¡Hola! ¿En qué podemos ayudarte?",
      reply: "Normalmente respondemos {when}", r_minutes: "en unos minutos", r_hour: "en menos de una hora",
      r_hours: "en unas horas", r_day: "en un día", r_unknown: "Te responderemos lo antes posible",
      away: "Ahora mismo no estamos disponibles.", back_today: "Volvemos hoy a las {time}.",
      back_tomorrow: "Volvemos mañana a las {time}.", back_day: "Volvemos el {day} a las {time}.",
      back_date: "Volvemos el {date}.",
      placeholder: "Escribe un mensaje…", send: "Enviar", attach: "Adjuntar un archivo", remove_file: "Quitar el archivo adjunto",
      typing: "{name} está escribiendo…", someone: "Alguien", you: "Tú", bot: "Bot", messages: "Mensajes",
      st_sending: "Enviando…", st_sent: "Enviado", st_delivered: "Entregado", st_read: "Leído", st_failed: "No entregado",
      prechat: "Antes de empezar, dinos cómo contactarte.", name: "Nombre", email: "Correo electrónico", optional: "opcional",
      err_name: "Escribe tu nombre.", err_email: "Escribe tu correo electrónico.",
      err_email_bad: "Introduce un correo electrónico válido.",
      consent_pre: "Al chatear aceptas nuestra ", consent_link: "política de privacidad", consent_post: ".",
      away_ask: "No estamos disponibles. Déjanos tu correo y te responderemos allí.", away_save: "Avisarme",
      away_saved: "¡Gracias! Te responderemos a {email}.",
      rate_q: "¿Cómo valorarías esta conversación?", rate_n: "{n} de 5",
      rate_comment: "¿Algo que añadir? (opcional)", rate_send: "Enviar valoración", rate_thanks: "¡Gracias por tu valoración!",
      resolved: "Esta conversación se ha resuelto.",
      err_size: "{file} es demasiado grande. El límite es {max}.", err_type: "No se puede enviar {file}. Se admiten: {types}.",
      err_network: "No se pudo enviar. Comprueba tu conexión e inténtalo de nuevo.",
      err_generic: "Algo ha fallado. Inténtalo de nuevo.",
      reconnecting: "Reconectando…", unavailable: "El chat no está disponible en este momento.",
      load_earlier: "Cargar mensajes anteriores", new_msg: "Nuevo mensaje", sent_file: "ha enviado un archivo",
      dismiss: "Cerrar"
    },
    de: {
      dialog: "Chat mit {name}", close: "Chat schließen", greeting: "Hallo! Wie können wir Ihnen helfen?",
      reply: "Wir antworten in der Regel {when}", r_minutes: "in wenigen Minuten", r_hour: "innerhalb einer Stunde",
      r_hours: "innerhalb weniger Stunden", r_day: "innerhalb eines Tages", r_unknown: "Wir melden uns so bald wie möglich",
      away: "Wir sind gerade nicht erreichbar.", back_today: "Wir sind heute um {time} wieder da.",
      back_tomorrow: "Wir sind morgen um {time} wieder da.", back_day: "Wir sind am {day} um {time} wieder da.",
      back_date: "Wir sind am {date} wieder da.",
      placeholder: "Nachricht schreiben…", send: "Senden", attach: "Datei anhängen", remove_file: "Anhang entfernen",
      typing: "{name} schreibt…", someone: "Jemand", you: "Sie", bot: "Bot", messages: "Nachrichten",
      st_sending: "Wird gesendet…", st_sent: "Gesendet", st_delivered: "Zugestellt", st_read: "Gelesen",
      st_failed: "Nicht zugestellt",
      prechat: "Bevor es losgeht: Wie können wir Sie erreichen?", name: "Name", email: "E-Mail", optional: "optional",
      err_name: "Bitte geben Sie Ihren Namen ein.", err_email: "Bitte geben Sie Ihre E-Mail-Adresse ein.",
      err_email_bad: "Bitte geben Sie eine gültige E-Mail-Adresse ein.",
      consent_pre: "Mit dem Chat stimmen Sie unserer ", consent_link: "Datenschutzerklärung", consent_post: " zu.",
      away_ask: "Wir sind gerade nicht da. Hinterlassen Sie Ihre E-Mail-Adresse, dann antworten wir dort.",
      away_save: "Benachrichtigen", away_saved: "Danke! Wir antworten an {email}.",
      rate_q: "Wie bewerten Sie dieses Gespräch?", rate_n: "{n} von 5",
      rate_comment: "Möchten Sie etwas hinzufügen? (optional)", rate_send: "Feedback senden",
      rate_thanks: "Danke für Ihr Feedback!", resolved: "Dieses Gespräch wurde abgeschlossen.",
      err_size: "{file} ist zu groß. Das Limit liegt bei {max}.",
      err_type: "{file} kann nicht gesendet werden. Erlaubt: {types}.",
      err_network: "Senden fehlgeschlagen. Bitte prüfen Sie Ihre Verbindung und versuchen Sie es erneut.",
      err_generic: "Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut.",
      reconnecting: "Verbindung wird wiederhergestellt…", unavailable: "Der Chat ist derzeit nicht verfügbar.",
      load_earlier: "Ältere Nachrichten laden", new_msg: "Neue Nachricht", sent_file: "hat eine Datei gesendet",
      dismiss: "Schließen"
    }
  };

  var ICONS = {
    chevron: "M6 9l6 6 6-6",
    close: "M6 6l12 12|M18 6L6 18",
    clip: "M20.5 11.2l-8.3 8.3a5 5 0 0 1-7.1-7.1l8.3-8.3a3.3 3.3 0 0 1 4.7 4.7l-8.3 8.3a1.7 1.7 0 0 1-2.4-2.4l7.6-7.6",
    send: "M4.5 12h14|M12.5 5.5l6.5 6.5-6.5 6.5",
    check: "M5 12.5l4.5 4.5L19.5 7",
    checks: "M2.5 12.5L7 17l10-10|M12 16.5l.5.5 10-10",
    clock: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z|M12 7.5V12l3 2",
    alert: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z|M12 7.5v5.5|M12 16.5v.01",
    file: "M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z|M14 3v5h5",
    star: "M12 3.5l2.6 5.3 5.9.9-4.3 4.1 1 5.8L12 16.9l-5.2 2.7 1-5.8-4.3-4.1 5.9-.9z"
  };

  P.__parley(function (core) { return createChat(core); });

  function createChat(core) {
    var D = document, W = window;
    var cfg = core.cfg;
    var lang = core.lang;
    var T = STRINGS[lang] || STRINGS.en;
    var inboxName = (cfg.inbox && cfg.inbox.name) || "Chat";
    var attachCfg = cfg.attachments || {};
    var types = attachCfg.types || [];

    function tr(key, params) {
      var s = T[key] != null ? T[key] : STRINGS.en[key];
      if (s == null) return "";
      return s.replace(/\{(\w+)\}/g, function (m, k) { return params && params[k] != null ? params[k] : m; });
    }

    /* ---------- tiny DOM helpers ---------- */
    function h(tag, props, kids) {
      var node = D.createElement(tag);
      if (props) Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v == null || v === false) return;
        if (k === "class") node.className = v;
        else if (k === "text") node.textContent = v;
        else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? "" : v);
      });
      (kids || []).forEach(function (c) {
        if (c != null) node.appendChild(typeof c === "string" ? D.createTextNode(c) : c);
      });
      return node;
    }
    var SVG = "http://www.w3.org/2000/svg";
    function icon(name, cls) {
      var svg = D.createElementNS(SVG, "svg");
      svg.setAttribute("viewBox", "0 0 24 24");
      svg.setAttribute("aria-hidden", "true");
      svg.setAttribute("focusable", "false");
      svg.setAttribute("class", "pw-icon" + (cls ? " " + cls : ""));
      ICONS[name].split("|").forEach(function (d) {
        var p = D.createElementNS(SVG, "path");
        p.setAttribute("d", d);
        svg.appendChild(p);
      });
      return svg;
    }
    function safeUrl(u) {
      try {
        var x = new URL(u, core.host);
        return /^https?:$/.test(x.protocol) ? x.href : null;
      } catch (e) { return null; }
    }
    function initials(name) {
      return String(name || "?").trim().split(/\s+/).slice(0, 2).map(function (w) {
        return Array.from(w)[0] || "";
      }).join("").toUpperCase() || "?";
    }
    function hue(name) {
      var n = 0;
      for (var i = 0; i < name.length; i++) n = (n * 31 + name.charCodeAt(i)) % 360;
      return n;
    }
    function avatar(person, cls) {
      var name = (person && person.name) || inboxName;
      var url = person && person.avatar_url && safeUrl(person.avatar_url);
      var a = h("span", { class: "pw-avatar " + (cls || ""), title: name });
      var fallback = function () {
        a.textContent = initials(name);
        a.style.background = "hsl(" + hue(name) + ",42%,34%)";
      };
      if (url) {
        var img = h("img", { src: url, alt: "", loading: "lazy", referrerpolicy: "no-referrer" });
        img.addEventListener("error", function () { img.remove(); fallback(); });
        a.appendChild(img);
      } else fallback();
      return a;
    }

    var fmtCache = {};
    function fmt(date, opts) {
      var key = JSON.stringify(opts);
      if (!fmtCache[key]) fmtCache[key] = new Intl.DateTimeFormat(lang, opts);
      return fmtCache[key].format(date);
    }
    var TIME = { hour: "numeric", minute: "2-digit" };
    function dayStart(d) { return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime(); }
    function shortTime(iso) {
      var d = new Date(iso);
      if (isNaN(d)) return "";
      if (dayStart(d) === dayStart(new Date())) return fmt(d, TIME);
      return fmt(d, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
    }
    function fullTime(iso) {
      var d = new Date(iso);
      return isNaN(d) ? "" : fmt(d, { dateStyle: "medium", timeStyle: "short" });
    }
    function fmtSize(bytes) {
      var mb = bytes >= 1048576;
      try {
        return new Intl.NumberFormat(lang, { style: "unit", unit: mb ? "megabyte" : "kilobyte", maximumFractionDigits: mb ? 1 : 0 })
          .format(mb ? bytes / 1048576 : Math.max(1, bytes / 1024));
      } catch (e) { return Math.round(bytes / 1024) + " KB"; }
    }
    function typesLabel() {
      var NAMES = { "image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WebP", "application/pdf": "PDF" };
      return types.map(function (t) { return NAMES[t] || t.split("/").pop().toUpperCase(); }).join(", ");
    }
    function replyText() {
      var s = cfg.reply_seconds;
      if (s == null) return tr("r_unknown");
      return tr("reply", { when: tr(s <= 900 ? "r_minutes" : s <= 3600 ? "r_hour" : s <= 6 * 3600 ? "r_hours" : "r_day") });
    }
    function backText(iso) {
      var d = iso && new Date(iso);
      if (!d || isNaN(d)) return "";
      var days = Math.round((dayStart(d) - dayStart(new Date())) / 864e5);
      var time = fmt(d, TIME);
      if (days <= 0) return tr("back_today", { time: time });
      if (days === 1) return tr("back_tomorrow", { time: time });
      if (days < 7) return tr("back_day", { day: fmt(d, { weekday: "long" }), time: time });
      return tr("back_date", { date: fmt(d, { day: "numeric", month: "long" }) });
    }
    function linkify(text) {
      var out = [];
      String(text).split(/(https?:\/\/[^\s<>"]+)/).forEach(function (part, i) {
        if (!part) return;
        if (i % 2 === 0) { out.push(part); return; }
        var trail = (part.match(/[.,;:!?)\]'"]+$/) || [""])[0];
        var url = part.slice(0, part.length - trail.length);
        var href = safeUrl(url);
        out.push(href ? h("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow", text: url }) : url);
        if (trail) out.push(trail);
      });
      return out;
    }

    /* ---------- state ---------- */
    var msgs = new Map();      // String(id) -> message (server messages and optimistic "tmp" ones)
    var nodes = new Map();     // String(id) -> <li>
    var tmpSeq = 0;
    var loaded = false, loading = null, hasMore = false;
    var visitor = core.state.visitor || {};
    var conversation = core.state.conversation;
    var available = cfg.available !== false;
    var isOpen = false;
    var sentFirst = false;
    var ratingScore = 0, ratingThanks = false, awaySaved = "";
    var lastReadPosted = null;
    var sendBlockedUntil = 0, blockedDetail = "";
    var pendingFile = null;
    var sendChain = Promise.resolve();

    /* ---------- the window ---------- */
    var agentsEl = h("div", { class: "pw-agents" });
    var namesEl = h("p", { class: "pw-names" });
    var statusText = h("span");
    var statusEl = h("p", { class: "pw-status" }, [h("span", { class: "pw-dot", "aria-hidden": "true" }), statusText]);
    var closeBtn = h("button", {
      class: "pw-icon-btn pw-close", type: "button", "aria-label": tr("close"),
      onclick: function () { close(true); }
    }, [icon("chevron", "pw-i-chev"), icon("close", "pw-i-x")]);
    var header = h("header", { class: "pw-header" }, [
      h("div", { class: "pw-head-row" }, [
        agentsEl,
        h("div", { class: "pw-heading" }, [h("h2", { class: "pw-title", text: inboxName }), namesEl]),
        closeBtn
      ]),
      statusEl
    ]);
    var banner = h("div", { class: "pw-banner", role: "status", hidden: true });

    var moreBtn = h("button", { class: "pw-more", type: "button", hidden: true, text: tr("load_earlier"), onclick: loadEarlier });
    var greeting = h("div", { class: "pw-msg pw-agent pw-first pw-last pw-greeting" }, [
      avatar(null, "pw-avatar-sm"),
      h("div", { class: "pw-body" }, [
        h("div", { class: "pw-author", text: inboxName }),
        h("div", { class: "pw-bubble" }, linkify((cfg.look && cfg.look.greeting) || tr("greeting")))
      ])
    ]);
    var list = h("ol", { class: "pw-list", "aria-label": tr("messages") });
    var typingText = h("span", { class: "pw-typing-text" });
    var typingEl = h("div", { class: "pw-typing", hidden: true }, [
      h("span", { class: "pw-dots", "aria-hidden": "true" }, [h("i"), h("i"), h("i")]), typingText
    ]);

    // pre-chat card
    function field(key, type, autocomplete) {
      var id = "pw-f-" + key;
      var input = h("input", { id: id, type: type, autocomplete: autocomplete, class: "pw-input", "aria-describedby": id + "-err" });
      var opt = h("span", { class: "pw-optional", text: " (" + tr("optional") + ")" });
      var err = h("p", { class: "pw-field-error", id: id + "-err", hidden: true });
      var wrap = h("div", { class: "pw-field" }, [h("label", { for: id }, [tr(key), opt]), input, err]);
      input.addEventListener("input", function () { err.hidden = true; input.removeAttribute("aria-invalid"); });
      return { wrap: wrap, input: input, opt: opt, err: err, key: key };
    }
    var fName = field("name", "text", "name");
    var fEmail = field("email", "email", "email");
    var prechatCard = h("div", { class: "pw-card pw-prechat", hidden: true }, [
      h("p", { class: "pw-card-title", text: tr("prechat") }), fName.wrap, fEmail.wrap
    ]);

    // away: leave an email
    var awayInput = h("input", { id: "pw-away-email", type: "email", autocomplete: "email", class: "pw-input", required: true, "aria-label": tr("email") });
    var awayErr = h("p", { class: "pw-field-error", hidden: true });
    var awayForm = h("form", { class: "pw-inline-form", novalidate: true, onsubmit: saveEmail }, [
      awayInput, h("button", { class: "pw-btn", type: "submit", text: tr("away_save") })
    ]);
    var awayDone = h("p", { class: "pw-card-done", hidden: true });
    var awayCard = h("div", { class: "pw-card pw-away", hidden: true }, [
      h("label", { class: "pw-card-title", for: "pw-away-email", text: tr("away_ask") }), awayForm, awayErr, awayDone
    ]);

    // satisfaction
    var stars = [1, 2, 3, 4, 5].map(function (n) {
      return h("button", {
        class: "pw-star", type: "button", "aria-label": tr("rate_n", { n: n }), "aria-pressed": "false",
        onclick: function () {
          ratingScore = n;
          paintStars(n);
          rateExtra.hidden = false;
          rateComment.focus();
          rateExtra.scrollIntoView({ block: "nearest" });
        },
        onmouseenter: function () { paintStars(n); },
        onfocus: function () { paintStars(Math.max(n, ratingScore)); }
      }, [icon("star")]);
    });
    var starRow = h("div", { class: "pw-stars", role: "group", "aria-labelledby": "pw-rate-q", onmouseleave: function () { paintStars(ratingScore); } }, stars);
    var rateComment = h("textarea", { class: "pw-input pw-rate-comment", rows: "2", "aria-label": tr("rate_comment"), placeholder: tr("rate_comment") });
    var rateErr = h("p", { class: "pw-field-error", hidden: true });
    var rateExtra = h("div", { class: "pw-rate-extra", hidden: true }, [
      rateComment, h("button", { class: "pw-btn", type: "button", text: tr("rate_send"), onclick: sendRating })
    ]);
    var rateDone = h("p", { class: "pw-card-done", hidden: true, text: tr("rate_thanks") });
    var rateAsk = h("div", {}, [h("p", { class: "pw-card-title", id: "pw-rate-q", text: tr("rate_q") }), starRow, rateExtra, rateErr]);
    var resolvedNote = h("p", { class: "pw-system", hidden: true, text: tr("resolved") });
    var rateCard = h("div", { class: "pw-card pw-rating", hidden: true }, [rateAsk, rateDone]);
    function paintStars(n) {
      stars.forEach(function (s, i) {
        s.classList.toggle("pw-on", i < n);
        s.setAttribute("aria-pressed", String(i + 1 === ratingScore));
      });
    }

    var scroller = h("div", { class: "pw-scroll" }, [
      moreBtn, greeting, list, typingEl, resolvedNote, prechatCard, awayCard, rateCard
    ]);

    // composer
    var errorEl = h("p", { class: "pw-error", role: "alert", hidden: true });
    var fileName = h("span", { class: "pw-chip-name" });
    var fileChip = h("div", { class: "pw-chip", hidden: true }, [
      icon("file"), fileName,
      h("button", { class: "pw-icon-btn pw-chip-x", type: "button", "aria-label": tr("remove_file"), onclick: function () { setFile(null); ta.focus(); } }, [icon("close")])
    ]);
    var fileInput = h("input", { type: "file", class: "pw-file", accept: types.join(","), tabindex: "-1", "aria-hidden": "true" });
    fileInput.addEventListener("change", function () {
      if (fileInput.files[0]) pickFile(fileInput.files[0]);
      fileInput.value = "";
    });
    var attachBtn = types.length ? h("button", {
      class: "pw-icon-btn pw-attach", type: "button", "aria-label": tr("attach"), title: tr("attach"),
      onclick: function () { fileInput.click(); }
    }, [icon("clip")]) : null;
    var ta = h("textarea", { class: "pw-textarea", rows: "1", placeholder: tr("placeholder"), "aria-label": tr("placeholder") });
    var sendBtn = h("button", { class: "pw-send", type: "submit", "aria-label": tr("send"), title: tr("send") }, [icon("send")]);
    var privacy = cfg.privacy_url && safeUrl(cfg.privacy_url);
    var consent = privacy ? h("p", { class: "pw-consent" }, [
      tr("consent_pre"), h("a", { href: privacy, target: "_blank", rel: "noopener noreferrer", text: tr("consent_link") }), tr("consent_post")
    ]) : null;
    var form = h("form", { class: "pw-composer", novalidate: true, onsubmit: function (e) { e.preventDefault(); send(); } }, [
      errorEl, fileChip,
      h("div", { class: "pw-row" }, [attachBtn, fileInput, ta, sendBtn]),
      consent
    ]);

    var win = h("section", {
      class: "pw-window", role: "dialog", "aria-label": tr("dialog", { name: inboxName }), hidden: true, tabindex: "-1", id: "pw-window"
    }, [header, banner, scroller, form]);
    var live = h("div", { class: "pw-sr", "aria-live": "polite" });

    var previewText = h("span", { class: "pw-preview-text" });
    var previewAuthor = h("span", { class: "pw-preview-author" });
    var preview = h("div", { class: "pw-preview", hidden: true }, [
      h("button", { class: "pw-preview-open", type: "button", onclick: function () { open({}); } }, [previewAuthor, previewText]),
      h("button", { class: "pw-icon-btn pw-preview-x", type: "button", "aria-label": tr("dismiss"), onclick: hidePreview }, [icon("close")])
    ]);

    core.wrap.insertBefore(win, core.launcher);
    core.wrap.insertBefore(preview, core.launcher);
    core.wrap.appendChild(live);
    core.launcher.setAttribute("aria-controls", "pw-window");

    /* ---------- header ---------- */
    function renderHeader() {
      var agents = (cfg.agents || []).filter(function (a) { return a && a.name; });
      agentsEl.textContent = "";
      (agents.length ? agents.slice(0, 3) : [null]).forEach(function (a) { agentsEl.appendChild(avatar(a, "pw-avatar-md")); });
      var names = agents.slice(0, 3).map(function (a) { return a.name; });
      if (agents.length > 3) names.push("+" + (agents.length - 3));
      try { namesEl.textContent = names.length ? new Intl.ListFormat(lang, { type: "conjunction" }).format(names) : ""; }
      catch (e) { namesEl.textContent = names.join(", "); }
      namesEl.hidden = !names.length;
      statusEl.classList.toggle("pw-away", !available);
      statusText.textContent = available ? replyText() : (tr("away") + " " + backText(cfg.next_open)).trim();
    }

    /* ---------- messages ---------- */
    function key(m) { return String(m.id); }
    function when(m) { return Date.parse(m.created_at) || 0; }
    function ordered() {
      return Array.from(msgs.values()).sort(function (a, b) {
        return (a._tmp ? 1 : 0) - (b._tmp ? 1 : 0) || when(a) - when(b) ||
          (Number(a.id) - Number(b.id)) || String(a.id).localeCompare(String(b.id));
      });
    }
    function authorName(m) {
      if (m.from === "visitor") return tr("you");
      return (m.author && m.author.name) || (m.from === "bot" ? tr("bot") : inboxName);
    }
    function sameGroup(a, b) {
      return a.from === b.from && authorName(a) === authorName(b) && Math.abs(when(b) - when(a)) < 5 * 60000 &&
        a.status !== "failed";
    }
    function signature(m) {
      return JSON.stringify([m.text, m.status, m.attachments, m.author, m.created_at, m._tmp, m.from]);
    }
    function ticks(m) {
      var ICON = { sending: "clock", sent: "check", delivered: "checks", read: "checks", failed: "alert" };
      var st = m._tmp ? "sending" : ICON[m.status] ? m.status : "sent";
      var name = ICON[st];
      var label = tr("st_" + st);
      return h("span", { class: "pw-ticks pw-st-" + st, title: label }, [
        icon(name), h("span", { class: st === "failed" ? "pw-fail-text" : "pw-sr", text: label })
      ]);
    }
    function attachmentNode(a) {
      var url = a.url && (a.url.indexOf("blob:") === 0 ? a.url : safeUrl(a.url));
      var name = a.filename || "file";
      if (url && /^image\//.test(a.content_type || "")) {
        var img = h("img", { src: url, alt: name, loading: "lazy" });
        img.addEventListener("load", function () { if (stick) scrollToBottom(); });
        return h("a", { class: "pw-att-img", href: url, target: "_blank", rel: "noopener noreferrer" }, [img]);
      }
      return h(url ? "a" : "span", { class: "pw-att-file", href: url, target: url ? "_blank" : null, rel: url ? "noopener noreferrer" : null }, [
        icon("file"),
        h("span", { class: "pw-att-meta" }, [
          h("span", { class: "pw-att-name", text: name }),
          a.size ? h("span", { class: "pw-att-size", text: fmtSize(a.size) }) : null
        ])
      ]);
    }
    function buildMessage(m) {
      var from = m.from === "visitor" ? "visitor" : m.from === "bot" ? "bot" : "agent";
      var li = h("li", { class: "pw-msg pw-" + from + (m.status === "failed" ? " pw-failed" : "") + (m._tmp ? " pw-pending" : "") });
      var body = h("div", { class: "pw-body" });
      if (from !== "visitor") {
        li.appendChild(avatar(m.author || (from === "bot" ? { name: tr("bot") } : null), "pw-avatar-sm"));
        body.appendChild(h("div", { class: "pw-author" }, [
          authorName(m), from === "bot" ? h("span", { class: "pw-tag", text: tr("bot") }) : null
        ]));
      } else {
        body.appendChild(h("span", { class: "pw-sr", text: tr("you") + ": " }));
      }
      var atts = (m.attachments || []).map(attachmentNode);
      if (m.text) body.appendChild(h("div", { class: "pw-bubble", title: fullTime(m.created_at) }, linkify(m.text)));
      if (atts.length) body.appendChild(h("div", { class: "pw-atts" }, atts));
      body.appendChild(h("div", { class: "pw-meta" }, [
        h("time", { datetime: m.created_at, title: fullTime(m.created_at), text: m._tmp ? "" : shortTime(m.created_at) }),
        from === "visitor" ? ticks(m) : null
      ]));
      li.appendChild(body);
      return li;
    }
    var stick = true; // keep the view pinned to the newest message while the visitor is at the bottom
    function render() {
      var all = ordered();
      var anchor = null;
      all.forEach(function (m, i) {
        var k = key(m), node = nodes.get(k), sig = signature(m);
        if (!node || node._sig !== sig) {
          var fresh = buildMessage(m);
          fresh._sig = sig;
          if (node && node.parentNode) node.parentNode.replaceChild(fresh, node);
          node = fresh;
          nodes.set(k, node);
        }
        node.classList.toggle("pw-first", !i || !sameGroup(all[i - 1], m));
        node.classList.toggle("pw-last", i === all.length - 1 || !sameGroup(m, all[i + 1]));
        var want = anchor ? anchor.nextSibling : list.firstChild;
        if (want !== node) list.insertBefore(node, want);
        anchor = node;
      });
      nodes.forEach(function (node, k) {
        if (!msgs.has(k)) { node.remove(); nodes.delete(k); }
      });
      moreBtn.hidden = !hasMore;
      if (stick) scrollToBottom();
    }
    function scrollToBottom() { scroller.scrollTop = scroller.scrollHeight; }
    scroller.addEventListener("scroll", function () {
      stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
    }, { passive: true });

    function upsert(m) {
      if (!m || m.id == null) return false;
      var k = key(m), had = msgs.has(k);
      msgs.set(k, m);
      if (m.from === "visitor") sentFirst = true;
      return !had;
    }
    function dropTmp(tmp) {
      msgs.delete(tmp.id);
      (tmp.attachments || []).forEach(function (a) { if (a.url && a.url.indexOf("blob:") === 0) URL.revokeObjectURL(a.url); });
    }

    function loadMessages(replace) {
      if (loading) return loading;
      loading = core.session().then(function () {
        return core.request("GET", "messages");
      }).then(function (res) {
        if (replace) msgs.forEach(function (m, k) { if (!m._tmp) msgs.delete(k); });
        ((res && res.results) || []).forEach(upsert);
        hasMore = !!(res && res.has_more);
        loaded = true;
        stick = true;
        render();
        renderCards();
        markRead();
      }).catch(function (err) {
        if (isOpen) showError(err.status ? err.detail || tr("err_generic") : tr("err_network"));
      }).then(function () { loading = null; });
      return loading;
    }
    function loadEarlier() {
      var oldest = ordered().filter(function (m) { return !m._tmp; })[0];
      if (!oldest) return;
      moreBtn.disabled = true;
      core.request("GET", "messages?before=" + encodeURIComponent(oldest.id)).then(function (res) {
        var fromBottom = scroller.scrollHeight - scroller.scrollTop;
        (res.results || []).forEach(upsert);
        hasMore = !!res.has_more;
        stick = false;
        render();
        scroller.scrollTop = scroller.scrollHeight - fromBottom;
        if (!hasMore) (list.querySelector("button, a, textarea") || ta).focus();
      }).catch(function (err) {
        showError(err.detail || tr("err_network"));
      }).then(function () { moreBtn.disabled = false; });
    }

    /* ---------- cards: pre-chat, away email, rating ---------- */
    function prechatFields() {
      var pc = cfg.prechat || {};
      if (sentFirst || conversation) return [];
      return [[fName, pc.name], [fEmail, pc.email]].filter(function (f) {
        return f[1] && f[1] !== "off" && !visitor[f[0].key];
      }).map(function (f) { f[0].required = f[1] === "required"; return f[0]; });
    }
    function renderCards() {
      var fields = prechatFields();
      [fName, fEmail].forEach(function (f) {
        f.wrap.hidden = fields.indexOf(f) < 0;
        f.opt.hidden = !!f.required;
        if (f.required) f.input.setAttribute("aria-required", "true"); else f.input.removeAttribute("aria-required");
      });
      prechatCard.hidden = !fields.length;
      var askEmail = !available && (!visitor.email || awaySaved) && fields.indexOf(fEmail) < 0;
      awayCard.hidden = !askEmail;
      awayForm.hidden = !!awaySaved;
      awayDone.hidden = !awaySaved;
      awayDone.textContent = awaySaved ? tr("away_saved", { email: awaySaved }) : "";
      var resolved = !!(conversation && conversation.status === "resolved");
      resolvedNote.hidden = !resolved;
      rateCard.hidden = !(resolved && cfg.satisfaction && (!conversation.rating || ratingThanks));
      rateAsk.hidden = ratingThanks;
      rateDone.hidden = !ratingThanks;
      if (consent) consent.hidden = !!(conversation || sentFirst);
    }
    function validEmail(v) { return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v); }
    function fieldError(f, text) {
      f.err.textContent = text;
      f.err.hidden = false;
      f.input.setAttribute("aria-invalid", "true");
    }
    function prechatValues() {
      var values = {}, bad = null;
      prechatFields().forEach(function (f) {
        var v = f.input.value.trim();
        if (!v && f.required) fieldError(f, tr(f.key === "name" ? "err_name" : "err_email"));
        else if (v && f.key === "email" && !validEmail(v)) fieldError(f, tr("err_email_bad"));
        else { if (v) values[f.key] = v; return; }
        bad = bad || f;
      });
      if (bad) { bad.input.focus(); return null; }
      return values;
    }
    function saveEmail(e) {
      e.preventDefault();
      var v = awayInput.value.trim();
      if (!validEmail(v)) {
        awayErr.textContent = tr("err_email_bad");
        awayErr.hidden = false;
        awayInput.setAttribute("aria-invalid", "true");
        awayInput.focus();
        return;
      }
      awayErr.hidden = true;
      awayInput.removeAttribute("aria-invalid");
      core.session().then(function () {
        return core.request("POST", "email", { email: v });
      }).then(function (res) {
        visitor = (res && res.visitor) || visitor;
        visitor.email = visitor.email || v;
        awaySaved = v;
        renderCards();
        awayDone.setAttribute("tabindex", "-1");
        awayDone.focus();
      }, function (err) {
        awayErr.textContent = err.detail || (err.status ? tr("err_generic") : tr("err_network"));
        awayErr.hidden = false;
      });
    }
    function sendRating() {
      if (!ratingScore || !conversation) return;
      rateErr.hidden = true;
      core.request("POST", "rating", { score: ratingScore, comment: rateComment.value.trim() }).then(function (res) {
        ratingThanks = true;
        setConversation((res && res.conversation) || Object.assign({}, conversation, { rating: { score: ratingScore } }));
        rateDone.setAttribute("tabindex", "-1");
        rateDone.focus();
      }, function (err) {
        rateErr.textContent = err.detail || (err.status ? tr("err_generic") : tr("err_network"));
        rateErr.hidden = false;
      });
    }
    function setConversation(c) {
      var was = conversation && conversation.status;
      conversation = c;
      if (c && c.status === "resolved" && was !== "resolved") {
        if (!c.rating) { ratingThanks = false; ratingScore = 0; paintStars(0); rateExtra.hidden = true; rateComment.value = ""; }
        announce(tr("resolved") + (cfg.satisfaction && !c.rating ? " " + tr("rate_q") : ""));
        stick = true;
      }
      renderCards();
      if (stick) scrollToBottom();
    }

    /* ---------- composer ---------- */
    function autosize() {
      ta.style.height = "";
      if (ta.value && ta.scrollHeight) ta.style.height = Math.min(ta.scrollHeight + 2, 132) + "px";
    }
    function showError(text) {
      errorEl.textContent = text;
      errorEl.hidden = !text;
    }
    function pickFile(file) {
      if (types.length && types.indexOf(file.type) < 0) return showError(tr("err_type", { file: file.name, types: typesLabel() }));
      if (attachCfg.max_bytes && file.size > attachCfg.max_bytes) {
        return showError(tr("err_size", { file: file.name, max: fmtSize(attachCfg.max_bytes) }));
      }
      showError("");
      setFile(file);
    }
    function setFile(file) {
      pendingFile = file;
      fileChip.hidden = !file;
      fileName.textContent = file ? file.name + " · " + fmtSize(file.size) : "";
    }
    ta.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        send();
      }
    });
    ta.addEventListener("input", function () {
      autosize();
      typingInput();
      if (!errorEl.hidden && Date.now() >= sendBlockedUntil) showError(""); // the visitor is fixing it
    });
    ta.addEventListener("blur", typingStop);
    ta.addEventListener("paste", function (e) {
      var f = e.clipboardData && e.clipboardData.files && e.clipboardData.files[0];
      if (f && types.length) { e.preventDefault(); pickFile(f); }
    });
    win.addEventListener("dragover", function (e) { if (types.length) e.preventDefault(); });
    win.addEventListener("drop", function (e) {
      var f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
      if (f && types.length) { e.preventDefault(); pickFile(f); }
    });

    function send() {
      var text = ta.value.trim(), file = pendingFile;
      if (!text && !file) { ta.focus(); return; }
      if (Date.now() < sendBlockedUntil) { showError(blockedDetail); return; }
      var extra = prechatValues();
      if (!extra) return;
      showError("");
      var tmp = {
        id: "tmp" + (++tmpSeq), _tmp: true, from: "visitor", text: text, status: "sending", created_at: new Date().toISOString(),
        attachments: file ? [{ filename: file.name, content_type: file.type, size: file.size, url: /^image\//.test(file.type) ? URL.createObjectURL(file) : null }] : []
      };
      msgs.set(tmp.id, tmp);
      stick = true;
      render();
      ta.value = "";
      autosize();
      setFile(null);
      typingStop();
      sendChain = sendChain.then(function () {
        return core.session().then(function () {
          var body;
          if (file) {
            body = new FormData();
            body.append("text", text);
            body.append("file", file, file.name);
            Object.keys(extra).forEach(function (k) { body.append(k, extra[k]); });
          } else body = Object.assign({ text: text }, extra);
          return core.request("POST", "messages", body);
        }).then(function (m) {
          dropTmp(tmp);
          upsert(m);
          Object.assign(visitor, extra);
          sentFirst = true;
          if (conversation && conversation.status === "resolved") {
            conversation = Object.assign({}, conversation, { status: "open" });
            ratingThanks = false;
          }
          render();
          renderCards();
          connect();
        }, function (err) {
          dropTmp(tmp);
          render();
          if (!ta.value) { ta.value = text; autosize(); }
          if (file && !pendingFile) setFile(file);
          if (err.status === 429 && err.retryAfter) {
            sendBlockedUntil = Date.now() + err.retryAfter * 1000;
            blockedDetail = err.detail || tr("err_generic");
          }
          showError(err.status ? err.detail || tr("err_generic") : tr("err_network"));
        });
      });
    }

    /* ---------- typing ---------- */
    var typingOut = false, typingSince = 0, typingTimer = null, typingBlockedUntil = 0, typingInTimer = null;
    function typingInput() {
      if (!ta.value.trim()) { typingStop(); return; }
      var now = Date.now();
      if ((!typingOut || now - typingSince > 4000) && now > typingBlockedUntil && frame({ type: "typing", state: "start" })) {
        typingOut = true;
        typingSince = now;
      }
      clearTimeout(typingTimer);
      typingTimer = setTimeout(typingStop, 3000);
    }
    function typingStop() {
      clearTimeout(typingTimer);
      if (typingOut) { typingOut = false; frame({ type: "typing", state: "stop" }); }
    }
    function showTyping(f) {
      clearTimeout(typingInTimer);
      if (f.state !== "start") { typingEl.hidden = true; return; }
      typingText.textContent = tr("typing", { name: (f.author && f.author.name) || tr("someone") });
      typingEl.hidden = false;
      if (stick) scrollToBottom();
      typingInTimer = setTimeout(function () { typingEl.hidden = true; }, 10000); // a lost "stop"
    }

    /* ---------- socket ---------- */
    var ws = null, connected = false, stopped = false, attempt = 0, retryTimer = null, pingTimer = null, deadTimer = null;
    var applied = core.lastEvent();        // resume point: the last event this page has applied
    var seen = new Set();                  // ids applied since the resume point (live frames can arrive out of order)
    var readyHead = null;                  // last_event_id in "ready": events up to it are replays
    var seqNext = {}, seqHeld = {}, gapTimer = null; // per stream (one per conversation)

    function frame(obj) {
      if (!ws || !connected || ws.readyState !== 1) return false;
      ws.send(JSON.stringify(obj));
      return true;
    }
    function connect() {
      if (ws || stopped || !core.state.token) return;
      clearTimeout(retryTimer);
      var sock;
      try {
        sock = ws = new WebSocket(core.host.replace(/^http/, "ws") + "/ws/widget/?inbox=" + encodeURIComponent(core.inbox));
      } catch (e) { ws = null; return retry(); }
      var resumeFrom = applied;
      sock.onopen = function () {
        sock.send(JSON.stringify({
          type: "hello", token: core.state.token, resume_from: resumeFrom,
          page: location.href, title: D.title, referrer: D.referrer
        }));
      };
      sock.onmessage = function (e) {
        if (sock !== ws) return;
        alive();
        var f;
        try { f = JSON.parse(e.data); } catch (x) { return; }
        onFrame(f);
      };
      sock.onclose = function (e) {
        if (sock !== ws) return;
        drop();
        onClose(e.code);
      };
    }
    function drop() {
      var sock = ws;
      ws = null;
      connected = false;
      clearInterval(pingTimer);
      clearTimeout(deadTimer);
      clearTimeout(gapTimer);
      typingOut = false;
      if (sock) { sock.onclose = sock.onmessage = sock.onopen = null; try { sock.close(); } catch (e) { /* already closed */ } }
    }
    function alive() {
      clearTimeout(deadTimer);
    }
    function retry() {
      clearTimeout(retryTimer);
      if (stopped) return;
      var delay = Math.min(30000, 1000 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
      attempt++;
      if (attempt > 1) setBanner(tr("reconnecting"));
      retryTimer = setTimeout(connect, delay);
    }
    function onClose(code) {
      if (code === 4001) {
        // The server no longer knows this token: start over as a new visitor.
        if (attempt++ > 3) return retry();
        core.newSession().then(function () {
          clearAll();
          connect();
          if (isOpen) loadMessages(true);
        }, retry);
      } else if (code === 4003 || code === 4004) {
        stopped = true;
        setBanner(tr("unavailable"));
        sendBtn.disabled = true;
        console.warn("Parley: the chat socket was refused (" + code + ")");
      } else retry();
    }
    function setBanner(text) {
      banner.textContent = text || "";
      banner.hidden = !text;
    }
    function onFrame(f) {
      switch (f.type) {
        case "ready":
          connected = true;
          attempt = 0;
          setBanner("");
          readyHead = f.last_event_id;
          if (applied == null) setApplied(f.last_event_id);
          seqNext = {};
          seqHeld = {};
          clearInterval(pingTimer);
          pingTimer = setInterval(ping, 25000);
          if (isOpen && !loaded) loadMessages();
          if (ta.value.trim() && D.activeElement === core.root.host) typingInput();
          break;
        case "event": onEvent(f); break;
        case "resync": resync(); break;
        case "typing": showTyping(f); break;
        case "agents":
          available = !!f.available;
          renderHeader();
          renderCards();
          break;
        case "throttled":
          typingBlockedUntil = Date.now() + (f.retry_after || 5) * 1000;
          if (f.error) showError(f.error);
          break;
        case "error": console.warn("Parley: " + f.error); break;
        default: break; // pong, resumed, and anything newer than this script
      }
    }
    function ping() {
      if (!frame({ type: "ping" })) return;
      clearTimeout(deadTimer);
      deadTimer = setTimeout(function () { drop(); retry(); }, 10000); // no answer: the line is dead
    }
    function setApplied(id) {
      applied = id;
      core.lastEvent(id);
    }
    function onEvent(f) {
      if (f.id == null || (applied != null && f.id <= applied) || seen.has(f.id)) return; // already applied
      seen.add(f.id);
      if (seen.size > 500) seen.delete(seen.values().next().value);
      trackSeq(f);
      // Already counted in the session's unread (or notified on an earlier page): no alert again.
      var counted = core.state.sessionLast != null ? core.state.sessionLast : readyHead;
      var replay = counted != null && f.id <= counted;
      var p = f.payload || {};
      if (p.message && (f.kind === "message.created" || f.kind === "message.updated")) {
        var m = p.message;
        // our own optimistic copy is replaced when the POST answers; don't show it twice meanwhile
        if (m.from === "visitor" && f.kind === "message.created" && !msgs.has(key(m))) {
          var twin = ordered().filter(function (x) { return x._tmp && x.text === (m.text || ""); })[0];
          if (twin) dropTmp(twin);
        }
        var isNew = upsert(m);
        render();
        if (isNew && m.from !== "visitor" && !replay) notify(m);
        else if (m.from !== "visitor" && isOpen) markRead();
      }
      if (p.conversation) setConversation(p.conversation);
    }
    function trackSeq(f) {
      if (f.seq == null) { if (f.id > (applied || 0)) setApplied(f.id); return; }
      var stream = f.stream || "";
      var held = seqHeld[stream] || (seqHeld[stream] = {});
      if (seqNext[stream] == null || f.seq === seqNext[stream]) {
        seqNext[stream] = f.seq + 1;
        var top = f.id;
        while (held[seqNext[stream]] != null) { top = Math.max(top, held[seqNext[stream]]); delete held[seqNext[stream]]; seqNext[stream]++; }
        if (top > (applied || 0)) setApplied(top);
        var waiting = Object.keys(seqHeld).some(function (k) { return Object.keys(seqHeld[k]).length; });
        if (!waiting) clearTimeout(gapTimer);
      } else if (f.seq > seqNext[stream]) {
        // a frame is missing (the channel layer is at-most-once): wait a moment, then resume from the gap
        held[f.seq] = f.id;
        clearTimeout(gapTimer);
        gapTimer = setTimeout(function () { drop(); connect(); }, 2000);
      }
    }
    function resync() {
      setApplied(Math.max(applied || 0, readyHead || 0));
      core.refresh().then(function () { return loadMessages(true); });
    }

    /* ---------- notifications ---------- */
    function announce(text) {
      var p = h("p", { text: text });
      live.appendChild(p);
      setTimeout(function () { p.remove(); }, 10000);
    }
    function notify(m) {
      typingEl.hidden = true;
      var name = authorName(m);
      var text = m.text || tr("sent_file");
      core.emit("message", { text: m.text || "", author: { name: name, avatar_url: (m.author && m.author.avatar_url) || null } });
      announce(name + ": " + text);
      if (isOpen && !D.hidden) markRead();
      else core.setUnread(core.state.unread + 1);
      if (D.hidden) { blinkTitle(); beep(); }
      if (!isOpen) showPreview(name, text);
    }
    function markRead() {
      if (!isOpen || D.hidden || !loaded || !core.state.token) return;
      var latest = null;
      msgs.forEach(function (m) { if (m.from !== "visitor" && !m._tmp && (!latest || when(m) >= when(latest))) latest = m; });
      var unread = core.state.unread;
      core.setUnread(0);
      if (!latest || String(latest.id) === lastReadPosted || (!unread && latest.status === "read")) return;
      lastReadPosted = String(latest.id);
      core.request("POST", "read", { message_id: latest.id }).catch(function () { lastReadPosted = null; });
    }
    function showPreview(name, text) {
      previewAuthor.textContent = name;
      previewText.textContent = text;
      preview.hidden = false;
    }
    function hidePreview() { preview.hidden = true; }

    var audio = null;
    function unlockAudio() {
      if (audio) return;
      var AC = W.AudioContext || W.webkitAudioContext;
      try { if (AC) audio = new AC(); } catch (e) { audio = null; }
    }
    core.root.addEventListener("pointerdown", unlockAudio, true);
    core.root.addEventListener("keydown", unlockAudio, true);
    function beep() {
      if (!audio) return; // no user gesture yet: browsers would refuse to play
      try {
        audio.resume();
        var t0 = audio.currentTime, o = audio.createOscillator(), g = audio.createGain();
        o.type = "sine";
        o.frequency.setValueAtTime(880, t0);
        o.frequency.setValueAtTime(660, t0 + 0.12);
        g.gain.setValueAtTime(0.0001, t0);
        g.gain.exponentialRampToValueAtTime(0.12, t0 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.3);
        o.connect(g);
        g.connect(audio.destination);
        o.start(t0);
        o.stop(t0 + 0.32);
      } catch (e) { /* no sound then */ }
    }
    var blink = { timer: null, count: 0, base: "" };
    function blinkTitle() {
      blink.count++;
      if (blink.timer) return;
      blink.base = D.title;
      var on = false;
      var tick = function () {
        var ours = "(" + blink.count + ") " + tr("new_msg");
        if (D.title !== ours && D.title !== blink.base) blink.base = D.title; // the page renamed itself
        on = !on;
        D.title = on ? ours : blink.base;
      };
      tick();
      blink.timer = setInterval(tick, 1200);
    }
    function stopBlink() {
      if (!blink.timer) return;
      clearInterval(blink.timer);
      blink.timer = null;
      blink.count = 0;
      D.title = blink.base;
    }
    D.addEventListener("visibilitychange", function () {
      if (D.hidden) { typingStop(); return; }
      stopBlink();
      markRead();
      if (!ws && !stopped && core.state.token) connect();
    });
    W.addEventListener("online", function () { if (!ws && !stopped && core.state.token) { attempt = 0; connect(); } });

    // Single-page apps: tell the team which page the visitor is on, without patching history.
    var lastHref = location.href;
    function pageCheck() {
      if (location.href === lastHref) return;
      lastHref = location.href;
      setTimeout(function () { frame({ type: "page", url: location.href, title: D.title }); }, 300);
    }
    W.addEventListener("popstate", pageCheck);
    W.addEventListener("hashchange", pageCheck);
    if (W.navigation && W.navigation.addEventListener) {
      W.navigation.addEventListener("navigatesuccess", pageCheck);
      W.navigation.addEventListener("navigate", function () { setTimeout(pageCheck, 0); });
    } else setInterval(pageCheck, 2000);

    /* ---------- open / close / focus ---------- */
    var small = W.matchMedia ? W.matchMedia("(max-width: 480px)") : { matches: false };
    function focusables() {
      return Array.prototype.filter.call(
        win.querySelectorAll("button, a[href], input, textarea, [tabindex]:not([tabindex='-1'])"),
        function (el) { return !el.disabled && el.getClientRects().length && el.getAttribute("aria-hidden") !== "true"; }
      );
    }
    function focusInitial() {
      if (small.matches) { closeBtn.focus(); return; } // don't pop the phone keyboard over the conversation
      var empty = prechatFields().filter(function (f) { return !f.input.value; })[0];
      (empty ? empty.input : ta).focus();
    }
    win.addEventListener("keydown", function (e) {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        close(true);
        return;
      }
      if (e.key !== "Tab") return;
      var f = focusables();
      if (!f.length) return;
      var first = f[0], last = f[f.length - 1], active = core.root.activeElement;
      if (e.shiftKey && (active === first || active === win || f.indexOf(active) < 0)) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && (active === last || f.indexOf(active) < 0)) { e.preventDefault(); first.focus(); }
    });
    core.launcher.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && isOpen) { e.preventDefault(); close(true); }
    });

    function open(opts) {
      opts = opts || {};
      if (!isOpen) {
        isOpen = true;
        hidePreview();
        win.hidden = false;
        core.setOpen(true);
        renderHeader();
        renderCards();
        stick = true;
        render();
        // next frame: let the opening transition run
        requestAnimationFrame(function () { win.classList.add("pw-shown"); scrollToBottom(); });
        core.session().then(function () {
          // messages are fetched on the first open, and again if the socket is not live (it may have missed events)
          if (!loaded || !connected) loadMessages(); else markRead();
          connect();
        }, function (err) {
          showError(err.status ? err.detail || tr("err_generic") : tr("err_network"));
        });
      }
      if (opts.focus !== false) focusInitial();
    }
    function close(returnFocus) {
      if (!isOpen) return;
      var inside = core.root.activeElement && win.contains(core.root.activeElement);
      isOpen = false;
      typingStop();
      win.classList.remove("pw-shown");
      win.hidden = true;
      core.setOpen(false);
      if (returnFocus === true || inside) core.launcher.focus();
    }

    function clearAll() {
      msgs.forEach(function (m) { if (m._tmp) dropTmp(m); });
      msgs.clear();
      render();
      loaded = false;
      hasMore = false;
      sentFirst = false;
      ratingThanks = false;
      ratingScore = 0;
      awaySaved = "";
      lastReadPosted = null;
      applied = core.lastEvent();
      seen.clear();
      readyHead = null;
      typingEl.hidden = true;
      hidePreview();
      showError("");
      setBanner("");
      ta.value = "";
      autosize();
      setFile(null);
      [fName, fEmail].forEach(function (f) { f.input.value = ""; f.err.hidden = true; });
      awayInput.value = "";
      rateComment.value = "";
      rateExtra.hidden = true;
      paintStars(0);
    }

    renderHeader();
    renderCards();
    if (core.state.token) {
      connect();
      if (core.state.unread) {
        // something unread: show who wrote it above the launcher
        loadMessages().then(function () {
          if (isOpen) return;
          var last = ordered().filter(function (m) { return m.from !== "visitor"; }).pop();
          if (last) showPreview(authorName(last), last.text || tr("sent_file"));
        });
      }
    }

    /* what the loader calls */
    return {
      open: open,
      close: function () { close(false); },
      session: function (s, tokenChanged) {
        var before = conversation && conversation.id;
        visitor = s.visitor || {};
        conversation = s.conversation || null;
        if (applied == null) applied = core.lastEvent();
        if (tokenChanged) {
          drop();
          clearAll();
          stopped = false;
          attempt = 0;
          connect();
          if (isOpen) loadMessages(true);
        } else {
          if (loaded && before !== (conversation && conversation.id)) loadMessages(true);
          connect();
        }
        renderCards();
      },
      reset: function () {
        drop();
        clearTimeout(retryTimer);
        close(false);
        conversation = null;
        visitor = {};
        clearAll();
        applied = null;
        stopped = false;
        sendBtn.disabled = false;
        renderCards();
      }
    };
  }
})();
