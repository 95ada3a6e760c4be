// Console home (/console/index.html): links by role (C6); agents and supervisors get the workbench
// (queue panel + call panel + case form) on this page, other roles a list of their pages.
import { api, currentUser } from "/console/api.js";
import { load, t, toggle } from "/console/i18n.js";

const $ = (id) => document.getElementById(id);

/** Pages per role: [href, i18n key]. */
const PAGES = {
  agent: [
    ["/console/index.html", "wb.nav.workbench"],
    ["/console/cases.html", "wb.nav.cases"],
    ["/console/board.html", "wb.nav.board"],
  ],
  supervisor: [
    ["/console/index.html", "wb.nav.workbench"],
    ["/console/cases.html", "wb.nav.cases"],
    ["/console/dashboard.html", "wb.nav.dashboard"],
    ["/console/followups.html", "wb.nav.followups"],
    ["/console/board.html", "wb.nav.board"],
  ],
  technician: [
    ["/console/fleet.html", "wb.nav.fleet"],
    ["/console/board.html", "wb.nav.board"],
  ],
  admin: [
    ["/console/dashboard.html", "wb.nav.dashboard"],
    ["/console/fleet.html", "wb.nav.fleet"],
    ["/console/board.html", "wb.nav.board"],
  ],
};
const WORKBENCH_ROLES = new Set(["agent", "supervisor"]);

let me = null;

function link(href, key) {
  const a = document.createElement("a");
  a.href = href;
  a.dataset.i18n = key;
  a.textContent = t(key);
  if (href === location.pathname || (href === "/console/index.html" && location.pathname === "/console/")) {
    a.setAttribute("aria-current", "page");
  }
  return a;
}

function renderHome() {
  $("welcome").textContent = t("console.welcome", { name: me.display_name });
  $("role").textContent = t("console.role", { role: t(`role.${me.role}`) });
}

await load();
me = await currentUser();

if (me) {
  const pages = PAGES[me.role] || [["/console/board.html", "wb.nav.board"]];
  $("nav").replaceChildren(...pages.map(([href, key]) => link(href, key)));
  renderHome();
  new MutationObserver(renderHome).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
  $("logout").addEventListener("click", async () => {
    try {
      await api("POST", "/api/auth/logout");
    } finally {
      location.assign("/console/login.html");
    }
  });
  if (WORKBENCH_ROLES.has(me.role)) {
    $("workbench").hidden = false;
    $("link").hidden = false;
    await import("/console/workbench.js");
  } else {
    $("home").hidden = false;
    $("home-links").replaceChildren(
      ...pages.map(([href, key]) => {
        const li = document.createElement("li");
        li.append(link(href, key));
        return li;
      }),
    );
    $("help-open").hidden = true;
    $("lang").addEventListener("click", () => toggle());
  }
  document.body.classList.remove("loading");
}
