// The YAML editor: a plain <textarea> with a line-number gutter, and each
// problem shown at its line — a marker in the gutter, a tinted line, and the
// message written after the line's end. The textarea grows to its content
// and one container scrolls, so the gutter and markers never drift.

import { el } from "./dom.js";

const LINE_H = 20; // px, matches .editor-text line-height in app.css
const PAD_Y = 10; // px, matches .editor-text padding-top

/**
 * createEditor returns {root, textarea, value, setProblems, focusLine}.
 * onInput(value) runs after every edit.
 */
export function createEditor({ value = "", label = "Experiment YAML", describedBy = "", onInput = () => {} } = {}) {
  const gutter = el("div", { class: "editor-gutter", "aria-hidden": "true" });
  const marks = el("div", { class: "editor-marks", "aria-hidden": "true" });
  const textarea = el("textarea", {
    id: "yaml", class: "editor-text", spellcheck: "false", wrap: "off", autocomplete: "off", autocapitalize: "off",
    "aria-label": label, "aria-describedby": describedBy || null, "aria-multiline": "true",
  });
  const scroller = el("div", { class: "editor-scroll" }, gutter, el("div", { class: "editor-body" }, marks, textarea));
  const root = el("div", { class: "editor" }, scroller);
  let problems = [];
  let lineCount = 0;
  let escaped = false;

  function lines() { return textarea.value.split("\n"); }

  function layout() {
    const ls = lines();
    if (ls.length !== lineCount) {
      lineCount = ls.length;
      const frag = document.createDocumentFragment();
      for (let i = 1; i <= lineCount; i++) frag.append(el("div", { class: "ln" }, String(i)));
      gutter.replaceChildren(frag);
    }
    const longest = ls.reduce((m, l) => Math.max(m, l.length), 0);
    textarea.style.height = `${lineCount * LINE_H + 2 * PAD_Y}px`;
    textarea.style.width = `max(100%, calc(${longest + 6}ch + 24px))`;
    paint(ls);
  }

  // paint marks the lines that have problems.
  function paint(ls = lines()) {
    const byLine = new Map();
    for (const p of problems) {
      if (!p.line) continue;
      const line = Math.min(p.line, ls.length);
      if (!byLine.has(line)) byLine.set(line, []);
      byLine.get(line).push(p);
    }
    const nums = gutter.children;
    for (let i = 0; i < nums.length; i++) {
      const ps = byLine.get(i + 1);
      const sev = ps ? (ps.some((p) => p.severity === "error") ? "error" : "warning") : "";
      nums[i].className = "ln" + (sev ? " " + sev : "");
      if (ps) nums[i].title = ps.map((p) => p.message).join("\n"); else nums[i].removeAttribute("title");
    }
    const frag = document.createDocumentFragment();
    for (const [line, ps] of byLine) {
      const sev = ps.some((p) => p.severity === "error") ? "error" : "warning";
      const top = PAD_Y + (line - 1) * LINE_H;
      const first = ps.find((p) => p.severity === sev);
      const text = (first.path ? first.path + ": " : "") + first.message + (ps.length > 1 ? `  (+${ps.length - 1} more)` : "");
      frag.append(
        el("div", { class: `mark-line ${sev}`, style: `top:${top}px` }),
        el("div", { class: `mark-msg ${sev}`, style: `top:${top}px; left: calc(${ls[line - 1].length + 3}ch + 12px)`, dataset: { line: String(line) } }, text));
    }
    marks.replaceChildren(frag);
  }

  textarea.addEventListener("input", () => {
    layout();
    onInput(textarea.value);
  });
  // Tab indents by two spaces; Esc then Tab leaves the editor, so the
  // keyboard is never trapped.
  textarea.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { escaped = true; return; }
    if (ev.key === "Tab" && !ev.shiftKey && !ev.ctrlKey && !ev.altKey && !ev.metaKey && !escaped) {
      ev.preventDefault();
      document.execCommand("insertText", false, "  ");
    }
    if (ev.key !== "Shift") escaped = false;
  });

  textarea.value = value;
  layout();

  return {
    root,
    textarea,
    get value() { return textarea.value; },
    set value(v) { textarea.value = v; layout(); },
    setProblems(ps) { problems = ps || []; paint(); },
    /** focusLine puts the caret at the start of line n and scrolls to it. */
    focusLine(n) {
      const ls = lines();
      const line = Math.max(1, Math.min(n, ls.length));
      let off = 0;
      for (let i = 0; i < line - 1; i++) off += ls[i].length + 1;
      textarea.focus({ preventScroll: true });
      textarea.setSelectionRange(off, off + ls[line - 1].length);
      scroller.scrollTop = Math.max(0, PAD_Y + (line - 1) * LINE_H - scroller.clientHeight / 3);
      scroller.scrollLeft = 0;
    },
  };
}
