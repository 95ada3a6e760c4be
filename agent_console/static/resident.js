// Resident panel: the identity of the call's resident as the office masks it (GET
// /api/calls/{id}/resident: name 张*, ID 3101**********1234, birth year, masked address), the
// verification results and the resident's open cases. Nothing unmasked ever reaches this page.
import { api } from "/console/api.js";
import { t } from "/console/i18n.js";
import { $, activeCall, el } from "/console/wb-common.js";

const FIELDS = ["name", "id_number", "sex", "birth_date", "age", "nation", "address"];
let identity = null; // masked fields
let verifications = [];
let openCases = null;
let loadedFor = null;
let retries = 0;

function render() {
  const dl = $("resident");
  if (!identity) {
    dl.replaceChildren(el("dt", { class: "muted", text: t("wb.resident.none") }));
    dl.dataset.loaded = "false";
  } else {
    const items = [];
    for (const field of FIELDS) {
      const value = identity[field];
      if (value === undefined || value === null || value === "") continue;
      const key = `wb.resident.${field}.${value}`;
      const text = field === "sex" && t(key) !== key ? t(key) : String(value);
      items.push(el("div", { class: `kvp kvp-${field}` }, el("dt", { text: t(`wb.resident.f.${field}`) }), el("dd", { dataset: { field }, text })));
    }
    dl.replaceChildren(...items);
    dl.dataset.loaded = "true";
  }
  $("verifications").replaceChildren(
    ...verifications.map((v) =>
      el(
        "li",
        { class: v.matched ? "ok" : "bad", dataset: { kind: v.kind, matched: String(Boolean(v.matched)) } },
        t(v.matched ? "wb.resident.v_ok" : "wb.resident.v_bad", { kind: t(`wb.resident.kind.${v.kind}`), score: v.score ?? "—" }),
      ),
    ),
  );
  const cases = $("open-cases");
  if (!openCases || openCases.length === 0) {
    cases.replaceChildren(el("li", { class: "muted", text: t("wb.resident.no_cases") }));
  } else {
    cases.replaceChildren(
      ...openCases.map((c) =>
        el(
          "li",
          { dataset: { caseId: c.id } },
          el("strong", { text: c.number }),
          ` ${c.service_name || ""} · ${t(`wb.case.state.${c.state}`)}`,
          c.due_date ? ` · ${t("wb.case.due", { date: c.due_date })}` : "",
        ),
      ),
    );
  }
}

/** The office's view of the call's resident (masked); keeps what is shown when it is unavailable. */
export async function load() {
  const call = activeCall();
  if (!call) return;
  try {
    const data = await api("GET", `/api/calls/${encodeURIComponent(call.callId)}/resident`);
    loadedFor = call.callId;
    if (data.identity || data.masked || data.name) identity = { ...(identity || {}), ...(data.identity || data.masked || data) };
    // The kiosk records a verification with the office in the background: keep what the kiosk
    // reported until the office's list has caught up, and look again shortly.
    const server = data.verifications || [];
    if (server.length >= verifications.length) {
      verifications = server;
      retries = 0;
    } else if (retries < 5) {
      retries += 1;
      setTimeout(load, 1000);
    }
    openCases = data.open_cases || [];
    for (const key of ["resident_ref", "verifications", "open_cases", "identity", "masked"]) delete identity?.[key];
  } catch {
    // not bound yet (no card read) or not available: the card's masked fields stay shown
  }
  render();
}

/** A read_id_card result: the kiosk already sends masked fields; then ask the office. */
export function fromCard(data) {
  identity = {};
  for (const field of FIELDS) if (data[field] !== undefined) identity[field] = data[field];
  if (data.birth_date && !identity.age) identity.birth_date = String(data.birth_date).slice(0, 4);
  render();
  load();
}

export function addVerification(data) {
  verifications = [...verifications, { kind: "fingerprint", matched: data.matched, score: data.score }];
  render();
  load();
}

export function reset() {
  identity = null;
  verifications = [];
  openCases = null;
  loadedFor = null;
  render();
}

export function rerender() {
  render();
}

export function loadedCall() {
  return loadedFor;
}
