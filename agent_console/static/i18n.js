// Tiny i18n: loads a catalog, fills [data-i18n] elements, exposes t(key, params).
// zh-CN is the default; the choice is kept in localStorage (a UI preference, never personal data).
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
  const response = await fetch(`/console/i18n/${current}.json`, { cache: "no-cache" });
  catalog = await response.json();
  localStorage.setItem("doorstep.lang", current);
  apply();
}

export async function toggle() {
  await load(current === "zh-CN" ? "en" : "zh-CN");
}
