// Small DOM helpers, formatting, badges, the confirm dialog and toasts.

import { ACTIVE, VERDICTS, VERDICT_LABELS } from "./status.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function build(e, attrs, kids) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.setAttribute("class", v);
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k === "value" && "value" in e) e.value = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  append(e, kids);
  return e;
}

function append(e, kids) {
  for (const k of kids) {
    if (k === undefined || k === null || k === false) continue;
    if (Array.isArray(k)) append(e, k);
    else e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}

/** el("a", {href: "#/x", class: "btn"}, "text", child…) builds an HTML element. */
export const el = (tag, attrs, ...kids) => build(document.createElement(tag), attrs, kids);

/** svg("rect", {x: 1}) builds an SVG element. */
export const svg = (tag, attrs, ...kids) => build(document.createElementNS(SVG_NS, tag), attrs, kids);

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// ---- formatting -------------------------------------------------------------

export function fmtNum(n, digits = 0) {
  if (n === undefined || n === null || Number.isNaN(n)) return "—";
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function fmtMs(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return "—";
  const a = Math.abs(ms);
  if (a === 0) return "0 ms";
  if (a >= 10000) return (ms / 1000).toFixed(1) + " s";
  if (a >= 1000) return (ms / 1000).toFixed(2) + " s";
  if (a >= 100) return ms.toFixed(0) + " ms";
  if (a >= 10) return ms.toFixed(1) + " ms";
  if (a >= 1) return ms.toFixed(2) + " ms";
  return ms.toFixed(3) + " ms";
}

export function fmtPct(ratio, digits = 1) {
  if (ratio === undefined || ratio === null || Number.isNaN(ratio)) return "—";
  return (ratio * 100).toFixed(digits) + " %";
}

export function fmtSigned(n, fmt = (x) => fmtNum(x, 3)) {
  if (n === undefined || n === null || Number.isNaN(n)) return "—";
  if (n === 0) return "±0";
  return (n > 0 ? "+" : "−") + fmt(Math.abs(n));
}

export function fmtDuration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return "—";
  if (ms < 1000) return Math.round(ms) + " ms";
  const s = ms / 1000;
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + " s";
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  const time = d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return sameDay ? time : d.toLocaleDateString("en-CA") + " " + time;
}

export function fmtAgo(iso) {
  if (!iso) return "";
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (s < 45) return "just now";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

/** fmtUntil says how far ahead iso is: "in 5 min", "in 3 h", "in 2 d". */
export function fmtUntil(iso) {
  if (!iso) return "";
  const s = (new Date(iso).getTime() - Date.now()) / 1000;
  if (s < 0) return fmtAgo(iso);
  if (s < 45) return "in a few seconds";
  if (s < 3600) return "in " + Math.round(s / 60) + " min";
  if (s < 86400) return "in " + Math.round(s / 3600) + " h";
  return "in " + Math.round(s / 86400) + " d";
}

export function runDurationMs(run) {
  if (!run.startedAt) return undefined;
  const end = run.endedAt ? new Date(run.endedAt) : new Date();
  return end - new Date(run.startedAt);
}

// ---- badges -----------------------------------------------------------------

export const isActive = (status) => ACTIVE.has(status);

export function statusBadge(status) {
  return el("span", { class: `badge status-${status}` }, status === "running" ? el("span", { class: "pulse", "aria-hidden": "true" }) : null, status);
}

export function verdictBadge(verdict) {
  const v = VERDICTS.has(verdict) ? verdict : "none";
  return el("span", { class: `verdict verdict-${v}`, title: v === "inconclusive" ? "No check failed, but some could not be graded" : null }, VERDICT_LABELS[v]);
}

/** codeClass maps an HTTP status code to its class for colours. */
export function codeClass(code) {
  const c = Number(code);
  if (c >= 200 && c < 300) return "c2xx";
  if (c >= 300 && c < 400) return "c3xx";
  if (c >= 400 && c < 500) return "c4xx";
  if (c >= 500 && c < 600) return "c5xx";
  return "cother";
}

// ---- feedback ---------------------------------------------------------------

/** errorPanel shows a failed load with what went wrong and a retry. */
export function errorPanel(err, retry) {
  const status = err && err.status ? ` (HTTP ${err.status})` : "";
  return el("div", { class: "callout callout-bad error-panel", role: "alert" },
    el("strong", {}, "Something went wrong" + status + ". "),
    el("span", { class: "error-message" }, (err && err.message) || String(err)),
    retry ? el("div", { class: "callout-actions" }, el("button", { type: "button", class: "btn", onclick: retry }, "Try again")) : null);
}

let toastTimer = 0;
/** toast shows a short message at the bottom of the screen. */
export function toast(message, kind = "info") {
  const box = $("#toast");
  box.className = `toast toast-${kind}`;
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, kind === "bad" ? 8000 : 4000);
}

/**
 * confirmDialog asks before a destructive action, in the page (a modal
 * <dialog>), and resolves to true when the user confirms.
 */
export function confirmDialog({ title, message, confirmLabel = "Confirm", danger = true }) {
  const dlg = $("#confirm-dialog");
  $("#confirm-title", dlg).textContent = title;
  $("#confirm-message", dlg).textContent = message;
  const ok = $("#confirm-ok", dlg);
  ok.textContent = confirmLabel;
  ok.className = danger ? "btn btn-danger" : "btn btn-primary";
  const opener = document.activeElement;
  const form = $("form", dlg);
  // The answer is taken from the button (or Esc) at once, not from the
  // dialog's close event: that event is queued, and a late one would
  // answer the next question asked with the same dialog.
  return new Promise((resolve) => {
    let settled = false;
    const done = (value) => {
      if (settled) return;
      settled = true;
      form.removeEventListener("submit", onSubmit);
      dlg.removeEventListener("cancel", onCancel);
      dlg.removeEventListener("close", onClose);
      if (dlg.open) dlg.close();
      if (opener && opener.isConnected) opener.focus();
      resolve(value);
    };
    const onSubmit = (ev) => { ev.preventDefault(); done(!!ev.submitter && ev.submitter.value === "ok"); };
    const onCancel = (ev) => { ev.preventDefault(); done(false); };
    const onClose = () => { if (!dlg.open) done(false); };
    form.addEventListener("submit", onSubmit);
    dlg.addEventListener("cancel", onCancel);
    dlg.addEventListener("close", onClose);
    dlg.showModal();
    $("#confirm-cancel", dlg).focus();
  });
}

/** icon returns one of a few inline SVG icons. */
export function icon(name) {
  const paths = {
    play: "M5 3.5v9l8-4.5z",
    edit: "M3 11.5V13h1.5l7-7L10 4.5l-7 7zM11 3.5l1.5 1.5 1-1a.7.7 0 0 0 0-1l-.5-.5a.7.7 0 0 0-1 0z",
    copy: "M5 2.5h6.5a1 1 0 0 1 1 1V11M3.5 5h6a1 1 0 0 1 1 1v7a1 1 0 0 1-1 1h-6a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1z",
    trash: "M3 4.5h10M6.5 4.5V3h3v1.5M4.5 4.5l.6 8.5a1 1 0 0 0 1 .9h3.8a1 1 0 0 0 1-.9l.6-8.5",
    stop: "M4.5 4.5h7v7h-7z",
    download: "M8 2.5v7.5M5 7l3 3 3-3M3 12.5h10",
    plus: "M8 3v10M3 8h10",
    compare: "M5 3v10M11 3v10M2.5 6h5M8.5 10h5",
    replay: "M3.5 8a4.5 4.5 0 1 0 1.3-3.2M3.5 2.5v2.8h2.8",
  };
  const filled = name === "play" || name === "stop";
  return svg("svg", { class: "icon", viewBox: "0 0 16 16", width: 16, height: 16, "aria-hidden": "true", focusable: "false" },
    svg("path", { d: paths[name], fill: filled ? "currentColor" : "none", stroke: filled ? "none" : "currentColor", "stroke-width": 1.5, "stroke-linecap": "round", "stroke-linejoin": "round" }));
}
