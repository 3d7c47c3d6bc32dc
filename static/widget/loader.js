/* Parley chat widget loader: config, launcher (in a shadow root), visitor token, window.Parley.
   chat.js is loaded on first open, or at once for an ongoing conversation or unread message.
   <script src="https://HOST/static/widget/loader.js" data-inbox="PUBLIC-UUID" async></script> */
(function () {
  "use strict";
  var W = window, D = document;
  var before = W.Parley;
  if (before && before.__parley) return; // the snippet is on the page twice

  var script = D.currentScript || D.querySelector("script[data-inbox][src*='loader.js']");
  var inbox = script && script.getAttribute("data-inbox");
  if (!inbox) return console.warn("Parley: data-inbox missing");

  var src = new URL(script.src, location.href);
  var HOST = src.origin;
  var ASSETS = src.href.split(/[?#]/)[0].replace(/[^/]*$/, "");
  var VERSION = src.search; // cache busting, passed on to chat.js and widget.css
  var BASE = HOST + "/widget/v1/" + encodeURIComponent(inbox) + "/";
  var KEY = "parley:" + inbox;

  var lang = "en";
  (navigator.languages || [navigator.language || ""]).some(function (l) {
    var p = String(l).slice(0, 2).toLowerCase();
    return /^(en|fr|es|de)$/.test(p) && (lang = p);
  });
  var LABELS = {
    en: ["Chat with us", "Close chat", "unread"],
    fr: ["Discutez avec nous", "Fermer la discussion", "non lus"],
    es: ["Chatea con nosotros", "Cerrar el chat", "sin leer"],
    de: ["Chatten Sie mit uns", "Chat schließen", "ungelesen"]
  }[lang];

  // storage: visitor token and last event id, per inbox
  var memory = {};
  function stored() {
    try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { return memory; }
  }
  function store(value) {
    memory = value;
    try {
      if (value.token) localStorage.setItem(KEY, JSON.stringify(value));
      else localStorage.removeItem(KEY);
    } catch (e) { /* memory only */ }
  }
  function wasOpen(value) { // per tab: reopen on the next page
    try {
      if (value === undefined) return sessionStorage.getItem(KEY);
      if (value) sessionStorage.setItem(KEY, 1); else sessionStorage.removeItem(KEY);
    } catch (e) { /* no storage */ }
  }

  var handlers = {};
  var fired = {};
  function emit(name, detail) {
    fired[name] = { detail: detail };
    (handlers[name] || []).slice().forEach(function (fn) {
      try { fn(detail); } catch (e) { console.error(e); }
    });
    W.dispatchEvent(new CustomEvent("parley:" + name, { detail: detail }));
  }

  var state = { token: stored().token || null, visitor: null, conversation: null, unread: 0, open: false };

  function request(method, path, body, retried) {
    var headers = {};
    var init = { method: method, headers: headers, credentials: "omit" };
    if (state.token && path !== "config" && path !== "session") headers["X-Parley-Visitor"] = state.token;
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(BASE + path, init).then(function (r) {
      if (r.status === 401 && path !== "session" && !retried) {
        // The token stopped working (reset() in another tab): start afresh, then retry once.
        store({});
        state.token = null;
        sessionPromise = null;
        return session().then(function () { return request(method, path, body, true); });
      }
      if (r.status === 204) return null;
      return r.json().catch(function () { return null; }).then(function (data) {
        if (r.ok) return data;
        var err = new Error((data && data.detail) || "HTTP " + r.status);
        err.status = r.status;
        err.detail = data && data.detail;
        err.retryAfter = data && data.retry_after;
        throw err;
      });
    });
  }

  var sessionPromise = null;
  function session() {
    if (!sessionPromise) {
      var token = stored().token;
      sessionPromise = request("POST", "session", token ? { token: token } : {}).then(applySession);
      sessionPromise.catch(function () { sessionPromise = null; });
    }
    return sessionPromise;
  }
  function applySession(s) {
    var previous = state.token;
    var known = stored();
    state.token = s.token;
    state.visitor = s.visitor || {};
    state.conversation = s.conversation || null;
    state.sessionLast = s.last_event_id;
    // no event seen yet: resume from the session's snapshot (messages are fetched after it)
    if (known.token !== s.token) store({ token: s.token, last: s.last_event_id });
    else if (known.last == null) lastEvent(s.last_event_id);
    setUnread(s.unread || 0);
    showLauncher();
    if (chat) chat.session(s, !!previous && previous !== s.token);
    else if (root && (s.unread || ongoing(s.conversation))) loadChat().catch(warn);
    return s;
  }
  function ongoing(c) {
    return c && c.status !== "resolved";
  }
  function lastEvent(id) {
    var known = stored();
    if (id === undefined) return known.token === state.token && known.last != null ? known.last : null;
    if (id != null && known.token === state.token && !(known.last >= id)) { known.last = id; store(known); }
  }

  /* ---- colours: black or white text on the accent, whichever contrasts more; "ink": the accent
     darkened until it reads on white (links, ticks, focus rings) ---- */
  function luminance(c) {
    c = c.map(function (v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }
  function colours(hex) {
    if (!/^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(hex || "")) hex = "#1f6feb";
    var h = hex.length === 4 ? hex.replace(/\w/g, "$&$&") : hex;
    var c = [1, 3, 5].map(function (i) { return parseInt(h.substr(i, 2), 16); });
    var l = luminance(c);
    var on = 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? "#fff" : "#000";
    while (1.05 / (luminance(c) + 0.05) < 4.5) c = c.map(function (v) { return Math.floor(v * 0.88); });
    return "--pw-accent:" + hex + ";--pw-on-accent:" + on + ";--pw-ink:rgb(" + c + ")";
  }

  var SVG = "http://www.w3.org/2000/svg";
  function icon(d) {
    var svg = D.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    d.split("|").forEach(function (p) {
      var path = D.createElementNS(SVG, "path");
      path.setAttribute("d", p);
      svg.appendChild(path);
    });
    return svg;
  }
  function el(tag, cls, text) {
    var e = D.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  var host, root, wrap, launcher, badge, cfg, chat, chatPromise, chatFactory;
  var readyResolve;
  var ready = new Promise(function (resolve) { readyResolve = resolve; });
  var launcherShown = false;

  // hidden host + stylesheet at once: the CSS loads while the config does
  function mount() {
    host = D.createElement("parley-widget");
    // inline !important beats any page rule; "all: initial" stops inheritance
    ["all:initial", "display:none", "position:fixed", "z-index:2147483000", "bottom:0", "right:0", "width:0",
      "height:0", "direction:ltr"
    ].forEach(function (p) { p = p.split(":"); host.style.setProperty(p[0], p[1], "important"); });
    root = host.attachShadow({ mode: "open" });

    var css = el("link");
    css.rel = "stylesheet";
    css.href = ASSETS + "widget.css" + VERSION;
    var loaded = new Promise(function (resolve) { css.onload = css.onerror = resolve; });
    root.appendChild(css);
    D.body.appendChild(host);
    return loaded;
  }

  function build(config, cssLoaded) {
    cfg = config;
    var look = cfg.look || {};
    wrap = el("div", "pw pw-" + (look.position === "left" ? "left" : "right"));
    wrap.setAttribute("lang", lang);
    wrap.style.cssText = colours(look.color);

    var text = (look.launcher_text || "").trim();
    launcher = el("button", "pw-launcher" + (text ? " pw-launcher-text" : ""));
    launcher.type = "button";
    launcher.setAttribute("aria-expanded", "false");
    launcher.appendChild(icon("M20.5 11.5a8.5 8.5 0 0 1-12.4 7.6L3.5 20.5l1.4-4.4A8.5 8.5 0 1 1 20.5 11.5z")).classList.add("pw-i-chat");
    launcher.appendChild(icon("M6 9l6 6 6-6")).classList.add("pw-i-close");
    if (text) launcher.appendChild(el("span", "pw-launcher-label", text));
    badge = el("span", "pw-badge");
    badge.setAttribute("aria-hidden", "true");
    badge.hidden = true;
    launcher.appendChild(badge);
    launcher.addEventListener("click", function () { state.open ? api.close() : api.open(); });
    // fetch chat.js while the pointer is on its way
    launcher.addEventListener("pointerenter", preload);
    launcher.addEventListener("focus", preload);
    wrap.appendChild(launcher);
    root.appendChild(wrap);
    paintBadge();
    return cssLoaded;
  }

  function label() {
    var base = state.open ? LABELS[1] : (cfg.look && cfg.look.launcher_text || "").trim() || LABELS[0];
    launcher.setAttribute("aria-label", state.unread && !state.open ? base + " (" + state.unread + " " + LABELS[2] + ")" : base);
    launcher.setAttribute("aria-expanded", String(state.open));
    wrap.classList.toggle("pw-is-open", state.open);
  }

  function showLauncher() {
    if (!host || launcherShown) return;
    // identity_required refuses unsigned identify() calls; anonymous visitors still chat.
    launcherShown = true;
    host.style.setProperty("display", "block", "important");
    readyResolve();
    emit("ready", { inbox: cfg.inbox && cfg.inbox.name, unread: state.unread });
  }

  function setUnread(n) {
    n = Math.max(0, n | 0);
    if (n === state.unread) return;
    state.unread = n;
    paintBadge();
    emit("unread", n);
  }
  function paintBadge() {
    if (!badge) return;
    badge.hidden = !state.unread;
    badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
    label();
  }

  function warn(err) { console.warn("Parley: " + err.message); }
  function preload() { loadChat().catch(function () {}); }
  function loadChat() {
    if (!chatPromise) {
      chatPromise = new Promise(function (resolve, reject) {
        chatFactory = resolve;
        var s = D.createElement("script");
        s.src = ASSETS + "chat.js" + VERSION;
        s.async = true;
        s.onerror = function () { chatPromise = null; reject(new Error("could not load chat.js")); };
        root.appendChild(s); // in our shadow root, not the page's DOM
      }).then(function (factory) {
        chat = factory(core);
        return chat;
      });
    }
    return chatPromise;
  }

  function setOpen(open) {
    state.open = open;
    label();
    wasOpen(open);
  }

  // what chat.js gets
  var core = {
    inbox: inbox, host: HOST, lang: lang, state: state,
    request: request, session: session, lastEvent: lastEvent, setUnread: setUnread, emit: emit,
    setOpen: setOpen,
    get cfg() { return cfg; },
    get root() { return root; },
    get wrap() { return wrap; },
    get launcher() { return launcher; },
    refresh: function () {
      sessionPromise = null;
      return session();
    },
    newSession: function () {
      store({});
      state.token = null;
      sessionPromise = null;
      return session();
    }
  };

  var config = fetch(BASE + "config", { credentials: "omit" }).then(function (r) {
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.json();
  });
  var api = {
    open: function (opts) {
      return ready.then(loadChat).then(function (c) { c.open(opts || {}); }, warn);
    },
    close: function () {
      if (chat) chat.close();
    },
    identify: function (user) {
      user = user || {};
      return config.then(session).then(function () {
        return request("POST", "identify", {
          id: user.id, name: user.name, email: user.email, hash: user.hash, ts: user.ts,
          attributes: user.attributes || {}
        });
      }).then(applySession, function (err) {
        console.warn("Parley: identify() refused: " + (err.detail || err.message));
        throw err;
      });
    },
    reset: function () {
      var token = state.token;
      var done = token ? request("POST", "reset").catch(function () {}) : Promise.resolve();
      store({});
      wasOpen(false);
      state.token = null;
      state.visitor = null;
      state.conversation = null;
      sessionPromise = null;
      if (chat) chat.reset();
      setOpen(false);
      setUnread(0);
      return done.then(function () { return undefined; });
    },
    on: function (name, fn) {
      (handlers[name] = handlers[name] || []).push(fn);
      // a late "ready" listener still hears about it
      if (name === "ready" && fired.ready) Promise.resolve().then(function () { fn(fired.ready.detail); });
    },
    off: function (name, fn) {
      handlers[name] = (handlers[name] || []).filter(function (f) { return f !== fn; });
    },
    push: function (cmd) { return run(cmd); }
  };
  function run(cmd) {
    cmd = Array.prototype.slice.call(cmd || []);
    var fn = api[cmd[0]];
    if (typeof fn !== "function" || cmd[0] === "push") { console.warn("Parley: unknown command " + cmd[0]); return; }
    var result = fn.apply(api, cmd.slice(1));
    if (result && result.catch) result.catch(function () { /* reported by identify() */ });
    return result;
  }
  Object.defineProperty(api, "__parley", { value: function (factory) { chatFactory(factory); } });

  var queue = Array.isArray(before) ? before : (before && before.q) || [];
  W.Parley = api;

  var mounted = new Promise(function (resolve) {
    if (D.body) resolve(mount());
    else D.addEventListener("DOMContentLoaded", function () { resolve(mount()); });
  });
  Promise.all([config, mounted]).then(function (r) {
    return build(r[0], r[1]);
  }).then(function () {
    showLauncher();
    if (!state.token) return;
    // applySession() loads chat.js for an ongoing conversation; reopen the window (not on phones)
    return session().then(function () {
      if (wasOpen() && !matchMedia("(max-width: 480px)").matches) return api.open({ focus: false });
    });
  }).catch(function (err) {
    if (!cfg) {
      if (host) host.remove();
      // unknown/disabled inbox, or this site is not an allowed origin
      console.warn("Parley: the chat is not available on this site (" + err.message + ")");
    } else {
      console.warn("Parley: " + err.message);
    }
  });

  for (var i = 0; i < queue.length; i++) run(queue[i]);
})();
