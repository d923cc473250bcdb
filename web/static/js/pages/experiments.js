// Experiments: the list with search, an experiment's page (run history with
// trends, and its definition in the editor), and the new-experiment editor.

import { get, call, ApiError } from "../api.js";
import { el, $, fmtAgo, fmtPct, fmtNum, statusBadge, verdictBadge, toast, icon } from "../dom.js";
import { lineChart, short } from "../charts.js";
import { pageHeader, card, table, emptyState, runsTable, loadReports, startRun, errorRatio, deleteAsked, predictionsTable } from "./common.js";
import { scheduleCard, scheduleCalendar, nextFireCell } from "./schedule.js";
import { editorForm } from "./editorform.js";
import { startButton, setBusy, leverRefused } from "../lever.js";

let searchText = "";

// ---- #/experiments ----------------------------------------------------------

export async function experimentsPage(ctx) {
  ctx.setTitle("Experiments");
  const [exps, runs] = await Promise.all([get("/experiments?limit=500", ctx), get("/runs?limit=500", ctx)]);
  const last = new Map();
  for (const r of runs.items) if (r.experimentId && !last.has(r.experimentId)) last.set(r.experimentId, r);

  const search = el("input", { type: "search", id: "search", class: "search", placeholder: "Search by name or description", autocomplete: "off", value: searchText, "aria-describedby": "search-hint" });
  const count = el("span", { id: "exp-count", class: "muted", "aria-live": "polite" });
  const noMatch = el("p", { id: "no-match", class: "empty-inline", hidden: true });
  const removed = (tr) => { rows.splice(rows.indexOf(tr), 1); tr.remove(); apply(); };
  const rows = exps.items.map((e) => experimentRow(ctx, e, last.get(e.id), removed));
  const tbody = el("tbody", {}, rows);
  const tbl = el("div", { class: "table-wrap" }, el("table", { id: "experiments-table", class: "data experiments" },
    el("caption", { class: "sr-only" }, "Experiments"),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, "Experiment"), el("th", { scope: "col" }, "Last run"), el("th", { scope: "col" }, "Verdict"),
      el("th", { scope: "col", class: "next-col" }, "Next run"), el("th", { scope: "col", class: "actions-col" }, el("span", { class: "sr-only" }, "Actions")))),
    tbody));

  const apply = () => {
    searchText = search.value;
    const q = search.value.trim().toLowerCase();
    let shown = 0;
    for (const tr of rows) {
      const hit = !q || tr.dataset.search.includes(q);
      tr.hidden = !hit;
      if (hit) shown++;
    }
    count.textContent = q ? `${shown} of ${rows.length} experiments` : `${rows.length} experiments`;
    noMatch.hidden = shown > 0 || !rows.length;
    noMatch.textContent = `No experiment matches \u201c${search.value.trim()}\u201d.`;
  };
  search.addEventListener("input", apply);
  search.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && search.value) { search.value = ""; apply(); } });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "/" && !ev.ctrlKey && !ev.metaKey && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName) && !$("dialog[open]")) {
      ev.preventDefault();
      search.focus();
    }
  }, { signal: ctx.signal });

  ctx.page.replaceChildren(
    pageHeader({
      title: "Experiments",
      sub: "Istio traffic rules, fortio load and a hypothesis, stored and versioned. Run one to get a report.",
      actions: [el("a", { href: "#/experiments/new", class: "btn btn-primary", id: "new-experiment" }, icon("plus"), "New experiment")],
    }),
    rows.length ? el("div", { class: "card card-flush" },
      el("div", { class: "toolbar" },
        el("label", { for: "search", class: "sr-only" }, "Search experiments"),
        el("div", { class: "search-box" }, search, el("kbd", { id: "search-hint", title: "Press / to search" }, "/")),
        count),
      tbl, noMatch)
      : emptyState("No experiments yet", "Write one in the editor; it is checked as you type.", el("a", { href: "#/experiments/new", class: "btn btn-primary" }, "New experiment")));
  apply();
}

function experimentRow(ctx, e, run, removed) {
  const tr = el("tr", { dataset: { id: String(e.id), name: e.name, search: `${e.name} ${e.description}`.toLowerCase() } },
    el("td", { class: "exp-cell" },
      el("a", { href: `#/experiments/${e.id}`, class: "exp-name" }, e.name), el("span", { class: "version-tag", title: "version" }, `v${e.version}`),
      e.description ? el("div", { class: "exp-desc" }, e.description) : null),
    el("td", { class: "last-run" }, run
      ? [el("a", { href: `#/runs/${run.id}`, class: "run-link" }, statusBadge(run.status), el("span", { class: "muted small" }, ` #${run.id} · ${fmtAgo(run.startedAt || run.createdAt)}`))]
      : el("span", { class: "muted" }, "never run")),
    el("td", {}, run && run.verdict ? verdictBadge(run.verdict) : el("span", { class: "muted" }, "—")),
    el("td", { class: "next-col" }, nextFireCell(e.schedule)),
    el("td", { class: "row-actions" },
      startButton(el("button", { type: "button", class: "btn btn-small btn-primary run-now", "aria-label": `Run ${e.name} now`, onclick: (ev) => runNow(ctx, e, ev.currentTarget) }, icon("play"), "Run")),
      el("a", { href: `#/experiments/${e.id}/edit`, class: "icon-btn", title: "Edit", "aria-label": `Edit ${e.name}` }, icon("edit")),
      el("a", { href: `#/experiments/new?from=${e.id}`, class: "icon-btn", title: "Duplicate", "aria-label": `Duplicate ${e.name}` }, icon("copy")),
      el("button", { type: "button", class: "icon-btn danger delete", title: "Delete", "aria-label": `Delete ${e.name}`, onclick: () => deleteExperiment(ctx, e, () => removed(tr)) }, icon("trash"))));
  return tr;
}

async function runNow(ctx, e, button) {
  setBusy(button, true);
  try {
    await startRun(ctx, e.id);
  } catch (err) {
    leverRefused(err);
    toast(`Could not start ${e.name}: ${err.message}`, "bad");
    setBusy(button, false);
  }
}

function deleteExperiment(ctx, e, removed) {
  return deleteAsked({
    name: e.name,
    path: `/experiments/${e.id}`,
    message: "The experiment and all its versions are deleted; its runs stay in the history. This cannot be undone.",
    confirmLabel: "Delete experiment",
    removed,
  });
}

// ---- #/experiments/{id} and #/experiments/{id}/edit ---------------------------

export async function experimentPage(ctx, id, tab) {
  const exp = await get(`/experiments/${id}`, ctx);
  ctx.setTitle(tab === "definition" ? `${exp.name} · definition` : exp.name);
  const runBtn = startButton(el("button", { type: "button", class: "btn btn-primary", id: "run-now", onclick: (ev) => runNow(ctx, exp, ev.currentTarget) }, icon("play"), "Run now"));
  const dryResult = el("div", { id: "dry-run-result" });
  // A dry run starts nothing, so the lever does not hold it.
  const dryBtn = el("button", { type: "button", class: "btn", id: "dry-run", title: "Resolve the targets, the routes sample requests take and the predictions, without sending load or creating a run",
    onclick: (ev) => dryRun(ctx, exp, ev.currentTarget, dryResult) }, "Dry run");
  const header = pageHeader({
    crumbs: [["Experiments", "#/experiments"], [exp.name]],
    title: exp.name,
    extra: el("span", { class: "version-tag big", id: "exp-version" }, `v${exp.version}`),
    sub: [exp.description || "", el("span", { class: "muted" }, ` — updated ${fmtAgo(exp.updatedAt)}`)],
    actions: [
      runBtn,
      dryBtn,
      el("a", { class: "btn", href: `#/experiments/new?from=${exp.id}`, id: "duplicate" }, icon("copy"), "Duplicate"),
      el("button", { type: "button", class: "btn btn-danger-ghost", id: "delete", onclick: async () => { if (await deleteExperiment(ctx, exp)) ctx.navigate("#/experiments"); } }, icon("trash"), "Delete"),
    ],
  });
  const tabs = el("nav", { class: "tabs", "aria-label": "Experiment sections" },
    el("a", { href: `#/experiments/${id}`, "aria-current": tab === "runs" ? "page" : null, id: "tab-runs" }, "Runs"),
    el("a", { href: `#/experiments/${id}/edit`, "aria-current": tab === "definition" ? "page" : null, id: "tab-definition" }, "Definition"));
  const body = el("div", { class: "tab-body stack" });
  ctx.page.replaceChildren(header, dryResult, tabs, body);
  if (tab === "definition") {
    body.append(experimentEditor(ctx, {
      source: exp.source,
      saveLabel: "Save new version",
      note: `Saving stores version ${exp.version + 1}; runs keep the version they ran.`,
      save: async (source) => {
        const saved = await call("PUT", `/experiments/${id}`, { source });
        toast(`Saved ${saved.name} as version ${saved.version}.`, "good");
        $("#exp-version").textContent = `v${saved.version}`;
        return saved;
      },
    }));
    return;
  }
  await historyTab(ctx, exp, body);
}

async function historyTab(ctx, exp, body) {
  const [list, fires, calendar] = await Promise.all([
    get(`/runs?experiment=${exp.id}&limit=100`, ctx),
    exp.schedule ? get(`/experiments/${exp.id}/fires?limit=20`, ctx) : null,
    exp.schedule ? scheduleCalendar(`/experiments/${exp.id}/calendar`, ctx) : null,
  ]);
  if (exp.schedule) body.append(scheduleCard(exp.schedule, fires, { what: "run", runHref: (id) => `#/runs/${id}`, calendar }));
  if (!list.items.length) {
    body.append(emptyState("No runs yet", exp.schedule ? "\u201cRun now\u201d starts one, and so does the schedule; their reports land here." : "\u201cRun now\u201d starts one; its report lands here."));
    return;
  }
  const reports = await loadReports(list.items, { limit: 20, signal: ctx.signal });
  // Oldest first, evenly spaced: x is the position, labelled with the run id.
  const trend = [...reports.entries()].sort((a, b) => a[0] - b[0]);
  const xLabels = (i) => `#${trend[i][0]}`;
  const hrefs = (i) => `#/runs/${trend[i][0]}`;
  const { table, compareBtn } = runsTable(ctx, list.items, { reports, showExperiment: false, id: "history-table" });
  body.append(
    trend.length ? el("div", { class: "grid-2", id: "trends" },
      card("Error ratio across runs", el("div", { class: "chart-box", id: "trend-errors" }, lineChart([
        { name: "error ratio", points: trend.map(([, r], i) => [i, errorRatio(r) || 0]), color: 1 },
      ], { label: "Error ratio across runs", yFormat: (v) => fmtPct(v, v && v < 0.1 ? 1 : 0), xLabels, hrefs, height: 200 })), { note: `last ${trend.length} runs with a report` }),
      card("p99 latency across runs", el("div", { class: "chart-box", id: "trend-p99" }, lineChart([
        { name: "p99", points: trend.map(([, r], i) => [i, r.latencyMs.p99]) },
        { name: "p50", points: trend.map(([, r], i) => [i, r.latencyMs.p50]), dashed: true, color: 3 },
      ], { label: "p99 and p50 latency across runs", yFormat: (v) => `${short(v)} ms`, xLabels, hrefs, height: 200 })))) : null,
    card("Run history", [table], { note: el("span", { class: "card-tools" }, `${list.items.length} of ${list.total} runs · tick two to compare `, compareBtn) }));
}

// ---- dry run --------------------------------------------------------------------

/**
 * dryRun asks the server what a run of the experiment would do, without
 * sending load, starting targets or creating a run (POST
 * …/runs?dryRun=true), and shows it in slot: the targets, the rule each
 * sample request hits, and the predictions.
 */
async function dryRun(ctx, exp, button, slot) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const d = await call("POST", `/experiments/${exp.id}/runs?dryRun=true`, {}, { signal: ctx.signal });
    if (!ctx.live()) return;
    slot.replaceChildren(dryRunView(d, () => slot.replaceChildren()));
  } catch (err) {
    if (err.name === "AbortError") return;
    slot.replaceChildren(el("div", { class: "callout callout-bad", id: "dry-run-error", role: "alert" }, el("strong", {}, "The dry run failed. "), err.message));
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

const dash = (v) => (v === undefined || v === null || v === "" ? el("span", { class: "muted" }, "—") : v);

/** hitText names the rule a request hits, as the CLI does: "vs/rule", "default route", or why none. */
function hitText(h) {
  if (!h) return "—";
  if (h.outcome !== "route") return `${h.outcome}${h.status ? ` (${h.status})` : ""}`;
  if (!h.virtualService) return "default route";
  return `${h.virtualService}/${h.rule}`;
}

function percentOf(p) { return p && typeof p.value === "number" ? p.value : 0; }

function faultsText(r) {
  const parts = [];
  const f = r.fault;
  if (f) {
    if (f.delay) parts.push(`delay ${f.delay} ${fmtNum(f.delayPercent || 0, 2)} %`);
    if (f.abortPercent !== undefined && f.abortPercent !== null) parts.push(`abort ${f.abortStatus || f.grpcStatus || ""} ${fmtNum(f.abortPercent, 2)} %`);
  }
  for (const x of r.experimentFaults || []) {
    const where = x.on === "attempts" ? "on each attempt" : x.on === "shadows" ? "on mirrored copies" : `on ${x.on}`;
    if (x.delay) parts.push(`delay ${x.delay.fixedDelay || x.delay.exponentialDelay || ""} ${fmtNum(x.delay.percentage ? x.delay.percentage.value : (x.delay.percent ?? 100), 2)} % ${where}`);
    if (x.abort) parts.push(`abort ${x.abort.httpStatus || x.abort.grpcStatus || x.abort.http2Error || ""} ${fmtNum(percentOf(x.abort.percentage), 2)} % ${where}`);
  }
  return parts.length ? parts.map((t) => el("div", {}, t)) : dash("");
}

function retryText(rt) {
  if (!rt) return "none";
  return `${rt.numRetries} on ${(rt.retryOn || []).join(", ")}${(rt.retriableStatusCodes || []).length ? ` [${rt.retriableStatusCodes.join(", ")}]` : ""}${rt.perTryTimeout ? `, per try ${rt.perTryTimeout}` : ""}`;
}

function destinations(r) {
  if (!r.action) return dash("");
  if (r.action !== "route") return r.action;
  const ds = r.destinations || [];
  if (!ds.length) return dash("");
  return ds.map((d) => el("div", { class: d.missing ? "shadowed" : "" }, el("code", { class: "wrap" }, d.name), ds.length > 1 ? ` (${d.weight})` : "",
    d.missing ? " — no such subset: 503 NC" : ""));
}

function dryRunView(d, close) {
  const targets = d.targets || [];
  const routes = d.routes || [];
  const preds = d.predictions || [];
  const warnings = d.warnings || [];
  const targetTable = table(["Service", ["Port", "num"], ["Endpoint", "num"], "Kind", "Address", "Status"], targets.map((t) =>
    el("tr", { class: t.status === "unreachable" ? "row-bad" : "", dataset: { service: t.service || "", status: t.status || "" } },
      el("td", {}, el("code", {}, t.service)), el("td", { class: "num" }, String(t.port)), el("td", { class: "num" }, t.endpoint < 0 ? "—" : String(t.endpoint)),
      el("td", {}, t.kind), el("td", {}, el("code", { class: "wrap" }, t.address)),
      el("td", {}, t.status, t.error ? el("div", { class: "field-error small" }, t.error) : null))),
  { id: "dry-targets", cls: "compact", caption: "Targets" });
  const routeTable = table(["From", "Listener", "Request", "Hits", "Destinations", "Faults", "Retries", "Timeout"], routes.map((r) => {
    const req = r.request || {};
    const hit = hitText(r.hit);
    return el("tr", { class: r.shadowed ? "row-warn" : r.hit && r.hit.outcome !== "route" ? "row-bad" : "", dataset: { source: r.source || "", hit, hitName: (r.hit && r.hit.name) || "" } },
      el("td", {}, r.source === "load" ? el("strong", {}, "the load") : el("code", {}, r.source), r.sourceName ? el("div", { class: "muted small" }, r.sourceName) : null),
      el("td", {}, el("code", {}, r.listener)),
      el("td", { class: "dry-request" }, el("code", { class: "wrap" }, `${req.method || "GET"} ${req.url || ""}`),
        Object.entries(req.headers || {}).sort((a, b) => a[0].localeCompare(b[0])).map(([k, v]) => el("code", { class: "header" }, `${k}: ${v}`))),
      el("td", { class: "dry-hit" }, el("code", { class: "strong" }, hit), r.hit && r.hit.name ? el("span", { class: "muted" }, ` ${r.hit.name}`) : null,
        r.shadowed ? el("div", { class: "shadowed" }, "never matched: an earlier rule takes it") : null,
        r.note ? el("div", { class: "muted small" }, r.note) : null),
      el("td", {}, destinations(r)),
      el("td", {}, faultsText(r)),
      el("td", {}, retryText(r.retry)),
      el("td", {}, dash(r.timeout)));
  }), { id: "dry-routes", cls: "compact dry-routes", caption: "Routes of sample requests" });
  return card(`Dry run of ${d.experiment}`, el("div", { class: "stack-tight" },
    el("p", { class: "muted", id: "dry-run-note" }, "Nothing was started: no load sent, no listener opened, no target started, no run created."),
    warnings.length ? el("div", { class: "callout callout-warn", id: "dry-warnings", role: "note" },
      el("strong", {}, warnings.length === 1 ? "Warning" : `${warnings.length} warnings`), el("ul", {}, warnings.map((w) => el("li", {}, w)))) : null,
    el("h3", {}, "Targets"), targets.length ? targetTable : el("p", { class: "muted" }, "No targets."),
    el("h3", {}, "Routes"), el("p", { class: "muted small" }, "The load's own request first, then one sample request per rule of each VirtualService, and the rule each one hits."),
    routes.length ? routeTable : el("p", { class: "muted" }, "No routes."),
    el("h3", {}, "Predictions"), preds.length ? predictionsTable(preds, { id: "dry-predictions", observed: false }) : el("p", { class: "muted" }, "The configuration predicts nothing for this load."),
  ), { id: "dry-run-card", cls: "dry-run", note: el("button", { type: "button", class: "btn btn-small", id: "dry-run-close", onclick: close }, "Close") });
}

// ---- #/experiments/new ------------------------------------------------------

const TEMPLATE = `# A new experiment: load through Faultline's proxy to the built-in httpbin
# demo target, a fault from an Istio VirtualService, and a hypothesis.
apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata:
  name: my-experiment
  description: abort 10 % of calls to httpbin with 503
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - demo: httpbin
  load:
    url: http://httpbin:8000/get
    connections: 2
    qps: 50
    duration: 3s
  hypothesis:
  - {metric: status_ratio, status: 503, op: "<", value: 0.2}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: httpbin
spec:
  hosts: [httpbin]
  http:
  - fault:
      abort:
        httpStatus: 503
        percentage: {value: 10}
    route:
    - destination: {host: httpbin}
`;

export async function newExperimentPage(ctx) {
  const from = Number(ctx.query.get("from") || 0);
  let source = TEMPLATE;
  let title = "New experiment";
  let sub = "Write the Experiment document and any Istio resources beside it. It is checked as you type.";
  if (from) {
    const [orig, all] = await Promise.all([get(`/experiments/${from}`, ctx), get("/experiments?limit=500", ctx)]);
    const names = new Set(all.items.map((e) => e.name));
    let name = `${orig.name}-copy`;
    for (let i = 2; names.has(name); i++) name = `${orig.name}-copy-${i}`;
    source = renameExperiment(orig.source, name);
    title = `Duplicate ${orig.name}`;
    sub = `A copy of ${orig.name} v${orig.version}, renamed ${name}. Nothing is stored until you save.`;
  }
  ctx.setTitle(title);
  ctx.page.replaceChildren(
    pageHeader({ crumbs: [["Experiments", "#/experiments"], [title]], title, sub }),
    experimentEditor(ctx, {
      source,
      saveLabel: "Create experiment",
      save: async (src) => {
        const created = await call("POST", "/experiments", { source: src });
        toast(`Created ${created.name}.`, "good");
        ctx.navigate(`#/experiments/${created.id}`);
        return created;
      },
    }));
}

/** renameExperiment sets metadata.name of the Experiment document in a YAML stream. */
export function renameExperiment(source, name) {
  const docs = source.split(/^(?=---\s*$)/m);
  for (let i = 0; i < docs.length; i++) {
    if (!/^kind:\s*Experiment\s*$/m.test(docs[i])) continue;
    const block = /^(metadata:[ \t]*\n(?:[ \t]+.*\n|[ \t]*\n)*?[ \t]+name:[ \t]*)(["']?)[^\s"'#]+\2/m;
    const flow = /^(metadata:[ \t]*\{[^}]*?\bname:[ \t]*)(["']?)[^,}\s"']+\2/m;
    if (block.test(docs[i])) docs[i] = docs[i].replace(block, `$1${name}`);
    else if (flow.test(docs[i])) docs[i] = docs[i].replace(flow, `$1${name}`);
    break;
  }
  return docs.join("");
}

// ---- the editor form --------------------------------------------------------

/**
 * experimentEditor is the shared editor form for an experiment stream. A
 * save is refused in the page while the last check found errors; save
 * (source) stores it and may throw an ApiError whose body lists problems.
 */
function experimentEditor(ctx, { source, save, saveLabel, note }) {
  return editorForm(ctx, {
    source, saveLabel, note,
    label: "Experiment YAML",
    help: "Checked as you type against the same rules the server applies on save. Tab indents; press Esc then Tab to leave the editor.",
    withDocument: true,
    submit: async (f) => {
      try {
        const ps = await f.validate();
        const errors = (ps || []).filter((p) => p.severity === "error");
        if (errors.length) {
          const first = errors.find((p) => p.line);
          f.saveError(`Not saved: fix the ${errors.length === 1 ? "error" : `${errors.length} errors`} first${first ? ` (the first is on line ${first.line})` : ""}.`);
          if (first) f.editor.focusLine(first.line);
          return;
        }
        const src = f.editor.value;
        await save(src);
        f.markSaved(src);
        if (ctx.live()) f.setStatus("valid", "Saved");
      } catch (err) {
        if (err instanceof ApiError && err.body && err.body.problems) {
          f.show([...err.body.problems, ...(err.body.warnings || [])], f.editor.value);
        } else if (err instanceof ApiError && err.field) {
          const line = fieldLine(f.editor.value, err.field);
          if (line) f.show([{ severity: "error", path: err.field, line, message: err.message }], null);
        }
        f.saveError(`Not saved: ${err.message}`);
      }
    },
  }).form;
}

/** fieldLine finds the line of a top-level field such as metadata.name. */
function fieldLine(src, field) {
  const last = field.split(".").pop();
  const lines = src.split("\n");
  const i = lines.findIndex((l) => new RegExp(`^\\s*-?\\s*${last.replace(/[^\w]/g, "")}:`).test(l));
  return i >= 0 ? i + 1 : 0;
}
