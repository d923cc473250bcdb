// Game days: the list, the editor, a game day's page (schedule with its
// calendar, runs, fires, Run now) and a game-day run's page, live over
// server-sent events and then final (verdict, steady state before and
// after, each step with its run, the timeline, webhooks, JUnit).

import { get, call, callYAML, stream, download, hasToken, apiPath, ApiError } from "../api.js";
import { el, $, fmtTime, fmtAgo, fmtDuration, statusBadge, verdictBadge, confirmDialog, toast, icon } from "../dom.js";
import { stepTimeline } from "../charts.js";
import { describeCron } from "../cron.js";
import { pageHeader, card, table, num, emptyState, deleteAsked } from "./common.js";
import { scheduleCard, scheduleCalendar, nextFireCell } from "./schedule.js";
import { savedDocumentEditor } from "./editorform.js";
import { startButton, setBusy, leverRefused } from "../lever.js";
import { ENDED } from "../status.js";

const runHref = (id) => `#/gameday-runs/${id}`;

// ---- #/gamedays ----------------------------------------------------------------

export async function gameDaysPage(ctx) {
  ctx.setTitle("Game days");
  const list = await get("/gamedays?limit=500", ctx);
  const rows = list.items.map((g) => gameDayRow(ctx, g, (tr) => { tr.remove(); if (!$("#gamedays-table tbody tr")) ctx.navigate("#/gamedays"); }));
  ctx.page.replaceChildren(
    pageHeader({
      title: "Game days",
      sub: "Ordered experiments framed by a steady-state check before the first step and after the last, run on demand or on a schedule.",
      actions: [el("a", { href: "#/gamedays/new", class: "btn btn-primary", id: "new-gameday" }, icon("plus"), "New game day")],
    }),
    rows.length ? el("div", { class: "card card-flush" }, table(
      ["Game day", "Schedule", "Next fire", "Last run", ["", "actions-col"]], rows, { id: "gamedays-table", cls: "gamedays", caption: "Game days" }))
      : emptyState("No game days yet", "A game day names stored experiments as its steps and its steady state.",
        el("a", { href: "#/gamedays/new", class: "btn btn-primary" }, "New game day")));
}

function gameDayRow(ctx, g, removed) {
  const last = g.lastRun;
  const tr = el("tr", { dataset: { id: String(g.id), name: g.name } },
    el("td", { class: "exp-cell" },
      el("a", { href: `#/gamedays/${g.id}`, class: "exp-name" }, g.name), el("span", { class: "version-tag", title: "version" }, `v${g.version}`),
      g.description ? el("div", { class: "exp-desc" }, g.description) : null),
    el("td", { class: "schedule-col" }, g.schedule
      ? [el("span", {}, describeCron(g.schedule.cron)), el("span", { class: "muted small block" }, `${g.schedule.timezone || "UTC"}${g.schedule.enabled ? "" : " · paused"}`)]
      : el("span", { class: "muted" }, "on demand")),
    el("td", { class: "next-col" }, nextFireCell(g.schedule)),
    el("td", { class: "last-run" }, last
      ? el("a", { href: runHref(last.id), class: "run-link" }, statusBadge(last.status), " ", last.verdict && last.verdict !== "none" ? verdictBadge(last.verdict) : null,
        el("span", { class: "muted small" }, ` #${last.id} · ${fmtAgo(last.createdAt)}`))
      : el("span", { class: "muted" }, "never run")),
    el("td", { class: "row-actions" },
      startButton(el("button", { type: "button", class: "btn btn-small btn-primary run-now", "aria-label": `Run ${g.name} now`, onclick: (ev) => runGameDay(ctx, g, ev.currentTarget, null) }, icon("play"), "Run")),
      el("a", { href: `#/gamedays/${g.id}/edit`, class: "icon-btn", title: "Edit", "aria-label": `Edit ${g.name}` }, icon("edit")),
      el("button", { type: "button", class: "icon-btn danger delete", title: "Delete", "aria-label": `Delete ${g.name}`, onclick: () => deleteGameDay(ctx, g, () => removed(tr)) }, icon("trash"))));
  return tr;
}

// refusalKind names why a 409 refused a game day: the lever, a blackout
// window, or a run already running.
function refusalKind(err) {
  const code = err.body && err.body.error && err.body.error.code;
  return ["lever", "blackout", "running"].includes(code) ? code : "other";
}

/**
 * runGameDay starts a game day and opens its run. A refusal is shown in
 * slot (with a way on: the lever's page, the run already running), or in
 * a toast without one.
 */
async function runGameDay(ctx, g, button, slot) {
  setBusy(button, true);
  if (slot) { slot.hidden = true; slot.replaceChildren(); }
  try {
    const run = await call("POST", `/gamedays/${g.id}/runs`);
    ctx.navigate(runHref(run.id));
  } catch (err) {
    if (!ctx.live()) return;
    leverRefused(err);
    setBusy(button, false);
    if (!slot) {
      toast(`Could not start ${g.name}: ${err.message}`, "bad");
      return;
    }
    const kind = err instanceof ApiError && err.status === 409 ? refusalKind(err) : "other";
    const running = /game-day run (\d+)/.exec(err.message || "");
    slot.dataset.kind = kind;
    slot.replaceChildren(
      el("strong", {}, kind === "lever" ? "Refused by the safety lever. " : kind === "blackout" ? "Refused: a blackout window holds. " : kind === "running" ? "Already running. " : "Not started. "),
      el("span", { class: "error-message" }, err.message),
      kind === "lever" ? el("div", { class: "callout-actions" }, el("a", { class: "btn btn-small", href: "#/safety" }, "Manage the lever")) : null,
      kind === "running" && running ? el("div", { class: "callout-actions" }, el("a", { class: "btn btn-small", href: runHref(running[1]), id: "gd-running-link" }, `Follow game-day run #${running[1]}`)) : null);
    slot.hidden = false;
  }
}

function deleteGameDay(ctx, g, removed) {
  return deleteAsked({
    name: g.name,
    path: `/gamedays/${g.id}`,
    message: "The game day and its versions are deleted; a run of it still running is stopped first. Its runs stay in the history. This cannot be undone.",
    confirmLabel: "Delete game day",
    removed,
  });
}

// ---- #/gamedays/{id} and #/gamedays/{id}/edit ----------------------------------

export async function gameDayPage(ctx, id, tab) {
  const g = await get(`/gamedays/${id}`, ctx);
  ctx.setTitle(tab === "definition" ? `${g.name} · definition` : g.name);
  const errorSlot = el("div", { class: "callout callout-bad gd-run-error", id: "gd-run-error", role: "alert", hidden: true });
  const runBtn = startButton(el("button", { type: "button", class: "btn btn-primary", id: "gd-run-now", onclick: (ev) => runGameDay(ctx, g, ev.currentTarget, errorSlot) }, icon("play"), "Run now"));
  ctx.page.replaceChildren(
    pageHeader({
      crumbs: [["Game days", "#/gamedays"], [g.name]],
      title: g.name,
      extra: el("span", { class: "version-tag big", id: "gd-version" }, `v${g.version}`),
      sub: [g.description || "", el("span", { class: "muted" }, ` — updated ${fmtAgo(g.updatedAt)}`)],
      actions: [runBtn,
        el("button", { type: "button", class: "btn btn-danger-ghost", id: "gd-delete", onclick: async () => { if (await deleteGameDay(ctx, g)) ctx.navigate("#/gamedays"); } }, icon("trash"), "Delete")],
    }),
    errorSlot,
    el("nav", { class: "tabs", "aria-label": "Game day sections" },
      el("a", { href: `#/gamedays/${id}`, "aria-current": tab === "overview" ? "page" : null, id: "tab-overview" }, "Overview"),
      el("a", { href: `#/gamedays/${id}/edit`, "aria-current": tab === "definition" ? "page" : null, id: "tab-definition" }, "Definition")));
  const body = el("div", { class: "tab-body stack" });
  ctx.page.append(body);
  if (tab === "definition") {
    body.append(gameDayEditor(ctx, {
      source: g.source,
      saveLabel: "Save new version",
      note: `Saving stores version ${g.version + 1}; runs keep the version they ran.`,
      save: async (source) => {
        const saved = await callYAML("PUT", `/gamedays/${id}`, source);
        savedToast(saved);
        $("#gd-version").textContent = `v${saved.version}`;
        return saved;
      },
    }).form);
    return;
  }
  const [runs, fires, calendar] = await Promise.all([
    get(`/gamedays/${id}/runs?limit=50`, ctx),
    g.schedule ? get(`/gamedays/${id}/fires?limit=20`, ctx) : null,
    g.schedule ? scheduleCalendar(`/gamedays/${id}/calendar`, ctx) : null,
  ]);
  if (g.warnings && g.warnings.length) body.append(warningsCallout(g.warnings));
  body.append(card("Runs", runs.items.length ? runsTable(runs) : emptyState("No runs yet", "\u201cRun now\u201d starts one; it is followed live."),
    { note: runs.total > runs.items.length ? `latest ${runs.items.length} of ${runs.total}` : `${runs.total} run${runs.total === 1 ? "" : "s"}` }));
  if (g.schedule) body.append(scheduleCard(g.schedule, fires, { what: "game day", runHref, runLabel: (rid) => `game-day run #${rid}`, calendar }));
  else body.append(card("Schedule", el("p", { class: "muted", id: "no-schedule" }, "Not scheduled: it runs when started. Add spec.schedule (cron, timezone, blackouts) in the definition to run it on a timetable.")));
}

function warningsCallout(ws) {
  return el("div", { class: "callout callout-warn", role: "note" }, el("strong", {}, ws.length === 1 ? "Warning" : `${ws.length} warnings`),
    el("ul", {}, ws.map((w) => el("li", {}, w.path ? el("code", {}, w.path) : null, w.path ? ": " : "", w.message))));
}

function savedToast(saved) {
  const n = (saved.warnings || []).length;
  toast(`Saved ${saved.name} as version ${saved.version}${n ? `, with ${n} warning${n > 1 ? "s" : ""}: ${saved.warnings[0].message}` : ""}.`, n ? "info" : "good");
}

const durationOf = (a, b) => (a && b ? new Date(b) - new Date(a) : undefined);

function runsTable(runs) {
  return table(["Run", "Trigger", "Status", "Verdict", "Started", ["Duration", "num"], "Reason"], runs.items.map((r) => el("tr", { dataset: { run: String(r.id), status: r.status } },
    el("td", {}, el("a", { href: runHref(r.id), class: "strong" }, `#${r.id}`), el("span", { class: "muted" }, ` v${r.gameDayVersion}`)),
    el("td", {}, r.trigger === "schedule" ? "schedule" : "by hand"),
    el("td", {}, statusBadge(r.status)),
    el("td", {}, r.verdict && r.verdict !== "none" ? verdictBadge(r.verdict) : el("span", { class: "muted" }, "—")),
    el("td", { title: new Date(r.createdAt).toString() }, fmtTime(r.createdAt), el("div", { class: "muted small" }, fmtAgo(r.createdAt))),
    num(r.endedAt ? fmtDuration(durationOf(r.createdAt, r.endedAt)) : "running"),
    el("td", { class: "fire-reason" }, r.reason || el("span", { class: "muted" }, "—")))), { id: "gd-runs-table", cls: "compact", caption: "Game-day runs" });
}

// ---- #/gamedays/new --------------------------------------------------------------

const TEMPLATE = `# A game day: a steady-state check, the steps in order, the steady-state
# check again. Steps and the steady state name stored experiments by
# their metadata.name.
apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata:
  name: my-gameday
  description: httpbin survives aborts and delays, and recovers
spec:
  # An experiment with a hypothesis and no fault: what "steady" means.
  steadyState: httpbin-steady-state
  onFailure: stop
  steps:
  - experiment: httpbin-abort
  - wait: 1s
  - parallel:
    - experiment: httpbin-delay
    - experiment: httpbin-abort
  - steadyState: {}
  schedule:
    cron: "0 */6 * * *"
    timezone: UTC
    enabled: false
    blackouts:
    - {days: [sat, sun], from: "00:00", to: "00:00", reason: "no game days at weekends"}
`;

export async function newGameDayPage(ctx) {
  ctx.setTitle("New game day");
  const exps = await get("/experiments?limit=500", ctx);
  const { form, editor } = gameDayEditor(ctx, {
    source: TEMPLATE,
    saveLabel: "Create game day",
    save: async (src) => {
      const created = await callYAML("POST", "/gamedays", src);
      savedToast(created);
      ctx.navigate(`#/gamedays/${created.id}`);
      return created;
    },
  });
  const insert = (name) => {
    const t = editor.textarea;
    t.focus();
    document.execCommand("insertText", false, name);
  };
  ctx.page.replaceChildren(
    pageHeader({ crumbs: [["Game days", "#/gamedays"], ["New game day"]], title: "New game day", sub: "Write the GameDay document. It is checked as you type, that every experiment it names is stored included; problems are shown at their lines, and a game day with errors is not saved." }),
    exps.items.length ? card("Stored experiments", el("div", {},
      el("p", { class: "muted small" }, "Steps and the steady state name these; choose one to insert its name at the cursor."),
      el("div", { class: "name-chips", id: "experiment-names" }, exps.items.map((e) => el("button", { type: "button", class: "chip", onclick: () => insert(e.name), title: e.description || e.name }, el("code", {}, e.name)))))) : null,
    form);
}

// ---- the editor form ------------------------------------------------------------

/**
 * gameDayEditor is the shared editor form for a GameDay, checked as you
 * type (POST /validate: the document, and the stored experiments it
 * names, as saving checks them) and on save. Each problem is shown at its
 * line, a field-only error at the line of its field. A document with
 * errors is not sent to be saved. It returns the editor form's handle.
 */
function gameDayEditor(ctx, { source, save, saveLabel, note }) {
  return savedDocumentEditor(ctx, {
    source, save, saveLabel, note,
    label: "Game day YAML",
    help: "Checked as you type against the same rules the server applies on save: the document, and that every experiment it names is stored. Tab indents; press Esc then Tab to leave the editor.",
  });
}

// ---- #/gameday-runs/{rid} --------------------------------------------------------

/**
 * applyStep records a step event in a report, as the server builds its
 * own: parent is the ID of the parallel group the step belongs to ("" for
 * the others), whose start event always comes first.
 */
function applyStep(rep, st, parent) {
  if (!st || !st.id) return;
  if (st.id === "steadyState.before") { rep.steadyStateBefore = st; return; }
  if (st.id === "steadyState.after") { rep.steadyStateAfter = st; return; }
  rep.steps = rep.steps || [];
  if (parent) {
    const group = rep.steps.find((g) => g && g.id === parent);
    if (!group) return; // its start was missed: the next state has it
    group.steps = group.steps || [];
    while (group.steps.length <= st.index) group.steps.push({});
    group.steps[st.index] = st;
    return;
  }
  while (rep.steps.length <= st.index) rep.steps.push({});
  const prev = rep.steps[st.index];
  rep.steps[st.index] = st.steps ? st : { ...st, steps: prev && prev.steps };
}

export async function gameDayRunPage(ctx, rid) {
  let run = await get(`/gameday-runs/${rid}`, ctx);
  ctx.setTitle(`Game-day run #${rid}`);
  const statusSlot = el("span", { id: "gd-run-status" }, statusBadge(run.status));
  const actions = el("div", { class: "page-actions-inner" });
  const sub = el("span", {});
  const header = pageHeader({
    crumbs: [["Game days", "#/gamedays"], run.gameDayId ? [run.gameDay, `#/gamedays/${run.gameDayId}`] : [run.gameDay], [`Run #${rid}`]],
    title: `Game-day run #${rid}`,
    extra: statusSlot,
    sub: [sub],
    actions: [actions],
  });
  const body = el("div", { class: "stack", id: "gd-run-body" });
  const announce = el("p", { class: "sr-only", "aria-live": "polite", id: "gd-announce" });
  ctx.page.replaceChildren(header, announce, body);

  const view = runView(rid);
  body.append(view.root);
  const show = (r) => {
    run = r;
    statusSlot.replaceChildren(statusBadge(r.status));
    sub.replaceChildren(...subline(r));
    setActions(ctx, actions, r);
    view.render(r);
  };
  show(run);
  if (ENDED.has(run.status)) return;

  // Live: the state, then every step's start and end, then the end.
  // Running bars grow and the elapsed time counts while nothing else changes.
  const tick = setInterval(() => {
    if (ENDED.has(run.status)) return;
    view.renderTimeline(run);
    sub.replaceChildren(...subline(run));
  }, 1000);
  ctx.signal.addEventListener("abort", () => clearInterval(tick));
  let lastAnnounced = "";
  for (let attempt = 0; ctx.live() && !ENDED.has(run.status); attempt++) {
    try {
      const end = await stream(`/gameday-runs/${rid}/events`, {
        signal: ctx.signal,
        onEvent: (event, data) => {
          if (event === "state") {
            show(data);
          } else if (event === "step") {
            const rep = run.report || (run.report = { steps: [] });
            applyStep(rep, data.step, data.parent);
            const text = `${stepTitle(data.step)} ${data.start ? "started" : data.step.status}.`;
            if (text !== lastAnnounced) announce.textContent = lastAnnounced = text;
            show(run);
          } else if (event === "end") {
            return data;
          }
          return undefined;
        },
      });
      if (end) {
        show(end);
        announce.textContent = `Game day ${end.status}${end.verdict ? `, verdict ${end.verdict}` : ""}.`;
        break;
      }
    } catch (err) {
      if (err.name === "AbortError") return;
      if (err.status === 404) throw err;
    }
    if (!ctx.live()) return;
    const r = await get(`/gameday-runs/${rid}`, ctx);
    show(r);
    if (ENDED.has(r.status)) break;
    await new Promise((res) => setTimeout(res, Math.min(5000, 500 * (attempt + 1))));
  }
  clearInterval(tick);
  // The webhook is delivered after the end is recorded: look for it a
  // few times.
  for (let i = 0; i < 6 && ctx.live() && !(run.webhooks || []).length; i++) {
    await new Promise((res) => setTimeout(res, 1000));
    if (!ctx.live()) return;
    const r = await get(`/gameday-runs/${rid}`, ctx);
    if ((r.webhooks || []).length) show(r);
  }
}

function subline(r) {
  const rep = r.report || {};
  const bits = [
    el("span", {}, r.gameDayId ? el("a", { href: `#/gamedays/${r.gameDayId}` }, r.gameDay) : r.gameDay, ` v${r.gameDayVersion}`),
    el("span", {}, r.trigger === "schedule" ? "started by its schedule" : "started by hand"),
    el("span", {}, "started ", fmtTime(rep.startedAt || r.createdAt)),
    el("span", { id: "gd-run-elapsed" }, ENDED.has(r.status) ? `took ${fmtDuration(durationOf(rep.startedAt || r.createdAt, r.endedAt || rep.endedAt))}` : `running for ${fmtDuration(Date.now() - new Date(rep.startedAt || r.createdAt))}`),
  ];
  const out = [];
  bits.forEach((b, i) => { if (i) out.push(el("span", { class: "sep", "aria-hidden": "true" }, "·")); out.push(b); });
  return out;
}

function setActions(ctx, actions, r) {
  actions.replaceChildren();
  if (!ENDED.has(r.status)) {
    actions.append(el("button", { type: "button", class: "btn btn-danger", id: "gd-stop", onclick: () => stopGameDayRun(r) }, icon("stop"), "Stop"));
    return;
  }
  if (r.gameDayId) {
    actions.append(startButton(el("button", { type: "button", class: "btn", id: "gd-run-again", onclick: (ev) => runGameDay(ctx, { id: r.gameDayId, name: r.gameDay }, ev.currentTarget, null) }, icon("replay"), "Run again")));
  }
  actions.append(junitLink(r.id));
}

async function stopGameDayRun(r) {
  const ok = await confirmDialog({
    title: `Stop game-day run #${r.id}?`,
    message: "The running steps stop now and the steps after them are skipped. The run is recorded as stopped, with what ran so far.",
    confirmLabel: "Stop game day",
  });
  if (!ok) return;
  try {
    await call("POST", `/gameday-runs/${r.id}/stop`);
    toast(`Stopping game-day run #${r.id}…`);
  } catch (err) {
    toast(err.message, "bad");
  }
}

function junitLink(id) {
  const path = `/gameday-runs/${id}/junit.xml`;
  const name = `gameday-run-${id}.junit.xml`;
  return el("a", {
    class: "btn download", href: apiPath(path), download: name, id: "gd-junit",
    onclick: (ev) => {
      if (!hasToken()) return;
      ev.preventDefault();
      download(path, name).catch((err) => toast(err.message, "bad"));
    },
  }, icon("download"), "JUnit XML");
}

// ---- the run's view ---------------------------------------------------------------

const KIND_LABEL = { experiment: "experiment", wait: "wait", steadyState: "steady state", parallel: "parallel", action: "action" };

/** stepTitle names a step for people: its experiment, wait, action or group. */
function stepTitle(s) {
  switch (s.kind) {
    case "wait": return `wait ${s.wait || ""}`.trim();
    case "steadyState": return s.id === "steadyState.before" ? "steady state before" : s.id === "steadyState.after" ? "steady state after" : `steady-state check${s.name ? ` (${s.name})` : ""}`;
    case "parallel": return `${(s.steps || []).length} steps at once`;
    case "action": return s.action ? `${s.action.action} ${s.action.container} at ${s.action.at}` : "container action";
    default: return s.name || s.path || s.id;
  }
}

const stepDuration = (s) => (s.startedAt ? durationOf(s.startedAt, s.endedAt || new Date().toISOString()) : undefined);

function stepItem(s) {
  const meta = [
    s.verdict && s.verdict !== "none" ? verdictBadge(s.verdict) : null,
    s.startedAt && s.kind === "action" ? el("span", { title: `taken ${fmtTime(s.startedAt)}` }, `at ${fmtTime(s.startedAt)}`) : null,
    s.startedAt && s.kind !== "action" ? el("span", { title: `started ${fmtTime(s.startedAt)}` }, fmtDuration(stepDuration(s))) : null,
    s.runId ? el("a", { href: `#/runs/${s.runId}`, class: "gd-step-run", title: s.kind === "action" ? "the run it acted in" : "the step's run" }, `run #${s.runId}`) : null,
  ];
  return el("li", { class: "gd-step", dataset: { id: s.id, status: s.status || "", kind: s.kind || "" } },
    el("div", { class: "gd-step-head" },
      el("span", { class: "gd-step-kind" }, KIND_LABEL[s.kind] || s.kind),
      el("span", { class: "gd-step-name" }, stepTitle(s)),
      s.kind === "action" && s.actsOn ? el("span", { class: "muted small" }, `on ${s.actsOn}${s.name ? ` (${s.name})` : ""}`) : null,
      statusBadge(s.status || "waiting"),
      el("span", { class: "gd-step-meta" }, meta),
      el("code", { class: "muted small" }, s.id)),
    s.reason ? el("p", { class: "gd-step-reason" }, s.reason) : null,
    s.kind === "parallel" && (s.steps || []).length ? el("ol", { class: "gd-steps" }, s.steps.filter((c) => c && c.id).map(stepItem)) : null);
}

function steadyBox(title, s, note) {
  return el("div", { class: "steady", id: title === "Before" ? "steady-before" : "steady-after" },
    el("h3", {}, `Steady state ${title.toLowerCase()}`),
    s ? [
      el("div", { class: "gd-step-head" }, statusBadge(s.status), s.verdict && s.verdict !== "none" ? verdictBadge(s.verdict) : null,
        el("span", { class: "strong" }, s.name || s.path || ""),
        el("span", { class: "gd-step-meta" }, s.startedAt ? fmtDuration(stepDuration(s)) : null, s.runId ? el("a", { href: `#/runs/${s.runId}`, class: "gd-step-run" }, `run #${s.runId}`) : null)),
      s.reason ? el("p", { class: "muted small" }, s.reason) : null,
    ] : el("p", { class: "muted" }, note));
}

// timelineRows flattens the report into the Gantt chart's rows.
function timelineRows(rep) {
  const rows = [];
  const add = (s, depth) => {
    if (!s || !s.id) return;
    // An action step's time is when its run took the action.
    const start = s.startedAt ? Date.parse(s.startedAt) : 0;
    const end = s.endedAt ? Date.parse(s.endedAt) : null;
    const label = stepTitle(s);
    const when = !s.startedAt ? "" : s.kind === "action" ? `, taken at ${fmtTime(s.startedAt)}` : `, ${fmtDuration(stepDuration(s))}`;
    rows.push({
      id: s.id, label, kind: s.kind, status: s.status || "running", start, end, depth,
      href: s.runId ? `#/runs/${s.runId}` : null,
      title: `${label} (${s.id}): ${s.status}${when}${s.runId ? `, run #${s.runId}` : ""}`,
    });
    for (const c of s.steps || []) add(c, depth + 1);
  };
  add(rep.steadyStateBefore, 0);
  for (const s of rep.steps || []) add(s, 0);
  add(rep.steadyStateAfter, 0);
  return rows;
}

// keepFocus runs fn, which re-renders inside box, and puts the focus back
// on the link it was on (found again by its href).
function keepFocus(box, fn) {
  const a = document.activeElement;
  const href = a && box.contains(a) ? a.getAttribute("href") : null;
  fn();
  if (href) {
    const again = [...box.querySelectorAll("a[href]")].find((x) => x.getAttribute("href") === href);
    if (again) again.focus({ preventScroll: true });
  }
}

function runView(rid) {
  const verdict = el("div", { id: "gd-verdict-slot" });
  const steady = el("div", { class: "steady-pair", id: "gd-steady" });
  const timeline = el("div", { class: "chart-box", id: "gameday-timeline" });
  const steps = el("ol", { class: "gd-steps", id: "gd-steps" });
  const extras = el("div", { class: "stack" });
  const stepsNote = el("span", {});
  const root = el("div", { class: "stack" },
    verdict,
    card("Steady state", steady, { note: "checked before the first step and after the last" }),
    card("Timeline", timeline, { note: "bars link to each step's run" }),
    card("Steps", steps, { note: stepsNote }),
    extras);
  const renderTimeline = (r) => {
    const rep = r.report || { steps: [] };
    const rows = timelineRows(rep);
    const from = Date.parse(rep.startedAt || r.createdAt);
    const last = Math.max(0, ...rows.map((x) => x.end || x.start || 0));
    const to = ENDED.has(r.status) ? Math.max(Date.parse(rep.endedAt || r.endedAt || 0) || 0, last) : Date.now();
    keepFocus(timeline, () => timeline.replaceChildren(rows.length ? stepTimeline(rows, { from, to, label: `Timeline of game-day run ${rid}: ${rows.length} steps` }) : el("p", { class: "muted" }, "No step has started yet.")));
  };
  const render = (r) => keepFocus(root, () => {
    const rep = r.report || { steps: [] };
    const ended = ENDED.has(r.status);
    verdict.replaceChildren(ended ? verdictBanner(r, rep) : el("div", { class: "callout", id: "gd-live" },
      el("strong", {}, "Running. "), "Steps appear as they start; the page follows the game day until it ends."));
    steady.replaceChildren(
      steadyBox("Before", rep.steadyStateBefore, ended ? "Did not run." : "Waiting…"),
      steadyBox("After", rep.steadyStateAfter, ended ? "Did not run: the game day ended before it." : "Runs after the last step."));
    renderTimeline(r);
    const top = (rep.steps || []).filter((s) => s && s.id);
    steps.replaceChildren(...top.map(stepItem));
    if (!top.length) steps.append(el("li", { class: "muted" }, ended ? "No step ran." : "No step has started yet."));
    stepsNote.textContent = `${top.length} step${top.length === 1 ? "" : "s"}${rep.onFailure ? ` · on failure: ${rep.onFailure}` : ""}`;
    if (ended) extras.replaceChildren(webhooks(r));
  });
  return { root, render, renderTimeline };
}

function verdictBanner(r, rep) {
  const v = r.verdict || rep.verdict || "none";
  const title = r.status === "succeeded" ? "The steady state held" : r.status === "stopped" ? "Stopped" : r.status === "error" ? "A step could not run" : r.status === "interrupted" ? "Interrupted" : "The game day failed";
  return el("section", { class: `verdict-banner banner-${v}`, id: "gd-verdict", "aria-label": "Verdict" },
    el("div", { class: "verdict-main" }, verdictBadge(v), el("span", { class: "verdict-title" }, title)),
    el("div", { class: "verdict-sub" }, `status ${r.status}`, r.reason || rep.reason ? ` · ${r.reason || rep.reason}` : ""));
}

function webhooks(r) {
  const ws = r.webhooks || [];
  if (!ws.length) return el("div", {});
  const rows = ws.map((w) => el("tr", { class: w.error || !(w.statusCode >= 200 && w.statusCode < 300) ? "row-bad" : "" },
    el("td", {}, el("code", {}, w.event)),
    el("td", {}, el("code", { class: "wrap" }, w.url)),
    num(w.statusCode || "—"),
    num(String(w.attempts)),
    el("td", {}, fmtTime(w.deliveredAt)),
    el("td", { class: "action-error" }, w.error || "")));
  return card("Webhook deliveries", table(["Event", "URL", ["Status", "num"], ["Attempts", "num"], "Delivered", "Error"], rows,
    { id: "gd-webhooks", cls: "compact", caption: "Webhook deliveries" }), { note: "the game day's end, POSTed to its webhook" });
}
