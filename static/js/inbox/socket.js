// The realtime client of /ws/agent/: one connection per page, reconnecting with backoff,
// pinging, resuming from the last event id, noticing gaps in each stream's `seq` and
// dropping events already seen. It does no DOM work: the app hears about it through the
// callbacks given to `startSocket()`:
//   onStatus(state)   "connecting" | "live" | "offline"
//   onHello()         a socket is live (after any resume was asked for)
//   onEvent(frame)    a domain event, once, in stream order
//   onReload()        what we hold cannot be patched up from the log: reload from the API
//   onGap()           a gap the log cannot fill: reload soon (debounced by the app)
//   onInboxes()       the agent's inboxes changed
//   onSignedOut()     the session ended or the socket was refused
//   onFrame(frame)    any other frame (typing, viewing, presence, user.availability)

const sock = {
  ws: null,
  url: "",
  attempt: 0,
  pingTimer: null,
  reconnectTimer: null,
  everConnected: false,
  closedForGood: false,
  lastEventId: null, // highest event id processed
  lastSeq: new Map(), // stream → last seq processed
  lastIdByStream: new Map(), // stream → id of that event
  helloSeq: new Map(), // stream → seq the server reported in hello
  gapTried: new Set(),
  seen: new Set(),
  seenOrder: [],
  resuming: false,
  buffer: [],
};
let on = {};

export function startSocket(url, callbacks) {
  sock.url = url;
  on = callbacks;
  connect();
}

export function sendFrame(frame) {
  if (sock.ws && sock.ws.readyState === WebSocket.OPEN) {
    sock.ws.send(JSON.stringify(frame));
    return true;
  }
  return false;
}

// The page is going away (signed out): do not reconnect any more.
export function stopReconnecting() {
  sock.closedForGood = true;
}

// The network is back: skip the backoff if no socket is open or opening.
export function reconnectNow() {
  if (!sock.ws) { sock.attempt = 0; connect(); }
}

function connect() {
  if (sock.closedForGood) return;
  clearTimeout(sock.reconnectTimer);
  let ws;
  try {
    ws = new WebSocket(sock.url);
  } catch (error) {
    scheduleReconnect();
    return;
  }
  sock.ws = ws;
  on.onStatus("connecting");
  ws.addEventListener("open", () => {
    clearInterval(sock.pingTimer);
    sock.pingTimer = setInterval(() => sendFrame({ type: "ping" }), 25000);
  });
  ws.addEventListener("message", (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch (error) { return; }
    if (frame && typeof frame === "object") onFrame(frame);
  });
  ws.addEventListener("close", (event) => {
    clearInterval(sock.pingTimer);
    if (sock.ws !== ws) return;
    sock.ws = null;
    sock.resuming = false;
    sock.buffer = []; // a new socket replays them
    if (event.code === 4001 || event.code === 4003) { on.onSignedOut(); return; }
    on.onStatus("offline");
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  if (sock.closedForGood) return;
  const delay = Math.min(30000, 1000 * Math.pow(2, sock.attempt));
  sock.attempt += 1;
  clearTimeout(sock.reconnectTimer);
  sock.reconnectTimer = setTimeout(connect, delay);
}

function resumeFrom(id) {
  sock.resuming = true;
  sendFrame({ resume_from: id });
}

function onFrame(frame) {
  switch (frame.type) {
    case "hello":
      sock.attempt = 0;
      on.onStatus("live");
      takeStreamPositions(frame);
      if (sock.lastEventId !== null) resumeFrom(sock.lastEventId);
      else if (sock.everConnected) on.onReload();
      sock.everConnected = true;
      on.onHello();
      break;
    case "event":
      if (sock.resuming) sock.buffer.push(frame);
      else processEvent(frame);
      break;
    case "resumed": {
      sock.resuming = false;
      const frames = sock.buffer.sort((a, b) => a.id - b.id);
      sock.buffer = [];
      for (const f of frames) {
        if (sock.resuming) sock.buffer.push(f);
        else processEvent(f);
      }
      break;
    }
    case "resync":
      sock.resuming = false;
      sock.buffer = [];
      sock.lastSeq.clear();
      sock.lastIdByStream.clear();
      sock.helloSeq.clear();
      sock.gapTried.clear();
      on.onReload();
      break;
    case "inboxes":
      on.onInboxes();
      break;
    case "session.ended":
      on.onSignedOut();
      break;
    default:
      on.onFrame(frame);
      break;
  }
}

// A server that says where each stream stands in `hello` ({"streams": {name: seq},
// "last_event_id": id}) lets us notice a drop before the first event we receive.
function takeStreamPositions(frame) {
  if (!frame.streams || typeof frame.streams !== "object") return;
  for (const [stream, seq] of Object.entries(frame.streams)) {
    if (typeof seq !== "number" || sock.lastSeq.has(stream)) continue;
    sock.lastSeq.set(stream, seq);
    sock.helloSeq.set(stream, seq);
    if (typeof frame.last_event_id === "number") sock.lastIdByStream.set(stream, frame.last_event_id);
  }
}

function processEvent(frame) {
  if (typeof frame.id !== "number" || sock.seen.has(frame.id)) return;
  const last = sock.lastSeq.get(frame.stream);
  if (last !== undefined && frame.seq > last + 1) {
    const key = frame.stream + ":" + (last + 1);
    const from = sock.lastIdByStream.get(frame.stream);
    if (!sock.gapTried.has(key) && typeof from === "number") {
      // The channel layer dropped something: fetch it from the log, then go on in order.
      sock.gapTried.add(key);
      sock.buffer = [frame];
      resumeFrom(from);
      return;
    }
    on.onGap(); // cannot fill it from the log: fall back to the API
  }
  sock.seen.add(frame.id);
  sock.seenOrder.push(frame.id);
  if (sock.seenOrder.length > 5000) sock.seen.delete(sock.seenOrder.shift());
  if (last !== undefined && frame.seq <= last) {
    // Counted in hello's positions but published after we joined: still news to us.
    if (frame.seq <= (sock.helloSeq.get(frame.stream) || 0)) on.onEvent(frame);
    return;
  }
  sock.lastSeq.set(frame.stream, frame.seq);
  sock.lastIdByStream.set(frame.stream, frame.id);
  sock.lastEventId = Math.max(sock.lastEventId || 0, frame.id);
  on.onEvent(frame);
}
