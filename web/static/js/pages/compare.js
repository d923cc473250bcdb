// Two runs side by side (GET /runs/{a}/compare/{b}): codes, error ratio with
// a two-proportion z-test, latency percentiles with a Kolmogorov–Smirnov
// test on the histograms, and the proxy's counters, each with its delta.

import { get } from "../api.js";
import { el, fmtNum, fmtMs, fmtPct, fmtSigned, statusBadge, verdictBadge, icon } from "../dom.js";
import { pairBars } from "../charts.js";
import { pageHeader, card, table, num, emptyState } from "./common.js";
import { REPORTED } from "../status.js";

export async function comparePage(ctx, a, b) {
  ctx.setTitle(a && b ? `Compare #${a} and #${b}` : "Compare runs");
  const list = await get("/runs?limit=200", ctx);
  const runs = list.items.filter((r) => REPORTED.has(r.status));
  const preA = a || Number(ctx.query.get("a") || 0);
  // From a run's "Compare…": B defaults to the latest other run of its experiment.
  const base = runs.find((r) => r.id === preA);
  const preB = b || (base && !a ? (runs.find((r) => r.id !== preA && r.experimentId === base.experimentId) || {}).id || 0 : 0);
  // A is the first run of the address, the baseline; B is set against it.
  const header = pageHeader({
    crumbs: [["Runs", "#/runs"], [a && b ? `#${a} and #${b}` : "Compare"]],
    title: a && b ? `Run #${b} (B) against run #${a} (A)` : "Compare two runs",
    sub: a && b ? `A, run #${a}, is the baseline: each delta is B − A, what changed from run #${a} to run #${b}. Only a change significant at 95 % is coloured.`
      : "Pick two finished runs; their reports are compared with a significance test.",
  });
  const picker = pickerForm(ctx, runs, preA, preB);
  if (!(a && b)) {
    ctx.page.replaceChildren(header, runs.length >= 2 ? card("Runs to compare", picker) : emptyState("Not enough runs", "Two finished runs are needed to compare."));
    return;
  }
  const c = await get(`/runs/${a}/compare/${b}`, ctx);
  ctx.page.replaceChildren(header, picker, summary(c), errorRatio(c), latency(c), codes(c), counters(c));
}

function pickerForm(ctx, runs, a, b) {
  const option = (r, sel) => el("option", { value: String(r.id), selected: r.id === sel || null }, `#${r.id} · ${r.experiment} v${r.experimentVersion} · ${r.status}${r.verdict ? " · " + r.verdict : ""}`);
  const selA = el("select", { id: "compare-a", required: true }, el("option", { value: "" }, "Choose a run"), runs.map((r) => option(r, a)));
  const selB = el("select", { id: "compare-b", required: true }, el("option", { value: "" }, "Choose a run"), runs.map((r) => option(r, b)));
  const swap = el("button", { type: "button", class: "btn btn-ghost", "aria-label": "Swap A and B", title: "Swap A and B", onclick: () => { const t = selA.value; selA.value = selB.value; selB.value = t; } }, "⇄");
  return el("form", {
    class: "compare-picker", id: "compare-picker",
    onsubmit: (ev) => {
      ev.preventDefault();
      if (selA.value && selB.value) ctx.navigate(`#/compare/${selA.value}/${selB.value}`);
    },
  },
  el("div", { class: "field" }, el("label", { for: "compare-a" }, "Run A (baseline)"), selA),
  swap,
  el("div", { class: "field" }, el("label", { for: "compare-b" }, "Run B"), selB),
  el("button", { type: "submit", class: "btn btn-primary" }, icon("compare"), "Compare"));
}

// tone colours a delta only when the page marks it significant (up is bad
// for errors and latency): an uncoloured delta may be noise.
const tone = (d, significant, upIsBad = true) => (!significant || !d ? "" : (d > 0) === upIsBad ? "delta-bad" : "delta-good");

function sigBadge(significant, what) {
  return el("span", { class: `sig ${significant ? "sig-yes" : "sig-no"}` }, significant ? `Significant ${what}` : `No significant ${what}`);
}

function summary(c) {
  const rows = [
    ["Run", el("a", { href: `#/runs/${c.a.runId}` }, `#${c.a.runId}`), el("a", { href: `#/runs/${c.b.runId}` }, `#${c.b.runId}`)],
    ["Experiment", `${c.a.experiment} v${c.a.experimentVersion}`, `${c.b.experiment} v${c.b.experimentVersion}`],
    ["Status", statusBadge(c.a.status), statusBadge(c.b.status)],
    ["Verdict", verdictBadge(c.a.verdict), verdictBadge(c.b.verdict)],
    ["Requests", fmtNum(c.a.requests), fmtNum(c.b.requests)],
    ["Throughput", `${fmtNum(c.a.qps, 1)} qps`, `${fmtNum(c.b.qps, 1)} qps`],
    ["Seed", el("code", {}, String(c.a.seed)), el("code", {}, String(c.b.seed))],
  ];
  return card("Runs", table(["", "A", "B"], rows.map(([k, x, y]) => el("tr", {}, el("th", { scope: "row" }, k), el("td", {}, x), el("td", {}, y))),
    { id: "compare-summary", cls: "compact" }));
}

function errorRatio(c) {
  const e = c.errorRatio;
  const p = e.pValue < 0.0001 ? "p < 0.0001" : `p = ${fmtNum(e.pValue, 4)}`;
  return card("Error ratio", el("div", { class: "stat-compare", id: "compare-error-ratio" },
    el("div", { class: "stat-pair" },
      el("div", {}, el("div", { class: "muted small" }, "A"), el("div", { class: "big-number" }, fmtPct(e.a, 2))),
      el("div", { class: "arrow", "aria-hidden": "true" }, "→"),
      el("div", {}, el("div", { class: "muted small" }, "B"), el("div", { class: "big-number" }, fmtPct(e.b, 2))),
      el("div", {}, el("div", { class: "muted small" }, "Δ"), el("div", { class: `big-number ${tone(e.delta, e.significant)}` }, fmtSigned(e.delta * 100, (x) => fmtNum(x, 2)) + " pp"))),
    el("p", {}, sigBadge(e.significant, "change in error ratio"), el("span", { class: "muted" }, ` two-proportion z-test: z = ${fmtNum(e.z, 2)}, ${p}`))));
}

function latency(c) {
  const l = c.latency;
  const rows = l.percentiles.map((m) => el("tr", {},
    el("td", {}, m.name === "p999" ? "p99.9" : m.name), num(fmtMs(m.a)), num(fmtMs(m.b)),
    num(fmtSigned(m.delta, fmtMs), tone(m.delta, l.significant)), num(m.a ? fmtSigned(m.change * 100, (x) => fmtNum(x, 1)) + " %" : "—", tone(m.delta, l.significant))));
  const chartRows = l.percentiles.filter((m) => ["p50", "p90", "p99", "max"].includes(m.name)).map((m) => ({ name: m.name, a: m.a, b: m.b }));
  return card("Latency", el("div", { class: "grid-2 inner", id: "compare-latency" },
    el("div", {},
      table(["Percentile", ["A", "num"], ["B", "num"], ["Δ", "num"], ["Change", "num"]], rows, { cls: "compact", caption: "Latency percentiles" }),
      el("p", { id: "compare-ks" }, sigBadge(l.significant, "change in the latency distribution"),
        el("span", { class: "muted" }, ` Kolmogorov–Smirnov D = ${fmtNum(l.ks, 4)}, critical value ${fmtNum(l.ksCritical, 4)}`))),
    el("div", { class: "chart-box" }, pairBars(chartRows, { label: "Latency percentiles, A against B", format: fmtMs, aName: `A #${c.a.runId}`, bName: `B #${c.b.runId}` }))));
}

// codes lists each code's share in both runs. No test is made per code, so
// no delta here is coloured: the error ratio above says whether failures
// changed significantly.
function codes(c) {
  return card("Status codes", table(["Code", ["A", "num"], ["Share A", "num"], ["B", "num"], ["Share B", "num"], ["Δ share", "num"]],
    (c.codes || []).map((d) => el("tr", {}, el("td", {}, d.code), num(fmtNum(d.a)), num(fmtPct(d.ratioA)), num(fmtNum(d.b)), num(fmtPct(d.ratioB)),
      num(fmtSigned(d.delta * 100, (x) => fmtNum(x, 2)) + " pp"))),
    { id: "compare-codes", cls: "compact" }));
}

function counters(c) {
  return card("Proxy counters", table(["Counter", ["A", "num"], ["B", "num"], ["Δ", "num"], ["Change", "num"]],
    (c.counters || []).map((m) => el("tr", { class: !m.a && !m.b ? "row-muted" : "" }, el("td", {}, label(m.name)), num(fmtNum(m.a)), num(fmtNum(m.b)),
      num(fmtSigned(m.delta, (x) => fmtNum(x))), num(m.a ? fmtSigned(m.change * 100, (x) => fmtNum(x, 1)) + " %" : "—"))),
    { id: "compare-counters", cls: "compact" }));
}

const label = (name) => name.replace(/([A-Z])/g, " $1").toLowerCase();
