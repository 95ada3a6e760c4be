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
  early: null, // while POST /api/calls runs: messages of the call it is creating (its id is not known yet)
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
  if (message.call_id && !state.callId && state.early) {
    // The office sends call.invite (and the kiosk may accept and offer) before our POST returns.
    if (state.early.length < 64) state.early.push(message);
    return;
  }
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

// ICE servers are fetched ahead (when the page has signed in, then again before 40 % of their
// TURN credentials' lifetime has passed) and reused while under half of it has: no call waits for
// GET /api/calls/ice-servers. A failed fetch is retried with backoff; a call then goes without them.
const ice = { servers: null, fetchedAt: 0, ttlMs: 0, pending: null, timer: null, failures: 0 };

function fetchIceServers() {
  if (!ice.pending) {
    const started = Date.now();
    clearTimeout(ice.timer);
    ice.pending = api("GET", "/api/calls/ice-servers")
      .then((data) => {
        ice.servers = data.ice_servers.map((s) => ({ urls: s.urls, username: s.username || undefined, credential: s.credential || undefined }));
        ice.fetchedAt = started;
        ice.ttlMs = data.ttl_s * 1000;
        ice.failures = 0;
        ice.timer = setTimeout(fetchIceServers, Math.max(1000, ice.ttlMs * 0.4));
        return ice.servers;
      })
      .catch(() => {
        ice.timer = setTimeout(fetchIceServers, Math.min(60000, 1000 * 2 ** ice.failures++));
        return [];
      })
      .finally(() => {
        ice.pending = null;
      });
  }
  return ice.pending;
}

function iceServers() {
  if (ice.servers && Date.now() - ice.fetchedAt < ice.ttlMs * 0.5) return Promise.resolve(ice.servers);
  return fetchIceServers();
}

// The call's first peer connection is made (with the camera's tracks) while the kiosk is rung, so
// the kiosk's offer is applied the moment it arrives; later generations make theirs on the offer.
let readied = null; // Promise<RTCPeerConnection> not yet taken by answer()

async function makePeer() {
  const pc = new RTCPeerConnection({ iceServers: await iceServers() });
  const local = await localMedia();
  for (const track of local.getTracks()) pc.addTrack(track, local);
  return pc;
}

function readyPeer() {
  dropReadyPeer();
  readied = makePeer();
}

function dropReadyPeer() {
  if (readied) readied.then((pc) => pc.close(), () => {});
  readied = null;
}

// The self view shows only while a call has the resident's video on screen: from the first frame
// of that video (or SELF_VIEW_FALLBACK_MS after the media connected without one) until hang-up.
// Between calls and while a call is put through it is hidden and paused, so the browser does not
// paint it: a live 640×480 view is a steady cost on an office PC without a GPU, and during set-up
// it competes with answering, encoding the first frames and decoding the kiosk's
// (docs/benchmarks.md, "Call set-up").
const SELF_VIEW_FALLBACK_MS = 1500;

function hideSelfView() {
  const view = $("self");
  view.hidden = true;
  view.pause();
}

function showSelfView() {
  const view = $("self");
  if (!state.callId || !view.srcObject || !view.hidden) return;
  view.hidden = false;
  view.play().catch(() => {});
}

function showSelfViewOnFirstFrame(video) {
  if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(() => showSelfView());
  else video.addEventListener("playing", showSelfView, { once: true });
}

function takePeer() {
  const made = readied;
  readied = null;
  return made || makePeer();
}

function closePeer() {
  clearInterval(state.controlTimer);
  clearInterval(state.statsTimer);
  if (state.pc) state.pc.close();
  state.pc = null;
  state.control = null;
}

/** The mids of an SDP's video m-lines, in order. */
function videoMids(sdp) {
  return sdp
    .split(/\r?\nm=/)
    .filter((section) => section.startsWith("video"))
    .map((section) => (section.match(/^a=mid:(\S+)/m) || [])[1]);
}

async function answer(offer) {
  if (offer.generation <= state.generation) return; // an older peer connection's offer
  closePeer();
  state.generation = offer.generation;
  $("quality").dataset.generation = String(offer.generation);
  const pc = await takePeer();
  if (offer.generation !== state.generation) {
    pc.close(); // a newer offer arrived meanwhile
    return;
  }
  state.pc = pc;
  // The kiosk's offer carries the face camera's video first and the live document view second
  // (docs/signaling.md): the document track is told apart by its m-line's mid, never by arrival
  // order, and goes to the document panel ("call:document-track"); the rest plays in #remote.
  const documentMid = videoMids(offer.sdp)[1];
  state.documentMid = documentMid;
  const remote = new MediaStream();
  pc.addEventListener("track", (event) => {
    if (event.track.kind === "video" && documentMid !== undefined && event.transceiver?.mid === documentMid) {
      emit("call:document-track", { track: event.track, generation: offer.generation });
      return;
    }
    remote.addTrack(event.track);
    if ($("remote").srcObject !== remote) {
      $("remote").srcObject = remote;
      showSelfViewOnFirstFrame($("remote"));
    }
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
    if (pc.connectionState === "connected") {
      setStatus("call.status.connected");
      setTimeout(showSelfView, SELF_VIEW_FALLBACK_MS); // the kiosk sends no video: show it anyway
    }
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
  // Implicit answer: Chromium creates and applies it in one step, without handing the SDP to this
  // page and parsing it back.
  await pc.setLocalDescription();
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
      if (s.kind === "video" && (state.documentMid === undefined || s.mid !== state.documentMid)) {
        // the face video only: the document view idles at 1 fps by design
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
    readyPeer(); // ICE servers normally cached already; refetched now if stale, while the kiosk is rung
    // One request: the office offers me the next ticket and rings its kiosk.
    const { out, early } = await creatingCall(() => api("POST", "/api/calls/next", {}));
    if (!out.ticket) {
      dropReadyPeer();
      setStatus("call.status.nobody");
      return;
    }
    showTicket(out.ticket);
    if (!out.call) {
      dropReadyPeer();
      showError(out.call_error || "other"); // e.g. no_kiosk: the ticket stays offered to me
      return;
    }
    await callStarted(out.call, out.ticket, early);
  } catch (err) {
    dropReadyPeer();
    showError(err instanceof ApiError ? err.code : "other");
  }
}

/** Run the request that creates a call, keeping the signaling messages of the call it creates:
 * the office sends call.invite (and the kiosk may accept and offer) before the response arrives. */
async function creatingCall(request) {
  state.early = [];
  try {
    return { out: await request(), early: state.early };
  } finally {
    state.early = null;
  }
}

function showTicket(ticket) {
  state.ticket = ticket;
  $("ticket-number").textContent = ticket.display_number || ticket.number || "—";
  $("ticket-service").textContent = ticket.service_name || "";
  emit("call:ticket", { ticket });
}

async function callStarted(call, ticket, early) {
  state.callId = call.id;
  state.generation = -1;
  $("hangup").disabled = false;
  $("next").disabled = true;
  setStatus("call.status.created");
  emit("call:started", { callId: call.id, ticket });
  for (const message of early) if (message.call_id === call.id) await onSignal(message);
}

/** Ring the kiosk of a ticket already offered to me (a ticket called out of order, or resumed). */
export async function startCall(ticket) {
  $("message").hidden = true;
  showTicket(ticket);
  readyPeer();
  let created;
  try {
    created = await creatingCall(() => api("POST", "/api/calls", { ticket_id: ticket.id }));
  } catch (err) {
    dropReadyPeer();
    throw err;
  }
  await callStarted(created.out, ticket, created.early);
}

function endCall(tellOthers) {
  if (tellOthers && state.callId) send({ type: "call.end", call_id: state.callId, reason: "completed" });
  const ended = state.callId;
  closePeer();
  dropReadyPeer();
  hideSelfView();
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
  fetchIceServers();
} catch {
  location.assign(`/console/login.html?next=${encodeURIComponent(location.pathname)}`);
}
setStatus(state.statusKey);
renderQuality();
// Camera and signaling start in the background: pages embedding the panel need not wait for them.
localMedia().finally(() => connectSignaling());
