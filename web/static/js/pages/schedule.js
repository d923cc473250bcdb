// Schedules on a page: the schedule in words with its policies, the next
// fires, the blackout windows, the calendar of the coming week as the
// server lays it out, and the history of fires (shared by experiments and
// game days).

import { get } from "../api.js";
import { el, fmtTime, fmtAgo, fmtUntil } from "../dom.js";
import { describeCron, describeBlackout, describePolicies, fmtWall, fmtZoned, validZone } from "../cron.js";
import { fireCalendar } from "../charts.js";
import { card, table, emptyState } from "./common.js";

/** zoneOf is the schedule's zone as the server reads it ("" is UTC). */
export const zoneOf = (s) => s.timezone || "UTC";

/**
 * scheduleSummary says the schedule in words: when it fires, in which
 * zone, whether it is on, and what its policies do. what names the
 * scheduled thing ("run", "game day").
 */
export function scheduleSummary(s, what = "run") {
  const tz = zoneOf(s);
  const policies = describePolicies(s, what);
  return el("div", { class: "schedule-summary", id: "schedule-summary" },
    el("p", { class: "schedule-words" },
      el("span", { class: `badge ${s.enabled ? "status-succeeded" : "status-stopped"}`, id: "schedule-state" }, s.enabled ? "enabled" : "paused"),
      " ",
      el("strong", { id: "schedule-words" }, capitalise(describeCron(s.cron))),
      el("span", { class: "muted" }, ` (${tz})`)),
    el("dl", { class: "facts schedule-facts" },
      el("div", {}, el("dt", {}, "Cron"), el("dd", {}, el("code", { id: "schedule-cron" }, s.cron))),
      el("div", {}, el("dt", {}, "Time zone"), el("dd", {}, tz, validZone(tz) ? null : el("span", { class: "muted" }, " (unknown to this browser: the fire history is in local time)"))),
      el("div", {}, el("dt", {}, "Overlap"), el("dd", {}, el("code", {}, s.concurrency || "forbid"), el("span", { class: "muted" }, ` — ${policies.concurrency}`))),
      el("div", {}, el("dt", {}, "Missed fires"), el("dd", {}, el("code", {}, s.missed || "skip"), el("span", { class: "muted" }, ` — ${policies.missed}`)))),
    s.blackoutNow ? el("div", { class: "callout callout-warn", id: "blackout-now", role: "note" },
      el("strong", {}, "In a blackout window now: "), describeBlackout(s.blackoutNow), s.blackoutNow.reason ? ` — ${s.blackoutNow.reason}` : "", ". Nothing fires or starts until it ends.") : null);
}

const capitalise = (t) => t.charAt(0).toUpperCase() + t.slice(1);

/** nextFiresList lists the server's next fires, in the zone and as "in 3 h". */
export function nextFiresList(s) {
  const tz = zoneOf(s);
  const fires = s.nextFires || [];
  if (!s.enabled) return el("p", { class: "muted", id: "next-fires-empty" }, "The schedule is paused: nothing fires.");
  if (!fires.length) return el("p", { class: "muted", id: "next-fires-empty" }, "No upcoming fire.");
  const seconds = fires.some((iso) => new Date(iso).getUTCSeconds() !== 0);
  // The server writes them in the schedule's zone: the clock is read off the text.
  return el("ol", { class: "next-fires", id: "next-fires" }, fires.map((iso) => el("li", { dataset: { time: iso }, title: `${new Date(iso).toString()} (${tz}: ${iso})` },
    el("span", { class: "strong" }, fmtWall(iso, { seconds })),
    el("span", { class: "muted" }, ` ${fmtUntil(iso)}`))));
}

/** blackoutList lists the blackout windows; empty when there are none. */
export function blackoutList(s) {
  const bs = s.blackouts || [];
  if (!bs.length) return el("p", { class: "muted", id: "blackouts-empty" }, "No blackout windows.");
  return el("ul", { class: "blackouts", id: "blackouts" }, bs.map((b) => el("li", {},
    el("span", { class: "blackout-swatch", "aria-hidden": "true" }),
    el("span", { class: "strong" }, describeBlackout(b)),
    b.reason ? el("span", { class: "muted" }, ` — ${b.reason}`) : null)));
}

/**
 * scheduleCalendar reads the calendar of the coming week at path (GET
 * …/calendar); null when the server could not lay it out.
 */
export async function scheduleCalendar(path, ctx) {
  try {
    return await get(path, ctx);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    return null;
  }
}

/**
 * weekCalendar draws the schedule's calendar of the coming week as the
 * server lays it out (cal, from GET …/calendar; null when it could not be
 * read); the server's next fires are drawn as "next".
 */
export function weekCalendar(s, cal) {
  const tz = zoneOf(s);
  if (!cal) return el("p", { class: "muted", id: "calendar-error" }, "The calendar could not be read from the server.");
  let fires = 0;
  let skipped = 0;
  for (const h of cal.hours) {
    fires += h.fires;
    skipped += h.skipped;
  }
  const next = new Set((s.nextFires || []).map((iso) => Date.parse(iso)));
  return el("div", { class: "calendar-box" },
    el("div", { class: "chart-box", id: "fire-calendar" }, fireCalendar(cal, { next })),
    el("p", { class: "muted small calendar-note" },
      cal.enabled ? `${fires} fire${fires === 1 ? "" : "s"} in the next 7 days` : "Paused: nothing fires",
      skipped ? `, ${skipped} skipped by blackout windows` : "",
      `. Times in ${tz}.`));
}

const OUTCOMES = { ran: "status-succeeded", skipped: "status-stopped", refused: "status-failed", error: "status-error" };

/** outcomeBadge shows a fire's outcome: ran, skipped, refused or error. */
export function outcomeBadge(outcome) {
  return el("span", { class: `badge outcome ${OUTCOMES[outcome] || ""}` }, outcome);
}

/**
 * firesTable lists fires, latest first: when it was due and when it
 * fired, its outcome, the reason, and a link to what it started.
 */
export function firesTable(list, { tz = "UTC", runHref, runLabel = (id) => `#${id}`, id = "fires-table" } = {}) {
  if (!list.items.length) return emptyState("No fires yet", "Fires appear here as the schedule starts (or skips) them.");
  const rows = list.items.map((f) => el("tr", { dataset: { outcome: f.outcome } },
    el("td", { title: new Date(f.scheduledFor).toString() }, validZone(tz) ? fmtZoned(Date.parse(f.scheduledFor), tz, { seconds: true }) : fmtTime(f.scheduledFor), el("div", { class: "muted small" }, fmtAgo(f.scheduledFor))),
    el("td", { title: f.firedAt ? new Date(f.firedAt).toString() : "" }, f.firedAt ? fmtTime(f.firedAt) : "—"),
    el("td", {}, outcomeBadge(f.outcome)),
    el("td", { class: "fire-reason" }, f.reason || el("span", { class: "muted" }, "—")),
    el("td", {}, f.runId ? el("a", { href: runHref(f.runId), class: "fire-run" }, runLabel(f.runId)) : el("span", { class: "muted" }, "—"))));
  return table(["Scheduled for", "Fired", "Outcome", "Reason", "Started"], rows, { id, cls: "compact", caption: "Fires" });
}

/** nextFireCell is a list's "next run" cell: "in 3 h", paused, or a dash. */
export function nextFireCell(s) {
  if (!s) return el("span", { class: "muted", title: "No schedule" }, "—");
  if (!s.enabled) return el("span", { class: "muted", title: s.cron }, "paused");
  const next = (s.nextFires || [])[0];
  const blackout = s.blackoutNow ? el("span", { class: "muted small block", title: describeBlackout(s.blackoutNow) }, "blackout now") : null;
  if (!next) return el("span", { class: "muted", title: s.cron }, "none due", blackout);
  return el("span", { class: "next-fire", title: `${describeCron(s.cron)} (${zoneOf(s)}); next ${new Date(next).toString()}` }, fmtUntil(next), blackout);
}

/**
 * scheduleCard is the schedule's section of a page: the schedule in words
 * with its next fires and blackout windows, the calendar of the coming
 * week (calendar, from GET …/calendar), and the fire history (a page of
 * fires, or null). runHref links a fire to what it started.
 */
export function scheduleCard(s, fires, { what = "run", runHref, runLabel, calendar = null } = {}) {
  const tz = zoneOf(s);
  return el("div", { class: "stack", id: "schedule" },
    card("Schedule", el("div", { class: "stack-tight" },
      scheduleSummary(s, what),
      el("div", { class: "grid-2 schedule-lists" },
        el("div", {}, el("h3", {}, "Next fires"), nextFiresList(s)),
        el("div", {}, el("h3", {}, "Blackout windows"), blackoutList(s))),
      el("div", {}, el("h3", {}, "The next 7 days"), weekCalendar(s, calendar))), { note: `in ${tz}` }),
    fires ? card("Fire history", firesTable(fires, { tz, runHref, runLabel }), { note: fires.total > fires.items.length ? `latest ${fires.items.length} of ${fires.total}` : `${fires.total} fire${fires.total === 1 ? "" : "s"}` }) : null);
}
