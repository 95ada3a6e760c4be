// Display board (叫号屏): the number being called and its video window, recent calls, people waiting.
// Reads the public board snapshot, follows the office's live events over a WebSocket (reconnecting,
// with a slow poll as a fallback), and announces each new call with a chime and a spoken sentence.
// Only numbers, windows and service names are ever shown or spoken, never a resident's name.
import { lang, load, t } from "/console/i18n.js";

const params = new URLSearchParams(location.search);
const officeId = Number.parseInt(params.get("office") || "1", 10);
const stationId = params.get("station") ? Number.parseInt(params.get("station"), 10) : null;
const POLL_MS = 30000;
const RECONNECT_MAX_MS = 15000;

// Plain state the page renders from; exposed for browser tests and diagnostics.
const state = { snapshot: null, connected: false, announcements: [], announced: new Set(), events: 0 };
window.boardState = state;

const $ = (id) => document.getElementById(id);

function li(...cells) {
  const item = document.createElement("li");
  for (const [text, cls] of cells) {
    const span = document.createElement("span");
    span.textContent = text;
    if (cls) span.className = cls;
    item.append(span);
  }
  return item;
}

function serviceName(call) {
  return lang() === "en" ? call.service_name_en || call.service_name : call.service_name;
}

function windowText(call) {
  return call.window_no ? t("board.window", { window: call.window_no }) : "";
}

function windowShort(call) {
  return call.window_no ? t("board.window_short", { window: call.window_no }) : "";
}

function render() {
  const snap = state.snapshot;
  if (!snap) return;
  const office = lang() === "en" ? snap.office_name_en || snap.office_name : snap.office_name;
  $("office-name").textContent = snap.station_name ? `${office} · ${snap.station_name}` : office;
  const [now, ...others] = snap.current;
  $("now-number").textContent = now ? now.number : "—";
  $("now-window").textContent = now ? windowText(now) : t("board.none");
  $("now-service").textContent = now ? serviceName(now) : "";
  $("also-calling").replaceChildren(...others.map((c) => li([c.number, "num"], [windowShort(c)])));
  $("recent").replaceChildren(...snap.recent.map((c) => li([c.number, "num"], [windowShort(c)])));
  $("waiting-total").textContent = String(snap.waiting_total);
  $("waiting").replaceChildren(
    ...snap.waiting.map((w) => li([lang() === "en" ? w.service_name_en || w.service_name : w.service_name], [t("board.people", { n: w.waiting })])),
  );
}

function setConnected(on) {
  state.connected = on;
  const el = $("conn");
  el.className = `conn ${on ? "conn-on" : "conn-off"}`;
  el.textContent = t(on ? "board.connected" : "board.offline");
}

async function refresh() {
  const query = stationId ? `?station_id=${stationId}` : "";
  try {
    const response = await fetch(`/api/board/${officeId}${query}`, { cache: "no-store" });
    if (!response.ok) return;
    state.snapshot = await response.json();
    render();
  } catch {
    // offline: keep showing the last snapshot; the socket reconnects
  }
}

let refreshTimer = null;
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh();
  }, 150);
}

// --- sound ----------------------------------------------------------------------------------------

let audio = null;
function chime() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") {
      audio.resume();
      $("sound").hidden = audio.state !== "suspended";
    }
    const start = audio.currentTime + 0.05;
    for (const [i, freq] of [659.25, 523.25].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      const at = start + i * 0.45;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.5, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.8);
      osc.connect(gain).connect(audio.destination);
      osc.start(at);
      osc.stop(at + 0.85);
    }
  } catch {
    // no audio device: the announcement is still shown on screen
  }
}

function speak(text) {
  if (!("speechSynthesis" in window)) return;
  const utterance = new SpeechSynthesisUtterance(text);
  utterance.lang = lang() === "en" ? "en-US" : "zh-CN";
  utterance.rate = 0.85;
  setTimeout(() => window.speechSynthesis.speak(utterance), 1200); // after the chime
}

function announce(call) {
  const text = call.window_no
    ? t("board.announce", { number: call.number, window: call.window_no })
    : t("board.announce_nowindow", { number: call.number });
  state.announcements.push(text);
  chime();
  speak(text);
  const el = document.querySelector(".now");
  el.classList.remove("flash");
  void el.offsetWidth; // restart the animation
  el.classList.add("flash");
}

// --- live events ----------------------------------------------------------------------------------

function onEvent(message) {
  state.events += 1;
  const { topic, payload } = message;
  if (topic === "queue.called" && (stationId === null || payload.station_id === stationId)) {
    // A call and its later ring share a key; a recall (new recall_count) is announced again.
    const key = `${payload.ticket_id}:${payload.recall_count}`;
    if (!state.announced.has(key)) {
      state.announced.add(key);
      announce(payload);
    }
  }
  if (topic.startsWith("queue.") || topic === "events.dropped") refreshSoon();
}

let backoff = 1000;
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/board/${officeId}`);
  ws.onopen = () => {
    backoff = 1000;
    setConnected(true);
    refresh();
  };
  ws.onmessage = (e) => {
    try {
      onEvent(JSON.parse(e.data));
    } catch {
      // ignore malformed frames
    }
  };
  ws.onclose = () => {
    setConnected(false);
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, RECONNECT_MAX_MS);
  };
}

function tick() {
  $("clock").textContent = new Date().toLocaleTimeString(lang() === "en" ? "en-GB" : "zh-CN", { hour12: false });
}

async function main() {
  await load(params.get("lang") || undefined);
  $("sound").addEventListener("click", () => {
    audio = audio || new AudioContext();
    audio.resume();
    $("sound").hidden = true;
  });
  tick();
  setInterval(tick, 1000);
  setInterval(refresh, POLL_MS);
  await refresh();
  connect();
}

main();
