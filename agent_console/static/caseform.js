// Case form (办件): the service's required materials (GET /api/catalog/services/{id}/materials), each
// ticked against captured pages; outcome completed / accepted (the office computes the due date) /
// needs_materials (one notice listing everything missing, 一次性告知) / rejected (reason) / forwarded;
// notes. POST /api/cases files it (and completes the ticket). The notice is shown here for printing
// on the agent's printer, and while the call lasts it can be printed at the kiosk (hw.request
// print_notice: the service, the case number and each missing material, no personal data).
import { api } from "/console/api.js";
import * as hw from "/console/hw.js";
import { lang, t } from "/console/i18n.js";
import * as documents from "/console/documents.js";
import { $, activeCall, el, fail, flash, nameOf, wb } from "/console/wb-common.js";

const OUTCOMES = ["completed", "accepted", "needs_materials", "rejected", "forwarded"];
let materials = []; // [{key, id, name, name_en, count, form, notes, checked}]
let ticket = null;
let callId = null;
let lastCase = null;
let notice = null;
let busy = false;
let kioskPrint = null; // {requestId, state: printing | printed | failed | no_call}

/** For tests: the last filed case. */
window.wbCase = { get last() { return lastCase; } };

function outcome() {
  return document.querySelector("input[name=outcome]:checked")?.value || "accepted";
}

function formText(form) {
  return t(`wb.case.form.${form}`);
}

function renderMaterials() {
  $("materials").replaceChildren(
    ...materials.map((m, i) => {
      const pages = documents.pagesOf(m.key);
      const box = el("input", { type: "checkbox", "aria-keyshortcuts": String(i + 1) });
      box.checked = m.checked;
      box.addEventListener("change", () => {
        m.checked = box.checked;
        renderMaterials();
      });
      return el(
        "li",
        { dataset: { key: m.key, materialId: m.id ?? "", checked: String(m.checked) } },
        el(
          "label",
          {},
          box,
          el("kbd", { text: String(i + 1) }),
          ` ${nameOf(m)}`,
          el("span", { class: "muted", text: ` ×${m.count} · ${formText(m.form)}` }),
          pages ? el("span", { class: "pages", text: t("wb.case.pages", { n: pages }) }) : null,
        ),
      );
    }),
  );
  const done = materials.filter((m) => m.checked).length;
  $("materials-count").textContent = materials.length ? `${done}/${materials.length}` : "";
  documents.setMaterials(materials.map((m) => ({ key: m.key, name: nameOf(m) })));
}

function renderOutcome() {
  const o = outcome();
  $("case-reason-row").hidden = o !== "rejected";
  $("case-forward-row").hidden = o !== "forwarded";
  $("case-missing-row").hidden = o !== "needs_materials";
  if (o === "forwarded") {
    const select = $("case-forward");
    const value = select.value;
    select.replaceChildren(
      ...wb.agents.filter((a) => a.user_id !== wb.me.id).map((a) => el("option", { value: `agent:${a.user_id}`, text: a.display_name })),
    );
    if (value) select.value = value;
  }
}

function renderResult() {
  const box = $("case-result");
  if (!lastCase) {
    box.hidden = true;
    return;
  }
  const c = lastCase;
  const parts = [
    el("strong", { dataset: { field: "number" }, text: c.number }),
    el("span", { dataset: { field: "state" }, text: t(`wb.case.state.${c.state}`) }),
  ];
  if (c.due_date) parts.push(el("span", { dataset: { field: "due_date" }, text: t("wb.case.due", { date: c.due_date }) }));
  box.replaceChildren(...parts);
  box.dataset.caseId = String(c.id);
  box.dataset.state = c.state;
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}

function renderNotice() {
  const section = $("notice");
  if (!notice) {
    section.hidden = true;
    return;
  }
  const en = lang() === "en";
  $("notice-service").textContent = en ? notice.service_name_en || notice.service_name : notice.service_name;
  $("notice-items").replaceChildren(
    ...notice.missing.map((m) =>
      el(
        "li",
        {},
        el("strong", { text: en ? m.name_en || m.name : m.name }),
        ` ×${m.count} · ${formText(m.form)}`,
        m.notes ? el("div", { class: "muted", text: m.notes }) : null,
      ),
    ),
  );
  $("notice-meta").textContent = lastCase ? t("wb.notice.meta", { number: lastCase.number }) : "";
  const kiosk = $("notice-kiosk-state");
  kiosk.dataset.state = kioskPrint ? kioskPrint.state : "";
  kiosk.textContent = kioskPrint ? t(`wb.notice.kiosk_${kioskPrint.state}`) : "";
  $("notice-kiosk").disabled = !wb.call || kioskPrint?.state === "printing";
  section.hidden = false;
}

/** The notice as print_notice parameters: service, case number, m1…m14 "<count>|<form>|<name>". */
function noticeParams() {
  const params = { service: (notice.service_name || "").slice(0, 60), reference: lastCase ? lastCase.number : "" };
  notice.missing.slice(0, 14).forEach((m, i) => {
    params[`m${i + 1}`] = `${m.count || 1}|${m.form || "original"}|${String(m.name).slice(0, 60)}`;
  });
  return params;
}

/** Print the needs-materials notice on the kiosk's printer (while the call lasts). */
export function printAtKiosk() {
  if (!notice) return;
  if (!wb.call) {
    kioskPrint = { requestId: null, state: "no_call" };
  } else {
    const requestId = hw.request("print_notice", noticeParams());
    kioskPrint = requestId ? { requestId, state: "printing" } : { requestId: null, state: "failed" };
  }
  renderNotice();
}

function onKioskResult(event) {
  const message = event.detail;
  if (!kioskPrint || message.type !== "hw.result" || message.request_id !== kioskPrint.requestId) return;
  kioskPrint.state = message.outcome === "ok" ? "printed" : "failed";
  renderNotice();
}

/** A new call: the ticket's service materials, a blank form. */
export async function onCall(tk, id) {
  ticket = tk;
  callId = id;
  lastCase = null;
  notice = null;
  kioskPrint = null;
  materials = [];
  $("case-notes").value = "";
  $("case-reason").value = "";
  document.querySelector("input[name=outcome][value=accepted]").checked = true;
  renderOutcome();
  renderResult();
  renderNotice();
  $("case-submit").disabled = false;
  try {
    const list = await api("GET", `/api/catalog/services/${tk.service_id}/materials`);
    materials = list.map((m) => ({ ...m, key: String(m.id), checked: false }));
  } catch (err) {
    fail(err);
  }
  renderMaterials();
}

/** The call serving the ticket (the case records it). */
export function setCall(id) {
  callId = id;
}

export function toggleMaterial(i) {
  const m = materials[i];
  if (!m) return;
  m.checked = !m.checked;
  renderMaterials();
}

export function chooseOutcome(i) {
  const input = document.querySelector(`input[name=outcome][value=${OUTCOMES[i]}]`);
  if (!input) return;
  input.checked = true;
  input.focus();
  renderOutcome();
}

export async function submit() {
  if (busy || !ticket || $("case-submit").disabled) return;
  const o = outcome();
  const body = {
    ticket_id: ticket.id,
    service_id: ticket.service_id,
    outcome: o,
    notes: $("case-notes").value.trim(),
    materials: materials.map((m) => ({ material_id: m.id, document_ids: documents.documentsOf(m.key), checked: m.checked })),
  };
  const call = activeCall();
  if (callId || call) body.call_id = callId || call.callId;
  if (o === "rejected") {
    body.reason = $("case-reason").value.trim();
    if (!body.reason) {
      $("case-reason").focus();
      flash(t("wb.case.reason_required"), "error");
      return;
    }
  }
  if (o === "needs_materials") {
    body.missing_material_ids = materials.filter((m) => !m.checked).map((m) => m.id);
    if (!body.missing_material_ids.length) {
      flash(t("wb.case.nothing_missing"), "error");
      return;
    }
  }
  if (o === "forwarded") {
    const [kind, id] = ($("case-forward").value || "").split(":");
    if (!id) {
      flash(t("wb.case.forward_required"), "error");
      return;
    }
    body.forward_to = kind === "agent" ? { agent_id: Number(id) } : { office_id: Number(id) };
  }
  busy = true;
  $("case-submit").disabled = true;
  try {
    lastCase = await api("POST", "/api/cases", body);
    notice = lastCase.notice || null;
    kioskPrint = null;
    renderResult();
    renderNotice();
    flash(t("wb.case.filed", { number: lastCase.number }));
    document.dispatchEvent(new CustomEvent("wb:case-filed", { detail: lastCase }));
  } catch (err) {
    $("case-submit").disabled = false;
    fail(err);
  } finally {
    busy = false;
  }
}

export function printNotice() {
  if (notice) window.print();
}

export function rerender() {
  renderMaterials();
  renderOutcome();
  renderResult();
  renderNotice();
}

export function init() {
  $("caseform").addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  for (const input of document.querySelectorAll("input[name=outcome]")) input.addEventListener("change", renderOutcome);
  document.addEventListener("wb:assigned", (event) => {
    const m = materials.find((x) => x.key === event.detail.key);
    if (m && !m.checked) m.checked = true;
    renderMaterials();
  });
  document.addEventListener("wb:documents", () => renderMaterials());
  $("notice-print").addEventListener("click", () => window.print());
  $("notice-kiosk").addEventListener("click", printAtKiosk);
  document.addEventListener("call:signal", onKioskResult);
  document.addEventListener("call:ended", () => {
    if (notice) renderNotice();
  });
  $("notice-close").addEventListener("click", () => {
    notice = null;
    renderNotice();
  });
  renderOutcome();
}
