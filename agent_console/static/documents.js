// Document viewer: the call's captured pages (GET /api/calls/{id}/documents), each image read once
// from /api/documents/{id} (an audited read) and kept as an object URL for the page; zoom, rotate,
// page through, and assign each page to one of the service's required materials (the case form ticks
// a material once a page is assigned to it). One capture is one page: its full still ("page") and, when
// the kiosk could straighten it, the cropped copy ("straightened", shown first; O shows the other).
import { api } from "/console/api.js";
import { t } from "/console/i18n.js";
import { $, activeCall, el, fail } from "/console/wb-common.js";

let docs = []; // pages: [{document_id (shown), ids: [all document ids of the capture], variants: [...]}]
const urls = new Map(); // document_id -> object URL
const assigned = new Map(); // page's first document_id -> material key
let original = false; // show the full still instead of the straightened copy
let materials = []; // [{key, name}]
let index = 0;
let zoomLevel = 1;
let rotation = 0;

/** For tests: what the viewer shows. */
window.wbDocs = { get count() { return docs.length; }, get index() { return index; }, assigned };

async function image(id) {
  if (urls.has(id)) return urls.get(id);
  const response = await fetch(`/api/documents/${id}`, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) throw new Error(`document ${id}: ${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  urls.set(id, url);
  return url;
}

function materialName(key) {
  return materials.find((m) => m.key === key)?.name || "";
}

function renderThumbs() {
  $("doc-thumbs").replaceChildren(
    ...docs.map((d, i) => {
      const img = el("img", { alt: t("wb.docs.page", { n: i + 1 }), loading: "lazy" });
      if (urls.has(d.document_id)) img.src = urls.get(d.document_id);
      return el(
        "li",
        { dataset: { documentId: d.document_id, current: String(i === index), material: assigned.get(d.key) ?? "" } },
        el(
          "button",
          { type: "button", class: "thumb", onclick: () => show(i), "aria-label": t("wb.docs.page", { n: i + 1 }) },
          img,
          el("span", { class: "pg", text: String(i + 1) }),
          el("span", { class: "mat", text: materialName(assigned.get(d.key)) }),
        ),
      );
    }),
  );
}

function applyTransform() {
  const img = $("doc-img");
  img.style.width = `${Math.round(zoomLevel * 100)}%`;
  img.style.transform = rotation ? `rotate(${rotation}deg)` : "";
  const view = $("doc-view");
  view.dataset.zoom = zoomLevel.toFixed(2);
  view.dataset.rotate = String(rotation);
}

async function show(i) {
  if (!docs.length) {
    $("doc-img").hidden = true;
    $("doc-empty").hidden = false;
    $("doc-pos").textContent = "0 / 0";
    return;
  }
  index = Math.max(0, Math.min(docs.length - 1, i));
  const d = docs[index];
  $("doc-pos").textContent = `${index + 1} / ${docs.length}`;
  $("doc-empty").hidden = true;
  const img = $("doc-img");
  img.alt = t("wb.docs.page", { n: index + 1 });
  img.dataset.documentId = String(d.document_id);
  try {
    img.src = await image(d.document_id);
    img.hidden = false;
  } catch (err) {
    img.hidden = true;
    fail(err);
  }
  $("doc-material").value = assigned.get(d.key) ?? "";
  $("doc-view").dataset.kind = d.kind;
  applyTransform();
  renderThumbs();
}

/** Captures as pages: documents of one hardware request together, the straightened copy first. */
function group(list) {
  const pages = new Map();
  for (const d of list) {
    const key = d.request_id || `doc-${d.document_id}`;
    if (!pages.has(key)) pages.set(key, []);
    pages.get(key).push(d);
  }
  return [...pages.values()].map((variants) => {
    variants.sort((a, b) => (a.kind === "straightened" ? -1 : b.kind === "straightened" ? 1 : a.document_id - b.document_id));
    const first = Math.min(...variants.map((v) => v.document_id));
    const pick = original ? variants.find((v) => v.kind === "page") || variants[0] : variants[0];
    return { ...pick, key: first, ids: variants.map((v) => v.document_id), variants };
  });
}

/** Switch between the straightened copy and the full still of every page. */
export function toggleOriginal() {
  original = !original;
  docs = docs.map((p) => {
    const pick = original ? p.variants.find((v) => v.kind === "page") || p.variants[0] : p.variants[0];
    return { ...p, ...pick, key: p.key, ids: p.ids, variants: p.variants };
  });
  if (docs.length) show(index);
}

/** Reload the call's document list (after a capture); shows the newest page. */
export async function refresh(newIds = []) {
  const call = activeCall();
  if (!call) return;
  try {
    docs = group(await api("GET", `/api/calls/${encodeURIComponent(call.callId)}/documents`));
  } catch (err) {
    fail(err);
    return;
  }
  await Promise.all(docs.map((d) => image(d.document_id).catch(() => null)));
  const newest = newIds.length ? docs.findIndex((d) => d.ids.includes(newIds[0])) : docs.length - 1;
  zoomLevel = 1;
  rotation = 0;
  await show(newest >= 0 ? newest : docs.length - 1);
  document.dispatchEvent(new CustomEvent("wb:documents", { detail: docs }));
}

export function step(delta) {
  if (docs.length) show(index + delta);
}

export function zoom(factor) {
  zoomLevel = Math.max(0.25, Math.min(6, zoomLevel * factor));
  applyTransform();
}

export function fit() {
  zoomLevel = 1;
  applyTransform();
}

export function rotate() {
  rotation = (rotation + 90) % 360;
  applyTransform();
}

/** The case form's materials, offered in the "this page is" select. */
export function setMaterials(list) {
  materials = list;
  const select = $("doc-material");
  select.replaceChildren(el("option", { value: "", text: t("wb.docs.unassigned") }), ...list.map((m, i) => el("option", { value: m.key, text: `${i + 1}. ${m.name}` })));
  if (docs[index]) select.value = assigned.get(docs[index].key) ?? "";
  renderThumbs();
}

/** Assign the current page to a material (key) or unassign it (""). */
export function assignCurrent(key) {
  const d = docs[index];
  if (!d) return;
  if (key) assigned.set(d.key, key);
  else assigned.delete(d.key);
  $("doc-material").value = key;
  renderThumbs();
  document.dispatchEvent(new CustomEvent("wb:assigned", { detail: { documentId: d.document_id, key } }));
}

/** Document ids (every variant of the pages) assigned to a material. */
export function documentsOf(key) {
  return docs.filter((d) => assigned.get(d.key) === key).flatMap((d) => d.ids);
}

/** Pages assigned to a material. */
export function pagesOf(key) {
  return docs.filter((d) => assigned.get(d.key) === key).length;
}

export function allIds() {
  return docs.flatMap((d) => d.ids);
}

export function currentId() {
  return docs[index]?.document_id ?? null;
}

export function reset() {
  for (const url of urls.values()) URL.revokeObjectURL(url);
  urls.clear();
  assigned.clear();
  docs = [];
  index = 0;
  show(0);
  renderThumbs();
}

export function rerender() {
  setMaterials(materials);
  if (docs.length) $("doc-pos").textContent = `${index + 1} / ${docs.length}`;
}

export function init() {
  $("doc-prev").addEventListener("click", () => step(-1));
  $("doc-next").addEventListener("click", () => step(1));
  $("doc-zoom-in").addEventListener("click", () => zoom(1.25));
  $("doc-zoom-out").addEventListener("click", () => zoom(0.8));
  $("doc-fit").addEventListener("click", fit);
  $("doc-rotate").addEventListener("click", rotate);
  $("doc-material").addEventListener("change", () => assignCurrent($("doc-material").value));
  show(0);
}
