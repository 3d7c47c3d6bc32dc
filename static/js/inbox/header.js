// The thread's header: who and what the conversation is, its status, the assignee, team and
// priority pickers, its labels, and the actions an agent takes on the conversation.
import { $, h, fullFmt, labelChip, parseDate, toast, STATUS_LABEL } from "./dom.js";
import { api, serial } from "./api.js";
import { ME, hooks, state } from "./state.js";
import { renderSideLabels } from "./sidebar.js";
import { renderRules } from "./rules.js";

export function renderHeader() {
  const c = state.convs.get(state.openId);
  if (!c) return;
  $("thread-contact").textContent = c.contact.name || "Unknown contact";
  $("thread-number").textContent = "#" + c.number;
  $("thread-inbox").textContent = c.inbox.name;
  $("thread-subject").textContent = c.subject || "";
  $("thread-subject-sep").hidden = !c.subject;
  const status = $("thread-status");
  let statusText = STATUS_LABEL[c.status] || c.status;
  if (c.status === "snoozed" && c.snoozed_until) {
    const until = parseDate(c.snoozed_until);
    statusText += until ? " until " + fullFmt.format(until) : "";
  }
  status.textContent = statusText;
  $("thread-status-inline").textContent = STATUS_LABEL[c.status] || c.status;
  status.className = "badge status-" + c.status;
  $("assign-me").hidden = !!(c.assignee && c.assignee.id === ME.id);
  $("status-resolve").hidden = c.status === "resolved";
  $("status-reopen").hidden = c.status === "open";
  $("status-pending").hidden = c.status !== "open";
  $("snooze-menu").hidden = c.status === "resolved";
  $("priority-select").value = String(c.priority || 0);
  $("thread-labels").replaceChildren(...(c.labels || []).map((l) => h("li", null, labelChip(l))));
  renderAssignee(c);
  renderTeams(c);
  renderSideLabels(c);
  renderRules();
}

async function renderAssignee(c) {
  const select = $("assignee-select");
  if (document.activeElement === select) return; // do not pull the list from under the agent
  const current = c.assignee ? String(c.assignee.id) : "";
  const fill = (agents) => {
    const options = [h("option", { value: "" }, "Unassigned")];
    const seen = new Set();
    for (const agent of agents) {
      seen.add(agent.id);
      let suffix = "";
      if (agent.id === ME.id) suffix = " (you)";
      else if (agent.online === false) suffix = " · offline";
      else if (agent.availability === "busy") suffix = " · busy";
      options.push(h("option", { value: agent.id }, agent.name + suffix));
    }
    if (c.assignee && !seen.has(c.assignee.id)) options.push(h("option", { value: c.assignee.id }, c.assignee.name));
    select.replaceChildren(...options);
    select.value = current;
  };
  fill([]);
  const agents = await agentsFor(c.inbox.id);
  if (state.openId === c.id && document.activeElement !== select) fill(agents);
}

function renderTeams(c) {
  const select = $("team-select");
  if (document.activeElement === select) return;
  const teams = new Map(state.teams);
  if (c.team) teams.set(c.team.id, c.team);
  const sorted = [...teams.values()].sort((a, b) => a.name.localeCompare(b.name));
  select.replaceChildren(h("option", { value: "" }, "No team"), ...sorted.map((t) => h("option", { value: t.id }, t.name)));
  select.value = c.team ? String(c.team.id) : "";
  select.hidden = sorted.length === 0;
}

async function agentsFor(inboxId) {
  if (!state.agentsByInbox.has(inboxId)) {
    state.agentsByInbox.set(inboxId, api("agents/?inbox=" + inboxId).then((d) => d.results || []).catch(() => []));
  }
  return state.agentsByInbox.get(inboxId);
}

// ---------------------------------------------------------------- conversation actions
// Success shows as the activity line in the thread and the header; only errors toast.
export async function act(path, body, method) {
  const id = state.openId;
  if (!id) return;
  try {
    const request = method === "DELETE" ? { method } : { method: method || "POST", body };
    const conv = await serial(id, () => api("conversations/" + id + "/" + path + "/", request));
    hooks.onConversationFromApi(conv);
  } catch (error) {
    toast(error.message, "error");
    renderHeader();
  }
}

export function assignToMe() {
  return act("assign", { assignee_id: ME.id });
}

export function resolve() {
  const c = state.convs.get(state.openId);
  if (c && c.status !== "resolved") return act("status", { status: "resolved" });
}

export function snoozeUntil(kind) {
  const now = new Date();
  const at = new Date(now);
  if (kind === "hour") {
    at.setHours(at.getHours() + 1);
  } else if (kind === "tomorrow") {
    at.setDate(at.getDate() + 1);
    at.setHours(9, 0, 0, 0);
  } else if (kind === "week") {
    const days = ((8 - at.getDay()) % 7) || 7; // next Monday
    at.setDate(at.getDate() + days);
    at.setHours(9, 0, 0, 0);
  }
  return at;
}

export function snooze(at) {
  $("snooze-menu").open = false;
  if (!(at > new Date())) { toast("Pick a time in the future.", "error"); return; }
  act("status", { status: "snoozed", snoozed_until: at.toISOString() });
}

// ---------------------------------------------------------------- wiring
export function initHeader() {
  $("actions-toggle").addEventListener("click", (e) => {
    const head = e.currentTarget.closest(".thread-head");
    const open = head.dataset.actions !== "open";
    if (open) head.dataset.actions = "open";
    else delete head.dataset.actions;
    e.currentTarget.setAttribute("aria-expanded", String(open));
  });
  $("assign-me").addEventListener("click", assignToMe);
  $("assignee-select").addEventListener("change", (e) => {
    const value = e.target.value;
    act("assign", { assignee_id: value ? Number(value) : null });
  });
  $("team-select").addEventListener("change", (e) => {
    const value = e.target.value;
    act("team", { team_id: value ? Number(value) : null });
  });
  $("priority-select").addEventListener("change", (e) => act("priority", { priority: Number(e.target.value) }));
  $("status-resolve").addEventListener("click", resolve);
  $("status-reopen").addEventListener("click", () => act("status", { status: "open" }));
  $("status-pending").addEventListener("click", () => act("status", { status: "pending" }));
  $("snooze-menu").addEventListener("toggle", () => {
    const soon = new Date(Date.now() + 5 * 60000);
    const local = new Date(soon.getTime() - soon.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    $("snooze-at").min = local;
  });
  $("snooze-custom").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("snooze-at").value;
    if (value) snooze(new Date(value));
  });
}
