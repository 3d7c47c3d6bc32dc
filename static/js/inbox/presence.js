// Who else is on the open conversation: other agents viewing or typing, from the socket's
// `typing` and `viewing` frames, shown above the composer.
import { $, joinNames } from "./dom.js";
import { sendFrame } from "./socket.js";
import { ME, state } from "./state.js";

function presenceMap(store, id) {
  if (!store.has(id)) store.set(id, new Map());
  return store.get(id);
}

export function onTypingFrame(frame) {
  if (!frame.user || frame.user.id === ME.id) return;
  const typers = presenceMap(state.typing, frame.conversation_id);
  const prev = typers.get(frame.user.id);
  if (prev) clearTimeout(prev.timer);
  if (frame.state === "start") {
    // A lost "stop" must not leave "is typing" forever.
    const timer = setTimeout(() => { typers.delete(frame.user.id); renderPresence(); }, 6000);
    typers.set(frame.user.id, { name: frame.user.name, timer });
  } else {
    typers.delete(frame.user.id);
  }
  if (frame.conversation_id === state.openId) renderPresence();
}

// The website visitor typing in their chat widget (shown like an agent typing).
export function onVisitorTypingFrame(frame) {
  const conv = state.convs.get(frame.conversation_id);
  const typers = presenceMap(state.typing, frame.conversation_id);
  const key = "visitor";
  const prev = typers.get(key);
  if (prev) clearTimeout(prev.timer);
  if (frame.state === "start") {
    const timer = setTimeout(() => { typers.delete(key); renderPresence(); }, 6000);
    typers.set(key, { name: (conv && conv.contact.name) || "The visitor", timer });
  } else {
    typers.delete(key);
  }
  if (frame.conversation_id === state.openId) renderPresence();
}

export function onViewingFrame(frame) {
  if (!frame.user || frame.user.id === ME.id) return;
  const viewers = presenceMap(state.viewing, frame.conversation_id);
  const known = viewers.has(frame.user.id);
  if (frame.state === "opened") {
    viewers.set(frame.user.id, frame.user.name);
    // They did not see us open it: say we are here (once, so this does not ping-pong).
    if (!known && frame.conversation_id === state.openId) {
      sendFrame({ type: "viewing", conversation_id: state.openId, state: "opened" });
    }
  } else {
    viewers.delete(frame.user.id);
    const typers = state.typing.get(frame.conversation_id);
    if (typers && typers.has(frame.user.id)) { clearTimeout(typers.get(frame.user.id).timer); typers.delete(frame.user.id); }
  }
  if (frame.conversation_id === state.openId) renderPresence();
}

export function renderPresence() {
  const id = state.openId;
  const typers = [...(state.typing.get(id) || new Map()).entries()];
  const typingIds = new Set(typers.map(([uid]) => uid));
  const viewers = [...(state.viewing.get(id) || new Map()).entries()].filter(([uid]) => !typingIds.has(uid));
  const parts = [];
  if (typers.length) parts.push(joinNames(typers.map(([, t]) => t.name)) + (typers.length > 1 ? " are typing…" : " is typing…"));
  if (viewers.length) parts.push(joinNames(viewers.map(([, name]) => name)) + (viewers.length > 1 ? " are also viewing" : " is also viewing"));
  $("presence").textContent = parts.join(" · ");
}

// The socket is gone: what we knew about others is stale; they say it again on reconnect.
export function clearPresence() {
  for (const typers of state.typing.values()) for (const t of typers.values()) clearTimeout(t.timer);
  state.typing.clear();
  state.viewing.clear();
  renderPresence();
}
