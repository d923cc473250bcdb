// Faultline dashboard: hash routing, the page shell, and the token prompt.

import { onTokenNeeded, onTokenChange, forgetToken, hasToken } from "./api.js";
import { el, $, $$, errorPanel, toast, confirmDialog } from "./dom.js";
import { experimentsPage, experimentPage, newExperimentPage } from "./pages/experiments.js";
import { runsPage, runPage } from "./pages/runs.js";
import { comparePage } from "./pages/compare.js";
import { proxyPage } from "./pages/proxy.js";
import { safetyPage } from "./pages/safety.js";
import { gameDaysPage, gameDayPage, newGameDayPage, gameDayRunPage } from "./pages/gamedays.js";
import { environmentsPage, environmentPage, newEnvironmentPage } from "./pages/environments.js";
import { watchLever, refreshLever } from "./lever.js";

const routes = [
  [/^\/experiments$/, "experiments", (ctx) => experimentsPage(ctx)],
  [/^\/experiments\/new$/, "experiments", (ctx) => newExperimentPage(ctx)],
  [/^\/experiments\/(\d+)$/, "experiments", (ctx, id) => experimentPage(ctx, Number(id), "runs")],
  [/^\/experiments\/(\d+)\/edit$/, "experiments", (ctx, id) => experimentPage(ctx, Number(id), "definition")],
  [/^\/runs$/, "runs", (ctx) => runsPage(ctx)],
  [/^\/runs\/(\d+)$/, "runs", (ctx, id) => runPage(ctx, Number(id))],
  [/^\/compare$/, "runs", (ctx) => comparePage(ctx, 0, 0)],
  [/^\/compare\/(\d+)\/(\d+)$/, "runs", (ctx, a, b) => comparePage(ctx, Number(a), Number(b))],
  [/^\/proxy$/, "proxy", (ctx) => proxyPage(ctx)],
  [/^\/gamedays$/, "gamedays", (ctx) => gameDaysPage(ctx)],
  [/^\/gamedays\/new$/, "gamedays", (ctx) => newGameDayPage(ctx)],
  [/^\/gamedays\/(\d+)$/, "gamedays", (ctx, id) => gameDayPage(ctx, Number(id), "overview")],
  [/^\/gamedays\/(\d+)\/edit$/, "gamedays", (ctx, id) => gameDayPage(ctx, Number(id), "definition")],
  [/^\/gameday-runs\/(\d+)$/, "gamedays", (ctx, rid) => gameDayRunPage(ctx, Number(rid))],
  [/^\/environments$/, "environments", (ctx) => environmentsPage(ctx)],
  [/^\/environments\/new$/, "environments", (ctx) => newEnvironmentPage(ctx)],
  [/^\/environments\/(\d+)$/, "environments", (ctx, id) => environmentPage(ctx, Number(id), "overview")],
  [/^\/environments\/(\d+)\/edit$/, "environments", (ctx, id) => environmentPage(ctx, Number(id), "definition")],
  [/^\/safety$/, "safety", (ctx) => safetyPage(ctx)],
];

let current = null; // the AbortController of the page on screen
let firstRender = true;
let shownHash = location.hash;
let leaveGuard = null; // returns a reason to stay, e.g. unsaved edits

// onHashChange asks before leaving a page with unsaved edits.
async function onHashChange() {
  if (leaveGuard && leaveGuard()) {
    const target = location.hash;
    history.replaceState(null, "", shownHash);
    const ok = await confirmDialog({ title: "Discard your changes?", message: "The editor has changes that are not saved. Leaving the page discards them.", confirmLabel: "Discard changes" });
    if (!ok) return;
    leaveGuard = null;
    history.pushState(null, "", target);
  }
  route();
}

function parseHash() {
  const raw = decodeURIComponent(location.hash.replace(/^#/, "")) || "/experiments";
  const [path, qs] = raw.split("?");
  return { path: path.replace(/\/+$/, "") || "/experiments", query: new URLSearchParams(qs || "") };
}

export function navigate(hash) {
  leaveGuard = null; // a page navigates on purpose, after saving
  if (location.hash === hash) route(); else location.hash = hash;
}

async function route() {
  if (current) current.abort();
  const controller = new AbortController();
  current = controller;
  shownHash = location.hash;
  leaveGuard = null;
  const { path, query } = parseHash();
  if (!firstRender) refreshLever();
  const view = $("#view");
  const page = el("div", { class: "page" });
  view.replaceChildren(page);

  let match = null;
  let section = "";
  for (const [re, nav, fn] of routes) {
    const m = re.exec(path);
    if (m) { match = () => fn(ctx, ...m.slice(1)); section = nav; break; }
  }
  for (const a of $$("nav a[data-nav]")) {
    if (a.dataset.nav === section) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const ctx = {
    page,
    query,
    signal: controller.signal,
    setTitle: (t) => { document.title = t ? `${t} · Faultline` : "Faultline"; },
    navigate,
    // guardLeave registers fn; while it returns true, leaving asks first.
    guardLeave: (fn) => {
      leaveGuard = fn;
      window.addEventListener("beforeunload", (ev) => { if (fn()) ev.preventDefault(); }, { signal: controller.signal });
    },
    // live reports whether this page is still the one on screen.
    live: () => current === controller && !controller.signal.aborted,
  };
  if (!match) {
    ctx.setTitle("Not found");
    page.append(el("h1", { tabindex: "-1" }, "Page not found"),
      el("p", {}, "There is no page at ", el("code", {}, "#" + path), ". ", el("a", { href: "#/experiments" }, "Go to the experiments"), "."));
    focusHeading(page);
    return;
  }
  page.setAttribute("aria-busy", "true");
  page.append(el("p", { class: "loading" }, "Loading…"));
  try {
    await match();
  } catch (err) {
    if (err && err.name === "AbortError") return;
    if (!ctx.live()) return;
    page.replaceChildren(el("h1", { tabindex: "-1" }, "Could not load this page"), errorPanel(err, () => route()));
  } finally {
    if (ctx.live()) {
      page.removeAttribute("aria-busy");
      const loading = $(".loading", page);
      if (loading && page.children.length > 1) loading.remove();
      if (!firstRender) focusHeading(page);
      firstRender = false;
    }
  }
}

function focusHeading(page) {
  const h = $("h1", page);
  if (h) {
    h.setAttribute("tabindex", "-1");
    h.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
}

// ---- token ------------------------------------------------------------------

function askToken(refused) {
  const dlg = $("#token-dialog");
  const form = $("#token-form");
  const input = $("#token-input");
  $("#token-error").hidden = !refused;
  input.value = "";
  return new Promise((resolve) => {
    const finish = (value) => {
      form.removeEventListener("submit", onSubmit);
      $("#token-cancel").removeEventListener("click", onCancel);
      dlg.removeEventListener("cancel", onCancel);
      if (dlg.open) dlg.close();
      resolve(value);
    };
    const onSubmit = (ev) => {
      ev.preventDefault();
      const t = input.value.trim();
      if (t) finish(t);
    };
    const onCancel = (ev) => { ev.preventDefault(); finish(null); };
    form.addEventListener("submit", onSubmit);
    $("#token-cancel").addEventListener("click", onCancel);
    dlg.addEventListener("cancel", onCancel);
    if (!dlg.open) dlg.showModal();
    input.focus();
  });
}

function showTokenState(set) {
  $("#token-state").hidden = !set;
}

// ---- start ------------------------------------------------------------------

onTokenNeeded(askToken);
onTokenChange(showTokenState);
onTokenChange(() => refreshLever());
showTokenState(hasToken());
$("#token-forget").addEventListener("click", () => {
  forgetToken();
  toast("The token is forgotten; the next request will ask for it again.");
});
// A promise nobody awaited still gets a readable message, not a silent failure.
window.addEventListener("unhandledrejection", (ev) => {
  ev.preventDefault();
  const err = ev.reason;
  if (err && err.name === "AbortError") return;
  toast((err && err.message) || String(err), "bad");
});
// The skip link moves focus without touching the route in the hash.
$(".skip-link").addEventListener("click", (ev) => {
  ev.preventDefault();
  const h = $("#view h1");
  (h || $("#view")).focus();
});
window.addEventListener("hashchange", onHashChange);
if (!location.hash) history.replaceState(null, "", "#/experiments");
route();
watchLever();
