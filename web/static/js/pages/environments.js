// Environments: the list, an environment's page and its editor. The page
// follows the data plane live (every 2 s while it is on screen): whether
// it listens, its listeners and endpoints, what holds it (a run, or an
// overlay counting down its time left), the service graph of its traffic,
// its counters, the runs on it and the access log's tail; and it lays an
// overlay over the baseline for a TTL, or removes it. A mesh environment
// (a namespace of a Kubernetes cluster, spec.kubernetes) has none of the
// listeners' parts: its page shows the cluster, whether its API server
// answers, and the resources the run in force has applied there.

import { get, call, callYAML, ApiError, apiPath } from "../api.js";
import { el, $, $$, fmtNum, fmtPct, fmtMs, fmtTime, fmtAgo, fmtDuration, statusBadge, verdictBadge, confirmDialog, toast, icon } from "../dom.js";
import { serviceGraph, edgeLevel } from "../graph.js";
import { createEditor } from "../editor.js";
import { yamlPathLine } from "../yamlpath.js";
import { pageHeader, card, kpis, table, num, emptyState, meshResourcesTable } from "./common.js";
import { savedDocumentEditor } from "./editorform.js";
import { startButton, setBusy, leverRefused } from "../lever.js";

const REFRESH_MS = 2000;
const LIST_REFRESH_MS = 5000;
const ACCESS_LOG_LINES = 100;

const envHref = (id) => `#/environments/${id}`;
const egressOf = (plane) => (plane && plane.listeners ? plane.listeners.find((l) => l.kind === "mesh") : null);
const downEndpoints = (plane) => (plane && plane.endpoints ? plane.endpoints.filter((ep) => !ep.up) : []);
const plural = (n, word, many = word + "s") => `${n} ${n === 1 ? word : many}`;
/** meshOf is a mesh environment's cluster status; null for listeners. */
const meshOf = (plane) => (plane && plane.kubernetes) || null;

/**
 * meshState is a mesh environment's state for its badge: [key, label,
 * badge class, why not reachable].
 */
function meshState(plane) {
  const k = meshOf(plane);
  if (!plane.listening) return ["down", "no cluster", "status-failed", plane.error || ""];
  if (k.error) return ["unreachable", "unreachable", "status-failed", k.error];
  if (!k.checkedAt) return ["checking", "checking", "", ""];
  return ["reachable", "reachable", "status-succeeded", ""];
}

/** kubeBadge names the cluster namespace a mesh environment is. */
const kubeBadge = (k, id) => el("span", { class: "badge kind-kube", id, title: k.server ? `Namespace ${k.namespace} of ${k.server}` : null },
  "Kubernetes · namespace ", el("strong", {}, k.namespace));

/** fill replaces node's children with kids, leaving out the absent (null) ones. */
const fill = (node, ...kids) => node.replaceChildren(...kids.filter((k) => k !== null && k !== undefined && k !== false));

/** timeLeft is the time until iso in whole seconds, never below zero. */
const timeLeft = (iso) => Math.max(0, Math.ceil((Date.parse(iso) - Date.now()) / 1000));
const fmtLeft = (iso) => {
  const s = timeLeft(iso);
  if (s === 0) return "ending…";
  return s < 120 ? `${s} s left` : `${fmtDuration(s * 1000)} left`;
};

/**
 * every runs fn now and then every ms while the page is on screen; a tick
 * is skipped while the last one is still out. The page's AbortController
 * stops it.
 */
function every(ctx, ms, fn) {
  let busy = false;
  const tick = async () => {
    if (busy || !ctx.live()) return;
    busy = true;
    try {
      await fn();
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(tick, ms);
  ctx.signal.addEventListener("abort", () => clearInterval(timer));
  return tick;
}

// ---- #/environments -------------------------------------------------------------

export async function environmentsPage(ctx) {
  ctx.setTitle("Environments");
  let list = await get("/environments?limit=500", ctx);
  const slot = el("div", { class: "callout callout-bad", id: "envs-error", role: "alert", hidden: true });
  const body = el("div", { id: "envs-body" });
  const updated = el("span", { class: "muted small", id: "envs-updated", "aria-live": "off" });
  ctx.page.replaceChildren(
    pageHeader({
      title: "Environments",
      sub: ["Long-lived data planes at fixed addresses that your services are wired to once (the egress is their HTTP_PROXY), or namespaces of a Kubernetes cluster whose Istio enforces the rules (spec.kubernetes). ",
        "A run of an experiment with spec.environment lays its resources over the baseline and reverts when it ends; an overlay does so for a TTL. ", updated],
      actions: [el("a", { href: "#/environments/new", class: "btn btn-primary", id: "new-environment" }, icon("plus"), "New environment")],
    }),
    slot, body);

  let shown = "";
  const render = () => {
    const key = JSON.stringify(list.items.map(listKey));
    if (key === shown) return;
    shown = key;
    const removed = (tr) => {
      list = { ...list, items: list.items.filter((e) => String(e.id) !== tr.dataset.id) };
      render();
    };
    body.replaceChildren(list.items.length
      ? el("div", { class: "card card-flush" }, table(["Environment", "State", "Egress", "Held by", ["", "actions-col"]],
        list.items.map((e) => environmentRow(ctx, e, slot, removed)), { id: "environments-table", cls: "environments", caption: "Environments" }))
      : emptyState("No environments yet", "An environment is a data plane at fixed addresses: point your services at its egress and bind its Istio hosts to where they run.",
        el("a", { href: "#/environments/new", class: "btn btn-primary" }, "New environment")));
  };
  render();
  // Overlays count down; the list itself is read again every few seconds.
  every(ctx, 1000, async () => { for (const t of $$(".time-left[data-expires]", body)) t.textContent = fmtLeft(t.dataset.expires); });
  every(ctx, LIST_REFRESH_MS, async () => {
    try {
      list = await get("/environments?limit=500", { signal: ctx.signal, quiet: true });
    } catch (err) {
      if (err.name !== "AbortError" && ctx.live()) updated.textContent = `Could not refresh: ${err.message}`;
      return;
    }
    if (!ctx.live()) return;
    updated.textContent = `Updated ${new Date().toLocaleTimeString("en-GB")}.`;
    render();
  });
}

// listKey is what the list shows of an environment, to redraw only on a change.
function listKey(e) {
  const p = e.plane || {};
  const h = p.holder || {};
  const k = meshOf(p) || {};
  return [e.id, e.name, e.version, e.description, p.listening, p.error, (egressOf(p) || {}).addr, h.kind, h.runId, h.overlay && h.overlay.id,
    p.pendingVersion, (p.endpoints || []).map((ep) => ep.up).join(), k.namespace, k.server, k.error, !!k.checkedAt];
}

function stateCell(plane) {
  if (!plane) return el("td", { class: "env-state" }, el("span", { class: "badge status-failed" }, "no data plane"));
  if (meshOf(plane)) {
    const [state, label, cls, why] = meshState(plane);
    return el("td", { class: "env-state" }, el("span", { class: `badge ${cls}`, dataset: { state } }, label),
      why ? el("div", { class: "env-error small" }, why) : null);
  }
  if (!plane.listening) {
    return el("td", { class: "env-state" }, el("span", { class: "badge status-failed", dataset: { state: "down" } }, "not listening"),
      plane.error ? el("div", { class: "env-error small" }, plane.error) : null);
  }
  const down = downEndpoints(plane);
  return el("td", { class: "env-state" }, el("span", { class: "badge status-succeeded", dataset: { state: "listening" } }, "listening"),
    down.length ? el("div", { class: "env-warn small" }, `${down.length} of ${plane.endpoints.length} endpoints down`) : null);
}

function holderCell(plane) {
  const h = plane && plane.holder;
  const pending = plane && plane.pendingVersion ? el("div", { class: "muted small" }, `v${plane.pendingVersion} waits for it`) : null;
  if (!h) return el("td", { class: "env-holder" }, el("span", { class: "muted" }, "baseline"), pending);
  if (h.kind === "run") {
    return el("td", { class: "env-holder", dataset: { holder: "run" } },
      el("a", { href: `#/runs/${h.runId}`, class: "holder-run" }, `run #${h.runId}`), h.experiment ? el("span", { class: "muted" }, ` · ${h.experiment}`) : null, pending);
  }
  const ov = h.overlay || {};
  return el("td", { class: "env-holder", dataset: { holder: "overlay" } },
    el("span", { class: "holder-overlay" }, `overlay #${ov.id}`), " · ",
    el("span", { class: "time-left", dataset: { expires: ov.expiresAt } }, fmtLeft(ov.expiresAt)), pending);
}

function environmentRow(ctx, e, slot, removed) {
  const egress = egressOf(e.plane);
  const tr = el("tr", { dataset: { id: String(e.id), name: e.name, listening: String(!!(e.plane && e.plane.listening)) } },
    el("td", { class: "exp-cell" },
      el("a", { href: envHref(e.id), class: "exp-name" }, e.name), el("span", { class: "version-tag", title: "version" }, `v${e.version}`),
      e.description ? el("div", { class: "exp-desc" }, e.description) : null),
    stateCell(e.plane),
    el("td", { class: "env-egress" }, meshOf(e.plane) ? kubeBadge(meshOf(e.plane)) : egress ? el("code", {}, egress.addr) : el("span", { class: "muted" }, "none")),
    holderCell(e.plane),
    el("td", { class: "row-actions" },
      el("a", { href: envHref(e.id), class: "btn btn-small", "aria-label": meshOf(e.plane) ? `Open ${e.name}: cluster, resources held, runs` : `Open ${e.name}: graph, overlays, counters` }, "Open"),
      el("a", { href: `${envHref(e.id)}/edit`, class: "icon-btn", title: "Edit", "aria-label": `Edit ${e.name}` }, icon("edit")),
      el("button", { type: "button", class: "icon-btn danger delete", title: "Delete", "aria-label": `Delete ${e.name}`, onclick: () => deleteEnvironment(e, slot, () => removed(tr)) }, icon("trash"))));
  return tr;
}

/**
 * deleteEnvironment asks, then deletes; a refusal (409 while a run holds
 * it) is said in slot. It returns whether it deleted.
 */
async function deleteEnvironment(e, slot, removed) {
  const k = meshOf(e.plane);
  const ok = await confirmDialog({
    title: `Delete ${e.name}?`,
    message: k
      ? `Whatever an ended run left in namespace ${k.namespace} is put back first; the namespace itself stays as its team has it. A run holding it refuses the delete. Its runs stay in the history. This cannot be undone.`
      : "Its data plane stops listening at once: services wired to its addresses get connection refused. An overlay in force ends with it; a run holding it refuses the delete. Its runs stay in the history. This cannot be undone.",
    confirmLabel: "Delete environment",
  });
  if (!ok) return false;
  slot.hidden = true;
  try {
    await call("DELETE", `/environments/${e.id}`);
  } catch (err) {
    const run = /run (\d+)/.exec(err.message || "");
    slot.dataset.kind = err instanceof ApiError && err.status === 409 ? "busy" : "other";
    fill(slot, el("strong", {}, `Not deleted: ${e.name}. `), el("span", { class: "error-message" }, err.message),
      run ? el("div", { class: "callout-actions" }, el("a", { class: "btn btn-small", href: `#/runs/${run[1]}` }, `Go to run #${run[1]}`)) : null);
    slot.hidden = false;
    return false;
  }
  toast(`Deleted ${e.name}.`);
  if (removed) removed();
  return true;
}

// ---- #/environments/{id} and #/environments/{id}/edit -------------------------------

export async function environmentPage(ctx, id, tab) {
  const env = await get(`/environments/${id}`, ctx);
  ctx.setTitle(tab === "definition" ? `${env.name} · definition` : env.name);
  const slot = el("div", { class: "callout callout-bad", id: "env-error", role: "alert", hidden: true });
  const stateSlot = el("span", { id: "env-state" });
  const k = meshOf(env.plane);
  ctx.page.replaceChildren(
    pageHeader({
      crumbs: [["Environments", "#/environments"], [env.name]],
      title: env.name,
      extra: [el("span", { class: "version-tag big", id: "env-version" }, `v${env.version}`), k ? kubeBadge(k, "env-kind") : null, stateSlot],
      sub: [env.description || "", el("span", { class: "muted" }, `${env.description ? " — " : ""}updated ${fmtAgo(env.updatedAt)}`)],
      actions: [el("button", { type: "button", class: "btn btn-danger-ghost", id: "env-delete", onclick: async () => { if (await deleteEnvironment(env, slot)) ctx.navigate("#/environments"); } }, icon("trash"), "Delete")],
    }),
    slot,
    el("nav", { class: "tabs", "aria-label": "Environment sections" },
      el("a", { href: envHref(id), "aria-current": tab === "overview" ? "page" : null, id: "tab-overview" }, "Overview"),
      el("a", { href: `${envHref(id)}/edit`, "aria-current": tab === "definition" ? "page" : null, id: "tab-definition" }, "Definition")));
  const body = el("div", { class: "tab-body stack" });
  ctx.page.append(body);
  stateSlot.replaceChildren(stateBadge(env.plane));
  if (tab === "definition") {
    const held = env.plane && env.plane.holder;
    body.append(environmentEditor(ctx, {
      source: env.source,
      saveLabel: "Save new version",
      note: held ? `Saving stores version ${env.version + 1}; the ${k ? "environment" : "data plane"} takes it when the ${held.kind} holding it ends.` : `Saving stores version ${env.version + 1}; the ${k ? "environment" : "data plane"} takes it at once.`,
      save: async (source) => {
        const saved = await callYAML("PUT", `/environments/${id}`, source);
        savedToast(saved);
        $("#env-version").textContent = `v${saved.version}`;
        return saved;
      },
    }).form);
    return;
  }
  if (k) meshOverview(ctx, id, env, body, stateSlot);
  else overview(ctx, id, env, body, stateSlot);
}

function stateBadge(plane) {
  if (meshOf(plane)) {
    const [state, label, cls, why] = meshState(plane);
    return el("span", { class: `badge ${cls}`, dataset: { state }, title: why || null }, label);
  }
  if (plane && plane.listening) return el("span", { class: "badge status-succeeded" }, "listening");
  return el("span", { class: "badge status-failed" }, "not listening");
}

/** overview builds the live overview and keeps it current. */
function overview(ctx, id, env, body, stateSlot) {
  const warnings = el("div", { id: "env-warnings", class: "stack-tight", hidden: true });
  const holder = el("div", { id: "env-holder-body" });
  const listeners = el("div", { id: "env-listeners-body" });
  const graphBox = el("div", { class: "chart-box graph-box", id: "env-graph-chart" });
  const graphTable = el("div", { id: "env-graph-edges" });
  const graphNote = el("span", { id: "env-graph-note" });
  const endpoints = el("div", { id: "env-endpoints-body" });
  const baseline = el("div", { id: "env-baseline-body" });
  const counters = el("div", { id: "env-counters-body" });
  const runs = el("div", { id: "env-runs-body" });
  const accessLog = el("pre", { class: "access-log", id: "env-access-log", tabindex: "0", "aria-label": "Access log, newest last" });
  const updated = el("span", { class: "muted small", id: "env-updated", "aria-live": "off" });
  const form = overlayForm(ctx, id, env, () => refresh());

  body.append(
    warnings,
    el("div", { class: "grid-2" },
      card("Held by", holder, { id: "env-holder" }),
      card("Listeners", listeners, { id: "env-listeners", note: "fixed addresses" })),
    card("Service graph", el("div", { class: "stack-tight" }, graphBox, graphLegend(), graphTable), { id: "env-graph", note: graphNote }),
    el("div", { class: "grid-2" },
      card("Add overlay", form, { id: "overlay-card", note: "Istio resources over the baseline for a while" }),
      el("div", { class: "stack" },
        card("Baseline", baseline, { id: "env-baseline", note: "in force when nothing holds it" }),
        card("Endpoints", endpoints, { id: "env-endpoints", note: "dialled every few seconds" }))),
    card("Counters", counters, { id: "env-counters", note: "since the data plane started" }),
    card("Runs on this environment", runs, { id: "env-runs" }),
    card("Access log", accessLog, { id: "env-log", note: [`last ${ACCESS_LOG_LINES} lines, Istio's format · `, updated] }));

  let plane = env.plane;
  let holderKey = null;
  let holderShown = null;
  let warningsShown = null;
  const show = (e) => {
    plane = e.plane;
    // Warnings are alerts: redrawn (and announced) only when they change.
    const warnKey = JSON.stringify([plane && plane.listening, plane && plane.error, downEndpoints(plane).map((ep) => [ep.service, ep.address, ep.error])]);
    if (warnKey !== warningsShown) {
      warningsShown = warnKey;
      stateSlot.replaceChildren(stateBadge(plane));
      renderWarnings(warnings, e);
    }
    // The holder's card is redrawn only when it changes, so its Remove
    // button stays under the pointer; the countdown ticks on its own.
    const p = plane || {};
    const h = p.holder || {};
    const shownKey = JSON.stringify([h.kind, h.runId, h.overlay && h.overlay.id, p.pendingVersion, p.lastOverlay && p.lastOverlay.id]);
    if (shownKey !== holderShown) {
      holderShown = shownKey;
      renderHolder(ctx, holder, e, () => refresh());
    }
    renderListeners(listeners, plane);
    renderEndpoints(endpoints, plane);
    renderBaseline(baseline, plane);
    renderCounters(counters, plane);
  };
  const showGraph = (g) => {
    if (!plane || !plane.listening) {
      graphBox.replaceChildren(el("p", { class: "empty-inline", id: "env-graph-off" }, "Not listening: no traffic to draw."));
      graphTable.replaceChildren();
      graphNote.textContent = "";
      return;
    }
    graphBox.replaceChildren(serviceGraph(g, { label: `Service graph of ${env.name}` }));
    fill(graphTable, edgesTable(g));
    graphNote.textContent = `last ${Math.max(1, Math.round(g.windowSeconds))} s · every 2 s`;
  };
  const loadRuns = async () => {
    const list = await get(`/environments/${id}/runs?limit=20`, { signal: ctx.signal, quiet: true });
    if (ctx.live()) renderRuns(runs, list);
  };
  const loadLog = async () => {
    const text = await getText(`/environments/${id}/access-log`, ctx.signal);
    if (!ctx.live()) return;
    const lines = text.split("\n").filter(Boolean).slice(-ACCESS_LOG_LINES);
    const next = lines.length ? lines.join("\n") : "No requests yet.";
    if (accessLog.textContent === next) return;
    const atEnd = accessLog.scrollTop + accessLog.clientHeight >= accessLog.scrollHeight - 4;
    accessLog.textContent = next;
    if (atEnd) accessLog.scrollTop = accessLog.scrollHeight;
  };

  const refresh = every(ctx, REFRESH_MS, async () => {
    try {
      const e = await get(`/environments/${id}`, { signal: ctx.signal, quiet: true });
      if (!ctx.live()) return;
      show(e);
      const h = e.plane && e.plane.holder;
      const key = h ? `${h.kind}:${h.runId || (h.overlay && h.overlay.id)}` : "";
      const work = [loadLog()];
      // The graph only exists while it listens; the runs change with the holder.
      if (plane && plane.listening) work.push(get(`/environments/${id}/graph`, { signal: ctx.signal, quiet: true }).then((g) => { if (ctx.live()) showGraph(g); }));
      else showGraph(null);
      if (key !== holderKey) {
        holderKey = key;
        work.push(loadRuns());
      }
      await Promise.all(work);
      if (ctx.live()) updated.textContent = `updated ${new Date().toLocaleTimeString("en-GB")}`;
    } catch (err) {
      if (err.name === "AbortError" || !ctx.live()) return;
      updated.textContent = `could not refresh: ${err.message}`;
    }
  });
  show(env);
  if (!plane || !plane.listening) showGraph(null);
  refresh();
  // The overlay's time left counts down between two reads.
  every(ctx, 500, async () => {
    const c = $("#overlay-countdown");
    if (!c) return;
    c.textContent = fmtLeft(c.dataset.expires);
    const bar = $("#overlay-progress");
    if (bar) bar.value = timeLeft(c.dataset.expires);
  });
}

/**
 * meshOverview builds the live overview of a mesh environment: what holds
 * it, its cluster and whether the API server answers, the resources the
 * run in force has applied, and the runs on it. Traffic, counters and the
 * access log are the cluster's Envoys': it has no graph or log here.
 */
function meshOverview(ctx, id, env, body, stateSlot) {
  const warnings = el("div", { id: "env-warnings", class: "stack-tight", hidden: true });
  const holder = el("div", { id: "env-holder-body" });
  const cluster = el("div", { id: "env-cluster-body" });
  const held = el("div", { id: "env-held-body" });
  const runs = el("div", { id: "env-runs-body" });
  const updated = el("span", { class: "muted small", id: "env-updated", "aria-live": "off" });

  body.append(
    warnings,
    el("div", { class: "grid-2" },
      card("Held by", holder, { id: "env-holder" }),
      card("Cluster", cluster, { id: "env-cluster", note: ["probed every few seconds · ", updated] })),
    card("Resources held", held, { id: "env-held", note: "what the run in force has applied; each is put back when it ends" }),
    card("Runs on this environment", runs, { id: "env-runs" }));

  let holderKey = null;
  let holderShown = null;
  let warningsShown = null;
  let heldShown = null;
  const show = (e) => {
    const plane = e.plane || {};
    const k = meshOf(plane) || { namespace: "", held: [] };
    const warnKey = JSON.stringify([plane.listening, plane.error, k.error, !!k.checkedAt]);
    if (warnKey !== warningsShown) {
      warningsShown = warnKey;
      stateSlot.replaceChildren(stateBadge(plane));
      renderMeshWarnings(warnings, e);
    }
    const h = plane.holder || {};
    const shownKey = JSON.stringify([h.kind, h.runId, plane.pendingVersion]);
    if (shownKey !== holderShown) {
      holderShown = shownKey;
      renderHolder(ctx, holder, e, () => refresh());
    }
    renderCluster(cluster, plane, k);
    // Redrawn only on a change, so a selection in the table stays.
    const heldKey = JSON.stringify([h.runId, k.held]);
    if (heldKey !== heldShown) {
      heldShown = heldKey;
      renderHeld(held, plane, k);
    }
  };
  const loadRuns = async () => {
    const list = await get(`/environments/${id}/runs?limit=20`, { signal: ctx.signal, quiet: true });
    if (ctx.live()) renderRuns(runs, list);
  };
  const refresh = every(ctx, REFRESH_MS, async () => {
    try {
      const e = await get(`/environments/${id}`, { signal: ctx.signal, quiet: true });
      if (!ctx.live()) return;
      show(e);
      const h = e.plane && e.plane.holder;
      const key = h ? `${h.kind}:${h.runId}` : "";
      if (key !== holderKey) {
        holderKey = key;
        await loadRuns();
      }
      if (ctx.live()) updated.textContent = `updated ${new Date().toLocaleTimeString("en-GB")}`;
    } catch (err) {
      if (err.name === "AbortError" || !ctx.live()) return;
      updated.textContent = `could not refresh: ${err.message}`;
    }
  });
  show(env);
  refresh();
}

function renderMeshWarnings(box, e) {
  const plane = e.plane || {};
  const k = meshOf(plane) || {};
  const parts = [];
  if (!plane.listening) {
    parts.push(el("div", { class: "callout callout-bad", id: "env-no-cluster", role: "alert" },
      el("strong", {}, "No cluster. "),
      el("span", { class: "error-message" }, plane.error || "The server has no client of this environment's cluster."),
      el("p", {}, "Runs on it are refused until it has one. Fix ", el("code", {}, "spec.kubernetes"), " in the ",
        el("a", { href: `${envHref(e.id)}/edit` }, "definition"), "; the server tries again when it is saved or restarted.")));
  } else if (k.error) {
    parts.push(el("div", { class: "callout callout-bad", id: "env-unreachable", role: "alert" },
      el("strong", {}, "The API server does not answer. "),
      el("span", { class: "error-message" }, k.error),
      el("p", {}, `Checked ${fmtTime(k.checkedAt)}. Runs cannot apply their resources until it answers; whatever an ended run left in the namespace is put back as soon as it does.`)));
  }
  box.replaceChildren(...parts);
  box.hidden = !parts.length;
}

function renderCluster(box, plane, k) {
  const [state, label, cls, why] = meshState(plane);
  const fact = (term, value, id) => el("div", {}, el("dt", {}, term), el("dd", { id }, value));
  const or = (v, text) => (v ? el("code", {}, v) : el("span", { class: "muted" }, text));
  fill(box,
    el("dl", { class: "facts cluster-facts" },
      fact("API server", or(k.server, "none: no client"), "env-cluster-server"),
      fact("Context", or(k.context, "the kubeconfig's current one"), "env-cluster-context"),
      fact("Namespace", el("code", { class: "strong" }, k.namespace), "env-namespace"),
      fact("Entry", k.entry ? [el("code", {}, k.entry), el("span", { class: "muted small" }, " · where each run's load is sent")] : or("", "the load URL's own host and port"), "env-entry"),
      fact("Reachable", [
        el("span", { class: `badge ${cls}`, id: "env-reachable", dataset: { state } }, label),
        k.checkedAt ? el("span", { class: "muted small", id: "env-checked" }, ` checked ${fmtTime(k.checkedAt)}`) : null,
        why ? el("div", { class: "env-error small", id: "env-cluster-error" }, why) : null,
      ])),
    el("p", { class: "muted small" }, "The cluster's Envoys carry and count the traffic: Faultline sends each run's load to the entry and opens no listeners, so there is no service graph, counters or access log here."));
}

function renderHeld(box, plane, k) {
  const h = plane.holder;
  const res = k.held || [];
  if (res.length) {
    box.replaceChildren(meshResourcesTable(res, { id: "env-held-table", caption: `Resources held in namespace ${k.namespace}`, live: true }));
    return;
  }
  box.replaceChildren(el("p", { class: "muted", id: "env-held-none" }, h && h.kind === "run"
    ? `Run #${h.runId} has applied nothing yet.`
    : ["None: no run holds namespace ", el("code", {}, k.namespace), "; what it holds is its team's own."]));
}

/**
 * getText reads a text/plain answer with the dashboard's token (the API
 * client decodes JSON only). A 401 is said in the error; the JSON calls
 * of the page ask for the token.
 */
async function getText(path, signal) {
  const token = sessionStorage.getItem("faultline.token");
  const res = await fetch(apiPath(path), { signal, headers: token ? { Authorization: "Bearer " + token } : {} });
  if (!res.ok) throw new ApiError(res.status, `${res.status} ${res.statusText || "error"}`);
  return res.text();
}

function renderWarnings(box, e) {
  const plane = e.plane;
  const parts = [];
  if (!plane || !plane.listening) {
    parts.push(el("div", { class: "callout callout-bad", id: "env-not-listening", role: "alert" },
      el("strong", {}, "Not listening. "),
      el("span", { class: "error-message" }, (plane && plane.error) || "The server has no data plane for this environment."),
      el("p", {}, "Services wired to its addresses get connection refused until it listens. Free the address, or give it another one in the ",
        el("a", { href: `${envHref(e.id)}/edit` }, "definition"), "; the server tries again when it is saved or restarted.")));
  }
  const down = downEndpoints(plane);
  if (down.length) {
    parts.push(el("div", { class: "callout callout-warn", id: "env-endpoints-down", role: "status" },
      el("strong", {}, `${plural(down.length, "endpoint")} of ${plane.endpoints.length} ${down.length === 1 ? "is" : "are"} down. `),
      "Requests routed to ", down.length === 1 ? "it" : "them", " fail with a connection error (flag UF) until ", down.length === 1 ? "it answers" : "they answer", ".",
      el("ul", {}, down.map((ep) => el("li", {}, el("code", {}, ep.service), " at ", el("code", {}, ep.address), ep.error ? `: ${ep.error}` : "")))));
  }
  box.replaceChildren(...parts);
  box.hidden = !parts.length;
}

function renderHolder(ctx, box, e, changed) {
  const plane = e.plane || {};
  const h = plane.holder;
  const k = meshOf(plane);
  const parts = [];
  if (!h && k) {
    parts.push(el("p", { class: "holder-state", id: "holder-state", dataset: { kind: "baseline" } }, el("strong", {}, "Nothing: the namespace is as its team left it.")),
      el("p", { class: "muted small" }, "A run of an experiment with ", el("code", {}, `spec.environment: ${e.name}`),
        " applies its Istio resources to namespace ", el("code", {}, k.namespace), " while it runs, each saved first, and puts them back when it ends, however it ends."));
  } else if (!h) {
    parts.push(el("p", { class: "holder-state", id: "holder-state", dataset: { kind: "baseline" } }, el("strong", {}, "Nothing: the baseline is in force.")),
      el("p", { class: "muted small" }, "A run of an experiment with ", el("code", {}, `spec.environment: ${e.name}`),
        " holds it while it runs; an overlay holds it until its TTL ends. Either way the baseline comes back when it ends."));
  } else if (h.kind === "run") {
    parts.push(el("p", { class: "holder-state", id: "holder-state", dataset: { kind: "run" } },
      el("strong", {}, el("a", { href: `#/runs/${h.runId}`, id: "holder-run-link" }, `Run #${h.runId}`)), h.experiment ? ` of ${h.experiment}` : "",
      el("span", { class: "muted" }, ` · since ${fmtTime(h.since)}`)),
    el("p", { class: "muted small" }, k
      ? ["Its resources are applied to namespace ", el("code", {}, k.namespace), " until it ends; each is put back then, however it ends."]
      : "Its resources are laid over the baseline until it ends, however it ends."));
  } else {
    const ov = h.overlay || {};
    parts.push(el("p", { class: "holder-state", id: "holder-state", dataset: { kind: "overlay", overlay: String(ov.id) } },
      el("strong", {}, `Overlay #${ov.id}`), el("span", { class: "muted" }, ` · since ${fmtTime(ov.createdAt)}, for ${fmtDuration(ov.ttlMs)}`)),
    el("div", { class: "countdown" },
      el("span", { id: "overlay-countdown", class: "countdown-text", dataset: { expires: ov.expiresAt }, "aria-live": "off" }, fmtLeft(ov.expiresAt)),
      el("progress", { id: "overlay-progress", max: String(Math.max(1, Math.round(ov.ttlMs / 1000))), value: String(timeLeft(ov.expiresAt)), "aria-label": "Time left of the overlay" }),
      el("button", { type: "button", class: "btn btn-small btn-danger", id: "overlay-remove", onclick: (ev) => removeOverlay(ctx, e, ov, ev.currentTarget, changed) }, icon("stop"), "Remove")),
    el("p", { class: "small" }, "Holds ", (ov.resources || []).map((r, i) => [i ? ", " : "", el("code", {}, r)])),
    el("details", { class: "overlay-source" }, el("summary", {}, "Its YAML"), el("pre", {}, ov.source)));
  }
  if (plane.pendingVersion) {
    parts.push(el("p", { class: "callout callout-warn", id: "env-pending" },
      el("strong", {}, `Version ${plane.pendingVersion} waits. `), `It is stored; the data plane takes it when the ${h ? h.kind : "holder"} ends.`));
  }
  const last = plane.lastOverlay;
  if (last) {
    parts.push(el("p", { class: "muted small", id: "env-last-overlay", dataset: { overlay: String(last.id) } },
      `Last overlay: #${last.id} (${(last.resources || []).join(", ")}) ended ${fmtTime(last.endedAt)}: ${last.reason}.`));
  }
  box.replaceChildren(...parts);
}

async function removeOverlay(ctx, e, ov, button, changed) {
  button.disabled = true;
  try {
    await call("DELETE", `/environments/${e.id}/overlays/${ov.id}`);
    toast(`Overlay #${ov.id} removed: ${e.name} is back at its baseline.`, "good");
  } catch (err) {
    // A 404: it ended on its own meanwhile.
    toast(err.status === 404 ? `Overlay #${ov.id} had ended already.` : `Could not remove overlay #${ov.id}: ${err.message}`, err.status === 404 ? "info" : "bad");
  }
  if (ctx.live()) changed();
}

function renderListeners(box, plane) {
  const ls = (plane && plane.listeners) || [];
  if (!ls.length) {
    box.replaceChildren(el("p", { class: "muted", id: "env-no-listeners" }, plane && plane.listening ? "No listeners." : "None open: it is not listening."));
    return;
  }
  const egress = egressOf(plane);
  fill(box,
    table(["Kind", "Name", "Address"], ls.map((l) => el("tr", { dataset: { kind: l.kind, name: l.name } },
      el("td", {}, el("span", { class: `badge kind-${l.kind}` }, l.kind === "mesh" ? "egress" : l.kind)),
      el("td", {}, el("code", {}, l.name)),
      el("td", {}, el("code", { class: "listener-addr" }, l.addr)))), { id: "env-listeners-table", cls: "compact", caption: "Listeners" }),
    egress ? el("p", { class: "muted small" }, "Services call each other through the egress: ", el("code", {}, `HTTP_PROXY=http://${egress.addr}`), ".") : null);
}

function renderEndpoints(box, plane) {
  const eps = (plane && plane.endpoints) || [];
  if (!eps.length) {
    box.replaceChildren(el("p", { class: "muted" }, "Not probed yet."));
    return;
  }
  box.replaceChildren(table(["Service", "Address", "State", "Checked"], eps.map((ep) => el("tr", { class: ep.up ? "" : "row-bad", dataset: { service: ep.service, address: ep.address, up: String(ep.up) } },
    el("td", {}, el("code", {}, ep.service)),
    el("td", {}, el("code", {}, ep.address)),
    el("td", {}, ep.up ? el("span", { class: "badge status-succeeded" }, "up") : [el("span", { class: "badge status-failed" }, "down"), ep.error ? el("div", { class: "env-error small" }, ep.error) : null]),
    el("td", { class: "muted small" }, fmtTime(ep.checkedAt)))), { id: "env-endpoints-table", cls: "compact", caption: "Endpoints" }));
}

function renderBaseline(box, plane) {
  const res = (plane && plane.baseline) || [];
  box.replaceChildren(res.length
    ? el("ul", { class: "resource-list", id: "env-baseline-list" }, res.map((r) => el("li", {}, el("code", {}, r))))
    : el("p", { class: "muted", id: "env-baseline-list" }, "No Istio resources: requests go to the services as bound, round robin."));
}

function renderCounters(box, plane) {
  const s = plane && plane.stats;
  if (!s) {
    box.replaceChildren(el("p", { class: "muted" }, "No counters: it is not listening."));
    return;
  }
  const ls = s.listeners || [];
  const downstream = ls.reduce((n, l) => n + (l.downstream_rq_total || 0), 0);
  const flags = Object.entries(s.byFlag || {}).sort((a, b) => b[1] - a[1]);
  box.replaceChildren(el("div", { class: "stack-tight" },
    kpis([
      ["Requests", fmtNum(downstream), "from clients", "env-requests"], ["Upstream requests", fmtNum(s.upstreamRequests)],
      ["Faults aborted", fmtNum(s.faultsAborted), null, "env-faults-aborted"], ["Faults delayed", fmtNum(s.faultsDelayed)],
      ["Retries", fmtNum(s.retries)], ["Timeouts", fmtNum(s.timeouts)], ["Ejections", fmtNum(s.ejections)],
      ["Tunnels", fmtNum(s.tunnels), `${fmtNum(s.tunnelsActive)} open · ${fmtNum(s.tunnelsRefused)} refused`],
      ["Tunnel bytes", `${short(s.tunnelBytesUp)} ↑`, `${short(s.tunnelBytesDown)} ↓`],
    ], "kpis-small env-totals"),
    flags.length ? el("p", { class: "flags" }, el("span", { class: "muted" }, "Response flags: "), flags.map(([f, n]) => el("span", { class: "chip", title: `${n} responses with flag ${f}` }, el("code", {}, f), " ", fmtNum(n)))) : null,
    ls.length ? table(["Listener", ["Requests", "num"], ["2xx", "num"], ["3xx", "num"], ["4xx", "num"], ["5xx", "num"], ["Aborted", "num"], ["Delayed", "num"], ["No route", "num"]],
      ls.map((l) => el("tr", { dataset: { listener: l.name } }, el("td", {}, el("code", {}, l.name)), num(fmtNum(l.downstream_rq_total)),
        num(fmtNum(l.downstream_rq_2xx)), num(fmtNum(l.downstream_rq_3xx)), num(fmtNum(l.downstream_rq_4xx)), num(fmtNum(l.downstream_rq_5xx)),
        num(fmtNum(l["fault.aborts_injected"])), num(fmtNum(l["fault.delays_injected"])), num(fmtNum(l.no_route)))),
      { id: "env-listener-counters", cls: "compact", caption: "Requests per listener" }) : null,
    (s.routes || []).length ? table(["VirtualService", "Rule", ["Matched", "num"], ["Aborted", "num"], ["Delayed", "num"], ["Retries", "num"], ["Timeouts", "num"]],
      s.routes.map((r) => el("tr", {}, el("td", {}, el("code", {}, r.virtualService)), el("td", {}, `#${r.rule}${r.name ? " " + r.name : ""}`),
        num(fmtNum(r.matched)), num(fmtNum(r.abortsInjected)), num(fmtNum(r.delaysInjected)), num(fmtNum(r.retries)), num(fmtNum(r.timeouts)))),
      { id: "env-routes", cls: "compact", caption: "Routes" }) : null));
}

function short(bytes) {
  if (!bytes) return "0 B";
  const units = ["B", "kB", "MB", "GB", "TB"];
  const i = Math.min(units.length - 1, Math.floor(Math.log10(bytes) / 3));
  return `${fmtNum(bytes / 1000 ** i, i ? 1 : 0)} ${units[i]}`;
}

function graphLegend() {
  const item = (cls, text) => el("span", { class: "legend-item" }, el("span", { class: `legend-swatch ${cls}`, "aria-hidden": "true" }), text);
  return el("p", { class: "graph-legend muted small" },
    item("ok", "no errors"), item("warn", "errors from 0.1 %"), item("bad", "errors from 10 %"), item("faulted", "a fault in force acts on the callee"),
    el("span", {}, "Labels: requests per second, error ratio (5xx and resets), p99."));
}

function edgesTable(g) {
  const edges = (g.edges || []).filter((e) => e.windowRequests > 0);
  if (!edges.length) return null;
  return el("details", { class: "graph-table" },
    el("summary", {}, `The ${plural(edges.length, "call")} as a table`),
    table(["Caller", "Callee", ["Rate", "num"], ["Errors", "num"], ["p50", "num"], ["p99", "num"], ["Requests", "num"], "Fault"],
      edges.map((e) => el("tr", { class: edgeLevel(e) === "bad" ? "row-bad" : edgeLevel(e) === "warn" ? "row-warn" : "", dataset: { source: e.source, destination: e.destination } },
        el("td", {}, el("code", {}, e.source)), el("td", {}, el("code", {}, e.destination)),
        num(`${fmtNum(e.rps, e.rps < 10 ? 2 : 1)} rps`), num(fmtPct(e.errorRatio)), num(fmtMs(e.p50Ms)), num(fmtMs(e.p99Ms)), num(fmtNum(e.requests)),
        el("td", {}, e.faulted ? el("span", { class: "badge status-stopped" }, "fault") : ""))),
      { id: "env-graph-table", cls: "compact", caption: "Calls in the last minute" }));
}

function renderRuns(box, list) {
  if (!list.items.length) {
    box.replaceChildren(emptyState("No runs on it yet", "Run an experiment whose spec.environment names this environment.",
      el("a", { href: "#/experiments", class: "btn" }, "Go to the experiments")));
    return;
  }
  const took = (r) => (r.startedAt ? fmtDuration((r.endedAt ? Date.parse(r.endedAt) : Date.now()) - Date.parse(r.startedAt)) : "queued");
  fill(box, table(["Run", "Experiment", "Status", "Verdict", "Started", ["Duration", "num"]], list.items.map((r) => el("tr", { dataset: { run: String(r.id), status: r.status } },
    el("td", {}, el("a", { href: `#/runs/${r.id}`, class: "strong" }, `#${r.id}`)),
    el("td", {}, r.experimentId ? el("a", { href: `#/experiments/${r.experimentId}` }, r.experiment) : r.experiment, el("span", { class: "muted" }, ` v${r.experimentVersion}`)),
    el("td", {}, statusBadge(r.status)),
    el("td", {}, r.verdict ? verdictBadge(r.verdict) : el("span", { class: "muted" }, "—")),
    el("td", {}, fmtTime(r.startedAt || r.createdAt), el("div", { class: "muted small" }, fmtAgo(r.startedAt || r.createdAt))),
    num(took(r)))), { id: "env-runs-table", cls: "compact", caption: "Runs on this environment" }),
  list.total > list.items.length ? el("p", { class: "muted small" }, `The latest ${list.items.length} of ${list.total}.`) : null);
}

// ---- overlays --------------------------------------------------------------------

function overlayTemplate(env) {
  const eps = (env.plane && env.plane.endpoints) || [];
  const host = eps.length ? eps[0].service : "my-service";
  return `# Laid over the baseline until the TTL ends, or until removed. A resource
# named as one of the baseline's replaces it; the others join it.
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${host}}
spec:
  hosts: [${host}]
  http:
  - fault:
      abort:
        httpStatus: 503
        percentage: {value: 50}
    route:
    - destination: {host: ${host}}
`;
}

/**
 * overlayForm lays an overlay over the environment: the Istio resources
 * in an editor that marks a refused document's problems at their lines,
 * and a TTL. Refusals are said under the button: busy (a run or another
 * overlay holds it), the safety lever, a bad TTL, the document's problems.
 */
function overlayForm(ctx, id, env, added) {
  const result = el("div", { class: "callout callout-bad overlay-result", id: "overlay-result", role: "alert", hidden: true });
  const editor = createEditor({ value: overlayTemplate(env), label: "Overlay YAML: Istio resources", describedBy: "overlay-help" });
  editor.textarea.id = "overlay-source";
  const ttl = el("input", { type: "text", id: "overlay-ttl", name: "ttl", value: "30s", autocomplete: "off", spellcheck: "false", "aria-describedby": "overlay-ttl-hint overlay-ttl-error", class: "ttl-input" });
  const ttlError = el("p", { id: "overlay-ttl-error", class: "field-error", role: "alert", hidden: true });
  const submit = startButton(el("button", { type: "submit", class: "btn btn-primary", id: "overlay-add" }, icon("plus"), "Add overlay"));
  editor.textarea.addEventListener("input", () => editor.setProblems([]));

  const refuse = (kind, title, ...rest) => {
    result.dataset.kind = kind;
    fill(result, el("strong", {}, title), " ", ...rest);
    result.hidden = false;
  };
  const onSubmit = async (ev) => {
    ev.preventDefault();
    result.hidden = true;
    ttlError.hidden = true;
    ttl.removeAttribute("aria-invalid");
    editor.setProblems([]);
    setBusy(submit, true);
    try {
      const ov = await call("POST", `/environments/${id}/overlays`, { ttl: ttl.value.trim(), source: editor.value });
      toast(`Overlay #${ov.id} laid over ${ov.environment} for ${fmtDuration(ov.ttlMs)}.`, "good");
      added();
    } catch (err) {
      if (!ctx.live()) return;
      const code = err.body && err.body.error && err.body.error.code;
      const problems = (err.body && err.body.problems) || [];
      if (err.field === "ttl") {
        ttlError.textContent = err.message;
        ttlError.hidden = false;
        ttl.setAttribute("aria-invalid", "true");
        ttl.focus();
      } else if (leverRefused(err)) {
        refuse("lever", "Refused by the safety lever.", el("span", { class: "error-message" }, err.message),
          el("div", { class: "callout-actions" }, el("a", { class: "btn btn-small", href: "#/safety" }, "Manage the lever")));
      } else if (code === "busy") {
        const run = /run (\d+)/.exec(err.message || "");
        refuse("busy", "Busy.", el("span", { class: "error-message" }, err.message),
          run ? el("div", { class: "callout-actions" }, el("a", { class: "btn btn-small", href: `#/runs/${run[1]}` }, `Follow run #${run[1]}`)) : null);
      } else if (problems.length) {
        const placed = problems.map((p) => (p.line || !p.path ? p : { ...p, line: yamlPathLine(editor.value, p.path) }));
        editor.setProblems(placed);
        refuse("problems", `Not applied: ${plural(placed.length, "problem")}.`,
          el("ul", { class: "overlay-problems" }, placed.map((p) => el("li", { dataset: { line: String(p.line || "") } },
            p.line ? el("button", { type: "button", class: "link-btn", onclick: () => editor.focusLine(p.line) }, `line ${p.line}`) : el("span", {}, "document"), ": ",
            p.document ? el("span", { class: "muted" }, `${p.document} · `) : null, p.path ? el("code", {}, p.path) : null, p.path ? ": " : "", p.message))));
        const first = placed.find((p) => p.line);
        if (first) editor.focusLine(first.line);
      } else {
        refuse("other", "Not applied.", el("span", { class: "error-message" }, err.message));
      }
    } finally {
      setBusy(submit, false);
    }
  };
  return el("form", { class: "overlay-form stack-tight", id: "overlay-form", novalidate: true, onsubmit: onSubmit },
    editor.root,
    el("p", { id: "overlay-help", class: "muted small" }, "VirtualServices, DestinationRules and the like, as in an experiment. One overlay at a time, and none while a run holds the environment."),
    el("div", { class: "overlay-row" },
      el("div", { class: "form-field ttl-field" },
        el("label", { for: "overlay-ttl" }, "Time to live"),
        ttl,
        el("p", { id: "overlay-ttl-hint", class: "muted small field-hint" }, "Such as 30s or 5m; the baseline comes back then."),
        ttlError),
      submit),
    result);
}

// ---- #/environments/new -------------------------------------------------------------

const TEMPLATE = `# An environment: a data plane inside \`faultline serve\` at fixed addresses
# your services are wired to once. Point them at the egress (HTTP_PROXY)
# and bind each Istio host to where its service runs. Istio resources after
# the Environment (---) are its baseline, in force whenever no run or
# overlay holds it.
apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata:
  name: staging
  description: httpbin behind the egress
spec:
  egress: 127.0.0.1:15001
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - {address: 127.0.0.1:18080, labels: {version: v1}}
`;

export async function newEnvironmentPage(ctx) {
  ctx.setTitle("New environment");
  const { form } = environmentEditor(ctx, {
    source: TEMPLATE,
    saveLabel: "Create environment",
    save: async (src) => {
      const created = await callYAML("POST", "/environments", src);
      savedToast(created);
      ctx.navigate(envHref(created.id));
      return created;
    },
  });
  ctx.page.replaceChildren(
    pageHeader({ crumbs: [["Environments", "#/environments"], ["New environment"]], title: "New environment",
      sub: "Write the Environment document. It is checked as you type, its addresses included; it starts listening when it is saved." }),
    form);
}

function savedToast(saved) {
  const n = (saved.warnings || []).length;
  toast(`Saved ${saved.name} as version ${saved.version}${n ? `, with ${n} warning${n > 1 ? "s" : ""}: ${saved.warnings[0].message}` : ""}.`, n ? "info" : "good");
}

/**
 * environmentEditor is the editor form of an Environment, checked as you
 * type (POST /validate: the document and whether its addresses are free)
 * and on save. A document with errors is not sent to be saved; a refusal
 * is shown at its line.
 */
function environmentEditor(ctx, { source, save, saveLabel, note }) {
  return savedDocumentEditor(ctx, {
    source, save, saveLabel, note,
    label: "Environment YAML",
    help: "Checked as you type against the same rules the server applies on save, including whether each listener address is free. Tab indents; press Esc then Tab to leave the editor.",
  });
}
