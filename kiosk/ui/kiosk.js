// The resident's page: a thin view over the kiosk process's journey (kiosk/journey.py).
// The process pushes a view over /ws after every change; this page renders it and sends the
// resident's operations back. Nothing personal is stored in the browser; on every wipe the page
// clears its inputs as well.

const $ = (id) => document.getElementById(id);
const catalogs = {};
let view = null;
let catalog = { categories: [], services: [] };
let socket = null;
let lastWipes = null;
let lastPrompt = null;
let lastTouch = 0;
let mediaOn = false;
const form = { id: "", phone: "", code: "", field: "id", reasons: new Set(), level: null };

async function loadCatalogs() {
  for (const lang of ["zh-CN", "en"]) {
    const r = await fetch(`/ui/i18n/${lang}.json`);
    catalogs[lang] = await r.json();
  }
}

function lang() { return view ? view.lang : "zh-CN"; }

function t(key, values = {}) {
  const table = catalogs[lang()] || {};
  let text = table[key] ?? catalogs["zh-CN"]?.[key] ?? key;
  for (const [k, v] of Object.entries(values)) text = text.replaceAll(`{${k}}`, String(v));
  return text;
}

function name(obj) { return lang() === "en" ? (obj.name_en || obj.name) : obj.name; }

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "onclick") el.addEventListener("click", v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function button(label, op, { cls = "btn", id = null, pressed = null, disabled = false, lang: l = null } = {}) {
  return h("button", {
    type: "button", class: cls, id, "aria-pressed": pressed === null ? null : String(pressed),
    disabled, lang: l, onclick: typeof op === "function" ? op : () => send(op),
  }, label);
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${proto}://${location.host}/ws`);
  socket.addEventListener("message", (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "view") render(msg.view);
  });
  socket.addEventListener("close", () => {
    document.body.dataset.connected = "false";
    setTimeout(connect, 1000);
  });
  socket.addEventListener("open", () => { document.body.dataset.connected = "true"; });
}

async function loadCatalog() {
  try {
    const r = await fetch("/api/catalog");
    catalog = await r.json();
  } catch (err) {
    catalog = { categories: [], services: [] };
  }
}

// --- screens ------------------------------------------------------------------------------------

function welcome() {
  return [
    h("h1", {}, t("welcome.title")),
    h("p", { class: "hint" }, t("welcome.hint")),
    h("div", { class: "stack" },
      button(catalogs["zh-CN"]["welcome.start"], { op: "start", lang: "zh-CN", elder: view.elder },
        { cls: "btn btn-primary btn-big", id: "start", lang: "zh-CN" }),
      button(catalogs.en["welcome.start_en"], { op: "start", lang: "en", elder: view.elder },
        { cls: "btn btn-big", id: "start-en", lang: "en" })),
    h("div", { class: "stack" },
      button(t("welcome.booking"), async () => {
        send({ op: "start", lang: lang(), elder: view.elder });
        send({ op: "identify" });
      }, { cls: "btn", id: "have-booking" })),
  ];
}

function choose() {
  if (view.step === "service" && view.category) {
    const services = catalog.services.filter((s) => s.category === view.category);
    return [
      h("h1", {}, t("choose.service")),
      h("div", { class: "grid" }, services.map((s) =>
        button(name(s), { op: "service", id: s.id }, { cls: "btn", id: `service-${s.code}` }))),
    ];
  }
  if (view.step === "materials" && view.service) return materials(view.service);
  return [
    h("h1", {}, t("choose.category")),
    h("div", { class: "grid" }, catalog.categories.map((c) =>
      button(name(c), { op: "category", code: c.code }, { cls: "btn btn-big", id: `category-${c.code}` }))),
  ];
}

function materials(svc) {
  const en = lang() === "en";
  const items = (svc.materials || []).map((m) => h("li", {},
    h("span", { class: "mname" }, en ? m.name_en : m.name), " × ",
    t("materials.count", { count: m.count }), "（", t(`materials.form.${m.form}`), "）",
    (en ? m.notes_en : m.notes) ? h("span", { class: "mnote" }, en ? m.notes_en : m.notes) : null));
  const days = svc.time_limit_days;
  return [
    h("h1", {}, name(svc)),
    h("h2", {}, t("materials.title")),
    h("ul", { class: "materials", id: "materials" }, items),
    h("div", { class: "facts" },
      h("span", {}, days ? t("materials.time_limit", { days }) : t("materials.time_limit_now")),
      h("span", {}, svc.fees ? t("materials.fees", { fees: svc.fees }) : t("materials.free"))),
    h("div", { class: "stack" },
      button(t("materials.print"), { op: "print_materials" }, { id: "print-materials" }),
      button(t("materials.next"), { op: "identify" }, { cls: "btn btn-primary", id: "identify" }),
      svc.needs_id_card ? null : button(t("materials.take_number"), { op: "take_number" }, { id: "take-number-now" })),
  ];
}

function keypad(keys, target, letters = false) {
  const pad = h("div", { class: letters ? "keypad letters" : "keypad", id: `keypad-${target}` });
  for (const k of keys) {
    pad.append(button(k, () => { form[form.field] = (form[form.field] + k).slice(0, 18); refreshFields(); },
      { cls: "btn", id: `key-${k}` }));
  }
  pad.append(button(t("keypad.delete"), () => { form[form.field] = form[form.field].slice(0, -1); refreshFields(); },
    { cls: "btn btn-secondary wide", id: "key-del" }));
  pad.append(button(t("keypad.clear"), () => { form[form.field] = ""; refreshFields(); },
    { cls: "btn btn-secondary wide", id: "key-clear" }));
  return pad;
}

function field(key, label) {
  const f = h("label", { class: form.field === key ? "field active" : "field", id: `field-${key}` },
    h("span", {}, label), h("output", { id: `value-${key}`, "aria-live": "polite" }, form[key]));
  f.addEventListener("click", () => { form.field = key; render(view); });
  return f;
}

function refreshFields() {
  for (const key of ["id", "phone", "code"]) {
    const out = $(`value-${key}`);
    if (out) out.textContent = form[key];
  }
  send({ op: "touch" });
}

function identify() {
  if (view.step === "reading") {
    return [
      h("h1", {}, t("identify.title")),
      h("div", { class: "card-slot" }, h("p", { class: "progress" }, t("identify.reading")),
        h("div", { class: "card" }, "身份证 ID"), h("p", {}, t("identify.reading_hint"))),
    ];
  }
  if (view.step === "type_id") {
    if (form.field !== "id" && form.field !== "phone") form.field = "id";
    return [
      h("h1", {}, t("identify.type_title")),
      field("id", t("identify.id_label")),
      field("phone", t("identify.phone_label")),
      keypad(["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "X"], "id"),
      h("div", { class: "stack" }, button(t("identify.submit"),
        () => send({ op: "type_id", id_number: form.id, phone: form.phone }), { cls: "btn btn-primary", id: "submit-id" })),
    ];
  }
  return [
    h("h1", {}, t("identify.title")),
    h("p", { id: "consent-text" }, t("identify.consent")),
    h("div", { class: "stack" },
      button(t("identify.agree"), { op: "read_card" }, { cls: "btn btn-primary btn-big", id: "read-card" }),
      view.typing_allowed ? button(t("identify.type"), { op: "type_id" }, { id: "type-id" }) : null,
      button(t("identify.disagree"), { op: "back" }, { cls: "btn btn-secondary", id: "disagree" })),
  ];
}

function nextStep() {
  const who = view.identity ? t("next.who", { name: view.identity.name, id: view.identity.id_number }) : "";
  if (view.step === "checkin") {
    form.field = "code";
    return [
      h("h1", {}, t("checkin.title")),
      h("p", { id: "who" }, who),
      field("code", t("checkin.code_label")),
      keypad("ABCDEFGHJKMNPQRSTUVWXYZ23456789".split(""), "code", true),
      h("div", { class: "stack" },
        button(t("checkin.submit"), () => send({ op: "check_in", code: form.code }), { cls: "btn btn-primary", id: "check-in" }),
        button(t("checkin.cancel"), () => send({ op: "cancel_booking", code: form.code }), { cls: "btn btn-danger", id: "cancel-booking" })),
    ];
  }
  return [
    h("h1", {}, t("next.title")),
    h("p", { id: "who" }, who),
    view.service ? h("h2", {}, name(view.service)) : null,
    h("div", { class: "stack" },
      view.service ? button(t("next.take_number"), { op: "take_number" }, { cls: "btn btn-primary btn-big", id: "take-number" }) : null,
      view.service ? button(t("next.book"), { op: "book" }, { cls: "btn btn-big", id: "book" }) : null),
    h("div", { class: "stack" },
      button(t("next.checkin"), { op: "checkin_screen" }, { id: "checkin-screen" }),
      button(t("next.cancel_booking"), { op: "checkin_screen" }, { id: "cancel-screen" })),
  ];
}

function ticketFacts(tk) {
  if (!tk) return [];
  return [
    h("p", { class: "hint" }, t("ticket.number")),
    h("p", { class: "number", id: "ticket-number" }, tk.number),
    h("div", { class: "facts" },
      tk.ahead === null || tk.ahead === undefined ? null
        : h("span", { id: "ticket-ahead" }, tk.ahead > 0 ? t("ticket.ahead", { n: tk.ahead }) : t("ticket.ahead_none")),
      tk.low_min === null || tk.low_min === undefined ? null
        : h("span", { id: "ticket-wait" }, t("ticket.wait", { lo: tk.low_min, hi: tk.high_min }))),
  ];
}

function ticket() {
  return [
    h("h1", {}, t("ticket.title")),
    ...ticketFacts(view.ticket),
    h("div", { class: "stack" },
      button(t("ticket.leave"), { op: "leave_queue" }, { cls: "btn btn-danger", id: "leave-queue" })),
  ];
}

function booking() {
  const days = new Map();
  for (const s of view.slots) {
    if (!days.has(s.local_date)) days.set(s.local_date, []);
    days.get(s.local_date).push(s);
  }
  const chosen = view.hold ? view.slots.find((s) => s.starts_at === view.hold.starts_at) : null;
  const cal = h("div", { class: "calendar", id: "calendar" });
  for (const [day, slots] of [...days.entries()].slice(0, 5)) {
    cal.append(h("div", { class: "day" }, h("h2", {}, day),
      slots.slice(0, 6).map((s) => button(`${s.local_time}（${t("booking.remaining", { n: s.remaining })}）`,
        { op: "hold", starts_at: s.starts_at },
        { pressed: chosen ? chosen.starts_at === s.starts_at : false, id: `slot-${s.local_date}-${s.local_time.replace(":", "")}` }))));
  }
  return [
    h("h1", {}, t("booking.title")),
    view.service ? h("h2", {}, name(view.service)) : null,
    view.slots.length ? cal : h("p", {}, t("booking.none")),
    chosen ? h("p", { id: "chosen" }, t("booking.chosen", { date: chosen.local_date, time: chosen.local_time })) : null,
    chosen && view.id_source === "manual" ? [field("phone", t("identify.phone_label")),
      keypad(["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"], "phone")] : null,
    chosen ? h("div", { class: "stack" }, button(t("booking.confirm"),
      () => send({ op: "confirm_booking" }), { cls: "btn btn-primary btn-big", id: "confirm-booking" })) : null,
  ];
}

function waiting() {
  return [
    h("h1", {}, t("waiting.title")),
    ...ticketFacts(view.ticket),
    h("p", {}, t("waiting.hint")),
    h("div", { class: "stack" },
      button(t("waiting.leave"), { op: "leave_queue" }, { cls: "btn btn-danger", id: "leave-queue" })),
  ];
}

function rating() {
  const levels = [5, 4, 3, 2, 1];
  const bad = form.level !== null && form.level <= 2;
  return [
    h("h1", {}, t("rating.title")),
    h("div", { class: "levels", role: "group", "aria-label": t("rating.title") }, levels.map((lv) =>
      button([h("span", { class: "stars", "aria-hidden": "true" }, "★".repeat(lv)), t(`rating.level.${lv}`)], () => {
        form.level = lv;
        if (lv >= 3) send({ op: "rate", level: lv, reasons: [] });
        else render(view);
      }, { pressed: form.level === lv, id: `rate-${lv}` }))),
    bad ? h("h2", {}, t("rating.reasons")) : null,
    bad ? h("div", { class: "stack", id: "reasons" }, view.reasons.map((r) =>
      button(lang() === "en" ? r.en : r.zh, () => {
        if (form.reasons.has(r.code)) form.reasons.delete(r.code); else form.reasons.add(r.code);
        render(view);
      }, { pressed: form.reasons.has(r.code), id: `reason-${r.code}` }))) : null,
    bad ? h("div", { class: "stack" }, button(t("rating.submit"),
      () => send({ op: "rate", level: form.level, reasons: [...form.reasons] }), { cls: "btn btn-primary btn-big", id: "submit-rating" })) : null,
  ];
}

function goodbye() {
  const f = view.farewell || {};
  const lines = [];
  if (f.kind === "booked" && f.booking) {
    lines.push(h("h2", {}, t("goodbye.booked")),
      h("p", { class: "number", id: "booking-code" }, f.booking.code),
      h("p", { id: "booking-time" }, t("goodbye.booking_time", { time: f.booking.local_start })),
      f.printed ? h("p", {}, t("goodbye.booking_printed")) : null);
  } else if (f.kind === "booking_cancelled") lines.push(h("h2", {}, t("goodbye.booking_cancelled")));
  else if (f.kind === "rated") lines.push(h("h2", {}, t("goodbye.rated")));
  else if (f.kind === "left") lines.push(h("h2", {}, t("goodbye.left")));
  else if (f.kind === "ticket_closed") lines.push(h("h2", {}, t("goodbye.ticket_closed")));
  return [h("h1", { id: "goodbye" }, t("goodbye.title")), ...lines, h("p", { class: "hint" }, t("goodbye.cleared"))];
}

const SCREENS = { idle: welcome, choosing: choose, identifying: identify, identified: nextStep,
  ticketed: ticket, booking, waiting, rating, goodbye, in_call: () => [] };

// --- call ---------------------------------------------------------------------------------------

function renderCall() {
  const inCall = view.state === "in_call" && view.call;
  $("call").hidden = !inCall;
  if (!inCall) {
    if (mediaOn) {
      $("agent-video").removeAttribute("src");
      $("self-video").removeAttribute("src");
      $("document-view").removeAttribute("src");
      $("document-live-view").removeAttribute("src");
      $("document-live-figure").hidden = true;
      mediaOn = false;
    }
    return;
  }
  const phase = view.call.phase;
  $("call-title").textContent = phase === "connected" ? t("call.connected")
    : phase === "reconnecting" ? t("call.reconnecting") : t("call.ringing");
  $("call").dataset.phase = phase;
  if (!mediaOn) {
    $("agent-video").src = "/media/agent.mjpeg";
    $("self-video").src = "/media/self.mjpeg";
    mediaOn = true;
  }
  $("agent-video").alt = t("call.agent");
  $("self-video").alt = t("call.self");
  const doc = view.call.document;
  $("document-figure").hidden = !doc;
  if (doc && $("document-view").dataset.seq !== String(view.hw?.request_id)) {
    $("document-view").src = `/media/document.jpg?r=${encodeURIComponent(view.hw?.request_id || view.seq)}`;
    $("document-view").dataset.seq = String(view.hw?.request_id);
    $("document-view").alt = t("call.document");
  }
  // The live document-camera view, small, while the agent has it on: the resident sees what the agent sees.
  const live = !!view.call.document_live;
  const liveView = $("document-live-view");
  $("document-live-figure").hidden = !live;
  if (live && !liveView.getAttribute("src")) {
    liveView.src = "/media/document-live.mjpeg";
    liveView.alt = t("call.document_live");
  } else if (!live && liveView.getAttribute("src")) {
    liveView.removeAttribute("src");
  }
  const hw = view.hw;
  const box = $("hw");
  box.hidden = !hw;
  box.replaceChildren();
  if (!hw) return;
  box.dataset.phase = hw.phase;
  box.dataset.action = hw.action;
  box.setAttribute("aria-label", t(hw.guidance));
  box.append(h("h2", {}, t(hw.guidance)));
  if (hw.phase === "consent") {
    box.append(h("p", { id: "hw-guidance" }, t(`${hw.guidance}.consent`)),
      h("div", { class: "stack" },
        button(t("hw.agree"), { op: "consent", request_id: hw.request_id, granted: true }, { cls: "btn btn-primary btn-big", id: "hw-agree" }),
        button(t("hw.refuse"), { op: "consent", request_id: hw.request_id, granted: false }, { cls: "btn btn-danger btn-big", id: "hw-refuse" })));
  } else if (hw.phase === "working") {
    box.append(h("p", { id: "hw-guidance" }, t(`${hw.guidance}.working`)),
      h("p", { class: "progress", id: "hw-progress" }, t(`hw.stage.${hw.stage}`)));
  } else {
    const ok = hw.phase === "ok";
    const okKey = `${hw.guidance}.ok`;
    const text = ok ? (catalogs[lang()][okKey] ? t(okKey) : t("hw.ok")) : hw.phase === "refused" ? t("hw.refused") : `${t("hw.failed")}${hw.error ? "：" + t(`error.${hw.error}`) : ""}`;
    box.append(h("p", { class: ok ? "status-ok" : "status-bad", id: "hw-result" }, text),
      button(t("hw.dismiss"), { op: "dismiss_hw" }, { cls: "btn", id: "hw-dismiss" }));
  }
}

// --- render -------------------------------------------------------------------------------------

function degradedBanner() {
  const d = view.degraded;
  const el = $("degraded");
  el.hidden = !d;
  if (!d) return;
  const parts = [];
  if (d.office) parts.push(t("degraded.office"));
  for (const dev of d.devices) {
    const key = `degraded.device.${dev}`;
    parts.push(catalogs[lang()][key] ? t(key) : t("degraded.device.other"));
  }
  if (d.works.length) parts.push(t("degraded.works", { list: d.works.map((w) => t(`works.${w}`)).join(lang() === "en" ? ", " : "、") }));
  el.textContent = parts.join(" ");
}

function speak() {
  const key = view.prompt;
  const voice = $("voice");
  const tag = `${view.lang}/${key}/${view.state}/${view.step}/${view.hw?.phase || ""}`;
  if (tag === lastPrompt) return;
  lastPrompt = tag;
  voice.src = `/voice/${view.lang}/${key}.wav`;
  voice.dataset.prompt = key;
  voice.play().catch(() => {});
}

function wipeIfNeeded() {
  if (lastWipes !== null && view.wipes !== lastWipes) {
    form.id = ""; form.phone = ""; form.code = ""; form.field = "id";
    form.reasons.clear(); form.level = null;
    try { sessionStorage.clear(); localStorage.clear(); } catch (err) { /* storage may be disabled */ }
    window.scrollTo(0, 0);
  }
  lastWipes = view.wipes;
}

function render(v) {
  const stateChanged = !view || view.state !== v.state;
  if (v.catalog_ready && !catalog.services.length) loadCatalog().then(() => view && render(view));
  view = v;
  wipeIfNeeded();
  if (stateChanged && v.state !== "rating") { form.level = null; form.reasons.clear(); }
  document.documentElement.lang = v.lang;
  document.title = t("app.title");
  document.body.dataset.state = v.state;
  document.body.dataset.step = v.step || "";
  document.body.dataset.seq = String(v.seq);
  document.body.classList.toggle("elder", !!v.elder);
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  $("elder-state").textContent = v.elder ? t("elder.on") : t("elder.off");
  $("elder-toggle").setAttribute("aria-pressed", String(!!v.elder));
  $("lang-toggle").textContent = t("lang.toggle");
  $("lang-toggle").lang = v.lang === "en" ? "zh-CN" : "en";
  $("station").textContent = v.station ? name(v.station) : "";
  degradedBanner();
  const screen = $("screen");
  screen.replaceChildren(...(SCREENS[v.state] || welcome)().flat().filter((c) => c !== null && c !== undefined && c !== false));
  screen.hidden = v.state === "in_call";
  if (v.busy) screen.append(h("p", { class: "busy", id: "busy", role: "status" }, t("busy")));
  renderCall();
  const msg = $("message");
  msg.hidden = !v.message;
  if (v.message) {
    const key = v.message.key;
    // A "<key>.detail" text filled from the message's fields (e.g. the office's next opening) wins
    // when all of its {placeholders} are known.
    const detail = catalogs[lang()][`${key}.detail`] ? t(`${key}.detail`, v.message) : null;
    const text = detail && !/\{\w+\}/.test(detail) ? detail
      : catalogs[lang()][key] ? t(key) : t(v.message.fallback || "error.generic");
    msg.className = `message ${v.message.kind}`;
    msg.setAttribute("role", v.message.kind === "error" ? "alert" : "status");
    msg.textContent = v.message.kind === "error" ? `${t("msg.error")}${text}` : text;
    msg.dataset.key = key;
  }
  const canBack = ["choosing", "identifying", "identified", "booking"].includes(v.state);
  $("nav").hidden = !canBack;
  speak();
}

function wire() {
  $("lang-toggle").addEventListener("click", () => send({ op: "settings", lang: lang() === "en" ? "zh-CN" : "en" }));
  $("elder-toggle").addEventListener("click", () => send({ op: "settings", elder: !(view && view.elder) }));
  $("nav-back").addEventListener("click", () => send({ op: "back" }));
  $("nav-restart").addEventListener("click", () => send({ op: "cancel" }));
  document.addEventListener("pointerdown", () => {
    const now = Date.now();
    if (now - lastTouch > 3000) { lastTouch = now; send({ op: "touch" }); }
  }, { capture: true });
  document.addEventListener("contextmenu", (ev) => ev.preventDefault());
}

async function main() {
  await loadCatalogs();
  await loadCatalog();
  wire();
  connect();
}

main();
