// Hardware actions on the kiosk over signaling (hw.request → hw.progress … → hw.result): read the ID
// card, verify a fingerprint, capture a document still, the live document view. Each request is a line
// in the log with its stage (waiting for the resident's consent, consent given, reading …) and outcome
// (done, consent refused, failed with a reason). Results feed the resident panel and the documents.
// The live document view is the call's second video track (call.js emits "call:document-track"):
// the #hw-live button starts and stops it, and #doc-live shows it while it is on.
import { sendSignal } from "/console/call.js";
import { t } from "/console/i18n.js";
import * as documents from "/console/documents.js";
import * as resident from "/console/resident.js";
import { $, el, flash, wb } from "/console/wb-common.js";

const BUTTONS = ["hw-idcard", "hw-finger", "hw-capture", "hw-live"];
const requests = new Map(); // request_id -> {action, li, stage, outcome}
let counter = 0;
let liveUnsupported = false;
let live = "off"; // off | starting | on | stopping
let liveTrack = null;
let frameWatch = 0;

/** Requests by id, for browser tests. */
window.wbHw = requests;

function setButtons(enabled) {
  for (const id of BUTTONS) $(id).disabled = !enabled || (id === "hw-live" && (liveUnsupported || live === "starting" || live === "stopping"));
}

/** Show the live document view's state on its button and panel (hidden unless on). */
function renderLive() {
  const button = $("hw-live");
  button.dataset.state = live;
  button.setAttribute("aria-pressed", String(live === "on"));
  if (!liveUnsupported) {
    button.dataset.i18n = live === "on" || live === "stopping" ? "wb.hw.document_live_stop" : "wb.hw.document_live";
    button.textContent = t(button.dataset.i18n);
  }
  button.disabled = !wb.call || liveUnsupported || live === "starting" || live === "stopping";
  const panel = $("doc-live");
  panel.hidden = live !== "on";
  panel.dataset.state = live;
  const video = $("doc-live-video");
  if (live === "on" && liveTrack) {
    if (!video.srcObject || video.srcObject.getVideoTracks()[0] !== liveTrack) {
      video.srcObject = new MediaStream([liveTrack]);
      watchFrames(video);
    }
  } else if (live === "off" && video.srcObject) {
    video.srcObject = null;
    video.dataset.frames = "0";
  }
}

/** Count the frames the panel presents (data-frames), while it shows the live view. */
function watchFrames(video) {
  const watch = ++frameWatch;
  video.dataset.frames = "0";
  if (!video.requestVideoFrameCallback) return;
  const onFrame = () => {
    if (watch !== frameWatch || live !== "on") return;
    video.dataset.frames = String(Number(video.dataset.frames) + 1);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

function setLive(next) {
  live = next;
  renderLive();
}

function line(req) {
  const [label, stage] = req.li.children;
  label.textContent = t(`wb.hw.a.${req.action}`);
  let text;
  if (req.outcome) {
    text = t(`wb.hw.outcome.${req.outcome}`);
    if (req.error) text += ` · ${t(`wb.hw.err.${req.error}`) === `wb.hw.err.${req.error}` ? req.error : t(`wb.hw.err.${req.error}`)}`;
    if (req.summary) text += ` · ${req.summary}`;
  } else {
    const key = `wb.hw.stage.${req.stage}`;
    text = t(key) === key ? req.stage : t(key);
  }
  stage.textContent = text;
  req.li.dataset.stage = req.stage;
  req.li.dataset.outcome = req.outcome || "";
}

/** Ask the kiosk for ``action``; returns the request id (or null when not in a call). */
export function request(action, params = {}) {
  if (!wb.call) {
    flash(t("wb.hw.no_call"), "error");
    return null;
  }
  if (action === "document_live_start" && liveUnsupported) return null;
  if (action === "document_live_start") setLive("starting");
  else if (action === "document_live_stop") setLive("stopping");
  counter += 1;
  const requestId = `hw-${Date.now().toString(36)}-${counter}`;
  const sent = sendSignal({ type: "hw.request", call_id: wb.call.callId, request_id: requestId, action, params });
  const li = el("li", { dataset: { requestId, action } }, el("span", { class: "hw-action" }), el("span", { class: "hw-stage" }));
  const req = { action, li, stage: sent ? "sent" : "not_sent", outcome: sent ? null : "failed", error: sent ? null : "signaling_down" };
  requests.set(requestId, req);
  line(req);
  $("hw-log").prepend(li);
  while ($("hw-log").children.length > 8) $("hw-log").lastChild.remove();
  return requestId;
}

function summarize(req, data) {
  if (!data) return "";
  if (req.action === "verify_fingerprint") {
    return t(data.matched ? "wb.hw.matched" : "wb.hw.not_matched", { score: data.score ?? "—" });
  }
  if (req.action === "capture_document") {
    const n = Array.isArray(data.document_ids) ? data.document_ids.length : 0;
    return t("wb.hw.pages", { n });
  }
  if (req.action === "read_id_card") return data.name || "";
  return "";
}

function onSignal(event) {
  const message = event.detail;
  const req = requests.get(message.request_id);
  if (!req) return;
  if (message.type === "hw.progress") {
    req.stage = message.stage;
    line(req);
  } else if (message.type === "hw.result") {
    req.outcome = message.outcome;
    req.error = message.error || null;
    req.stage = "done";
    req.summary = message.outcome === "ok" ? summarize(req, message.data) : "";
    line(req);
    onResult(req, message);
  }
}

function onResult(req, message) {
  if (req.action === "document_live_start") setLive(message.outcome === "ok" ? "on" : "off");
  else if (req.action === "document_live_stop") setLive(message.outcome === "ok" ? "off" : "on");
  if (req.action === "document_live_start" && message.error === "unsupported_action") {
    liveUnsupported = true;
    const button = $("hw-live");
    button.disabled = true;
    button.dataset.unavailable = "true";
    button.dataset.i18n = "wb.hw.document_live_unavailable";
    button.textContent = t(button.dataset.i18n);
    return;
  }
  if (message.outcome !== "ok") return;
  const data = message.data || {};
  if (req.action === "read_id_card") resident.fromCard(data);
  else if (req.action === "verify_fingerprint") resident.addVerification(data);
  else if (req.action === "capture_document") documents.refresh(data.document_ids || []);
}

export function onCallStarted() {
  setButtons(true);
  $("hw-log").replaceChildren();
  requests.clear();
  liveTrack = null;
  setLive("off");
}

export function onCallEnded() {
  liveTrack = null;
  setLive("off");
  setButtons(false);
}

/** The button's action: start the live document view, or stop it while it is on. */
function liveAction() {
  return live === "on" ? "document_live_stop" : "document_live_start";
}

export function init() {
  for (const id of BUTTONS) {
    $(id).addEventListener("click", () => request(id === "hw-live" ? liveAction() : $(id).dataset.action));
  }
  document.addEventListener("call:signal", onSignal);
  document.addEventListener("call:document-track", (event) => {
    liveTrack = event.detail.track; // a renegotiated connection brings a new one
    renderLive();
  });
  setButtons(Boolean(wb.call));
  renderLive();
}

/** Re-render translated labels (language switch). */
export function rerender() {
  renderLive();
}
