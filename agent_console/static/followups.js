// 差评整改 (/console/followups.html): the office's follow-ups of bad ratings, kept current from
// /ws/events ("rating.created", "followup.changed"); a supervisor works each one to closed.
import { api, currentUser } from "/console/api.js";
import { lang, load, t, toggle } from "/console/i18n.js";
import { liveEvents } from "/console/live.js";

const $ = (id) => document.getElementById(id);
let me = null;
let reasons = {};
let selected = null;
let current = null;
const fresh = new Set();

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

function reasonText(code) {
  const r = reasons[code];
  if (!r) return code;
  return lang() === "en" ? r.en : r.zh;
}

function levelNode(level, isDefault) {
  const span = document.createElement("span");
  span.className = "level";
  span.dataset.level = String(level);
  span.textContent = `${"★".repeat(level)}${"☆".repeat(5 - level)} ${t(`level.${level}`)}`;
  if (isDefault) span.title = t("fu.default");
  return span;
}

function stateNode(state) {
  const span = document.createElement("span");
  span.className = "state";
  span.dataset.state = state;
  span.textContent = t(`fu.state.${state}`);
  return span;
}

function dueNode(f) {
  const frag = document.createDocumentFragment();
  if (f.state === "closed") {
    frag.append(t("fu.closed_on", { date: (f.closed_at || "").slice(0, 10) }));
    return frag;
  }
  frag.append(`${f.due_date} · ${t(`fu.step.${f.due_step}`)}`);
  if (f.overdue) {
    const b = document.createElement("span");
    b.className = "badge overdue";
    b.textContent = t("fu.overdue");
    frag.append(b);
  }
  return frag;
}

function td(content) {
  const cell = document.createElement("td");
  cell.append(content);
  return cell;
}

async function refreshList() {
  const rows = await api("GET", `/api/followups?state=${$("filter").value}`);
  const body = $("followups").tBodies[0];
  body.replaceChildren(
    ...rows.map((f) => {
      const tr = document.createElement("tr");
      tr.dataset.id = String(f.id);
      tr.dataset.state = f.state;
      tr.dataset.overdue = String(f.overdue);
      tr.tabIndex = 0;
      if (fresh.has(f.id)) tr.classList.add("fresh");
      tr.setAttribute("aria-selected", String(f.id === selected));
      tr.append(
        td(`#${f.id}`),
        td(levelNode(f.level, f.is_default)),
        td(f.reasons.map(reasonText).join("、") || "—"),
        td(f.service_name),
        td(f.agent_name || "—"),
        td(stateNode(f.state)),
        td(dueNode(f)),
      );
      tr.addEventListener("click", () => select(f.id));
      tr.addEventListener("keydown", (e) => {
        if (e.key === "Enter") select(f.id);
      });
      return tr;
    }),
  );
  $("empty").hidden = rows.length > 0;
}

async function refreshKpis() {
  // Agents have no KPI view; an administrator without an office would have to name one.
  if (me.role === "agent" || me.office_id === null) return;
  // The last 30 days of the office's calendar, ending on its today (the browser's own date may
  // differ: another time zone, or a misset clock).
  const k = await api("GET", "/api/ratings/kpis?days=30");
  const pct = (rate) => (rate === null ? "—" : `${(rate * 100).toFixed(1)}%`);
  const set = (id, text, raw) => {
    $(id).textContent = text;
    $(id).dataset.value = raw === null || raw === undefined ? "" : String(raw);
  };
  set("kpi-follow-up", pct(k.follow_up_rate), k.follow_up_rate);
  set("kpi-follow-up-n", t("fu.kpi.of", { n: k.followed_up, d: k.followups }));
  set("kpi-rectification", pct(k.rectification_rate), k.rectification_rate);
  set("kpi-rectification-n", t("fu.kpi.of", { n: k.rectified, d: k.followups }));
  set("kpi-active", pct(k.active_rating_rate), k.active_rating_rate);
  set("kpi-active-n", t("fu.kpi.of", { n: k.active_ratings, d: k.served }));
  set("kpi-good", pct(k.good_rate), k.good_rate);
  set("kpi-good-n", t("fu.kpi.of", { n: k.good, d: k.ratings }));
  set("kpi-overdue", String(k.overdue_open), k.overdue_open);
  $("kpi-period").textContent = `${k.first} – ${k.last}`;
  $("kpi-panel").hidden = false;
}

async function select(id) {
  selected = id;
  fresh.delete(id);
  $("evaluator-out").textContent = "";
  for (const tr of $("followups").tBodies[0].rows) tr.setAttribute("aria-selected", String(tr.dataset.id === String(id)));
  await refreshDetail();
}

function renderActions(f) {
  const canWork = me.role !== "agent" || f.assignee_id === me.id;
  $("step-form").hidden = f.allowed.length === 0 || !canWork;
  $("days-label").hidden = !f.allowed.includes("classify:ledger");
  $("recheck-label").hidden = !f.allowed.includes("revisit");
  $("actions").replaceChildren(
    ...f.allowed.map((event) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "small";
      b.dataset.event = event;
      b.textContent = t(`fu.event.${event}`);
      b.disabled = !canWork;
      b.addEventListener("click", () => run(() => step(event, b)));
      return b;
    }),
  );
}

async function refreshDetail() {
  if (selected === null) return;
  const f = await api("GET", `/api/followups/${selected}`);
  current = f;
  $("detail").hidden = false;
  $("detail").dataset.id = String(f.id);
  $("detail").dataset.state = f.state;
  $("detail-id").textContent = `#${f.id}`;
  $("detail-state").replaceWith(Object.assign(stateNode(f.state), { id: "detail-state" }));
  $("detail-level").replaceChildren(levelNode(f.level, f.is_default));
  $("detail-reasons").textContent = f.reasons.map(reasonText).join("、") || "—";
  $("detail-comment").textContent = f.comment || "—";
  $("detail-service").textContent = f.service_name;
  $("detail-station").textContent = f.station_name || "—";
  $("detail-agent").textContent = f.agent_name || "—";
  $("detail-due").replaceChildren(dueNode(f));
  $("detail-class").textContent = f.classification
    ? t(`fu.class.${f.classification}`) + (f.appeal_outcome ? ` · ${t(`fu.appeal.${f.appeal_outcome}`)}` : "")
    : "—";
  $("evaluator-box").hidden = me.role === "agent";
  renderActions(f);
  $("history").replaceChildren(
    ...f.events.map((e) => {
      const li = document.createElement("li");
      li.dataset.event = e.event;
      const when = new Date(e.at).toLocaleString(lang());
      li.append(`${t(`fu.event.${e.event}`)} → ${t(`fu.state.${e.to_state}`)} `);
      const small = document.createElement("span");
      small.className = "muted";
      small.textContent = e.note ? `${when} · ${e.note}` : when;
      li.append(small);
      return li;
    }),
  );
}

async function step(event, button) {
  button.disabled = true;
  const body = { event, note: $("note").value.trim() };
  if (event === "classify:ledger") body.days = Number($("days").value || "5");
  if (event === "revisit" && $("recheck").value) body.recheck_level = Number($("recheck").value);
  await api("POST", `/api/followups/${current.id}/steps`, body);
  $("note").value = "";
  await refreshDetail();
  await refreshList();
  await refreshKpis();
}

async function showEvaluator() {
  const r = await api("GET", `/api/followups/${current.id}/evaluator`);
  $("evaluator-out").textContent = r.identified
    ? t("fu.evaluator.masked", { id: r.id_number_masked })
    : t("fu.evaluator.anonymous");
}

function toast(text) {
  $("toast").textContent = text;
  $("toast").hidden = false;
}

function onEvent(ev) {
  if (ev.topic === "rating.created" && ev.payload.followup_id) {
    fresh.add(ev.payload.followup_id);
    toast(t("fu.toast.new", { id: ev.payload.followup_id, level: t(`level.${ev.payload.level}`) }));
  } else if (ev.topic === "followup.changed" && ev.payload.overdue) {
    toast(t("fu.toast.overdue", { id: ev.payload.followup_id }));
  }
  if (ev.topic === "rating.created" || ev.topic === "followup.changed") {
    run(refreshList);
    run(refreshKpis);
    if (selected !== null && ev.payload.followup_id === selected) run(refreshDetail);
  }
}

function setLive(state) {
  $("live").dataset.state = state;
  $("live").dataset.i18n = `rt.${state}`;
  $("live").textContent = t(`rt.${state}`);
  if (state === "online") run(refreshList);
}

await load();
me = await currentUser();

if (me) {
  $("who").textContent = `${me.display_name} · ${t(`role.${me.role}`)}`;
  for (const r of await api("GET", "/api/kiosk/rating-reasons")) reasons[r.code] = r;
  $("lang").addEventListener("click", async () => {
    await toggle();
    await run(refreshList);
    await run(refreshDetail);
    $("who").textContent = `${me.display_name} · ${t(`role.${me.role}`)}`;
  });
  $("filter").addEventListener("change", () => run(refreshList));
  $("evaluator-btn").addEventListener("click", () => run(showEvaluator));
  $("step-form").addEventListener("submit", (e) => e.preventDefault());
  await run(refreshList);
  await run(refreshKpis);
  document.body.dataset.ready = "true";
  liveEvents({ onEvent, onState: setLive });
}
