// Live queue panel: the office's queued tickets (GET /api/queue/tickets) kept current from /ws/events.
// Incremental: one <li> per ticket, created, moved or removed as its events arrive (never a full
// re-render per event); summaries (per service with the longest wait and its service level, per
// station) are recomputed at most once per animation frame. Built to stay responsive with 1,000
// waiting tickets across 100 stations.
import { api } from "/console/api.js";
import { liveEvents } from "/console/live.js";
import { t } from "/console/i18n.js";
import { $, clock, el, serviceName, stationName, wb } from "/console/wb-common.js";

const QUEUED = new Set(["waiting", "recalled", "transferred"]);
const SUMMARY_MS = 5000;
const WAIT_TEXT_MS = 15000;
const RECONCILE_MS = 60000;

const rows = new Map(); // ticket_id -> {t, li}
const order = []; // row records in call order
const held = new Map(); // ticket id -> ticket (held by me in this session)
let counts = { waiting: 0, by_service: {}, by_station: {} };
let handlers = {};
let summaryQueued = false;
let loaded = false;
const pendingDetails = new Set();

/** Figures for tests and the bench. */
export const stats = { events: 0, applied: 0, connected: false, lastEvent: null };
window.wbQueue = stats;

// --- rows -----------------------------------------------------------------------------------------

function issuedMs(ticket) {
  const at = ticket.issued_at ? Date.parse(ticket.issued_at) : Number.NaN;
  return Number.isNaN(at) ? ticket._seen || Date.now() : at;
}

function key(rec) {
  return [rec.t.priority ?? 9, issuedMs(rec.t), rec.t.ticket_id];
}

function before(a, b) {
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i];
  return false;
}

function waitText(ticket) {
  return t("wb.queue.min", { n: Math.floor((Date.now() - issuedMs(ticket)) / 60000) });
}

function fillRow(rec) {
  const tk = rec.t;
  const li = rec.li;
  li.dataset.state = tk.state;
  li.dataset.serviceId = String(tk.service_id);
  li.dataset.stationId = tk.station_id === null || tk.station_id === undefined ? "staff" : String(tk.station_id);
  li.dataset.priority = String(tk.priority ?? 0);
  const [num, svc, stn, wait] = li.children;
  num.textContent = tk.number;
  svc.textContent = serviceName(tk.service_id);
  stn.textContent = stationName(tk.station_id);
  wait.textContent = waitText(tk);
  const prioritized = tk.priority !== undefined && tk.priority < 3; // Priority.NORMAL is 3
  const badge = tk.state === "waiting" ? (prioritized ? t("wb.queue.priority") : "") : t(`wb.tstate.${tk.state}`);
  li.title = badge;
  li.classList.toggle("flag", Boolean(badge));
  applyFilter(rec);
}

function makeRow(ticket) {
  const li = el(
    "li",
    { tabindex: "-1", dataset: { ticketId: ticket.ticket_id } },
    el("span", { class: "num" }),
    el("span", { class: "svc" }),
    el("span", { class: "stn" }),
    el("span", { class: "wait" }),
  );
  return { t: ticket, li };
}

function place(rec) {
  // Position by (priority, issued): scan from the end, most new tickets belong there.
  const at = order.indexOf(rec);
  if (at >= 0) order.splice(at, 1);
  let i = order.length;
  while (i > 0 && before(rec, order[i - 1])) i--;
  order.splice(i, 0, rec);
  const next = order[i + 1];
  const list = $("tickets");
  if (next) {
    if (rec.li.nextSibling !== next.li) list.insertBefore(rec.li, next.li);
  } else if (list.lastChild !== rec.li) list.append(rec.li);
}

function upsert(ticket) {
  const id = ticket.ticket_id;
  let rec = rows.get(id);
  const fresh = !rec;
  if (fresh) {
    rec = makeRow({ _seen: Date.now(), ...ticket });
    rows.set(id, rec);
  } else {
    Object.assign(rec.t, ticket);
  }
  fillRow(rec);
  if (fresh || ticket.priority !== undefined || ticket.issued_at !== undefined) place(rec);
  if (rec.t.issued_at === undefined) pendingDetails.add(id);
}

function remove(id) {
  const rec = rows.get(id);
  if (!rec) return;
  rows.delete(id);
  const at = order.indexOf(rec);
  if (at >= 0) order.splice(at, 1);
  rec.li.remove();
}

function fromOut(ticket) {
  return { ...ticket, ticket_id: ticket.id };
}

// Details (priority, issue time) of tickets first seen in an event, a few at a time.
let fetching = false;
async function fetchDetails() {
  if (fetching || pendingDetails.size === 0) return;
  fetching = true;
  try {
    while (pendingDetails.size) {
      const ids = [...pendingDetails].slice(0, 8);
      for (const id of ids) pendingDetails.delete(id);
      const outs = await Promise.all(ids.map((id) => api("GET", `/api/queue/tickets/${id}`).catch(() => null)));
      for (const out of outs) {
        if (!out || !rows.has(out.id)) continue;
        if (QUEUED.has(out.state)) upsert(fromOut(out));
        else remove(out.id);
      }
      scheduleSummary();
    }
  } finally {
    fetching = false;
  }
}

// --- filters and summaries ------------------------------------------------------------------------

function applyFilter(rec) {
  const svc = $("filter-service").value;
  const stn = $("filter-station").value;
  rec.li.hidden = Boolean((svc && rec.li.dataset.serviceId !== svc) || (stn && rec.li.dataset.stationId !== stn));
}

function level(waitMin) {
  const bound = wb.settings?.max_wait_bound_min || 45;
  if (waitMin >= bound) return "breach";
  if (waitMin >= bound / 2) return "warn";
  return "ok";
}

function scheduleSummary() {
  if (summaryQueued) return;
  summaryQueued = true;
  requestAnimationFrame(renderSummary);
}

function renderSummary() {
  summaryQueued = false;
  const now = Date.now();
  const perService = new Map(); // id -> {n, oldest}
  for (const rec of order) {
    const s = perService.get(rec.t.service_id) || { n: 0, oldest: now };
    s.n += 1;
    s.oldest = Math.min(s.oldest, issuedMs(rec.t));
    perService.set(rec.t.service_id, s);
  }
  // The office's counts are authoritative for totals (they include tickets not yet in the list).
  for (const [id, n] of Object.entries(counts.by_service || {})) {
    const s = perService.get(Number(id)) || { n: 0, oldest: now };
    s.n = Math.max(s.n, n);
    perService.set(Number(id), s);
  }
  const svcRows = [...perService.entries()]
    .filter(([, s]) => s.n > 0)
    .sort((a, b) => a[1].oldest - b[1].oldest)
    .map(([id, s]) => {
      const waited = (now - s.oldest) / 1000;
      const lvl = level(waited / 60);
      return el(
        "tr",
        { dataset: { serviceId: id, level: lvl } },
        el("td", { text: serviceName(id) }),
        el("td", { class: "n", text: String(s.n) }),
        el("td", { class: "n", text: clock(waited) }),
        el("td", {}, el("span", { class: `sl sl-${lvl}`, text: t(`wb.sl.${lvl}`) })),
      );
    });
  $("svc-rows").replaceChildren(...svcRows);
  const total = Math.max(counts.waiting || 0, order.length);
  $("queue-total").textContent = String(total);
  $("tickets-empty").hidden = order.length > 0;
  const stations = Object.entries(counts.by_station || {}).filter(([, n]) => n > 0);
  stations.sort((a, b) => b[1] - a[1]);
  $("station-count").textContent = String(stations.length);
  const list = $("station-rows");
  if (list.closest("details").open) {
    list.replaceChildren(...stations.map(([id, n]) => el("li", { dataset: { stationId: id } }, el("span", { text: stationName(id) }), el("strong", { text: String(n) }))));
  }
  fillFilters();
}

function fillFilters() {
  const fill = (select, entries, label) => {
    const want = entries.map(([id]) => String(id)).join(",");
    if (select.dataset.options === want) return;
    const value = select.value;
    select.replaceChildren(select.firstElementChild, ...entries.map(([id, name]) => el("option", { value: id, text: name })));
    select.dataset.options = want;
    select.value = value;
    select.firstElementChild.textContent = t(label);
  };
  const svcIds = new Set(order.map((r) => r.t.service_id));
  fill($("filter-service"), [...svcIds].sort((a, b) => a - b).map((id) => [id, serviceName(id)]), "wb.queue.all_services");
  const stnIds = new Set(order.map((r) => r.li.dataset.stationId));
  fill($("filter-station"), [...stnIds].sort().map((id) => [id, stationName(id)]), "wb.queue.all_stations");
}

function refreshWaitTexts() {
  for (const rec of order) {
    const text = waitText(rec.t);
    const span = rec.li.lastChild;
    if (span.textContent !== text) span.textContent = text;
  }
}

// --- held tickets ---------------------------------------------------------------------------------

function renderHeld() {
  $("held").replaceChildren(
    ...[...held.values()].map((tk) =>
      el(
        "li",
        { dataset: { ticketId: tk.id } },
        el("span", { class: "num", text: tk.number }),
        el("span", { class: "svc", text: serviceName(tk.service_id) }),
        el("button", { type: "button", class: "secondary tiny", text: t("wb.t.resume"), onclick: () => handlers.onResume(tk) }),
      ),
    ),
  );
  $("held").previousElementSibling.hidden = held.size === 0;
}

export function addHeld(ticket) {
  held.set(ticket.id, ticket);
  renderHeld();
}

export function removeHeld(id) {
  held.delete(id);
  renderHeld();
}

// --- events ---------------------------------------------------------------------------------------

function onEvent(message) {
  stats.events += 1;
  const { topic, payload } = message;
  if (topic === "queue.counts") {
    counts = payload;
    scheduleSummary();
    return;
  }
  if (topic === "queue.agent") {
    handlers.onAgent?.(payload);
    return;
  }
  if (topic === "events.dropped") {
    reload();
    return;
  }
  if (topic === "case.overdue") {
    document.dispatchEvent(new CustomEvent("wb:case-overdue", { detail: payload }));
    return;
  }
  if (!topic.startsWith("queue.") || payload.ticket_id === undefined) return;
  document.dispatchEvent(new CustomEvent("wb:ticket-event", { detail: { topic, payload } }));
  if (!loaded) return;
  if (payload.state === "on_hold" && held.has(payload.ticket_id)) held.get(payload.ticket_id).state = "on_hold";
  if (QUEUED.has(payload.state)) {
    upsert(payload);
    // Back in the queue with a new place (transfer to the front, rejoin, priority): ask where.
    if (topic !== "queue.issued") pendingDetails.add(payload.ticket_id);
  } else remove(payload.ticket_id);
  stats.applied += 1;
  stats.lastEvent = { topic, ticket_id: payload.ticket_id, rendered: performance.now() };
  scheduleSummary();
  fetchDetails();
}

async function reload() {
  try {
    const tickets = await api("GET", "/api/queue/tickets?estimates=false");
    const keep = new Set(tickets.map((tk) => tk.id));
    for (const id of [...rows.keys()]) if (!keep.has(id)) remove(id);
    order.length = 0;
    for (const tk of tickets) {
      const ticket = fromOut(tk);
      let rec = rows.get(tk.id);
      if (rec) Object.assign(rec.t, ticket);
      else {
        rec = makeRow(ticket);
        rows.set(tk.id, rec);
      }
      fillRow(rec);
      order.push(rec);
    }
    const list = $("tickets");
    const inOrder = list.children.length === order.length && order.every((rec, i) => list.children[i] === rec.li);
    if (!inOrder) {
      const fragment = document.createDocumentFragment();
      for (const rec of order) fragment.append(rec.li);
      list.replaceChildren(fragment);
    }
    if (!loaded) stats.loadedAt = performance.now(); // first full list in the DOM (read by the bench)
    loaded = true;
    scheduleSummary();
  } catch {
    // keep what is shown; the next reconnect reloads
  }
}

function setConnected(on) {
  stats.connected = on;
  const pill = $("events-pill");
  pill.dataset.state = on ? "online" : "offline";
  pill.dataset.i18n = on ? "wb.queue.live" : "wb.queue.offline";
  pill.textContent = t(pill.dataset.i18n);
}

// --- keyboard in the list -------------------------------------------------------------------------

export function focus() {
  const first = [...$("tickets").children].find((li) => !li.hidden);
  (first || $("tickets")).focus();
}

function ticketOf(li) {
  return rows.get(Number(li.dataset.ticketId))?.t;
}

function onListKey(event) {
  const li = event.target.closest("li");
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    let next = li ? (event.key === "ArrowDown" ? li.nextElementSibling : li.previousElementSibling) : $("tickets").firstElementChild;
    while (next && next.hidden) next = event.key === "ArrowDown" ? next.nextElementSibling : next.previousElementSibling;
    next?.focus();
  } else if (event.key === "Enter" && li) {
    event.preventDefault();
    handlers.onCall(ticketOf(li));
  }
}

export function rerender() {
  for (const rec of order) fillRow(rec);
  renderHeld();
  setConnected(stats.connected);
  scheduleSummary();
}

export function init(h) {
  handlers = h;
  $("tickets").addEventListener("keydown", onListKey);
  $("tickets").addEventListener("dblclick", (event) => {
    const li = event.target.closest("li");
    if (li) handlers.onCall(ticketOf(li));
  });
  $("tickets").addEventListener("click", (event) => event.target.closest("li")?.focus());
  for (const id of ["filter-service", "filter-station"]) {
    $(id).addEventListener("change", () => {
      for (const rec of order) applyFilter(rec);
    });
  }
  $("station-rows").closest("details").addEventListener("toggle", scheduleSummary);
  setInterval(scheduleSummary, SUMMARY_MS);
  setInterval(refreshWaitTexts, WAIT_TEXT_MS);
  // The office's call order also weighs starvation and transfer placement, which events do not
  // carry: events place rows by (priority, issue time), a periodic snapshot puts them in true order.
  setInterval(() => {
    if (stats.connected && !document.hidden) reload();
  }, RECONCILE_MS);
  renderHeld();
  liveEvents({
    onEvent,
    onState: (state) => {
      setConnected(state === "online");
      if (state === "online") reload();
    },
  });
}
