// Pieces shared by the pages: page headers, cards, KPI lists, tables, and
// the runs table with its compare selection.

import { el, fmtTime, fmtAgo, fmtDuration, fmtNum, fmtPct, fmtMs, statusBadge, verdictBadge, runDurationMs, icon, confirmDialog, toast } from "../dom.js";
import { get, call } from "../api.js";
import { REPORTED } from "../status.js";
import { intervalBar } from "../charts.js";

let seq = 0;
export const uid = (prefix) => `${prefix}-${++seq}`;

/** pageHeader: breadcrumbs, the h1 (with extras beside it), a subtitle and actions. */
export function pageHeader({ crumbs = [], title, extra = null, sub = null, actions = [] }) {
  return el("header", { class: "page-header" },
    crumbs.length ? el("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
      el("ol", {}, crumbs.map(([label, href]) => el("li", {}, href ? el("a", { href }, label) : el("span", { "aria-current": "page" }, label))))) : null,
    el("div", { class: "page-title-row" },
      el("div", { class: "page-title" }, el("h1", { tabindex: "-1" }, title), extra),
      actions.length ? el("div", { class: "page-actions" }, actions) : null),
    sub ? el("p", { class: "page-sub" }, sub) : null);
}

/** card is a titled section; its h2 labels it. */
export function card(title, body, { id, cls = "", note = null } = {}) {
  const hid = uid("h");
  return el("section", { class: `card ${cls}`, id, "aria-labelledby": hid },
    el("div", { class: "card-head" }, el("h2", { id: hid }, title), note ? el("span", { class: "card-note" }, note) : null),
    body);
}

/** kpis renders [label, value, hint?, id?] tuples as a definition list. */
export function kpis(items, cls = "") {
  return el("dl", { class: `kpis ${cls}` }, items.map(([label, value, hint, id, tone]) =>
    el("div", { class: `kpi${tone ? " kpi-" + tone : ""}` }, el("dt", {}, label), el("dd", { id }, value), hint ? el("div", { class: "kpi-hint" }, hint) : null)));
}

/** table builds a table from header labels and rows of cells. */
export function table(headers, rows, { id, cls = "", caption } = {}) {
  return el("div", { class: "table-wrap" },
    el("table", { id, class: `data ${cls}` },
      caption ? el("caption", { class: "sr-only" }, caption) : null,
      el("thead", {}, el("tr", {}, headers.map((h) => {
        const [label, align] = Array.isArray(h) ? h : [h, ""];
        return el("th", { scope: "col", class: align }, label);
      }))),
      el("tbody", {}, rows)));
}

export const num = (v, cls = "") => el("td", { class: `num ${cls}` }, v);

export function emptyState(title, text, action = null) {
  return el("div", { class: "empty" }, el("p", { class: "empty-title" }, title), text ? el("p", {}, text) : null, action);
}

/** startRun starts an experiment and opens its run page. */
/**
 * deleteAsked deletes what path names once the user confirms, and says so
 * in a toast (named name); removed runs after a delete. It returns whether
 * it deleted.
 */
export async function deleteAsked({ name, path, message, confirmLabel, removed }) {
  const ok = await confirmDialog({ title: `Delete ${name}?`, message, confirmLabel });
  if (!ok) return false;
  try {
    await call("DELETE", path);
  } catch (err) {
    toast(`Could not delete ${name}: ${err.message}`, "bad");
    return false;
  }
  toast(`Deleted ${name}.`);
  if (removed) removed();
  return true;
}

export async function startRun(ctx, experimentId) {
  const run = await call("POST", `/experiments/${experimentId}/runs`, {});
  ctx.navigate(`#/runs/${run.id}`);
  return run;
}

/** errorRatio of a report: failed requests over all, or undefined. */
export const errorRatio = (r) => (r && r.requests ? r.errors / r.requests : undefined);

/**
 * loadReports fetches the reports of the newest runs that have one (at most
 * limit), a few at a time, and returns them by run id.
 */
export async function loadReports(runs, { limit = 20, signal } = {}) {
  const want = runs.filter((r) => REPORTED.has(r.status)).slice(0, limit);
  const out = new Map();
  let next = 0;
  const worker = async () => {
    while (next < want.length) {
      const r = want[next++];
      try {
        const full = await get(`/runs/${r.id}`, { signal });
        if (full.report) out.set(r.id, full.report);
      } catch (err) {
        if (err.name === "AbortError") throw err;
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return out;
}

/**
 * runsTable lists runs with a checkbox each; choosing two enables the
 * compare button. reports (by run id) add requests, error ratio and p99.
 */
export function runsTable(ctx, runs, { reports = new Map(), showExperiment = true, id = "runs-table" } = {}) {
  const selected = [];
  const compareBtn = el("button", { type: "button", class: "btn", id: "compare-selected", disabled: true },
    icon("compare"), el("span", { class: "label" }, "Compare selected (0/2)"));
  const update = () => {
    compareBtn.disabled = selected.length !== 2;
    compareBtn.querySelector(".label").textContent = `Compare selected (${selected.length}/2)`;
  };
  compareBtn.addEventListener("click", () => {
    if (selected.length !== 2) return;
    const [a, b] = [...selected].sort((x, y) => x - y);
    ctx.navigate(`#/compare/${a}/${b}`);
  });
  const rows = runs.map((r) => {
    const rep = reports.get(r.id);
    const box = el("input", { type: "checkbox", class: "pick", "aria-label": `Select run ${r.id} to compare`, value: String(r.id), disabled: !REPORTED.has(r.status) });
    box.addEventListener("change", () => {
      const i = selected.indexOf(r.id);
      if (box.checked && i < 0) {
        selected.push(r.id);
        if (selected.length > 2) {
          const drop = selected.shift();
          const other = box.closest("tbody").querySelector(`input.pick[value="${drop}"]`);
          if (other) other.checked = false;
        }
      } else if (!box.checked && i >= 0) selected.splice(i, 1);
      update();
    });
    return el("tr", { dataset: { run: String(r.id), status: r.status } },
      el("td", { class: "pick-cell" }, box),
      el("td", {}, el("a", { href: `#/runs/${r.id}`, class: "strong" }, `#${r.id}`)),
      showExperiment ? el("td", {}, r.experimentId ? el("a", { href: `#/experiments/${r.experimentId}` }, r.experiment) : r.experiment, el("span", { class: "muted" }, ` v${r.experimentVersion}`)) : el("td", {}, `v${r.experimentVersion}`),
      el("td", {}, statusBadge(r.status)),
      el("td", {}, r.verdict ? verdictBadge(r.verdict) : el("span", { class: "muted" }, "—")),
      el("td", { title: r.startedAt ? new Date(r.startedAt).toString() : "" }, r.startedAt ? fmtTime(r.startedAt) : el("span", { class: "muted" }, "queued"), el("div", { class: "muted small" }, fmtAgo(r.startedAt || r.createdAt))),
      num(fmtDuration(runDurationMs(r))),
      num(rep ? fmtNum(rep.requests) : "—"),
      num(rep ? fmtPct(errorRatio(rep)) : "—"),
      num(rep ? fmtMs(rep.latencyMs.p99) : "—"));
  });
  const t = table(["", "Run", showExperiment ? "Experiment" : "Version", "Status", "Verdict", "Started", ["Duration", "num"], ["Requests", "num"], ["Error ratio", "num"], ["p99", "num"]],
    rows, { id, caption: "Runs" });
  return { table: t, compareBtn };
}

// ---- cluster changes of mesh environments -----------------------------------

const ACTION_TITLES = {
  created: "the namespace had none: deleted when put back",
  changed: "saved first, then put back as it was",
};

/**
 * meshVersions is a resource's resourceVersions, original → applied →
 * restored; a created resource had none before and is deleted after.
 */
function meshVersions(r) {
  const part = (v, fallback, which) => el("span", { class: v ? "mesh-version" : "mesh-version muted", dataset: { version: which } }, v ? el("code", {}, v) : fallback);
  const arrow = () => el("span", { class: "mesh-arrow", "aria-hidden": "true" }, " → ");
  const restored = r.state === "restored" && r.action === "created" ? "deleted" : "—";
  return el("td", { class: "mesh-versions", title: "resourceVersion before the run → after its change → after the restore" },
    part(r.originalVersion, r.action === "created" ? "none" : "—", "original"), arrow(),
    part(r.appliedVersion, "—", "applied"), arrow(),
    part(r.restoredVersion, restored, "restored"));
}

/**
 * meshStateBadge says what became of a resource. After a run (live
 * false) only "restored" is calm; while a run holds the namespace (live)
 * "applied" is the expected state, in force.
 */
export function meshStateBadge(state, { live = false } = {}) {
  const tone = state === "restored" ? "restored" : state === "conflict" ? "conflict" : live && state === "applied" ? "in-force" : "left";
  return el("span", { class: `badge mesh-state mesh-${tone}` }, state || "unknown");
}

/**
 * meshResourcesTable lists the Istio resources a run applied to a
 * cluster's namespace: kind, name, created or changed, their state, the
 * resourceVersions and the detail. Every string is the API's, set as text.
 */
export function meshResourcesTable(resources, { id, caption, live = false } = {}) {
  const rowClass = (r) => (r.state === "conflict" ? "row-bad" : r.state === "restored" || (live && r.state === "applied") ? "" : "row-warn");
  return table(["Kind", "Name", "Action", "State", "Versions", "Detail"], resources.map((r) =>
    el("tr", { class: rowClass(r), dataset: { kind: r.kind || "", name: r.name || "", state: r.state || "", action: r.action || "" } },
      el("td", {}, r.kind),
      el("td", {}, el("code", {}, r.name)),
      el("td", { title: ACTION_TITLES[r.action] || null }, r.action),
      el("td", {}, meshStateBadge(r.state, { live })),
      meshVersions(r),
      el("td", { class: "mesh-detail" }, r.detail || el("span", { class: "muted" }, "—")))),
  { id, cls: "compact mesh-resources", caption });
}

// ---- predictions ----------------------------------------------------------------

// PREDICTION_FORMATS writes each predicted metric in its unit.
const PREDICTION_FORMATS = {
  error_ratio: (v) => fmtPct(v, 2),
  overflow_ratio: (v) => fmtPct(v, 2),
  latency_max: fmtMs,
  retry_amplification: (v) => `${fmtNum(v, 3)}×`,
};

const PREDICTION_NAMES = {
  error_ratio: "error ratio",
  overflow_ratio: "overflow ratio",
  latency_max: "slowest request",
  retry_amplification: "retry amplification",
};

/** predictionFormat is how a predicted metric's values are written. */
export const predictionFormat = (metric) => PREDICTION_FORMATS[metric] || ((v) => fmtNum(v, 4));

/**
 * predictionsTable lists what the configuration predicts (a run's, with
 * what the run observed; a dry run's, without): metric, route, basis, the
 * prediction with its 95 % interval, the observation, whether it fell
 * within, and a picture of the interval with both points. An observation
 * outside its interval is highlighted.
 */
export function predictionsTable(preds, { id, observed = true } = {}) {
  const head = ["Metric", "Route", "Basis", ["Predicted", "num"], ["95 % interval", "num"]];
  if (observed) head.push(["Observed", "num"], "Within");
  head.push("Picture");
  return table(head, preds.map((p) => {
    const fmt = predictionFormat(p.metric);
    const has = p.observed !== undefined && p.observed !== null;
    const within = p.within === true ? "true" : p.within === false ? "false" : "";
    return el("tr", { class: p.within === false ? "row-bad" : "", dataset: { metric: p.metric, route: p.route || "", within } },
      el("td", {}, el("code", {}, p.metric), PREDICTION_NAMES[p.metric] ? el("div", { class: "muted small" }, PREDICTION_NAMES[p.metric]) : null),
      el("td", {}, p.route ? el("code", {}, p.route) : el("span", { class: "muted" }, "default route")),
      el("td", { class: "basis" }, p.basis),
      num(el("strong", {}, fmt(p.predicted))),
      num(`${fmt(p.low)} – ${fmt(p.high)}`),
      observed ? num(has ? fmt(p.observed) : el("span", { class: "muted", title: "the report cannot observe this" }, "—"), "observed") : null,
      observed ? el("td", { class: "within" }, p.within === true ? el("span", { class: "within-yes", "aria-label": "within the interval", title: "within the 95 % interval" }, "✓")
        : p.within === false ? el("span", { class: "within-no", "aria-label": "outside the interval", title: "outside the 95 % interval" }, "✗")
          : el("span", { class: "muted", title: "not observed" }, "—")) : null,
      el("td", { class: "picture" }, intervalBar({ low: p.low, high: p.high, predicted: p.predicted, observed: has ? p.observed : null, format: fmt,
        label: `${PREDICTION_NAMES[p.metric] || p.metric}${p.route ? ` of ${p.route}` : ""}` })));
  }), { id, cls: "predictions", caption: "Predictions" });
}
