// The safety lever's page (#/safety): its state, and a form to engage it
// (a reason is required) or release it, each confirmed in the page first.

import { call, ApiError } from "../api.js";
import { el, $, fmtTime, fmtAgo, confirmDialog, toast } from "../dom.js";
import { refreshLever, setLever, onLeverChange, leverSummary } from "../lever.js";
import { pageHeader, card } from "./common.js";

export async function safetyPage(ctx) {
  ctx.setTitle("Safety lever");
  const s = await refreshLever();
  if (!s) throw new ApiError(0, "The safety lever's state could not be read. Is `faultline serve` still running?");
  const body = el("div", { class: "stack", id: "safety-body" });
  ctx.page.replaceChildren(
    pageHeader({
      title: "Safety lever",
      sub: "One switch for the whole server: engaging it halts every queued and running run and game day within a second, and refuses new runs, game days and schedule fires until it is released.",
    }),
    body);
  const render = (st) => {
    if (!ctx.live()) return;
    const hadFocus = document.activeElement && body.contains(document.activeElement);
    body.replaceChildren(stateCard(st), st.engaged ? releaseForm(ctx, st) : engageForm(ctx));
    if (hadFocus) $("#lever-state-title", body)?.focus();
  };
  render(s);
  const off = onLeverChange(render);
  ctx.signal.addEventListener("abort", off);
}

function stateCard(s) {
  const engaged = !!s.engaged;
  return el("section", { class: `lever-state ${engaged ? "lever-on" : "lever-off"}`, id: "lever-state", "aria-labelledby": "lever-state-title" },
    el("div", { class: "lever-state-main" },
      el("span", { class: `lever-switch ${engaged ? "on" : "off"}`, "aria-hidden": "true" }, el("span", { class: "knob" })),
      el("div", {},
        el("h2", { id: "lever-state-title", tabindex: "-1" }, engaged ? "Engaged" : "Released"),
        el("p", { class: "muted", id: "lever-state-text" }, engaged
          ? "Nothing can start. Release the lever to allow runs again."
          : "Runs, game days and schedules may start."))),
    s.since || s.reason || s.by ? el("dl", { class: "facts lever-facts" },
      s.reason ? el("div", {}, el("dt", {}, engaged ? "Reason" : "Note"), el("dd", { id: "lever-reason-shown" }, s.reason)) : null,
      s.since ? el("div", {}, el("dt", {}, engaged ? "Engaged" : "Released"), el("dd", { title: new Date(s.since).toString() }, `${fmtTime(s.since)} (${fmtAgo(s.since)})`)) : null,
      s.by ? el("div", {}, el("dt", {}, "By"), el("dd", { id: "lever-by-shown" }, s.by)) : null) : null);
}

// field builds a labelled text input with a place for its error.
function field(id, label, { required = false, hint = "", placeholder = "" } = {}) {
  const input = el("input", { type: "text", id, name: id, autocomplete: "off", required: required || null, placeholder, "aria-describedby": `${id}-hint ${id}-error`, maxlength: 500 });
  const error = el("p", { id: `${id}-error`, class: "field-error", role: "alert", hidden: true });
  return {
    input,
    error,
    root: el("div", { class: "form-field" },
      el("label", { for: id }, label, required ? el("span", { class: "req" }, " (required)") : el("span", { class: "muted" }, " (optional)")),
      input,
      hint ? el("p", { id: `${id}-hint`, class: "muted small field-hint" }, hint) : null,
      error),
    fail(msg) { error.textContent = msg; error.hidden = !msg; input.setAttribute("aria-invalid", msg ? "true" : "false"); if (msg) input.focus(); },
  };
}

function engageForm(ctx) {
  const reason = field("lever-reason", "Reason", { required: true, hint: "Shown on every page and in every refusal, e.g. \u201cincident 4711: checkout is down\u201d." });
  const by = field("lever-by", "Your name", { hint: "Recorded beside the reason." });
  const submit = el("button", { type: "submit", class: "btn btn-danger", id: "lever-engage" }, "Engage the lever");
  const form = el("form", {
    class: "lever-form", id: "lever-form", novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      reason.fail("");
      const text = reason.input.value.trim();
      if (!text) {
        reason.fail("A reason is required: say why everything must stop.");
        return;
      }
      const ok = await confirmDialog({
        title: "Engage the safety lever?",
        message: `Every queued and running run and game day stops now, and nothing starts until the lever is released. Reason: \u201c${text}\u201d.`,
        confirmLabel: "Engage the lever",
      });
      if (!ok) return;
      await move(ctx, { engaged: true, reason: text, by: by.input.value.trim() }, { reason, by }, submit);
    },
  }, reason.root, by.root, el("div", { class: "form-actions" }, submit));
  return card("Engage the lever", form);
}

function releaseForm(ctx, s) {
  const note = field("lever-release-reason", "Note", { hint: "Why it is safe again; kept with the release." });
  const by = field("lever-release-by", "Your name");
  const submit = el("button", { type: "submit", class: "btn btn-primary", id: "lever-release" }, "Release the lever");
  const form = el("form", {
    class: "lever-form", id: "lever-form", novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      const ok = await confirmDialog({
        title: "Release the safety lever?",
        message: `Runs, game days and schedule fires may start again. It was engaged ${leverSummary(s)} because: \u201c${s.reason}\u201d.`,
        confirmLabel: "Release the lever",
        danger: false,
      });
      if (!ok) return;
      await move(ctx, { engaged: false, reason: note.input.value.trim(), by: by.input.value.trim() }, { reason: note, by }, submit);
    },
  }, note.root, by.root, el("div", { class: "form-actions" }, submit));
  return card("Release the lever", form);
}

async function move(ctx, body, fields, submit) {
  submit.disabled = true;
  try {
    const st = await call("POST", "/safety/lever", body);
    toast(st.engaged ? "The safety lever is engaged: everything is stopping." : "The safety lever is released.", st.engaged ? "bad" : "good");
    setLever(st);
  } catch (err) {
    const f = err instanceof ApiError && fields[err.field];
    if (f) f.fail(err.message); else toast(`The lever did not move: ${err.message}`, "bad");
    if (ctx.live()) submit.disabled = false;
  }
}
