// The editor form the experiment, game-day and environment pages share: the YAML editor
// in a form, checked as you type (debounced, POST /validate) with every
// problem marked at its line and listed as a button to it. Each page says
// how a save goes: what it refuses, how it reports a refusal.

import { call, ApiError } from "../api.js";
import { el } from "../dom.js";
import { createEditor } from "../editor.js";
import { yamlPathLine } from "../yamlpath.js";
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

/**
 * savedDocumentEditor is the editor form of a document the server checks
 * as a whole (a game day, an environment): checked as you type and again
 * before saving, a document with errors is not sent, and the server's
 * refusal is shown at its line (a field-only error at its field's line).
 * save(src) stores the text and returns the stored document (its warnings
 * are shown). It returns the editor form's handle.
 */
export function savedDocumentEditor(ctx, { source, save, saveLabel, note, label, help }) {
  // placed gives each problem a line: the server's, or its field's.
  const placed = (ps, src) => ps.map((p) => (p.line || !p.path ? p : { ...p, line: yamlPathLine(src, p.path) }));
  return editorForm(ctx, {
    source, saveLabel, note, label, help,
    place: placed,
    submit: async (f) => {
      try {
        const errors = ((await f.validate()) || []).filter((p) => p.severity === "error");
        if (!ctx.live()) return;
        if (errors.length) {
          const first = errors.find((p) => p.line) || errors[0];
          const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
          f.saveError(`Not saved: ${first.line ? `line ${first.line}: ` : ""}${first.path ? `${first.path}: ` : ""}${first.message}${more}`);
          if (first.line) f.editor.focusLine(first.line);
          return;
        }
        f.setStatus("checking", "Saving…");
        const src = f.editor.value;
        const out = await save(src);
        f.markSaved(src);
        const warnings = placed((out && out.warnings) || [], src);
        f.show(warnings, src);
        if (ctx.live()) f.setStatus("valid", warnings.length ? `Saved · ${plural(warnings.length, "warning")}` : "Saved");
      } catch (err) {
        if (!ctx.live()) return;
        const src = f.editor.value;
        let problems = [];
        if (err instanceof ApiError && err.body && err.body.problems) {
          problems = placed([...err.body.problems, ...(err.body.warnings || [])], src);
        } else if (err instanceof ApiError && err.field) {
          problems = placed([{ severity: "error", path: err.field, message: err.message.replace(`${err.field}: `, "") }], src);
        }
        f.show(problems, null); // a refusal such as a name clash is not the text's own problem
        if (!problems.length) f.setStatus("unknown", "Not saved");
        const field = err instanceof ApiError && err.field && !err.message.includes(err.field) ? `${err.field}: ` : "";
        f.saveError(`Not saved: ${field}${err.message}`);
        const first = problems.find((p) => p.severity === "error" && p.line);
        if (first) f.editor.focusLine(first.line);
      }
    },
  });
}
