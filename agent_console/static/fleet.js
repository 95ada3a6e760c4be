// 终端运维 (/console/fleet.html): every kiosk's last heartbeat, device health, last errors and
// counters; live alerts ("kiosk.alert") over /ws/events; remote health checks ("kiosk.diag").
import { api, currentUser } from "/console/api.js";
import { lang, load, t, toggle } from "/console/i18n.js";
import { liveEvents } from "/console/live.js";

const $ = (id) => document.getElementById(id);
let me = null;
let selected = null;
let kiosks = new Map();
let pendingDiag = null;

function showError(err) {
  $("error").hidden = !err;
  $("error").textContent = err ? t("rt.error", { message: err.message || String(err) }) : "";
}

async function run(fn) {
  try {
    await fn();
    showError(null);
  } catch (err) {
    showError(err);
  }
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString(lang()) : "—";
}

function deviceName(kind) {
  const key = `fleet.device.${kind}`;
  const text = t(key);
  return text === key ? kind : text;
}

function status(k) {
  if (k.last_report_at === null) return "unknown";
  if (k.silent) return "silent";
  if (k.failing.length) return "fault";
  return "ok";
}

function badge(kind, text) {
  const b = document.createElement("span");
  b.className = `badge ${kind}`;
  b.textContent = text;
  return b;
}

function statusBadge(k) {
  const s = status(k);
  const cls = { ok: "ok", fault: "bad", silent: "warn", unknown: "warn" }[s];
  return badge(cls, t(`fleet.status.${s}`));
}

function td(content) {
  const cell = document.createElement("td");
  cell.append(content);
  return cell;
}

async function refreshList() {
  const rows = await api("GET", "/api/fleet/kiosks");
  kiosks = new Map(rows.map((k) => [k.kiosk_id, k]));
  $("kiosks").tBodies[0].replaceChildren(
    ...rows.map((k) => {
      const tr = document.createElement("tr");
      tr.dataset.kioskId = String(k.kiosk_id);
      tr.dataset.status = status(k);
      tr.tabIndex = 0;
      tr.setAttribute("aria-selected", String(k.kiosk_id === selected));
      const online = badge(k.online ? "ok" : "warn", t(k.online ? "fleet.online" : "fleet.offline"));
      const st = document.createDocumentFragment();
      st.append(statusBadge(k), online);
      const devices = k.devices.length
        ? k.devices.map((d) => `${deviceName(d.kind)}${d.ok ? " ✓" : " ✗"}`).join(" · ")
        : "—";
      tr.append(
        td(k.name),
        td(k.station_name),
        td(st),
        td(when(k.last_report_at)),
        td(devices),
        td(t("fleet.stats", { reports: k.reports, failures: k.device_failures, silent: k.silent_alerts })),
      );
      tr.addEventListener("click", () => select(k.kiosk_id));
      tr.addEventListener("keydown", (e) => {
        if (e.key === "Enter") select(k.kiosk_id);
      });
      return tr;
    }),
  );
  $("empty").hidden = rows.length > 0;
  const faults = rows.filter((k) => status(k) !== "ok").length;
  $("summary").textContent = t("fleet.summary", { n: rows.length, faults });
}

async function select(id) {
  selected = id;
  for (const tr of $("kiosks").tBodies[0].rows) tr.setAttribute("aria-selected", String(tr.dataset.kioskId === String(id)));
  await refreshDetail();
}

function eventText(e) {
  if (e.kind === "device_failed") return t("fleet.ev.device_failed", { device: deviceName(e.device), text: e.detail.text || e.detail.error || "" });
  if (e.kind === "device_recovered") return t("fleet.ev.device_recovered", { device: deviceName(e.device) });
  if (e.kind === "diag_result") return t(e.detail.ok ? "fleet.ev.diag_ok" : "fleet.ev.diag_fault", { devices: (e.detail.failing || []).map(deviceName).join("、") });
  return t(`fleet.ev.${e.kind}`);
}

async function refreshDetail() {
  if (selected === null) return;
  const k = await api("GET", `/api/fleet/kiosks/${selected}`);
  $("detail").hidden = false;
  $("detail").dataset.kioskId = String(k.kiosk_id);
  $("detail-name").textContent = `${k.name} · ${k.station_name}`;
  $("detail-sub").textContent = t("fleet.detail.sub", { at: when(k.last_report_at), seen: when(k.last_seen_at) });
  $("diag-btn").hidden = !["technician", "admin"].includes(me.role);
  $("devices").tBodies[0].replaceChildren(
    ...k.devices.map((d) => {
      const tr = document.createElement("tr");
      tr.dataset.kind = d.kind;
      tr.dataset.ok = String(d.ok);
      tr.append(
        td(deviceName(d.kind)),
        td(badge(d.ok ? "ok" : "bad", t(d.ok ? "fleet.device.ok" : "fleet.device.fault"))),
        td(d.error || d.text || d.state || ""),
      );
      return tr;
    }),
  );
  $("events").replaceChildren(
    ...k.events.map((e) => {
      const li = document.createElement("li");
      li.dataset.kind = e.kind;
      li.append(`${eventText(e)} `);
      const small = document.createElement("span");
      small.className = "muted";
      small.textContent = when(e.at);
      li.append(small);
      return li;
    }),
  );
  const last = k.diag[0];
  if (last && (!pendingDiag || pendingDiag === last.request_id)) showDiag(last);
}

function showDiag(d) {
  const el = $("diag-state");
  el.hidden = false;
  el.dataset.requestId = d.request_id;
  el.dataset.state = d.state;
  el.dataset.ok = d.ok === null ? "" : String(d.ok);
  if (d.state === "answered") {
    const failing = Object.entries(d.report || {})
      .filter(([, v]) => !(v.health ? v.health.ok : v.ok))
      .map(([kind]) => deviceName(kind));
    el.textContent = d.ok
      ? t("fleet.diag.ok", { at: when(d.answered_at) })
      : t("fleet.diag.fault", { devices: failing.join("、"), at: when(d.answered_at) });
  } else {
    el.textContent = t(`fleet.diag.${d.state}`);
  }
}

async function runDiag() {
  const d = await api("POST", `/api/fleet/kiosks/${selected}/diag`);
  pendingDiag = d.request_id;
  showDiag(d);
}

function addAlert(payload) {
  const k = kiosks.get(payload.kiosk_id);
  const name = k ? `${k.name} · ${k.station_name}` : `#${payload.kiosk_id}`;
  const li = document.createElement("li");
  li.dataset.kind = payload.kind;
  li.dataset.kioskId = String(payload.kiosk_id);
  if (payload.device) li.dataset.device = payload.device;
  const text =
    payload.kind === "device_failed"
      ? t("fleet.alert.device_failed", { kiosk: name, device: deviceName(payload.device), text: payload.text || payload.error || "" })
      : t(`fleet.alert.${payload.kind}`, { kiosk: name });
  li.append(text);
  const small = document.createElement("span");
  small.className = "muted";
  small.textContent = new Date().toLocaleTimeString(lang());
  li.append(small);
  $("alerts").prepend(li);
  while ($("alerts").children.length > 50) $("alerts").lastChild.remove();
  $("no-alerts").hidden = true;
}

function onEvent(ev) {
  if (ev.topic === "kiosk.alert") addAlert(ev.payload);
  if (["kiosk.alert", "kiosk.health", "kiosk.diag"].includes(ev.topic)) {
    run(refreshList);
    if (selected !== null && ev.payload.kiosk_id === selected) run(refreshDetail);
  }
}

function setLive(state) {
  $("live").dataset.state = state;
  $("live").textContent = t(`rt.${state}`);
  if (state === "online") run(refreshList);
}

await load();
me = await currentUser();

if (me) {
  $("who").textContent = `${me.display_name} · ${t(`role.${me.role}`)}`;
  $("lang").addEventListener("click", async () => {
    await toggle();
    $("who").textContent = `${me.display_name} · ${t(`role.${me.role}`)}`;
    await run(refreshList);
    await run(refreshDetail);
  });
  $("diag-btn").addEventListener("click", () => run(runDiag));
  await run(refreshList);
  document.body.dataset.ready = "true";
  liveEvents({ onEvent, onState: setLive });
}
