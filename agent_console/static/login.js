import { api, ApiError } from "/console/api.js";
import { load, t, toggle } from "/console/i18n.js";

const form = document.getElementById("login-form");
const errorBox = document.getElementById("error");
const submit = document.getElementById("submit");

let lastError = null;

function showError(code) {
  lastError = code;
  const key = `login.error.${code}`;
  const text = t(key);
  errorBox.textContent = text === key ? t("login.error.other") : text;
  errorBox.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  lastError = null;
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    showError("invalid_input");
    return;
  }
  submit.disabled = true;
  submit.textContent = t("login.busy");
  try {
    await api("POST", "/api/auth/login", { username, password });
    const next = new URLSearchParams(location.search).get("next");
    location.assign(next && next.startsWith("/console/") ? next : "/console/");
  } catch (err) {
    form.password.value = "";
    showError(err instanceof ApiError ? err.code : "other");
  } finally {
    submit.disabled = false;
    submit.textContent = t("login.submit");
  }
});

document.getElementById("lang").addEventListener("click", async () => {
  await toggle();
  if (lastError) showError(lastError);
});
await load();
