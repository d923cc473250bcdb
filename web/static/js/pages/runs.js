// The runs list and the run page: live progress over server-sent events
// while a run is active, the full report once it ended.

import { get, call, follow, download, hasToken, apiPath } from "../api.js";
import { el, $, fmtNum, fmtMs, fmtPct, fmtSigned, fmtTime, fmtDuration, statusBadge, verdictBadge, isActive, runDurationMs, confirmDialog, toast, errorPanel, icon, codeClass } from "../dom.js";
import { codeBars, histogram, lineChart, short, intervalBar } from "../charts.js";
import { VERDICTS } from "../status.js";

import { pageHeader, card, kpis, table, num, emptyState, runsTable, loadReports, errorRatio, meshResourcesTable, predictionsTable } from "./common.js";
import { startButton, setBusy, leverRefused } from "../lever.js";

const msAxis = (v) => `${short(v)} ms`;
const secAxis = (s) => s.toFixed(s < 10 ? 1 : 0) + " s";
const plural = (n, word, many = word + "s") => `${n} ${n === 1 ? word : many}`;

// RATE_WINDOW_MS is the shortest stretch a throughput point is counted
// over. The load generator reports every 250 ms, and a rate over so short
// a stretch follows the pacing, not the run: every connection calls at
// once at the start (40 calls a second over 8 connections make 16 calls
// in the first quarter second, 64 a second), and the last report can
// follow the one before by a few milliseconds. Over a second, the window
// of the rolling percentiles, it is what the run does.
const RATE_WINDOW_MS = 1000;

/**
 * throughput turns samples ({elapsedMs, requests}, oldest first) into
 * [seconds, qps] points: at each sample, the requests completed since the
 * newest sample at least RATE_WINDOW_MS before it (the start is a sample
 * of none). A sample younger than that gets no point, so a chart starts
 * with its first full window. whole: the samples are a finished run's,
 * and one shorter than the window gets its average as its only point.
 */
function throughput(samples, { whole = false } = {}) {
  const all = [{ elapsedMs: 0, requests: 0 }, ...samples];
  const out = [];
  let base = 0;
  for (let i = 1; i < all.length; i++) {
    const p = all[i];
    while (base + 1 < i && all[base + 1].elapsedMs <= p.elapsedMs - RATE_WINDOW_MS) base++;
    const dt = p.elapsedMs - all[base].elapsedMs;
    if (dt >= RATE_WINDOW_MS) out.push([p.elapsedMs / 1000, (p.requests - all[base].requests) / (dt / 1000)]);
  }
  const last = samples[samples.length - 1];
  if (!out.length && whole && last && last.elapsedMs > 0) out.push([last.elapsedMs / 1000, last.requests / (last.elapsedMs / 1000)]);
  return out;
}

// ---- #/runs -----------------------------------------------------------------

export async function runsPage(ctx) {
  ctx.setTitle("Runs");
  const list = await get("/runs?limit=100", ctx);
  const reports = await loadReports(list.items, { limit: 20, signal: ctx.signal });
  const { table: t, compareBtn } = runsTable(ctx, list.items, { reports });
  ctx.page.replaceChildren(
    pageHeader({ title: "Runs", sub: "Every run, newest first. Tick two to compare them side by side.", actions: [compareBtn] }),
    list.items.length ? card(`Recent runs`, t, { note: `${list.items.length} of ${list.total}` })
      : emptyState("No runs yet", "Start one from an experiment with \u201cRun now\u201d.", el("a", { href: "#/experiments", class: "btn btn-primary" }, "Go to the experiments")));
}

// ---- #/runs/{id} ------------------------------------------------------------

export async function runPage(ctx, id) {
  let run = await get(`/runs/${id}`, ctx);
  ctx.setTitle(`Run #${id}`);
  const statusSlot = el("span", { id: "run-status" }, statusBadge(run.status));
  const actions = el("div", { class: "page-actions-inner" });
  const header = pageHeader({
    crumbs: [["Experiments", "#/experiments"], run.experimentId ? [run.experiment, `#/experiments/${run.experimentId}`] : [run.experiment], [`Run #${id}`]],
    title: `Run #${id}`,
    extra: statusSlot,
    sub: subline(run),
    actions: [actions],
  });
  const body = el("div", { id: "run-body" });
  ctx.page.replaceChildren(header, body);

  const setActions = () => {
    actions.replaceChildren();
    if (isActive(run.status)) {
      actions.append(el("button", { type: "button", class: "btn btn-danger", id: "stop", onclick: () => stopRun(ctx, run) }, icon("stop"), "Stop"));
    } else {
      if (run.experimentId) {
        actions.append(startButton(el("button", { type: "button", class: "btn", id: "rerun", title: "Same experiment version and seed: the same fault decisions", onclick: (ev) => rerun(ctx, id, ev.currentTarget) }, icon("replay"), "Run again (same seed)")));
      }
      if (run.report) actions.append(el("a", { class: "btn", href: `#/compare?a=${id}`, id: "compare-with" }, icon("compare"), "Compare…"));
    }
  };
  const setStatus = (r) => {
    run = r;
    statusSlot.replaceChildren(statusBadge(r.status));
    const sub = $(".page-sub", header);
    if (sub) sub.replaceChildren(...subline(r));
    setActions();
  };
  setActions();

  if (isActive(run.status)) {
    const live = liveView(run);
    body.replaceChildren(live.root);
    const ended = await followUntilEnd(ctx, id, (p) => {
      if (p.status !== run.status) setStatus({ ...run, status: p.status, startedAt: run.startedAt || new Date().toISOString() });
      live.update(p);
    });
    if (!ctx.live() || !ended) return;
    run = await get(`/runs/${id}`, ctx);
    live.finish(run.status);
    if (!ctx.live()) return;
  }
  setStatus(run);
  body.replaceChildren(reportView(run));
}

function subline(run) {
  const bits = [
    el("span", {}, run.experimentId ? el("a", { href: `#/experiments/${run.experimentId}` }, run.experiment) : run.experiment, ` v${run.experimentVersion}`),
    el("span", {}, "seed ", el("code", {}, String(run.seed))),
    run.startedAt ? el("span", {}, "started ", fmtTime(run.startedAt)) : el("span", {}, "queued ", fmtTime(run.createdAt)),
    run.startedAt ? el("span", { id: "run-elapsed" }, (isActive(run.status) ? "running for " : "took ") + fmtDuration(runDurationMs(run))) : null,
    run.gameDayRunId ? el("span", { id: "run-gameday" }, run.gameDayStep ? ["step ", el("code", {}, run.gameDayStep), " of "] : "part of ",
      el("a", { href: `#/gameday-runs/${run.gameDayRunId}` }, `game-day run #${run.gameDayRunId}`)) : null,
  ].filter(Boolean);
  const out = [];
  bits.forEach((b, i) => { if (i) out.push(el("span", { class: "sep", "aria-hidden": "true" }, "·")); out.push(b); });
  return out;
}

/** followUntilEnd follows the event stream, reconnecting when it breaks; true once the run ended. */
async function followUntilEnd(ctx, id, onProgress) {
  for (let attempt = 0; ctx.live(); attempt++) {
    try {
      const ended = await follow(id, { onProgress, signal: ctx.signal });
      if (ended) return true;
    } catch (err) {
      if (err.name === "AbortError") return false;
      if (err.status === 404) throw err;
    }
    if (!ctx.live()) return false;
    const r = await get(`/runs/${id}`, ctx);
    if (!isActive(r.status)) return true;
    await new Promise((res) => setTimeout(res, Math.min(5000, 500 * (attempt + 1))));
  }
  return false;
}

async function stopRun(ctx, run) {
  const ok = await confirmDialog({
    title: `Stop run #${run.id}?`,
    message: "The load stops now. The run is recorded as stopped, with a report of what ran so far.",
    confirmLabel: "Stop run",
  });
  if (!ok) return;
  try {
    await call("POST", `/runs/${run.id}/stop`);
    toast(`Stopping run #${run.id}…`);
  } catch (err) {
    toast(err.message, "bad");
  }
}

async function rerun(ctx, id, button) {
  setBusy(button, true);
  try {
    const r = await call("POST", `/runs/${id}/rerun`);
    ctx.navigate(`#/runs/${r.id}`);
  } catch (err) {
    leverRefused(err);
    toast(err.message, "bad");
    setBusy(button, false);
  }
}

// ---- live view --------------------------------------------------------------

function liveView(run) {
  const progress = el("progress", { id: "run-progress", max: "1", "aria-labelledby": "progress-label" });
  const progressText = el("span", { id: "progress-text", class: "muted" }, run.status === "queued" ? "Waiting for a free slot…" : "Starting…");
  const announce = el("p", { id: "live-announce", class: "sr-only", "aria-live": "polite" }, `Run ${run.status}.`);
  const stat = (label, id) => [label, "—", null, id];
  const codesBox = el("div", { id: "live-codes", class: "chart-box" }, codeBars({}));
  const chartBox = el("div", { id: "live-chart", class: "chart-box" });
  const latencyBox = el("div", { id: "live-latency", class: "chart-box" });
  const points = [];
  let lastStep = -1;
  // A phased run's phases as the progress events saw them begin: a band
  // per phase on the live charts, from its first event to the next's.
  const phaseChip = el("span", { id: "live-phase", class: "phase-chip", hidden: true, "aria-live": "polite" });
  const phases = [];
  const root = el("div", { id: "live", class: "stack" },
    card("Live", [
      el("div", { class: "progress-row" }, el("span", { id: "progress-label", class: "strong" }, "Progress"), progress, progressText, phaseChip),
      kpis([stat("Requests", "live-requests"), stat("Current qps", "live-qps"), stat("Errors", "live-errors"), stat("p50 (rolling)", "live-p50"), stat("p99 (rolling)", "live-p99")]),
      announce,
    ], { note: "updates as the run goes, from the server's event stream" }),
    el("div", { class: "grid-2" },
      card("Status codes so far", codesBox),
      card("Throughput and latency so far", el("div", { class: "stack-tight" }, chartBox, latencyBox))));

  function update(p) {
    const frac = p.plannedRequests ? p.requests / p.plannedRequests : p.plannedMs ? p.elapsedMs / p.plannedMs : -1;
    if (frac >= 0) progress.value = Math.min(1, frac); else progress.removeAttribute("value");
    const planned = p.plannedRequests ? `${fmtNum(p.requests)} of ${fmtNum(p.plannedRequests)} requests` : p.plannedMs ? `${fmtDuration(p.elapsedMs)} of ${fmtDuration(p.plannedMs)}` : fmtDuration(p.elapsedMs);
    progressText.textContent = p.status === "queued" ? "Waiting for a free slot…" : `${planned}${frac >= 0 ? ` · ${Math.round(Math.min(1, frac) * 100)} %` : ""}`;
    $("#live-requests", root).textContent = fmtNum(p.requests);
    const sample = p.status === "running" && p.elapsedMs > 0;
    if (sample) points.push(p);
    if (p.phase) {
      const cur = phases[phases.length - 1];
      if (!cur || cur.name !== p.phase) {
        if (cur) cur.endMs = p.elapsedMs;
        phases.push({ name: p.phase, startMs: cur ? p.elapsedMs : 0, endMs: p.elapsedMs });
        phaseChip.hidden = false;
        phaseChip.className = `phase-chip phase-${p.phase}`;
        phaseChip.dataset.phase = p.phase;
        phaseChip.replaceChildren(el("span", { class: "muted" }, "phase "), el("strong", {}, p.phase), PHASE_TITLES[p.phase] ? el("span", { class: "muted" }, ` — ${PHASE_TITLES[p.phase]}`) : null);
      } else cur.endMs = p.elapsedMs;
    }
    const rates = throughput(points);
    $("#live-qps", root).textContent = rates.length ? fmtNum(rates[rates.length - 1][1], 1) : "—";
    $("#live-errors", root).textContent = p.requests ? `${fmtNum(p.errors)} (${fmtPct(p.errors / p.requests)})` : fmtNum(p.errors);
    $("#live-p50", root).textContent = fmtMs(p.p50Ms);
    $("#live-p99", root).textContent = fmtMs(p.p99Ms);
    codesBox.replaceChildren(codeBars(p.codes || {}));
    const elapsed = $("#run-elapsed");
    if (elapsed && p.status === "running") elapsed.textContent = `running for ${fmtDuration(p.elapsedMs)}`;
    if (sample) {
      const xDomain = [0, p.plannedMs ? p.plannedMs / 1000 : 0];
      const xFormat = secAxis;
      const bands = phaseBands(phases);
      chartBox.replaceChildren(lineChart([
        { name: "qps", points: rates, color: 2 },
      ], { label: "Throughput so far (requests per second, counted over the last second)", emptyText: "Counted over a second: the first point comes at 1 s", xFormat, xDomain, bands, height: 170 }));
      latencyBox.replaceChildren(lineChart([
        { name: "p50", points: points.map((q) => [q.elapsedMs / 1000, q.p50Ms]) },
        { name: "p99", points: points.map((q) => [q.elapsedMs / 1000, q.p99Ms]) },
      ], { label: "Rolling p50 and p99 so far", xFormat, xDomain, bands, yFormat: msAxis, xTitle: "elapsed", height: 190 }));
    }
    const step = frac >= 0 ? Math.floor(frac * 4) : -1;
    if (step !== lastStep) {
      lastStep = step;
      announce.textContent = `Run ${p.status}${frac >= 0 ? `, ${Math.round(frac * 100)} % done` : ""}${p.phase ? `, ${p.phase} phase` : ""}, ${fmtNum(p.requests)} requests, ${fmtNum(p.errors)} errors.`;
    }
  }
  function finish(status) {
    progress.value = 1;
    progressText.textContent = `Run ${status}. Loading the report…`;
    announce.textContent = `Run ${status}.`;
  }
  return { root, update, finish };
}

// ---- the report -------------------------------------------------------------

function reportView(run) {
  const r = run.report;
  if (!r) {
    return el("div", { class: "stack" },
      el("div", { class: `callout ${run.status === "error" ? "callout-bad" : ""}`, id: "run-outcome", role: run.status === "error" ? "alert" : null },
        el("strong", {}, `The run ${run.status === "error" ? "failed before it produced a report" : "has no report"}. `), run.reason || ""),
      transitions(run));
  }
  const checks = r.hypothesis || [];
  const timeline = r.timeline || [];
  // Both charts over time span the whole run, so their marks line up.
  const marks = actionMarks(r);
  const overTime = { xFormat: secAxis, xDomain: [0, Math.max(0, ...timeline.map((p) => p.elapsedMs), r.durationMs || 0) / 1000], ...marks,
    markers: [...marks.markers, ...recoveryMarker(r)], bands: phaseBands(r.phases) };
  const passed = checks.filter((c) => c.pass).length;
  const ungraded = checks.filter((c) => c.notGradable).length;
  const verdict = VERDICTS.has(r.verdict) ? r.verdict : "none";
  const verdictTitle = { pass: "Hypothesis held", fail: "Hypothesis failed", inconclusive: "Inconclusive" }[verdict] || "No verdict";
  const verdictText = checks.length ? `${passed} of ${checks.length} checks passed${ungraded ? `, ${ungraded} not gradable` : ""}` : "the experiment states no hypothesis";
  const ratio = errorRatio(r);
  const phased = (r.phases || []).length > 0;
  return el("div", { class: "stack", id: "report" },
    el("section", { class: `verdict-banner banner-${verdict}`, id: "verdict", "aria-label": "Verdict" },
      el("div", { class: "verdict-main" }, verdictBadge(r.verdict), el("span", { class: "verdict-title" }, verdictTitle)),
      el("div", { class: "verdict-sub" }, verdictText, run.reason || r.reason ? ` · ${run.reason || r.reason}` : "", ` · status ${run.status}`),
      r.abort ? el("p", { class: "verdict-abort" }, `Stopped by abort condition #${r.abort.index + 1} (${r.abort.condition}) at ${fmtDuration(r.abort.atMs)}: observed ${fmtNum(r.abort.observed, 4)}.`) : null),
    generatorBehind(r),
    r.warnings && r.warnings.length ? el("div", { class: "callout callout-warn", id: "warnings", role: "note" },
      el("strong", {}, r.warnings.length === 1 ? "Warning" : `${r.warnings.length} warnings`),
      el("ul", {}, r.warnings.map((w) => el("li", {}, w)))) : null,
    kpis([
      ["Requests", fmtNum(r.requests), r.connections ? `${r.connections} connections` : null],
      ["Throughput", `${fmtNum(r.qps, 1)} qps`],
      ["Errors", fmtNum(r.errors), fmtPct(ratio), null, r.errors ? "bad" : ""],
      ["Duration", fmtDuration(r.durationMs)],
      ["p50", fmtMs(r.latencyMs.p50), r.intendedLatencyMs ? `intended ${fmtMs(r.intendedLatencyMs.p50)}` : null],
      ["p99", fmtMs(r.latencyMs.p99), r.intendedLatencyMs ? `intended ${fmtMs(r.intendedLatencyMs.p99)}` : null],
      phased ? ["Time to recover", r.timeToRecoverMs === undefined || r.timeToRecoverMs === null ? "did not recover" : fmtDuration(r.timeToRecoverMs),
        "after the fault phase", "kpi-ttr", r.timeToRecoverMs === undefined || r.timeToRecoverMs === null ? "bad" : ""] : null,
      r.mesh ? ["Retry amplification", "—", "counted by the cluster's Envoys"] : ["Retry amplification", `${fmtNum(r.retryAmplification, 3)}×`, "upstream attempts ÷ requests"],
    ].filter(Boolean), "kpis-report"),
    checks.length ? card("Hypothesis", table(["Check", ["Observed", "num"], "Result"], checks.map(checkRow), { id: "hypothesis" })) : null,
    phased ? phasesCard(r) : null,
    (r.predictions || []).length ? card("Predictions", predictionsTable(r.predictions, { id: "predictions" }),
      { id: "predictions-card", note: "what the configuration alone says the run should show, with a 95 % interval, beside what it showed" }) : null,
    meshChanges(r.mesh),
    el("div", { class: "grid-2" },
      card("Status codes", [el("div", { id: "codes-chart", class: "chart-box" }, codeBars(r.codes)), codesTable(r)]),
      card("Latency histogram", el("div", { id: "histogram-chart", class: "chart-box" },
        histogram(r.histogram, { markers: [{ name: "p50", value: r.latencyMs.p50 }, { name: "p99", value: r.latencyMs.p99 }] })), { note: `${(r.histogram || []).length} buckets` })),
    el("div", { class: "grid-2 grid-1-2" },
      card("Percentiles", el("div", { class: "stack-tight" }, percentiles(r), schedule(r)),
        { note: r.intendedLatencyMs ? "service time beside intended latency, from each request's scheduled start (coordinated omission corrected)" : null }),
      card("Over time", el("div", { class: "stack-tight" },
        el("div", { id: "timeline-chart", class: "chart-box" }, lineChart([
          { name: "p50", points: timeline.map((p) => [p.elapsedMs / 1000, p.p50Ms]) },
          { name: "p99", points: timeline.map((p) => [p.elapsedMs / 1000, p.p99Ms]) },
        ], { label: "Latency over time (rolling p50 and p99)" + actionsSummary(r), yFormat: msAxis, height: 210, ...overTime })),
        el("div", { id: "qps-chart", class: "chart-box" }, lineChart([
          { name: "qps", points: throughput(timeline, { whole: true }), color: 2 },
        ], { label: "Throughput over time (requests per second, counted over at least a second)" + actionsSummary(r), xTitle: "elapsed", height: 190, ...overTime })),
        actionsTable(r)),
      { note: `sampled about once a second${(r.actions || []).length ? "; container actions marked" : ""}${phased ? "; phases shaded" : ""}` })),
    injection(r),
    // A run on a mesh environment sends its load through the cluster's
    // Envoys, which count it; Faultline's proxy saw none of it.
    r.mesh ? null : proxyCounters(r.proxy),
    card("Exports and details", el("div", { class: "details-grid" },
      el("div", { class: "downloads", id: "downloads" },
        downloadLink(run.id, "fortio.json", "fortio JSON", "loads in fortio's report viewer"),
        downloadLink(run.id, "junit.xml", "JUnit XML", "one test case per check, for CI"),
        downloadLink(run.id, "histogram.csv", "Histogram CSV", "latency buckets")),
      el("dl", { class: "facts" },
        fact("Target", el("code", {}, r.target)), fact("Entered via", r.mesh && r.mesh.entry ? el("code", {}, r.mesh.entry) : (r.via || "mesh")), fact("Istio defaults", r.istioVersion),
        fact("Seed", el("code", {}, String(r.seed))), fact("Sockets", fmtNum(r.sockets)),
        fact("Started", fmtTime(r.startedAt)), fact("Ended", fmtTime(r.endedAt))),
      transitions(run))));
}

const fact = (k, v) => el("div", {}, el("dt", {}, k), el("dd", {}, v));

// ---- cluster changes -----------------------------------------------------------

/**
 * meshChanges is what a run on a mesh environment applied to its
 * cluster's namespace and how each resource was put back: restored, or
 * left (a conflict: someone else changed it during the run; applied or
 * not applied: the restore did not happen).
 */
function meshChanges(m) {
  if (!m) return null;
  const res = m.resources || [];
  const restored = res.filter((x) => x.state === "restored").length;
  const conflicts = res.filter((x) => x.state === "conflict").length;
  const left = res.length - restored - conflicts;
  const where = el("p", { class: "mesh-where", id: "mesh-where" }, "Namespace ", el("code", { class: "strong", id: "mesh-namespace" }, m.namespace),
    m.server ? [" of ", el("code", {}, m.server)] : null, m.context ? [el("span", { class: "muted" }, " · context "), el("code", {}, m.context)] : null);
  let outcome;
  if (!res.length) {
    outcome = el("p", { class: "muted", id: "mesh-outcome", dataset: { outcome: "none" } }, "The run applied nothing to the namespace.");
  } else if (restored === res.length) {
    outcome = el("p", { class: "mesh-outcome", id: "mesh-outcome", dataset: { outcome: "restored" } },
      res.length === 1 ? "The one resource the run applied was put back." : `All ${res.length} resources the run applied were put back.`);
  } else {
    outcome = el("div", { class: "callout callout-warn", id: "mesh-outcome", role: "note", dataset: { outcome: "left" } },
      el("strong", {}, `${restored} of ${res.length} put back. `),
      conflicts ? `${plural(conflicts, "resource")} changed by someone else during the run: left as they made ${conflicts === 1 ? "it" : "them"}. ` : "",
      left ? `${plural(left, "resource")} not put back yet: the server tries again each time it probes the cluster.` : "");
  }
  return card("Cluster changes", el("div", { class: "stack-tight" }, where, outcome,
    res.length ? meshResourcesTable(res, { id: "mesh-resources", caption: `Cluster changes in namespace ${m.namespace}` }) : null),
  { id: "mesh-changes", note: "the run's Istio resources, applied with server-side apply · versions: original → applied → restored" });
}

// ---- container actions --------------------------------------------------------

const actionLabel = (a) => `${a.action} ${a.target}`;

// actionsSummary adds the actions to a chart's accessible name.
function actionsSummary(r) {
  const acts = r.actions || [];
  if (!acts.length) return "";
  return `, with container actions: ${acts.map((a) => `${actionLabel(a)} at ${fmtDuration(a.atMs)}${a.ok ? "" : " (failed)"}`).join(", ")}`;
}

// DOWN and UP pair the actions that take a container away and bring it back.
const DOWN = { pause: "paused", stop: "stopped", kill: "killed" };
const UP = { unpause: ["pause"], start: ["stop", "kill"] };

/**
 * actionMarks turns a report's container actions into chart markers (one
 * per action, at its time on the timeline) and shaded spans for the time
 * a container was paused, stopped or killed.
 */
function actionMarks(r) {
  const acts = [...(r.actions || [])].sort((a, b) => a.atMs - b.atMs);
  const markers = acts.map((a) => ({
    x: a.atMs / 1000,
    label: actionLabel(a) + (a.ok ? "" : " (failed)"),
    failed: !a.ok,
    title: `${actionLabel(a)} at ${fmtDuration(a.atMs)} (planned at ${a.at})${a.ok ? "" : ` — failed: ${a.error}`}`,
  }));
  const spans = [];
  const down = new Map(); // target → the action that took it down
  for (const a of acts) {
    if (!a.ok) continue;
    if (DOWN[a.action] && !down.has(a.target)) down.set(a.target, a);
    const d = down.get(a.target);
    if (d && UP[a.action] && UP[a.action].includes(d.action)) {
      spans.push({ from: d.atMs / 1000, to: a.atMs / 1000, title: `${a.target} ${DOWN[d.action]} from ${fmtDuration(d.atMs)} to ${fmtDuration(a.atMs)}` });
      down.delete(a.target);
    }
  }
  const end = Math.max(0, ...(r.timeline || []).map((p) => p.elapsedMs), r.durationMs || 0);
  for (const [target, d] of down) spans.push({ from: d.atMs / 1000, to: end / 1000, title: `${target} ${DOWN[d.action]} from ${fmtDuration(d.atMs)} to the end of the load` });
  return { markers, spans };
}

function actionsTable(r) {
  const acts = r.actions || [];
  if (!acts.length) return null;
  return el("div", {},
    el("h3", {}, "Container actions"),
    table(["Planned", ["Happened", "num"], "Action", "Container", "Result"], acts.map((a) => el("tr", { class: a.ok ? "" : "row-bad", dataset: { action: a.action } },
      el("td", {}, el("code", {}, a.at)),
      num(fmtDuration(a.atMs)),
      el("td", {}, el("strong", {}, a.action)),
      el("td", {}, el("code", {}, a.target)),
      el("td", {}, a.ok ? el("span", { class: "verdict verdict-pass" }, "ok") : [el("span", { class: "verdict verdict-fail" }, "failed"), " ", el("span", { class: "action-error" }, a.error || "")]))),
    { id: "actions", cls: "compact", caption: "Container actions" }));
}

function codesTable(r) {
  const entries = Object.entries(r.codes || {}).sort((a, b) => a[0].localeCompare(b[0], undefined, { numeric: true }));
  return table(["Code", ["Requests", "num"], ["Share", "num"]], entries.map(([c, n]) =>
    el("tr", {}, el("td", {}, el("span", { class: `code-dot ${codeClass(c)}`, "aria-hidden": "true" }), c === "-1" ? "connection error" : c), num(fmtNum(n)), num(fmtPct(r.requests ? n / r.requests : 0)))),
  { cls: "compact", caption: "Status codes" });
}

const PERCENTILES = [["min", "min"], ["avg", "avg"], ["p50", "p50"], ["p75", "p75"], ["p90", "p90"], ["p99", "p99"], ["p99.9", "p999"], ["max", "max"]];

/**
 * percentiles lists the latency percentiles: service time (from each
 * request's actual start) and, when the load had a rate, the intended
 * latency beside it (from the start the schedule gave the request, which
 * counts the time a request waited for its turn: coordinated omission
 * corrected).
 */
function percentiles(r) {
  const l = r.latencyMs;
  const i = r.intendedLatencyMs;
  const head = i ? ["Percentile", [el("abbr", { title: "from each request's actual start" }, "Service"), "num"],
    [el("abbr", { title: "from the start the schedule gave each request: coordinated omission corrected" }, "Intended"), "num"]] : ["Percentile", ["Latency", "num"]];
  return table(head, PERCENTILES.map(([k, f]) => el("tr", { dataset: { percentile: f } }, el("td", {}, k), num(fmtMs(l[f]), "service"), i ? num(fmtMs(i[f]), "intended") : null)),
    { id: "percentiles", cls: "compact", caption: i ? "Latency percentiles: service time and intended latency" : "Latency percentiles" });
}

const lagText = (l) => `p50 ${fmtMs(l.p50)}, p99 ${fmtMs(l.p99)}, max ${fmtMs(l.max)}`;

/** schedule says how well the load kept its configured rate. */
function schedule(r) {
  const s = r.schedule;
  if (!s) return null;
  return el("dl", { class: "facts schedule", id: "schedule" },
    fact("Rate kept", `${fmtPct(s.achievedRatio)} of ${fmtNum(s.qps, 1)} qps`),
    fact("Start lag", el("span", { title: "How late requests started after their scheduled start, waiting for a slow reply on the same connection included" }, lagText(s.startLagMs))),
    fact("Generator's own lag", el("span", { title: `Late although the connection was free; the generator counts as behind above a p99 of ${fmtMs(s.boundMs)}` }, lagText(s.ownLagMs))));
}

/**
 * generatorBehind warns that the load generator fell behind its own
 * schedule: the latencies it measured are not what the schedule asked
 * for, so its latency checks are not graded.
 */
function generatorBehind(r) {
  if (!r.generatorBehind) return null;
  const s = r.schedule;
  return el("div", { class: "callout callout-bad", id: "generator-behind", role: "note" },
    el("strong", {}, "The load generator fell behind its schedule. "),
    s ? `Its own lag (late although the connection was free) reached p99 ${fmtMs(s.ownLagMs.p99)}, over the bound of ${fmtMs(s.boundMs)} (p50 ${fmtMs(s.ownLagMs.p50)}, max ${fmtMs(s.ownLagMs.max)}); it kept ${fmtPct(s.achievedRatio)} of the ${fmtNum(s.qps, 1)} qps asked for. ` : "",
    "Latencies measured while it lagged are not those the schedule asked for: latency checks are not graded.");
}

/** checkRow is a hypothesis check: passed, failed, or not gradable with why. */
function checkRow(c) {
  const result = c.notGradable ? "not-gradable" : c.pass ? "pass" : "fail";
  return el("tr", { class: { pass: "", fail: "row-bad", "not-gradable": "row-ungraded" }[result], dataset: { result } },
    el("td", {}, el("code", {}, c.check), c.note ? el("div", { class: "check-note muted small" }, c.note) : null),
    num(c.notGradable ? el("span", { class: "muted", title: "measured, but not gradable" }, fmtNum(c.observed, 4)) : fmtNum(c.observed, 4)),
    el("td", {}, c.notGradable
      ? el("span", { class: "verdict verdict-inconclusive", title: c.note || "not gradable" }, "not gradable")
      : el("span", { class: `verdict verdict-${c.pass ? "pass" : "fail"}` }, c.pass ? "pass" : "fail")));
}

// ---- phases -------------------------------------------------------------------

const PHASE_TITLES = {
  baseline: "before the faults: the steady state",
  fault: "the experiment's faults on",
  recovery: "faults off again: does the system come back?",
};

/** phaseBands shades a phased run's phases on the charts over time. */
function phaseBands(phases) {
  return (phases || []).map((p) => ({
    from: p.startMs / 1000, to: p.endMs / 1000, label: p.name, cls: `phase-band phase-${p.name}`,
    title: `${p.name} phase, ${fmtDuration(p.startMs)} to ${fmtDuration(p.endMs)}${PHASE_TITLES[p.name] ? `: ${PHASE_TITLES[p.name]}` : ""}`,
  }));
}

/** recoveryMarker marks the moment a phased run was back within the baseline's bounds. */
function recoveryMarker(r) {
  const fault = (r.phases || []).find((p) => p.name === "fault");
  if (!fault || r.timeToRecoverMs === undefined || r.timeToRecoverMs === null) return [];
  const at = fault.endMs + r.timeToRecoverMs;
  return [{ x: at / 1000, label: "recovered", cls: "recovery-marker", title: `Back within the baseline's bounds ${fmtDuration(r.timeToRecoverMs)} after the fault phase ended` }];
}

/** recoveryText says how the time to recover was judged. */
function recoveryText(rc) {
  if (!rc) return "";
  return `Judged over sliding ${fmtDuration(rc.windowMs)} windows, moved ${fmtDuration(rc.stepMs)} at a time, from the end of the fault phase: ` +
    `the first window whose error ratio is at most ${fmtPct(rc.maxErrorRatio, 2)} and whose p50 is at most ${fmtMs(rc.maxP50Ms)} (the baseline's bounds) ends the recovery.`;
}

function sigMark(significant, what) {
  return significant ? el("span", { class: "sig sig-yes phase-sig", title: `significant at 95 %: ${what}` }, "significant") : null;
}

function pctDelta(d) {
  if (!d) return el("span", { class: "muted" }, "—");
  return el("span", { class: d.significant && d.delta ? (d.delta > 0 ? "delta-bad" : "delta-good") : "" }, fmtSigned(d.delta * 100, (x) => fmtNum(x, 2)) + " pts");
}

function latDelta(lat, name) {
  const m = ((lat && lat.percentiles) || []).find((x) => x.name === name);
  if (!m) return el("span", { class: "muted" }, "—");
  const cls = lat.significant && m.delta ? (m.delta > 0 ? "delta-bad" : "delta-good") : "";
  return el("span", { class: cls, title: `${name}: ${fmtMs(m.a)} in the baseline, ${fmtMs(m.b)} here` }, fmtSigned(m.delta, fmtMs));
}

/**
 * phasesCard is a phased run's baseline, fault and recovery side by side,
 * each against the baseline (a two-proportion z-test on the error ratio,
 * Kolmogorov–Smirnov on the latency histograms), with the time to recover.
 */
function phasesCard(r) {
  const ttr = r.timeToRecoverMs;
  const recovered = ttr !== undefined && ttr !== null;
  const head = el("div", { class: `ttr ${recovered ? "ttr-yes" : "ttr-no"}`, id: "time-to-recover", dataset: { recovered: String(recovered) } },
    el("div", { class: "ttr-main" }, recovered
      ? [el("span", { class: "ttr-label" }, "Time to recover "), el("strong", { class: "ttr-value", title: recoveryText(r.recovery) || null }, fmtDuration(ttr))]
      : el("strong", { class: "ttr-value", title: recoveryText(r.recovery) || null }, "Did not recover"),
    el("span", { class: "muted" }, recovered ? " after the fault phase ended" : " within the run: no window of the recovery phase was back within the baseline's bounds")),
    r.recovery ? el("p", { class: "ttr-how muted small", id: "recovery-bounds" }, recoveryText(r.recovery)) : null);
  const rows = r.phases.map((p) => {
    const d = p.delta;
    return el("tr", { dataset: { phase: p.name } },
      el("th", { scope: "row" }, el("span", { class: `phase-swatch phase-${p.name}`, "aria-hidden": "true" }), p.name),
      num(`${fmtDuration(p.startMs)} – ${fmtDuration(p.endMs)}`),
      num(fmtNum(p.requests)),
      num(el("strong", { class: "phase-error-ratio", dataset: { value: String(p.errorRatio) } }, fmtPct(p.errorRatio, 2))),
      num(fmtMs(p.latencyMs.p50)), num(fmtMs(p.latencyMs.p99)),
      num(p.intendedLatencyMs ? fmtMs(p.intendedLatencyMs.p99) : "—", "muted"),
      el("td", { class: "num phase-delta-errors" }, d ? [pctDelta(d.errorRatio), " ", sigMark(d.errorRatio.significant, `error ratio, p = ${fmtNum(d.errorRatio.pValue, 4)}`)] : el("span", { class: "muted" }, "baseline")),
      el("td", { class: "num phase-delta-latency" }, d ? [latDelta(d.latency, "p50"), " / ", latDelta(d.latency, "p99"), " ",
        sigMark(d.latency.significant, `latency distribution, KS ${fmtNum(d.latency.ks, 3)} over ${fmtNum(d.latency.ksCritical, 3)}`)] : el("span", { class: "muted" }, "baseline")));
  });
  return card("Phases", el("div", { class: "stack-tight" }, head,
    table(["Phase", ["Window", "num"], ["Requests", "num"], ["Error ratio", "num"], ["p50", "num"], ["p99", "num"], ["p99 intended", "num"], ["Δ error ratio vs baseline", "num"], ["Δ p50 / p99 vs baseline", "num"]],
      rows, { id: "phases", caption: "Phases against the baseline" })),
  { id: "phases-card", note: "each phase against the baseline; only a change significant at 95 % is coloured" });
}

// INJECTION_KINDS says each kind of injection row in words: a rule's own
// fault acts once per request; spec.faults act on each upstream attempt of
// the router (retries included) or on the mirrored copies only.
const INJECTION_KINDS = {
  delay: "delay",
  abort: "abort",
  mirror: "mirror",
  "attempt-delay": "delay on each attempt",
  "attempt-abort": "abort on each attempt",
  "shadow-delay": "delay on mirrored copies",
  "shadow-abort": "abort on mirrored copies",
};

const injectionKind = (kind) => INJECTION_KINDS[kind] || kind;

function injection(r) {
  const rows = r.injection || [];
  if (!rows.length) return null;
  return card("Injection accounting", table(
    ["Rule", "Kind", ["Configured", "num"], ["Realised", "num"], ["95 % interval", "num"], ["Drawn", "num"], ["Injected", "num"], "Took effect"],
    rows.map((i) => el("tr", { class: i.ok ? "" : "row-warn" },
      el("td", {}, el("code", {}, `${i.virtualService}[${i.rule}]`), i.name ? el("span", { class: "muted" }, ` ${i.name}`) : null),
      el("td", { class: "injection-kind", dataset: { kind: i.kind } }, injectionKind(i.kind)),
      num(`${fmtNum(i.configuredPercent, 2)} %`),
      num(el("strong", {}, `${fmtNum(i.realisedPercent, 2)} %`)),
      num(`${fmtNum(i.ci95[0], 2)} – ${fmtNum(i.ci95[1], 2)} %`),
      num(fmtNum(i.matched)), num(fmtNum(i.injected)),
      el("td", {}, i.ok ? el("span", { class: "verdict verdict-pass" }, "as configured") : el("span", { class: "verdict verdict-warn", title: i.warning || "" }, i.warning || "no")))),
    { id: "injection", caption: "Injection accounting" }), { note: "configured rate beside the realised one, with its 95 % Wilson interval" });
}

/** proxyCounters shows a proxy.Stats: totals, response flags, routes, listeners, clusters. */
export function proxyCounters(p, { title = "Proxy counters", live = false } = {}) {
  if (!p) return null;
  const flags = Object.entries(p.byFlag || {}).sort((a, b) => b[1] - a[1]);
  const totals = kpis([
    ["Upstream requests", fmtNum(p.upstreamRequests)], ["Retries", fmtNum(p.retries)], ["Timeouts", fmtNum(p.timeouts)],
    ["Overflows", fmtNum(p.overflows), "circuit breaker"], ["Ejections", fmtNum(p.ejections), "outlier detection"],
    ["Faults delayed", fmtNum(p.faultsDelayed)], ["Faults aborted", fmtNum(p.faultsAborted)], ["Mirrored", fmtNum(p.mirrored), p.mirrorsDropped ? `${fmtNum(p.mirrorsDropped)} dropped` : null],
  ], "kpis-small proxy-totals");
  const routes = (p.routes || []).length ? table(["VirtualService", "Rule", ["Matched", "num"], ["Delayed", "num"], ["Aborted", "num"], ["Retries", "num"], ["Timeouts", "num"], ["Mirrored", "num"]],
    p.routes.map((r) => el("tr", {}, el("td", {}, el("code", {}, r.virtualService)), el("td", {}, `#${r.rule}${r.name ? " " + r.name : ""}`),
      num(fmtNum(r.matched)), num(fmtNum(r.delaysInjected)), num(fmtNum(r.abortsInjected)), num(fmtNum(r.retries)), num(fmtNum(r.timeouts)), num(fmtNum(r.mirrored)))),
    { cls: "compact proxy-routes", caption: "Routes" }) : null;
  const listeners = (p.listeners || []).length ? table(["Listener", ["Requests", "num"], ["Active", "num"], ["2xx", "num"], ["4xx", "num"], ["5xx", "num"], ["No route", "num"]],
    p.listeners.map((l) => el("tr", {}, el("td", {}, el("code", {}, l.name)), num(fmtNum(l.downstream_rq_total)), num(fmtNum(l.downstream_rq_active)),
      num(fmtNum(l.downstream_rq_2xx)), num(fmtNum(l.downstream_rq_4xx)), num(fmtNum(l.downstream_rq_5xx)), num(fmtNum(l.no_route)))),
    { cls: "compact proxy-listeners", caption: "Listeners" }) : null;
  const clusters = (p.clusters || []).length ? el("details", { class: "clusters", open: live || null },
    el("summary", {}, `Clusters (${p.clusters.length})`),
    table(["Cluster", ["Requests", "num"], ["Active", "num"], ["Retries", "num"], ["Overflow", "num"], ["Connect fail", "num"], ["Timeouts", "num"], ["Healthy", "num"]],
      p.clusters.map((c) => el("tr", {}, el("td", {}, el("code", { class: "wrap" }, c.name)), num(fmtNum(c.upstream_rq_total)), num(fmtNum(c.upstream_rq_active)),
        num(fmtNum(c.upstream_rq_retry)), num(fmtNum(c.upstream_rq_pending_overflow)), num(fmtNum(c.upstream_cx_connect_fail)), num(fmtNum(c.upstream_rq_timeout)),
        num(`${fmtNum(c.membership_healthy)}/${fmtNum(c.membership_total)}`))),
      { cls: "compact", caption: "Clusters" })) : null;
  return card(title, el("div", { class: "stack-tight" },
    totals,
    flags.length ? el("p", { class: "flags" }, el("span", { class: "muted" }, "Response flags: "), flags.map(([f, n]) => el("span", { class: "chip", title: `${n} responses with flag ${f}` }, el("code", {}, f), " ", fmtNum(n)))) : null,
    routes, listeners, clusters), { id: live ? null : "proxy-counters" });
}

function downloadLink(id, file, label, hint) {
  const path = `/runs/${id}/${file}`;
  const name = `run-${id}-${file.replace(".", "-").replace(/-(json|xml|csv)$/, ".$1")}`;
  return el("a", {
    class: "btn download", href: apiPath(path), download: name,
    onclick: (ev) => {
      if (!hasToken()) return; // the browser's own download works without a token
      ev.preventDefault();
      download(path, name).catch((err) => toast(err.message, "bad"));
    },
  }, icon("download"), el("span", {}, label, el("span", { class: "muted small block" }, hint)));
}

function transitions(run) {
  if (!run.transitions || !run.transitions.length) return null;
  return el("div", { class: "transitions" }, el("h3", {}, "Status history"),
    el("ol", {}, run.transitions.map((t) => el("li", {}, statusBadge(t.status), " ", el("span", { class: "muted" }, fmtTime(t.at)), t.reason ? ` — ${t.reason}` : ""))));
}

export { errorPanel };
