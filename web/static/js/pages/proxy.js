// The proxy page: listeners, routes and counters of every running run's
// proxy, refreshed every second while the page is open.

import { get, ApiError } from "../api.js";
import { el, fmtDuration, runDurationMs, errorPanel } from "../dom.js";
import { pageHeader, card, table, emptyState } from "./common.js";
import { proxyCounters } from "./runs.js";

export async function proxyPage(ctx) {
  ctx.setTitle("Proxy");
  const body = el("div", { id: "proxy-body", class: "stack" });
  const updated = el("span", { class: "muted small", id: "proxy-updated", "aria-live": "off" });
  ctx.page.replaceChildren(
    pageHeader({ title: "Proxy", sub: ["Each run opens its own proxy. While runs are active, their listeners, routes and Envoy-style counters show here, refreshed every second. ", updated] }),
    body);

  let failures = 0;
  let busy = false;
  const refresh = async () => {
    if (busy) return;
    busy = true;
    try {
      const running = await get("/runs?status=running&limit=50", ctx);
      const live = await Promise.all(running.items.map(async (run) => {
        try {
          return { run, proxy: await get(`/runs/${run.id}/proxy`, ctx) };
        } catch (err) {
          // The run ended between the two calls.
          if (err instanceof ApiError && (err.status === 409 || err.status === 404)) return null;
          throw err;
        }
      }));
      if (!ctx.live()) return;
      failures = 0;
      render(body, live.filter(Boolean));
      updated.textContent = `Updated ${new Date().toLocaleTimeString("en-GB")}.`;
    } catch (err) {
      if (err.name === "AbortError" || !ctx.live()) return;
      if (++failures === 1) body.replaceChildren(errorPanel(err));
    } finally {
      busy = false;
    }
  };
  await refresh();
  const timer = setInterval(refresh, 1000);
  ctx.signal.addEventListener("abort", () => clearInterval(timer));
}

function render(body, live) {
  if (!live.length) {
    body.replaceChildren(emptyState("No run is active", "Start a run and its proxy appears here while it runs.",
      el("a", { href: "#/experiments", class: "btn" }, "Go to the experiments")));
    return;
  }
  body.replaceChildren(...live.map(({ run, proxy }) => el("article", { class: "proxy-run", dataset: { run: String(run.id) }, "aria-label": `Proxy of run ${run.id}` },
    card(el("span", {}, el("a", { href: `#/runs/${run.id}` }, `Run #${run.id}`), ` · ${run.experiment} v${run.experimentVersion}`),
      el("div", { class: "stack-tight" },
        table(["Listener", "Address"], (proxy.listeners || []).map((l) => el("tr", {}, el("td", {}, el("code", {}, l.name)), el("td", {}, el("code", { class: "listener-addr" }, l.addr)))),
          { cls: "compact listeners", caption: "Listeners" }),
        proxyCounters(proxy.stats, { title: "Counters", live: true })),
      { note: `running for ${fmtDuration(runDurationMs(run))}` }))));
}
