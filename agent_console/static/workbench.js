// The agent's workbench: status bar (available / paused with a reason / wrap-up with a timer), live
// queue, call panel (call.js), kiosk hardware actions, resident panel, document viewer and case form.
// Keyboard first: every frequent action has a key, listed in the help overlay (?).
import { api } from "/console/api.js";
import { callState, hangUp, startCall } from "/console/call.js";
import { t } from "/console/i18n.js";
import * as caseform from "/console/caseform.js";
import * as documents from "/console/documents.js";
import * as hw from "/console/hw.js";
import * as queue from "/console/queue.js";
import * as resident from "/console/resident.js";
import { $, clock, el, fail, flash, wb } from "/console/wb-common.js";

// --- agent state ---------------------------------------------------------------------------------

const agent = { state: "offline", since: Date.now(), reason: "" };
window.wbAgent = agent; // read by browser tests

function renderAgent() {
  const box = $("agent-state");
  box.dataset.state = agent.state;
  let text = t(`wb.state.${agent.state}`);
  if (agent.state === "paused" && agent.reason) text += ` · ${t(`wb.pause.${agent.reason}`)}`;
  $("agent-state-text").textContent = text;
  $("pause-reason").value = agent.state === "paused" ? agent.reason : "";
  tickTimer();
}

function tickTimer() {
  const seconds = (Date.now() - agent.since) / 1000;
  const timer = $("agent-timer");
  timer.textContent = clock(seconds);
  timer.dataset.seconds = String(Math.floor(seconds));
}

function setAgent(view) {
  if (!view) return;
  const changed = view.state !== agent.state;
  agent.state = view.state;
  agent.reason = view.pause_reason || "";
  agent.since = view.since ? Date.parse(view.since) : changed ? Date.now() : agent.since;
  if (Number.isNaN(agent.since) || agent.since > Date.now()) agent.since = Date.now();
  renderAgent();
}

async function putState(state, reason = "") {
  try {
    setAgent(await api("PUT", "/api/queue/agents/me/state", { state, reason }));
  } catch (err) {
    fail(err);
  }
}

async function refreshAgent() {
  try {
    const agents = await api("GET", "/api/queue/agents");
    wb.agents = agents;
    const mine = agents.find((a) => a.user_id === wb.me.id);
    if (mine) setAgent(mine);
  } catch {
    // not fatal: the status stays as last known
  }
}

function renderSettings() {
  const s = wb.settings;
  if (!s) return;
  const parts = [
    s.accepting_tickets ? t("wb.settings.open") : t("wb.settings.closed", { reason: s.closed_reason || "" }),
    t("wb.settings.ring", { s: s.ring_timeout_s }),
    t("wb.settings.recalls", { n: s.max_recalls }),
    t("wb.settings.bound", { min: s.max_wait_bound_min }),
  ];
  $("settings").textContent = parts.join(" · ");
  $("settings").dataset.accepting = String(s.accepting_tickets);
}

// --- current ticket actions ------------------------------------------------------------------------

function currentTicket() {
  return wb.ticket;
}

function setTicket(ticket) {
  wb.ticket = ticket;
  renderTicketButtons();
}

function renderTicketButtons() {
  const state = wb.ticket?.state;
  const ringing = state === "offered" || state === "ringing";
  $("t-recall").disabled = !ringing;
  $("t-noshow").disabled = !ringing;
  $("t-transfer").disabled = !wb.ticket;
  $("t-hold").disabled = !wb.ticket || ringing;
}

/** The ticket I am working on left my hands (transferred, held, no-show, done): clear the panel. */
function releaseTicket() {
  setTicket(null);
  if (!wb.call) {
    $("ticket-number").textContent = "—";
    $("ticket-service").textContent = "";
    $("next").disabled = false;
  }
}

async function ticketStep(path, body, doneKey) {
  const ticket = currentTicket();
  if (!ticket) return null;
  try {
    const out = await api("POST", `/api/queue/tickets/${ticket.id}/${path}`, body);
    flash(t(doneKey, { number: out.number }));
    if (wb.ticket && wb.ticket.id === out.id) wb.ticket.state = out.state;
    renderTicketButtons();
    refreshAgent();
    return out;
  } catch (err) {
    fail(err);
    return null;
  }
}

async function recall() {
  await ticketStep("recall", undefined, "wb.t.recalled");
}

async function noShow() {
  const out = await ticketStep("no-show", { reason: "" }, "wb.t.no_showed");
  if (out) {
    wb.last = null;
    hangUp();
    releaseTicket();
  }
}

async function hold() {
  const ticket = currentTicket();
  const out = await ticketStep("hold", { reason: "" }, "wb.t.held");
  if (out) {
    queue.addHeld({ ...ticket, ...out });
    wb.last = null;
    hangUp();
    releaseTicket();
  }
}

function openTransfer() {
  if (!currentTicket()) return;
  const svc = $("dlg-transfer-service");
  svc.replaceChildren(
    el("option", { value: "", text: t("wb.dlg.same_service") }),
    ...[...wb.services.values()].map((s) => el("option", { value: s.id, text: s.name })),
  );
  const ag = $("dlg-transfer-agent");
  ag.replaceChildren(
    el("option", { value: "", text: t("wb.dlg.any_agent") }),
    ...wb.agents
      .filter((a) => a.user_id !== wb.me.id)
      .map((a) => el("option", { value: a.user_id, text: `${a.display_name} · ${t(`wb.state.${a.state}`)}` })),
  );
  $("dlg-transfer-reason").value = "";
  $("dlg-transfer").showModal();
}

$("dlg-transfer").addEventListener("close", async () => {
  if ($("dlg-transfer").returnValue !== "ok") return;
  const body = {
    placement: document.querySelector("input[name=placement]:checked").value,
    reason: $("dlg-transfer-reason").value.trim(),
  };
  const serviceId = Number($("dlg-transfer-service").value) || currentTicket()?.service_id;
  if (serviceId) body.service_id = serviceId;
  const agentId = Number($("dlg-transfer-agent").value);
  if (agentId) body.agent_id = agentId;
  const out = await ticketStep("transfer", body, "wb.t.transferred");
  if (out) {
    wb.last = null;
    hangUp();
    releaseTicket();
  }
});

// Call a specific ticket out of order: the reason is required and logged by the office.
let callTarget = null;
export function openCallDialog(ticket) {
  if (wb.call || wb.ticket) {
    flash(t("wb.error.in_call"), "error");
    return;
  }
  callTarget = ticket;
  $("dlg-call-number").textContent = ticket.number;
  $("dlg-call-reason").value = "";
  $("dlg-call").showModal();
}

$("dlg-call").addEventListener("close", async () => {
  const ticket = callTarget;
  callTarget = null;
  if ($("dlg-call").returnValue !== "ok" || !ticket) return;
  const reason = $("dlg-call-reason").value.trim();
  try {
    const offered = await api("POST", `/api/queue/tickets/${ticket.ticket_id ?? ticket.id}/call`, { reason });
    await startCall(offered);
  } catch (err) {
    fail(err);
  }
});
$("dlg-call-ok").addEventListener("click", (event) => {
  if ($("dlg-call-reason").value.trim().length < 2) {
    event.preventDefault();
    $("dlg-call-reason").reportValidity();
  }
});

export async function resumeHeld(ticket) {
  if (wb.call || wb.ticket) {
    flash(t("wb.error.in_call"), "error");
    return;
  }
  try {
    const out = await api("POST", `/api/queue/tickets/${ticket.id}/resume`);
    queue.removeHeld(ticket.id);
    await startCall(out);
  } catch (err) {
    fail(err);
  }
}

// --- call lifecycle --------------------------------------------------------------------------------

document.addEventListener("call:ticket", (event) => {
  const ticket = event.detail.ticket;
  setTicket({ ...ticket });
  wb.last = null;
  resident.reset();
  documents.reset();
  caseform.onCall(ticket, null);
  refreshAgent();
});

document.addEventListener("call:started", (event) => {
  const { callId, ticket } = event.detail;
  wb.call = { callId, ticket };
  wb.last = { callId, ticket };
  renderTicketButtons();
  hw.onCallStarted();
  caseform.setCall(callId);
  resident.load();
  refreshAgent();
});

document.addEventListener("call:ended", () => {
  wb.call = null;
  renderTicketButtons();
  hw.onCallEnded();
  refreshAgent();
});

document.addEventListener("wb:case-filed", () => {
  wb.last = null;
  if (!wb.call) releaseTicket();
  else setTicket(null);
  refreshAgent();
});

// The office moved my ticket (answered, ended by the resident or a timeout, …).
document.addEventListener("wb:ticket-event", (event) => {
  const { topic, payload } = event.detail;
  if (!wb.ticket || payload.ticket_id !== wb.ticket.id) return;
  wb.ticket.state = payload.state;
  renderTicketButtons();
  refreshAgent(); // the office moves me with my ticket (ringing → serving → wrap-up)
  if (topic === "queue.ended" || ["waiting", "recalled", "no_show", "left", "done"].includes(payload.state)) {
    if (!wb.call) releaseTicket();
  }
});

// A case of my office passed its due date (限时办结, the office's "case.overdue" event): a banner
// above the workbench until dismissed, naming the case and linking to the case list.
document.addEventListener("wb:case-overdue", (event) => {
  const p = event.detail || {};
  const number = p.number || `#${p.case_id}`;
  let box = $("overdue-alert");
  if (!box) {
    box = el("div", { id: "overdue-alert", class: "overdue-alert", role: "alert" });
    $("workbench").prepend(box);
  }
  box.dataset.caseId = String(p.case_id);
  box.replaceChildren(
    el("span", { id: "overdue-alert-text", text: t("wb.overdue.alert", { number, date: p.due_date || "" }) }),
    el("a", { href: "/console/cases.html", text: t("wb.overdue.open") }),
    el("button", { type: "button", class: "secondary small", text: t("wb.overdue.close"), onclick: () => box.remove() }),
  );
});

// --- help and shortcuts ------------------------------------------------------------------------------

const SHORTCUTS = [
  ["N", "wb.help.k.next"],
  ["H", "wb.help.k.hangup"],
  ["M", "wb.help.k.mute"],
  ["A", "wb.help.k.available"],
  ["W", "wb.help.k.wrap_up"],
  ["I", "wb.help.k.idcard"],
  ["F", "wb.help.k.finger"],
  ["D", "wb.help.k.capture"],
  ["T", "wb.help.k.transfer"],
  ["[ ]", "wb.help.k.pages"],
  ["+ − 0", "wb.help.k.zoom"],
  ["R", "wb.help.k.rotate"],
  ["O", "wb.help.k.original"],
  ["1 … 9", "wb.help.k.tick"],
  ["Alt+1 … Alt+5", "wb.help.k.outcome"],
  ["Ctrl+Enter", "wb.help.k.submit"],
  ["P", "wb.help.k.print"],
  ["Q", "wb.help.k.queue"],
  ["?", "wb.help.k.help"],
  ["Esc", "wb.help.k.close"],
];

function renderHelp() {
  $("help-keys").replaceChildren(
    ...SHORTCUTS.map(([keys, label]) => el("tr", {}, el("th", {}, el("kbd", { text: keys })), el("td", { text: t(label) }))),
  );
}

function typing(target) {
  if (target instanceof HTMLInputElement) return !["checkbox", "radio", "button", "submit"].includes(target.type);
  return target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey && event.key === "Enter") {
    event.preventDefault();
    caseform.submit();
    return;
  }
  if (event.altKey && /^[1-5]$/.test(event.key)) {
    event.preventDefault();
    caseform.chooseOutcome(Number(event.key) - 1);
    return;
  }
  if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey || document.querySelector("dialog[open]")) return;
  const key = event.key;
  const handled = {
    "?": () => {
      renderHelp();
      $("dlg-help").showModal();
    },
    a: () => $("available").click(), // call.js sets the state and its own status line
    w: () => putState("wrap_up"),
    i: () => hw.request("read_id_card"),
    f: () => hw.request("verify_fingerprint"),
    d: () => hw.request("capture_document"),
    t: openTransfer,
    "[": () => documents.step(-1),
    "]": () => documents.step(1),
    "+": () => documents.zoom(1.25),
    "=": () => documents.zoom(1.25),
    "-": () => documents.zoom(0.8),
    0: () => documents.fit(),
    r: () => documents.rotate(),
    o: () => documents.toggleOriginal(),
    p: () => caseform.printNotice(),
    q: () => queue.focus(),
  }[key.length === 1 ? key.toLowerCase() : key];
  if (handled) {
    event.preventDefault();
    handled();
    return;
  }
  if (/^[1-9]$/.test(key)) {
    event.preventDefault();
    caseform.toggleMaterial(Number(key) - 1);
  }
});

// --- wiring ----------------------------------------------------------------------------------------

document.addEventListener("call:agent", (event) => setAgent(event.detail)); // call.js sets "available"
$("pause-reason").addEventListener("change", () => {
  const reason = $("pause-reason").value;
  if (reason) putState("paused", reason);
});
$("wrap-up").addEventListener("click", () => putState("wrap_up"));
$("t-recall").addEventListener("click", recall);
$("t-noshow").addEventListener("click", noShow);
$("t-transfer").addEventListener("click", openTransfer);
$("t-hold").addEventListener("click", hold);
$("help-open").addEventListener("click", () => {
  renderHelp();
  $("dlg-help").showModal();
});

// Re-render dynamic texts when the language changes (i18n.apply sets <html lang>).
new MutationObserver(() => {
  renderAgent();
  renderSettings();
  queue.rerender();
  resident.rerender();
  documents.rerender();
  caseform.rerender();
  hw.rerender();
}).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });

async function boot() {
  wb.me = callState.me;
  const [services, stations, settings] = await Promise.all([
    api("GET", "/api/catalog/services").catch(() => []),
    api("GET", `/api/stations${wb.me.office_id ? `?office_id=${wb.me.office_id}` : ""}`).catch(() => []),
    api("GET", "/api/queue/settings").catch(() => null),
  ]);
  for (const s of services) wb.services.set(s.id, s);
  for (const s of stations) wb.stations.set(s.id, s);
  wb.settings = settings;
  renderSettings();
  renderTicketButtons();
  const agentLoaded = refreshAgent();
  setInterval(tickTimer, 1000);
  queue.init({ onCall: openCallDialog, onResume: resumeHeld, onAgent: (payload) => {
    if (payload.user_id === wb.me.id) refreshAgent();
  }, onSettings: (s) => {
    wb.settings = s;
    renderSettings();
  } });
  hw.init();
  documents.init();
  caseform.init();
  await agentLoaded;
  renderAgent();
  document.body.dataset.ready = "true";
}

await boot();
