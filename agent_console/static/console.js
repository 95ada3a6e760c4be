import { api, setCsrf } from "/console/api.js";
import { load, t, toggle } from "/console/i18n.js";

let me = null;

function render() {
  if (!me) return;
  document.getElementById("welcome").textContent = t("console.welcome", { name: me.display_name });
  document.getElementById("role").textContent = t("console.role", { role: t(`role.${me.role}`) });
  document.getElementById("whoami").textContent = me.username;
}

document.getElementById("lang").addEventListener("click", async () => {
  await toggle();
  render();
});

document.getElementById("logout").addEventListener("click", async () => {
  try {
    await api("POST", "/api/auth/logout");
  } finally {
    location.assign("/console/login.html");
  }
});

await load();
try {
  me = await api("GET", "/api/auth/me");
  setCsrf(me.csrf_token);
  render();
} catch {
  location.assign(`/console/login.html?next=${encodeURIComponent(location.pathname)}`);
}
