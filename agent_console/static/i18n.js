// Tiny i18n: loads a catalog, fills [data-i18n] elements, exposes t(key, params).
// zh-CN is the default; the choice is kept in localStorage (a UI preference, never personal data).
// A page may name extra catalogs in <body data-catalogs="cases supervisor">: each one is
// /console/i18n/<name>.<lang>.json, merged over the common catalog.
const LANGS = ["zh-CN", "en"];
let catalog = {};
let current = "zh-CN";

export function lang() {
  return current;
}

export function t(key, params = {}) {
  const text = catalog[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

export function apply(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  document.documentElement.lang = current;
  document.title = t(document.body.dataset.titleKey || "app.title");
}

export async function load(preferred) {
  const wanted = preferred || localStorage.getItem("doorstep.lang") || "zh-CN";
  current = LANGS.includes(wanted) ? wanted : "zh-CN";
  const extra = (document.body.dataset.catalogs || "").split(/\s+/).filter(Boolean);
  const urls = [`/console/i18n/${current}.json`, ...extra.map((name) => `/console/i18n/${name}.${current}.json`)];
  const parts = await Promise.all(urls.map(async (url) => (await fetch(url, { cache: "no-cache" })).json()));
  catalog = Object.assign({}, ...parts);
  localStorage.setItem("doorstep.lang", current);
  apply();
}

export async function toggle() {
  await load(current === "zh-CN" ? "en" : "zh-CN");
}
