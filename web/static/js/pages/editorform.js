// The editor form the experiment and game-day pages share: the YAML editor
// in a form, checked as you type (debounced, POST /validate) with every
// problem marked at its line and listed as a button to it. Each page says
// how a save goes: what it refuses, how it reports a refusal.

import { call } from "../api.js";
import { el } from "../dom.js";
import { createEditor } from "../editor.js";
import { uid } from "./common.js";

const plural = (n, word) => `${n} ${word}${n > 1 ? "s" : ""}`;

/**
 * editorForm builds the form and returns a handle for the page's submit:
 * {form, editor, validate, show, setStatus, saveError, markSaved}.
 *
 * Options: source, the text to start with; label, the document's name
 * ("Experiment YAML"); help, the note under the editor; saveLabel; note,
 * shown beside the save button; withDocument, to name each listed
 * problem's document (a stream holds several); place(problems, src), to
 * give problems without a line the line of their field; submit(handle),
 * the save itself, run with the save button disabled.
 */
export function editorForm(ctx, { source, label, help, saveLabel = "Save", note = "", withDocument = false, place = (ps) => ps, submit }) {
  const helpId = uid("editor-help");
  const status = el("span", { id: "validation-status", class: "validation", "aria-live": "polite", dataset: { state: "idle" } }, "");
  const saveBtn = el("button", { type: "submit", class: "btn btn-primary", id: "save" }, saveLabel);
  const saveMsg = el("p", { id: "save-message", class: "field-error", role: "alert", hidden: true });
  const problemList = el("ul", { id: "problems", class: "problems", "aria-label": "Problems" });
  let saved = source;
  let problems = [];
  let checked = null; // the source the problems belong to
  let seq = 0;
  let timer = 0;

  const editor = createEditor({ value: source, label, describedBy: `${helpId} validation-status`, onInput: () => schedule() });

  function setStatus(state, text) {
    status.dataset.state = state;
    status.className = `validation validation-${state}`;
    status.textContent = text;
  }

  function render() {
    editor.setProblems(problems);
    const errors = problems.filter((p) => p.severity === "error").length;
    const warnings = problems.length - errors;
    if (!errors && !warnings) setStatus("valid", "No problems");
    else if (!errors) setStatus("valid", `Valid · ${plural(warnings, "warning")}`);
    else setStatus("invalid", `${plural(errors, "error")}${warnings ? ` · ${plural(warnings, "warning")}` : ""}`);
    problemList.replaceChildren(...problems.map((p) => el("li", { class: `problem problem-${p.severity}`, dataset: { path: p.path || "" } },
      el("button", { type: "button", class: "problem-btn", onclick: () => editor.focusLine(p.line || 1), disabled: !p.line },
        el("span", { class: `sev sev-${p.severity}` }, p.severity),
        el("span", { class: "problem-where" }, p.line ? `line ${p.line}` : "document"),
        el("span", { class: "problem-text" }, withDocument && p.document ? el("span", { class: "muted" }, `${p.document} · `) : null,
          p.path ? el("code", {}, p.path) : null, p.path ? ": " : "", p.message)))));
  }

  // validate checks the editor's text; it returns its problems, or null
  // when it could not check (or a newer check overtook it).
  async function validate() {
    clearTimeout(timer);
    const src = editor.value;
    if (checked === src) return problems;
    const mine = ++seq;
    setStatus("checking", "Checking…");
    try {
      const res = await call("POST", "/validate", { source: src }, { signal: ctx.signal });
      if (mine !== seq) return null;
      problems = place(res.problems || [], src);
      checked = src;
      render();
      return problems;
    } catch (err) {
      if (err.name === "AbortError" || mine !== seq) return null;
      setStatus("unknown", `Could not check: ${err.message}`);
      return null;
    }
  }

  function schedule() {
    saveMsg.hidden = true;
    clearTimeout(timer);
    setStatus("pending", editor.value === saved ? "No changes" : "Edited");
    timer = setTimeout(() => { validate(); }, 350);
  }

  const handle = {
    editor,
    validate,
    setStatus,
    /** show lists ps as the problems of text src (null: of no text, so the next check runs). */
    show(ps, src) { problems = ps; checked = src; render(); },
    /** saveError says why the document was not saved. */
    saveError(text) { saveMsg.textContent = text; saveMsg.hidden = false; },
    /** markSaved records src as stored: leaving no longer asks. */
    markSaved(src) { saved = src; },
  };

  async function onSubmit(ev) {
    ev.preventDefault();
    saveMsg.hidden = true;
    saveBtn.disabled = true;
    try {
      await submit(handle);
    } finally {
      saveBtn.disabled = false;
    }
  }

  handle.form = el("form", { class: "editor-form", id: "editor-form", novalidate: true, onsubmit: onSubmit },
    el("div", { class: "editor-toolbar" },
      el("label", { for: "yaml", class: "strong" }, label),
      status,
      el("span", { class: "spacer" }),
      note ? el("span", { class: "muted small" }, note) : null,
      saveBtn),
    editor.root,
    el("p", { id: helpId, class: "muted small editor-help" }, help),
    saveMsg,
    problemList);
  validate();
  ctx.guardLeave(() => editor.value !== saved);
  // Ctrl/Cmd+S saves.
  editor.textarea.addEventListener("keydown", (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "s") { ev.preventDefault(); handle.form.requestSubmit(); }
  });
  return handle;
}
