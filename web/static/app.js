"use strict";
// Faultline dashboard: lists experiments and runs, starts runs, and follows
// a run live through the API's server-sent events.
(() => {
  const api = "/api/v1";
  let token = sessionStorage.getItem("faultline-token") || "";

  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  };
  const headers = () => (token ? { Authorization: "Bearer " + token } : {});

  function showError(msg) {
    const p = $("#error");
    p.textContent = msg;
    p.hidden = !msg;
  }

  async function call(method, path, body) {
    const res = await fetch(api + path, { method, headers: { ...headers(), "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
    if (res.status === 401) {
      $("#token-btn").hidden = false;
      throw new Error("The API needs a token: use \u201cSet API token\u201d.");
    }
    const data = res.status === 204 ? null : await res.json();
    if (!res.ok) throw new Error((data && data.error && data.error.message) || res.statusText);
    return data;
  }

  async function loadExperiments() {
    const list = await call("GET", "/experiments?limit=500");
    const body = $("#experiments tbody");
    body.replaceChildren();
    $("#exp-empty").hidden = list.items.length > 0;
    for (const e of list.items) {
      const run = el("button", { type: "button", onclick: () => startRun(e.id).catch((err) => showError(err.message)) }, "Run now");
      body.append(el("tr", {}, el("td", {}, e.name), el("td", {}, e.description), el("td", {}, "v" + e.version), el("td", {}, run)));
    }
  }

  async function loadRuns() {
    const list = await call("GET", "/runs?limit=50");
    const body = $("#runs tbody");
    body.replaceChildren();
    for (const r of list.items) {
      const row = el("tr", { class: "clickable", tabindex: "0" },
        el("td", {}, r.id), el("td", {}, r.experiment + " v" + r.experimentVersion),
        el("td", { class: "status-" + r.status }, r.status), el("td", { class: "verdict-" + (r.verdict || "none") }, r.verdict || "\u2014"),
        el("td", {}, r.startedAt ? new Date(r.startedAt).toLocaleString() : "queued"));
      const open = () => showRun(r.id).catch((err) => showError(err.message));
      row.addEventListener("click", open);
      row.addEventListener("keydown", (ev) => { if (ev.key === "Enter") open(); });
      body.append(row);
    }
  }

  async function startRun(id) {
    showError("");
    const run = await call("POST", "/experiments/" + id + "/runs", {});
    await loadRuns();
    await showRun(run.id);
  }

  function renderProgress(p) {
    const frac = p.plannedRequests ? p.requests / p.plannedRequests : p.plannedMs ? p.elapsedMs / p.plannedMs : 0;
    $("#run-progress progress").value = Math.min(1, frac);
    $("#run-progress-text").textContent = `${p.status}: ${p.requests} requests, ${p.qps.toFixed(0)} qps, p50 ${p.p50Ms.toFixed(1)} ms, p99 ${p.p99Ms.toFixed(1)} ms`;
  }

  function renderReport(run) {
    const box = $("#run-summary");
    box.replaceChildren();
    const r = run.report;
    if (!r) {
      box.append(el("p", {}, `Status ${run.status}${run.reason ? ": " + run.reason : ""}`));
      return;
    }
    box.append(el("p", {}, el("span", { class: "verdict-" + r.verdict }, "Verdict " + r.verdict), ` \u2014 ${r.requests} requests at ${r.qps.toFixed(1)} qps, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms`));
    const bars = el("div", { class: "bars", role: "img", "aria-label": "status code distribution" });
    for (const [code, n] of Object.entries(r.codes).sort()) {
      const pct = r.requests ? (100 * n) / r.requests : 0;
      bars.append(el("span", {}, code), el("div", { class: "bar" + (code >= "500" ? " c5xx" : ""), style: `width:${pct}%` }), el("span", {}, `${n} (${pct.toFixed(1)} %)`));
    }
    box.append(el("h3", {}, "Status codes"), bars);
    const checks = el("ul");
    for (const c of r.hypothesis || []) checks.append(el("li", { class: c.pass ? "verdict-pass" : "verdict-fail" }, `${c.pass ? "PASS" : "FAIL"} ${c.check} (observed ${c.observed})`));
    if (r.hypothesis && r.hypothesis.length) box.append(el("h3", {}, "Hypothesis"), checks);
  }

  let stream = null;
  async function showRun(id) {
    if (stream) stream.abort();
    $("#run-detail").hidden = false;
    $("#run-id").textContent = "#" + id;
    $("#run-summary").replaceChildren();
    stream = new AbortController();
    const res = await fetch(`${api}/runs/${id}/events`, { headers: headers(), signal: stream.signal });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const chunk = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = /^event:(.*)$/m.exec(chunk);
        const data = /^data:(.*)$/m.exec(chunk);
        if (!ev || !data) continue;
        const payload = JSON.parse(data[1]);
        if (ev[1].trim() === "progress") renderProgress(payload);
        if (ev[1].trim() === "end") {
          renderProgress({ status: payload.status, requests: 0, qps: 0, p50Ms: 0, p99Ms: 0, plannedRequests: 1, ...{} });
          $("#run-progress-text").textContent = payload.status;
          renderReport(await call("GET", "/runs/" + id));
          loadRuns().catch((err) => showError(err.message));
        }
      }
    }
  }

  $("#token-btn").addEventListener("click", () => {
    const t = prompt("API token (kept for this browser session only)");
    if (t !== null) {
      token = t.trim();
      sessionStorage.setItem("faultline-token", token);
      refresh();
    }
  });

  function refresh() {
    showError("");
    Promise.all([loadExperiments(), loadRuns()]).catch((err) => showError(err.message));
  }
  refresh();
})();
