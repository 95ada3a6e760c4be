// Supervisor dashboard (/console/dashboard.html): the live office and figures over a period, from
// /api/stats/live and /api/stats/period; charts drawn with uPlot (shipped in /console/vendor/).
// Refreshed by the office's live events (/ws/events via live.js): queue, agent, call, kiosk and
// rating events refresh the live view (and a period that includes today) after a short quiet
// time; a slow poll remains for what has no event (kiosks connecting to signaling).
import { api, currentUser } from "/console/api.js";
import { lang, load, t, toggle } from "/console/i18n.js";
import { liveEvents } from "/console/live.js";
import uPlot from "/console/vendor/uplot/uPlot.esm.js";

const $ = (id) => document.getElementById(id);
const LIVE_EVERY_MS = 60000; // fallback poll; events drive the refreshes
const LIVE_QUIET_MS = 500; // refresh the live view this long after an event (once per burst)
const PERIOD_QUIET_MS = 5000; // and a period that includes today this long after a ticket or rating
const LIVE_TOPICS = ["queue.", "call", "kiosk.", "rating."];
const PERIOD_TOPICS = ["queue.", "rating."];
let me = null;
let officeId = null;
let lastPeriod = null;
const charts = {};

// --- formatting -------------------------------------------------------------------------------

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  const r = s % 60;
  if (m >= 60) return t("dash.fmt.hm", { h: Math.floor(m / 60), m: m % 60 });
  return t("dash.fmt.ms", { m, s: String(r).padStart(2, "0") });
}

export function percent(rate) {
  return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)}%`;
}

function num(value, digits = 2) {
  return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
}

function setText(id, text, raw) {
  const el = $(id);
  el.textContent = text;
  if (raw !== undefined) el.dataset.value = raw === null ? "" : String(raw);
}

function cell(text, raw) {
  const td = document.createElement("td");
  td.textContent = text;
  if (raw !== undefined) td.dataset.value = raw === null ? "" : String(raw);
  return td;
}

function localDate(d) {
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

// Days are the office's (its time zone, from the period figures): the browser's own date may
// differ (another zone, or a misset clock), and "today" must be the office's business day.
let officeZone = null;

function officeToday() {
  const now = new Date();
  if (!officeZone) return localDate(now);
  const parts = new Intl.DateTimeFormat("en-US", { timeZone: officeZone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(now);
  const part = (type) => parts.find((p) => p.type === type).value;
  return `${part("year")}-${part("month")}-${part("day")}`;
}

function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function query() {
  const params = new URLSearchParams();
  if (officeId && me.role === "admin") params.set("office_id", officeId);
  if ($("first-day").value) params.set("first_day", $("first-day").value);
  if ($("last-day").value) params.set("last_day", $("last-day").value);
  // Empty: each service's own target wait; a value overrides it for every service.
  if ($("target").value) params.set("target_wait_min", $("target").value);
  return params;
}

function showError(err) {
  $("error").hidden = !err;
  $("error").textContent = err ? t("dash.error", { message: err.message || String(err) }) : "";
}

// --- live -------------------------------------------------------------------------------------

async function refreshLive() {
  const params = new URLSearchParams();
  if (me.role === "admin") params.set("office_id", officeId);
  const live = await api("GET", `/api/stats/live?${params}`);
  setText("live-waiting", String(live.waiting), live.waiting);
  setText("live-longest", duration(live.longest_wait_s), live.longest_wait_s);
  setText("live-kiosks", `${live.kiosks_online} / ${live.kiosks}`, live.kiosks_online);
  setText("live-calls", String(live.calls.length), live.calls.length);
  $("live-at").textContent = t("dash.live.at", { time: new Date(live.at).toLocaleTimeString(lang()) });
  $("agent-states").replaceChildren(
    ...Object.entries(live.agent_states).map(([state, n]) => {
      const li = document.createElement("li");
      li.dataset.state = state;
      li.id = `agents-${state}`;
      li.append(t(`dash.agent.${state}`));
      const strong = document.createElement("strong");
      strong.textContent = String(n);
      li.append(strong);
      return li;
    }),
  );
  const stations = [...live.stations].sort((a, b) => b.waiting - a.waiting || a.code.localeCompare(b.code));
  $("live-stations").tBodies[0].replaceChildren(
    ...stations.map((s) => {
      const tr = document.createElement("tr");
      tr.dataset.stationId = s.station_id;
      tr.append(
        cell(lang() === "en" && s.name_en ? s.name_en : s.name),
        cell(String(s.waiting), s.waiting),
        cell(duration(s.longest_wait_s), s.longest_wait_s),
        cell(`${s.kiosks_online} / ${s.kiosks}`, s.kiosks_online),
      );
      return tr;
    }),
  );
  const now = new Date(live.at).getTime();
  $("live-agents").tBodies[0].replaceChildren(
    ...live.agents.map((a) => {
      const tr = document.createElement("tr");
      tr.append(cell(a.name), cell(t(`dash.agent.${a.state}`)), cell(duration((now - new Date(a.since).getTime()) / 1000)));
      return tr;
    }),
  );
}

// --- period -----------------------------------------------------------------------------------

const FIGURE_COLUMNS = [
  ["dash.col.issued", (r) => [String(r.issued), r.issued]],
  ["dash.col.served", (r) => [String(r.served), r.served]],
  ["dash.col.wait_mean", (r) => [duration(r.wait_mean_s), r.wait_mean_s]],
  ["dash.col.wait_p90", (r) => [duration(r.wait_p90_s), r.wait_p90_s]],
  ["dash.col.handling_mean", (r) => [duration(r.handling_mean_s), r.handling_mean_s]],
  ["dash.col.handling_p90", (r) => [duration(r.handling_p90_s), r.handling_p90_s]],
  ["dash.col.within_target", (r) => [percent(r.within_target_rate), r.within_target_rate]],
  ["dash.col.no_show", (r) => [percent(r.no_show_rate), r.no_show_rate]],
  ["dash.col.abandon", (r) => [percent(r.abandonment_rate), r.abandonment_rate]],
  ["dash.col.good_rate", (r) => [percent(r.good_rate), r.good_rate]],
  ["dash.col.mean_level", (r) => [num(r.mean_level), r.mean_level]],
];
const AGENT_COLUMNS = [
  ["dash.col.served", (r) => [String(r.served), r.served]],
  ["dash.col.completed", (r) => [String(r.completed), r.completed]],
  ["dash.col.handling_mean", (r) => [duration(r.handling_mean_s), r.handling_mean_s]],
  ["dash.col.handling_p90", (r) => [duration(r.handling_p90_s), r.handling_p90_s]],
  ["dash.col.ratings", (r) => [String(r.ratings), r.ratings]],
  ["dash.col.good_rate", (r) => [percent(r.good_rate), r.good_rate]],
  ["dash.col.mean_level", (r) => [num(r.mean_level), r.mean_level]],
];

function fillTable(table, firstKey, rows, columns, nameOf, idOf) {
  const head = document.createElement("tr");
  for (const key of [firstKey, ...columns.map(([k]) => k)]) {
    const th = document.createElement("th");
    th.textContent = t(key);
    head.append(th);
  }
  const thead = document.createElement("thead");
  thead.append(head);
  const tbody = document.createElement("tbody");
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.dataset.key = idOf(row);
    tr.append(cell(nameOf(row)));
    for (const [, get] of columns) tr.append(cell(...get(row)));
    tbody.append(tr);
  }
  table.replaceChildren(thead, tbody);
}

function named(row) {
  return (lang() === "en" && row.name_en ? row.name_en : row.name) || `#${row.key}`;
}

function chart(id, opts, data) {
  const el = $(id);
  charts[id]?.destroy();
  const width = Math.max(320, el.clientWidth || 400);
  charts[id] = new uPlot({ width, height: 240, ...opts }, data, el);
}

const bars = uPlot.paths.bars({ size: [0.7, 60] });
/** Counts are whole numbers: no 2.5 ticks. */
const COUNT_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
/** Categorical x axis 0 … n-1 with half a slot of margin either side. */
const slots = (n) => ({ time: false, range: () => [-0.5, Math.max(n, 1) - 0.5] });

function drawCharts(p) {
  chart(
    "chart-hourly",
    {
      scales: { x: slots(24) },
      axes: [{ incrs: [1, 2, 3, 6], values: (u, ticks) => ticks.map((v) => `${v}`) }, { incrs: COUNT_INCRS }],
      series: [{ label: t("dash.chart.hour") }, { label: t("dash.chart.served"), fill: "#0b5cad99", stroke: "#0b5cad", paths: bars, points: { show: false } }],
      legend: { show: false },
    },
    [p.hourly.map((h) => h.hour), p.hourly.map((h) => h.served)],
  );
  const labels = p.wait_distribution.map((b) => (b.high_min === null ? `≥${b.low_min}` : `${b.low_min}–${b.high_min}`));
  chart(
    "chart-waits",
    {
      scales: { x: slots(labels.length) },
      axes: [{ incrs: [1], values: (u, ticks) => ticks.map((v) => labels[v] ?? ""), label: t("dash.chart.minutes") }, { incrs: COUNT_INCRS }],
      series: [{}, { label: t("dash.chart.tickets"), fill: "#1b7f3b99", stroke: "#1b7f3b", paths: bars, points: { show: false } }],
      legend: { show: false },
    },
    [labels.map((_, i) => i), p.wait_distribution.map((b) => b.count)],
  );
  const days = p.trend.map((d) => d.day.slice(5));
  const step = Math.max(1, Math.ceil(days.length / 10));
  chart(
    "chart-trend",
    {
      scales: { x: slots(days.length), rate: { range: [0, 100] }, level: { range: [1, 5] } },
      axes: [
        { incrs: [step], values: (u, ticks) => ticks.map((v) => days[v] ?? "") },
        { scale: "rate", values: (u, ticks) => ticks.map((v) => `${v}%`) },
        { scale: "level", side: 1, grid: { show: false } },
      ],
      series: [
        { value: (u, v) => days[v] ?? "—" },
        { label: t("dash.kpi.good"), scale: "rate", stroke: "#0b5cad", width: 2, points: { size: 8 }, value: (u, v) => (v == null ? "—" : `${v.toFixed(1)}%`) },
        { label: t("dash.col.mean_level"), scale: "level", stroke: "#b36b00", width: 2, dash: [6, 4], points: { size: 8 }, value: (u, v) => (v == null ? "—" : v.toFixed(2)) },
      ],
    },
    [days.map((_, i) => i), p.trend.map((d) => (d.good_rate === null ? null : d.good_rate * 100)), p.trend.map((d) => d.mean_level)],
  );
}

function renderPeriod(p) {
  lastPeriod = p;
  officeZone = p.timezone || officeZone;
  // Opened without dates: the office's today, as the figures were computed for it.
  if (!$("first-day").value) $("first-day").value = p.first_day;
  if (!$("last-day").value) $("last-day").value = p.last_day;
  const s = p.summary;
  setText("kpi-served", String(s.served), s.served);
  setText("kpi-issued", t("dash.kpi.issued", { n: s.issued }), s.issued);
  setText("kpi-wait-mean", duration(s.wait_mean_s), s.wait_mean_s);
  setText("kpi-wait-p90", t("dash.kpi.p90", { v: duration(s.wait_p90_s) }), s.wait_p90_s);
  setText("kpi-handling-mean", duration(s.handling_mean_s), s.handling_mean_s);
  setText("kpi-handling-p90", t("dash.kpi.p90", { v: duration(s.handling_p90_s) }), s.handling_p90_s);
  setText("kpi-within-target", percent(s.within_target_rate), s.within_target_rate);
  setText("kpi-no-show", percent(s.no_show_rate), s.no_show_rate);
  setText("kpi-abandon", percent(s.abandonment_rate), s.abandonment_rate);
  setText("kpi-good-rate", percent(s.good_rate), s.good_rate);
  setText("kpi-mean-level", t("dash.kpi.mean_level", { v: num(s.mean_level), n: s.ratings }), s.mean_level);
  setText("kpi-mae", duration(p.accuracy.mae_s), p.accuracy.mae_s);
  setText("kpi-mae-n", t("dash.kpi.samples", { n: p.accuracy.samples }), p.accuracy.samples);
  fillTable($("by-station"), "dash.col.station", p.stations, FIGURE_COLUMNS, named, (r) => r.key);
  fillTable($("by-service"), "dash.col.service", p.services, FIGURE_COLUMNS, named, (r) => r.key);
  fillTable($("by-agent"), "dash.col.agent", p.agents, AGENT_COLUMNS, (r) => r.name || `#${r.agent_id}`, (r) => r.agent_id);
  drawCharts(p);
  document.body.dataset.loaded = `${p.first_day}/${p.last_day}`;
}

async function refreshPeriod() {
  const p = await api("GET", `/api/stats/period?${query()}`);
  renderPeriod(p);
  updateCsvLinks();
}

function updateCsvLinks() {
  const params = query();
  for (const a of document.querySelectorAll("a.csv")) {
    a.href = `/api/stats/export/${a.dataset.table}.csv?${params}`;
  }
}

function setDays(n) {
  const today = officeToday();
  $("first-day").value = addDays(today, -(n - 1));
  $("last-day").value = today;
}

// --- start ------------------------------------------------------------------------------------

// At most one pending refresh per view: a steady stream of events refreshes every `ms`, not never.
const timers = {};
function later(name, ms, fn) {
  if (timers[name]) return;
  timers[name] = setTimeout(() => {
    timers[name] = null;
    run(fn);
  }, ms);
}

function periodIncludesToday() {
  const today = officeToday();
  return $("first-day").value <= today && today <= $("last-day").value;
}

function onEvent(ev) {
  const topic = String(ev.topic || "");
  if (topic === "events.dropped") {
    later("live", LIVE_QUIET_MS, refreshLive);
    later("period", PERIOD_QUIET_MS, refreshPeriod);
    return;
  }
  if (!LIVE_TOPICS.some((p) => topic.startsWith(p))) return;
  if (officeId && ev.office_id && String(ev.office_id) !== String(officeId)) return;
  later("live", LIVE_QUIET_MS, refreshLive);
  if (PERIOD_TOPICS.some((p) => topic.startsWith(p)) && periodIncludesToday()) {
    later("period", PERIOD_QUIET_MS, refreshPeriod);
  }
}

function onLiveState(state) {
  document.body.dataset.live = state;
  // back online: catch up on what may have happened meanwhile
  if (state === "online") later("live", 0, refreshLive);
}

async function run(fn) {
  try {
    await fn();
    showError(null);
  } catch (err) {
    showError(err);
  }
}

await load();
me = await currentUser();

if (me) {
  const params = new URLSearchParams(location.search);
  if (me.role === "admin") {
    const offices = await api("GET", "/api/offices");
    $("office-label").hidden = false;
    $("office").replaceChildren(
      ...offices.map((o) => {
        const opt = document.createElement("option");
        opt.value = o.id;
        opt.textContent = o.name;
        return opt;
      }),
    );
    officeId = params.get("office_id") || offices[0]?.id;
    $("office").value = officeId;
    $("office").addEventListener("change", () => {
      officeId = $("office").value;
      run(refreshLive);
      run(refreshPeriod);
    });
  } else {
    officeId = me.office_id;
  }
  if (!["supervisor", "admin"].includes(me.role)) {
    showError(new Error(t("dash.forbidden")));
  } else {
    if (params.get("first_day")) $("first-day").value = params.get("first_day");
    if (params.get("last_day")) $("last-day").value = params.get("last_day");
    // Without both dates the first figures are the office's today (the server's default).
    if (!$("first-day").value || !$("last-day").value) {
      $("first-day").value = "";
      $("last-day").value = "";
    }
    for (const b of document.querySelectorAll("button[data-days]")) {
      b.addEventListener("click", () => {
        setDays(Number(b.dataset.days));
        run(refreshPeriod);
      });
    }
    $("period-form").addEventListener("submit", (e) => {
      e.preventDefault();
      run(refreshPeriod);
    });
    $("lang").addEventListener("click", async () => {
      await toggle();
      await run(refreshLive);
      if (lastPeriod) renderPeriod(lastPeriod);
    });
    liveEvents({ onEvent, onState: onLiveState });
    await run(refreshLive);
    await run(refreshPeriod);
    setInterval(() => run(refreshLive), LIVE_EVERY_MS);
  }
}
