// Shared state and helpers of the agent workbench (index.html): the signed-in user, the catalog and
// stations by id, the current and last call, small DOM helpers and a status line for short messages.
import { ApiError } from "/console/api.js";
import { lang, t } from "/console/i18n.js";

export const $ = (id) => document.getElementById(id);

/** Workbench state shared by its modules (never holds unmasked personal data). */
export const wb = {
  me: null,
  services: new Map(), // id -> service (with materials)
  stations: new Map(), // id -> station
  agents: [], // office agents (for transfers)
  settings: null, // the office's queue settings
  ticket: null, // the ticket offered to / served by me (with its state)
  call: null, // {callId, ticket} while a call is up
  last: null, // {callId, ticket} of the call being worked on (kept after hang-up until the case is filed)
};

/** Create an element: el("li", {class: "x", dataset: {id: 1}}, "text", child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** The localized name of a service (or station) record. */
export function nameOf(record) {
  if (!record) return "";
  return lang() === "en" ? record.name_en || record.name : record.name;
}

export function serviceName(id) {
  return nameOf(wb.services.get(id)) || `#${id}`;
}

export function stationName(id) {
  if (id === null || id === undefined || id === "staff") return t("wb.queue.staff_desk");
  return nameOf(wb.stations.get(Number(id))) || `#${id}`;
}

/** mm:ss (or h:mm:ss) of a number of seconds. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

let flashTimer = null;
/** A short message in the status bar (errors in red). */
export function flash(text, kind = "info") {
  const node = $("flash");
  node.textContent = text;
  node.dataset.kind = kind;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => {
    node.textContent = "";
  }, 6000);
}

/** The message for an API failure: a workbench key for its code, or the generic one. */
export function errorText(err) {
  const code = err instanceof ApiError ? err.code : "other";
  for (const key of [`wb.error.${code}`, `call.error.${code}`]) {
    const text = t(key);
    if (text !== key) return text;
  }
  return t("wb.error.other", { code });
}

export function fail(err) {
  flash(errorText(err), "error");
}

/** The call the workbench acts on: the live one, else the last one (wrap-up). */
export function activeCall() {
  return wb.call || wb.last;
}
