// 办件 (/console/cases.html): the agent's and supervisor's cases, kept current from /ws/events
// ("case.changed", "case.escalated", "case.overdue"); a detail pane with history, materials, the
// documents (fetched only when opened) and the one-time notice; transfer (指定), escalate (兜底) and
// complete; the open cases of a resident by ID number (typed, sent, then cleared from the input).
import { api, currentUser } from "/console/api.js";
import { lang, load, t, toggle } from "/console/i18n.js";
import { liveEvents } from "/console/live.js";

const $ = (id) => document.getElementById(id);
const OPEN = new Set(["in_progress", "awaiting_materials", "escalated"]);
let me = null;
let agents = [];
let selected = null;
let current = null;
let lastLookup = null;
const docUrls = new Map();

function showError(err) {
  $("error").hidden = !err;
  $("error").textContent = err ? t("cs.error", { message: err.message || String(err) }) : "";
}

async function run(fn) {
  try {
    await fn();
    showError(null);
  } catch (err) {
    showError(err);
  }
}

function staffName(id) {
  if (id === null || id === undefined) return t("cs.supervisors");
  if (me && id === me.id) return t("cs.me", { name: me.display_name });
  const a = agents.find((x) => x.user_id === id);
  return a ? a.display_name : `#${id}`;
}

function stateNode(state) {
  const span = document.createElement("span");
  span.className = "state";
  span.dataset.state = state;
  span.textContent = t(`cs.state.${state}`);
  return span;
}

/** Due date in text and colour: overdue (red, with the word), due soon (amber), or none. */
function dueNode(c) {
  const span = document.createElement("span");
  span.className = "due";
  if (!c.due_date) {
    span.textContent = "—";
    return span;
  }
  span.append(c.due_date);
  const badge = document.createElement("span");
  badge.className = "badge";
  if (c.overdue) {
    span.dataset.due = "overdue";
    badge.classList.add("overdue");
    badge.textContent = t("cs.overdue");
    span.append(badge);
  } else if (c.days_left !== null && c.days_left !== undefined) {
    // counted by the office from its own today (the browser's date may be another day)
    const days = c.days_left;
    if (days <= 2) {
      span.dataset.due = "soon";
      badge.classList.add("soon");
      badge.textContent = days <= 0 ? t("cs.due_today") : t("cs.due_in", { days });
      span.append(badge);
    }
  }
  return span;
}

function td(content) {
  const cell = document.createElement("td");
  cell.append(content);
  return cell;
}

async function refreshList() {
  const params = new URLSearchParams();
  if ($("f-state").value) params.set("state", $("f-state").value);
  if ($("f-overdue").checked) params.set("overdue", "true");
  if ($("f-mine").checked) params.set("mine", "true");
  const rows = await api("GET", `/api/cases?${params}`);
  $("cases").tBodies[0].replaceChildren(
    ...rows.map((c) => {
      const tr = document.createElement("tr");
      tr.dataset.id = String(c.id);
      tr.dataset.state = c.state;
      tr.dataset.overdue = String(c.overdue);
      tr.tabIndex = 0;
      tr.setAttribute("aria-selected", String(c.id === selected));
      tr.append(td(c.number), td(c.service_name), td(stateNode(c.state)), td(OPEN.has(c.state) ? staffName(c.assigned_agent_id) : "—"), td(dueNode(c)));
      tr.addEventListener("click", () => run(() => select(c.id)));
      tr.addEventListener("keydown", (e) => {
        if (e.key === "Enter") run(() => select(c.id));
      });
      return tr;
    }),
  );
  $("empty").hidden = rows.length > 0;
}

async function refreshAgents() {
  agents = await api("GET", "/api/queue/agents");
}

async function select(id) {
  if (selected !== id) {
    for (const url of docUrls.values()) URL.revokeObjectURL(url);
    docUrls.clear();
  }
  selected = id;
  for (const tr of $("cases").tBodies[0].rows) tr.setAttribute("aria-selected", String(tr.dataset.id === String(id)));
  await refreshDetail();
}

function historyText(h) {
  const d = h.detail || {};
  const parts = [t(`cs.action.${h.action}`)];
  if (h.from_state !== h.to_state) parts.push(`→ ${t(`cs.state.${h.to_state}`)}`);
  if (d.to_agent_id) parts.push(t("cs.h.to", { name: staffName(d.to_agent_id) }));
  if (d.due_date) parts.push(t("cs.h.due", { date: d.due_date }));
  if (d.reason) parts.push(t("cs.h.reason", { reason: d.reason }));
  if (d.document_ids) parts.push(t("cs.h.docs", { n: d.document_ids.length }));
  return parts.join(" ");
}

function renderActions(c) {
  const open = OPEN.has(c.state);
  const isSup = me.role === "supervisor";
  const mayAct = isSup || me.id === c.owner_agent_id || me.id === c.assigned_agent_id;
  $("actions").hidden = !open || !mayAct;
  $("a-transfer").hidden = c.state === "escalated" && !isSup && me.id !== c.owner_agent_id;
  $("a-escalate").hidden = c.state === "escalated";
  const others = agents.filter((a) => a.user_id !== c.assigned_agent_id);
  const keep = $("t-agent").value;
  $("t-agent").replaceChildren(
    ...others.map((a) => {
      const o = document.createElement("option");
      o.value = String(a.user_id);
      o.textContent = a.user_id === me.id ? t("cs.me", { name: a.display_name }) : a.display_name;
      return o;
    }),
  );
  if (others.some((a) => String(a.user_id) === keep)) $("t-agent").value = keep;
  $("t-go").disabled = others.length === 0;
}

function renderDocuments(c) {
  $("documents").replaceChildren(
    ...c.documents.map((d) => {
      const li = document.createElement("li");
      li.dataset.documentId = String(d.document_id);
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary small";
      b.textContent = t("cs.doc.open", { kind: t(`cs.doc.${d.kind}`), w: d.width, h: d.height });
      b.addEventListener("click", () => run(() => openDocument(li, d)));
      li.append(b);
      if (docUrls.has(d.document_id)) run(() => openDocument(li, d)); // already fetched: shown again
      return li;
    }),
  );
  if (c.documents.length === 0) $("documents").replaceChildren(Object.assign(document.createElement("li"), { className: "muted", textContent: t("cs.none") }));
}

/** A document's bytes are fetched only when the agent opens it (each read is audited). */
async function openDocument(li, d) {
  let url = docUrls.get(d.document_id);
  if (!url) {
    const r = await fetch(`/api/documents/${d.document_id}`, { credentials: "same-origin", cache: "no-store" });
    if (!r.ok) throw new Error(t("cs.doc.failed", { status: r.status }));
    url = URL.createObjectURL(await r.blob());
    docUrls.set(d.document_id, url);
  }
  li.querySelector("img, object")?.remove();
  if (d.mime === "application/pdf") {
    const a = document.createElement("a");
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener";
    a.textContent = t("cs.doc.pdf");
    li.append(a);
  } else {
    const img = document.createElement("img");
    img.src = url;
    img.alt = t(`cs.doc.${d.kind}`);
    li.append(img);
  }
}

async function refreshDetail() {
  if (selected === null) return;
  const c = await api("GET", `/api/cases/${selected}`);
  current = c;
  const pane = $("detail");
  pane.hidden = false;
  pane.dataset.id = String(c.id);
  pane.dataset.state = c.state;
  pane.dataset.overdue = String(c.overdue);
  $("detail-number").textContent = c.number;
  $("detail-state").replaceWith(Object.assign(stateNode(c.state), { id: "detail-state" }));
  $("d-service").textContent = c.service_name;
  $("d-due").replaceChildren(dueNode(c));
  $("d-owner").textContent = staffName(c.owner_agent_id);
  $("d-assignee").textContent = OPEN.has(c.state) ? staffName(c.assigned_agent_id) : "—";
  $("d-created").textContent = new Date(c.created_at).toLocaleString(lang());
  $("d-notes").textContent = c.notes || "—";
  $("d-reason").textContent = c.reason;
  $("d-reason").hidden = $("d-reason-dt").hidden = !c.reason;
  renderActions(c);
  $("history").replaceChildren(
    ...c.history.map((h) => {
      const li = document.createElement("li");
      li.dataset.action = h.action;
      const what = document.createElement("span");
      what.textContent = historyText(h);
      const meta = document.createElement("span");
      meta.className = "muted";
      meta.textContent = ` ${new Date(h.at).toLocaleString(lang())} · ${h.actor_id === null ? t("cs.system") : staffName(h.actor_id)}`;
      li.append(what, meta);
      return li;
    }),
  );
  $("materials").replaceChildren(
    ...c.materials.map((m) => {
      const li = document.createElement("li");
      li.dataset.checked = String(m.checked);
      li.textContent = `${m.checked ? "☑" : "☐"} ${m.name}${m.document_ids.length ? ` (${t("cs.h.docs", { n: m.document_ids.length })})` : ""}`;
      return li;
    }),
  );
  if (c.materials.length === 0) $("materials").replaceChildren(Object.assign(document.createElement("li"), { className: "muted", textContent: t("cs.none") }));
  renderDocuments(c);
  $("notice-box").hidden = !c.notice;
  if (c.notice) {
    const en = lang() === "en";
    $("notice").replaceChildren(
      ...c.notice.missing.map((m) => {
        const li = document.createElement("li");
        li.textContent = `${en ? m.name_en || m.name : m.name} × ${m.count}${m.notes ? ` — ${m.notes}` : ""}`;
        return li;
      }),
    );
  }
}

async function act(button, path, body, clear) {
  button.disabled = true;
  try {
    await api("POST", `/api/cases/${current.id}/${path}`, body);
    for (const id of clear) $(id).value = "";
    await refreshDetail();
    await refreshList();
  } finally {
    button.disabled = false;
  }
}

/** The last look-up's open cases (never the ID number), re-rendered on a language switch. */
function renderLookup() {
  if (lastLookup === null) return;
  $("lookup-out").textContent = t("cs.lookup.found", { n: lastLookup.length });
  $("lookup-results").replaceChildren(
    ...lastLookup.map((c) => {
      const li = document.createElement("li");
      li.dataset.id = String(c.id);
      const b = document.createElement("button");
      b.type = "button";
      b.className = "link";
      b.textContent = `${c.number} · ${c.service_name}`;
      b.addEventListener("click", () => run(() => select(c.id)));
      li.append(b, " ", stateNode(c.state), " ", dueNode(c));
      return li;
    }),
  );
}

async function lookup() {
  const input = $("lookup-id");
  const idNumber = input.value.trim().toUpperCase();
  if (!idNumber) return;
  $("lookup-btn").disabled = true;
  try {
    lastLookup = (await api("POST", "/api/residents/lookup", { id_number: idNumber })).open_cases;
    renderLookup();
  } finally {
    input.value = ""; // the number never stays on screen after the answer
    $("lookup-btn").disabled = false;
  }
}

function alertOverdue(payload) {
  $("alert-text").textContent = t("cs.alert.overdue", { number: payload.number || `#${payload.case_id}`, date: payload.due_date || "" });
  $("alert").hidden = false;
  $("alert").dataset.kind = "overdue";
  $("alert").dataset.caseId = String(payload.case_id);
}

function onEvent(ev) {
  if (!ev.topic || !ev.topic.startsWith("case.")) return;
  if (ev.topic === "case.overdue") alertOverdue(ev.payload);
  if (ev.topic === "case.escalated" && me.role === "supervisor") {
    $("alert-text").textContent = t("cs.alert.escalated", { number: ev.payload.number || `#${ev.payload.case_id}` });
    $("alert").hidden = false;
    $("alert").dataset.kind = "escalated";
    $("alert").dataset.caseId = String(ev.payload.case_id);
  }
  run(refreshList);
  if (selected !== null && ev.payload && ev.payload.case_id === selected) run(refreshDetail);
}

function setLive(state) {
  $("live").dataset.state = state;
  $("live").dataset.i18n = `cs.${state}`;
  $("live").textContent = t(`cs.${state}`);
  if (state === "online") run(refreshList);
}

function applyPlaceholders() {
  $("t-reason").placeholder = t("cs.reason");
  $("t-reason").setAttribute("aria-label", t("cs.reason"));
  $("e-reason").placeholder = t("cs.escalate.reason");
  $("c-notes").placeholder = t("cs.complete.notes");
  $("lookup-id").placeholder = t("cs.lookup.placeholder");
  if (me) $("who").textContent = `${me.display_name} · ${t(`role.${me.role}`)}`;
}

await load();
me = await currentUser();

if (me) {
  applyPlaceholders();
  $("lang").addEventListener("click", async () => {
    await toggle();
    applyPlaceholders();
    renderLookup();
    await run(refreshList);
    await run(refreshDetail);
  });
  for (const id of ["f-state", "f-overdue", "f-mine"]) $(id).addEventListener("change", () => run(refreshList));
  $("alert-close").addEventListener("click", () => {
    $("alert").hidden = true;
  });
  $("t-go").addEventListener("click", () =>
    run(() => act($("t-go"), "transfer", { agent_id: Number($("t-agent").value), reason: $("t-reason").value.trim() }, ["t-reason"])),
  );
  $("e-go").addEventListener("click", () =>
    run(async () => {
      const reason = $("e-reason").value.trim();
      if (!reason) {
        $("e-reason").focus();
        throw new Error(t("cs.escalate.need_reason"));
      }
      await act($("e-go"), "escalate", { reason }, ["e-reason"]);
    }),
  );
  $("c-go").addEventListener("click", () => run(() => act($("c-go"), "complete", { notes: $("c-notes").value.trim() }, ["c-notes"])));
  $("lookup-form").addEventListener("submit", (e) => {
    e.preventDefault();
    run(lookup);
  });
  await run(refreshAgents);
  await run(refreshList);
  document.body.dataset.ready = "true";
  liveEvents({ onEvent, onState: setLive });
}
