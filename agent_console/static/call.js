// The agent's call panel: queue actions over REST, signaling over /ws/signaling, WebRTC with the
// kiosk (the kiosk offers, this page answers and trickles its candidates; a new offer with a higher
// generation replaces the peer connection), heartbeats on the "control" data channel, and a quality indicator from getStats.
// Used alone by call.html and as the call module of the workbench (index.html): other modules import
// sendSignal/startCall/callState and listen for "call:started", "call:ended", "call:signal" on document.
import { api, ApiError, setCsrf } from "/console/api.js";
import { load, t, toggle } from "/console/i18n.js";

const $ = (id) => document.getElementById(id);
const emit = (name, detail) => document.dispatchEvent(new CustomEvent(name, { detail }));
const state = {
  me: null,
  ws: null,
  heartbeatTimer: null,
  callId: null,
  ticket: null,
  pc: null,
  generation: -1,
  control: null,
  controlTimer: null,
  local: null,
  statsTimer: null,
  lastStats: null,
  statusKey: "call.status.idle",
  qualityKey: "call.quality.none",
  qualityParams: {},
};

function setStatus(key) {
  state.statusKey = key;
  $("call-status").textContent = t(key);
}

function showError(code) {
  const key = `call.error.${code}`;
  const text = t(key);
  $("message").textContent = text === key ? t("call.error.other") : text;
  $("message").hidden = false;
}

function renderQuality() {
  $("quality-text").textContent = t(state.qualityKey, state.qualityParams);
}

// --- signaling -----------------------------------------------------------------------------------

function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(message));
    return true;
  }
  return false;
}

/** Send a signaling message (e.g. hw.request); false when signaling is down. */
export function sendSignal(message) {
  return send(message);
}

/** The panel's live state (read-only for other modules). */
export const callState = state;

function connectSignaling(attempt = 0) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/signaling`);
  state.ws = ws;
  ws.addEventListener("open", () => send({ type: "hello", protocol: 1, client: "doorstep-console/0.1" }));
  ws.addEventListener("message", (event) => onSignal(JSON.parse(event.data)));
  ws.addEventListener("close", (event) => {
    clearInterval(state.heartbeatTimer);
    setLink(false);
    if ([4401, 4403, 4409].includes(event.code)) return; // refused or replaced: do not retry
    const delay = Math.min(2000, 200 * 2 ** attempt) * (0.75 + Math.random() / 2);
    setTimeout(() => connectSignaling(Math.min(attempt + 1, 4)), delay);
  });
}

function setLink(online) {
  const pill = $("link");
  pill.dataset.state = online ? "online" : "offline";
  pill.dataset.i18n = online ? "call.link.online" : "call.link.offline";
  pill.textContent = t(pill.dataset.i18n);
}

async function onSignal(message) {
  switch (message.type) {
    case "welcome":
      setLink(true);
      clearInterval(state.heartbeatTimer);
      state.heartbeatTimer = setInterval(() => send({ type: "ping" }), (message.heartbeat_interval || 1.5) * 1000);
      if (state.callId) send({ type: "resume", call_id: state.callId, last_seq: 0 });
      break;
    case "call.state":
      if (message.call_id !== state.callId) break;
      setStatus(`call.status.${message.state}`);
      if (message.state === "ended") endCall(false);
      break;
    case "call.decline":
    case "call.end":
      if (message.call_id === state.callId) endCall(false);
      break;
    case "description":
      if (message.call_id === state.callId && message.sdp_type === "offer") await answer(message);
      break;
    case "error":
      if (message.fatal) showError(message.code);
      emit("call:signal", message);
      break;
    default:
      if (message.call_id && message.call_id === state.callId) emit("call:signal", message);
      break;
  }
}

// --- media ---------------------------------------------------------------------------------------

let asking = null; // the pending camera request (asked once, shared by every caller)

async function localMedia() {
  // Without a camera (or outside a secure context) the agent still sees and hears the resident:
  // the answer is then receive-only, and the panel says why.
  if (!state.local) {
    asking = asking || navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
    try {
      state.local = await asking;
      $("self").srcObject = state.local;
    } catch {
      asking = null;
      showError("no_camera");
      return new MediaStream();
    }
  }
  return state.local;
}

async function iceServers() {
  try {
    const data = await api("GET", "/api/calls/ice-servers");
    return data.ice_servers.map((s) => ({ urls: s.urls, username: s.username || undefined, credential: s.credential || undefined }));
  } catch {
    return [];
  }
}

function closePeer() {
  clearInterval(state.controlTimer);
  clearInterval(state.statsTimer);
  if (state.pc) state.pc.close();
  state.pc = null;
  state.control = null;
}

async function answer(offer) {
  if (offer.generation <= state.generation) return; // an older peer connection's offer
  closePeer();
  state.generation = offer.generation;
  $("quality").dataset.generation = String(offer.generation);
  // The first offer uses the servers fetched while the kiosk was being rung (set-up time);
  // a renegotiation fetches fresh ones (TURN credentials are short-lived).
  const servers = state.icePrefetch || iceServers();
  state.icePrefetch = null;
  const pc = new RTCPeerConnection({ iceServers: await servers });
  state.pc = pc;
  const local = await localMedia();
  for (const track of local.getTracks()) pc.addTrack(track, local);
  pc.addEventListener("track", (event) => {
    if (event.track.kind === "video") $("remote").srcObject = event.streams[0] || new MediaStream([event.track]);
  });
  pc.addEventListener("datachannel", (event) => {
    if (event.channel.label !== "control") return;
    state.control = event.channel;
    let n = 0;
    const beat = () => {
      if (event.channel.readyState === "open") event.channel.send(JSON.stringify({ type: "heartbeat", n: n++ }));
    };
    event.channel.addEventListener("open", beat);
    state.controlTimer = setInterval(beat, 1000);
  });
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "connected") setStatus("call.status.connected");
  });
  // Trickle: the answer goes at once and candidates follow as the browser finds them (the kiosk,
  // aiortc, takes them with addIceCandidate); null marks the end.
  const generation = offer.generation;
  pc.addEventListener("icecandidate", (event) => {
    if (state.pc !== pc) return;
    const c = event.candidate;
    send({
      type: "candidate",
      call_id: state.callId,
      generation,
      candidate: c && c.candidate ? { candidate: c.candidate, sdp_mid: c.sdpMid, sdp_m_line_index: c.sdpMLineIndex } : null,
    });
  });
  await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
  await pc.setLocalDescription(await pc.createAnswer());
  send({ type: "description", call_id: state.callId, generation, sdp_type: "answer", sdp: pc.localDescription.sdp });
  state.statsTimer = setInterval(sampleStats, 1000);
}

async function sampleStats() {
  const pc = state.pc;
  if (!pc) return;
  const report = await pc.getStats();
  let rtt = null;
  let lost = 0;
  let received = 0;
  let fps = null;
  let decoded = 0;
  report.forEach((s) => {
    if (s.type === "candidate-pair" && s.state === "succeeded" && s.currentRoundTripTime !== undefined) rtt = s.currentRoundTripTime * 1000;
    if (s.type === "inbound-rtp") {
      lost += s.packetsLost || 0;
      received += s.packetsReceived || 0;
      if (s.kind === "video") {
        fps = s.framesPerSecond ?? fps;
        decoded += s.framesDecoded || 0;
      }
    }
  });
  const loss = received + lost > 0 ? (100 * lost) / (received + lost) : 0;
  const level = rtt === null && fps === null ? "none" : rtt > 400 || loss > 5 || (fps !== null && fps < 10) ? "poor" : rtt > 150 || loss > 1 || (fps !== null && fps < 20) ? "fair" : "good";
  const q = $("quality");
  q.dataset.level = level;
  q.dataset.framesDecoded = String(decoded);
  state.qualityKey = `call.quality.${level}`;
  state.qualityParams = { rtt: rtt === null ? "—" : Math.round(rtt), loss: loss.toFixed(1), fps: fps === null ? "—" : Math.round(fps) };
  renderQuality();
  const now = Date.now();
  if (state.callId && (!state.lastStats || now - state.lastStats > 10000)) {
    state.lastStats = now;
    const quality = { packet_loss_pct: Math.min(100, loss) };
    if (rtt !== null) quality.rtt_ms = Math.min(60000, rtt);
    if (fps !== null) quality.fps = Math.min(240, fps);
    api("POST", `/api/calls/${state.callId}/report`, { quality }).catch(() => {});
  }
}

// --- actions -------------------------------------------------------------------------------------

async function callNext() {
  $("message").hidden = true;
  try {
    const result = await api("POST", "/api/queue/call-next", {});
    if (!result.ticket) {
      setStatus("call.status.nobody");
      return;
    }
    await startCall(result.ticket);
  } catch (err) {
    showError(err instanceof ApiError ? err.code : "other");
  }
}

/** Ring the kiosk of a ticket already offered to me (call next, or a ticket called out of order). */
export async function startCall(ticket) {
  $("message").hidden = true;
  state.ticket = ticket;
  $("ticket-number").textContent = ticket.display_number || ticket.number || "—";
  $("ticket-service").textContent = ticket.service_name || "";
  emit("call:ticket", { ticket });
  state.icePrefetch = iceServers();
  const call = await api("POST", "/api/calls", { ticket_id: ticket.id });
  state.callId = call.id;
  state.generation = -1;
  $("hangup").disabled = false;
  $("next").disabled = true;
  setStatus("call.status.created");
  emit("call:started", { callId: call.id, ticket });
}

function endCall(tellOthers) {
  if (tellOthers && state.callId) send({ type: "call.end", call_id: state.callId, reason: "completed" });
  const ended = state.callId;
  closePeer();
  $("remote").srcObject = null;
  state.callId = null;
  state.generation = -1;
  $("hangup").disabled = true;
  $("next").disabled = false;
  setStatus("call.status.ended");
  $("quality").dataset.level = "none";
  state.qualityKey = "call.quality.none";
  renderQuality();
  if (ended) emit("call:ended", { callId: ended, ticket: state.ticket });
}

/** Hang up the current call (as the H key does). */
export function hangUp() {
  if (state.callId) endCall(true);
}

function toggleTrack(kind, button, onKey, offKey) {
  if (!state.local) return;
  const pressed = button.getAttribute("aria-pressed") !== "true";
  for (const track of state.local.getTracks()) if (track.kind === kind) track.enabled = !pressed;
  button.setAttribute("aria-pressed", String(pressed));
  button.dataset.i18n = pressed ? offKey : onKey;
  button.textContent = t(button.dataset.i18n);
}

$("available").addEventListener("click", async () => {
  try {
    const view = await api("PUT", "/api/queue/agents/me/state", { state: "available" });
    setStatus("call.status.available");
    emit("call:agent", view);
  } catch (err) {
    showError(err instanceof ApiError ? err.code : "other");
  }
});
$("next").addEventListener("click", callNext);
$("hangup").addEventListener("click", () => endCall(true));
$("mute").addEventListener("click", () => toggleTrack("audio", $("mute"), "call.mute", "call.unmute"));
$("camera").addEventListener("click", () => toggleTrack("video", $("camera"), "call.camera_off", "call.camera_on"));
$("lang").addEventListener("click", async () => {
  await toggle();
  setStatus(state.statusKey);
  renderQuality();
  setLink($("link").dataset.state === "online");
});
document.addEventListener("keydown", (event) => {
  const target = event.target;
  const typing =
    (target instanceof HTMLInputElement && !["checkbox", "radio", "button", "submit"].includes(target.type)) ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement;
  if (typing || event.defaultPrevented || document.querySelector("dialog[open]") || event.altKey || event.ctrlKey || event.metaKey) return;
  const key = event.key.toLowerCase();
  if (key === "n" && !$("next").disabled) callNext();
  else if (key === "h" && !$("hangup").disabled) endCall(true);
  else if (key === "m") $("mute").click();
});

await load();
try {
  state.me = await api("GET", "/api/auth/me");
  setCsrf(state.me.csrf_token);
  $("whoami").textContent = state.me.display_name;
  emit("call:ready", { me: state.me });
} catch {
  location.assign(`/console/login.html?next=${encodeURIComponent(location.pathname)}`);
}
setStatus(state.statusKey);
renderQuality();
// Camera and signaling start in the background: pages embedding the panel need not wait for them.
localMedia().finally(() => connectSignaling());
