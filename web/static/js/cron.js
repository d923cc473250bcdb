// Schedules in words, and times on a schedule's clock. The server's
// scheduler is the one that knows when a schedule fires: the dashboard
// asks it (GET …/calendar, nextFires) and never evaluates a cron itself.
// What is here reads the text alone: the cron text and blackout windows
// said in words, the wall clock written in a server time ("…+01:00"), and
// a time formatted in a zone for display.

const DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const DAY_SHORT = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const MONTH_SHORT = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

const DESCRIPTORS = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTH_SHORT },
  { name: "day of week", min: 0, max: 6, names: DAY_SHORT },
];

const pad2 = (n) => String(n).padStart(2, "0");

// ---- reading the cron text, to say it in words ----------------------------------

// durationMs reads a Go duration ("30s", "1h30m", "1.5h") into milliseconds.
function durationMs(text) {
  const units = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const s = String(text).trim();
  if (!s) return NaN;
  let total = 0;
  let at = 0;
  for (let m; (m = re.exec(s)); at = re.lastIndex) total += Number(m[1]) * units[m[2]];
  return at === s.length ? total : NaN;
}

function value(f, s) {
  const i = f.names ? f.names.indexOf(s.toLowerCase()) : -1;
  if (i >= 0) return f.min + i;
  if (!/^\d+$/.test(s)) throw new Error(`${f.name}: "${s}" is not a number`);
  const n = Number(s);
  if (n < f.min || n > f.max) throw new Error(`${f.name}: ${n} is outside ${f.min}-${f.max}`);
  return n;
}

// field expands one field into its set of values; star is true when it is
// "*" or "?" without a step.
function field(f, text) {
  const values = new Set();
  let star = false;
  for (const part of text.split(",")) {
    const [range, stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!(step >= 1) || !Number.isInteger(step)) throw new Error(`${f.name}: step "${stepText}" must be a positive integer`);
    let lo;
    let hi;
    if (range === "*" || range === "?") {
      lo = f.min;
      hi = f.max;
      if (step === 1) star = true;
    } else {
      const [a, b] = range.split("-");
      lo = value(f, a);
      hi = b === undefined ? (stepText === undefined ? lo : f.max) : value(f, b);
      if (lo > hi) throw new Error(`${f.name}: range "${range}" runs backwards`);
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values, star, text };
}

// readCron returns {every} (milliseconds) for "@every", or {fields} with
// the minute, hour, dom, month and dow values; it throws on bad text.
function readCron(text) {
  const t = String(text || "").trim();
  if (t.startsWith("@every ")) {
    const ms = durationMs(t.slice(7));
    if (!(ms >= 1000)) throw new Error(`"${t}": the interval must be at least 1s`);
    return { every: ms };
  }
  if (t.startsWith("@")) {
    if (!DESCRIPTORS[t]) throw new Error(`"${t}" is not a known descriptor`);
    return readCron(DESCRIPTORS[t]);
  }
  const parts = t.split(/\s+/);
  if (parts.length !== 5) throw new Error(`"${t}" has ${parts.length} fields, want 5`);
  const [minute, hour, dom, month, dow] = parts.map((p, i) => field(FIELDS[i], p));
  return { fields: { minute, hour, dom, month, dow } };
}

// ---- times on a schedule's clock ---------------------------------------------------

const RFC3339 = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/**
 * wallClock reads the wall clock written in an RFC 3339 time, as the
 * server writes a schedule's times in its zone ("2026-01-07T06:00:00+01:00"
 * reads 06:00 on Wednesday 7 January): {year, month, day, hour, minute,
 * second, weekday (0 = Sunday), date (the day as a UTC midnight, ms)}.
 * No time-zone rules are applied; null when the text is not such a time.
 */
export function wallClock(iso) {
  const m = RFC3339.exec(String(iso || ""));
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const date = Date.UTC(year, month - 1, day);
  return { year, month, day, hour, minute, second, weekday: new Date(date).getUTCDay(), date };
}

/** fmtWall formats the wall clock of a server time: "Tue 7 Jan 06:00". */
export function fmtWall(iso, { seconds = false } = {}) {
  const w = wallClock(iso);
  if (!w) return String(iso);
  return `${DAY_NAMES[w.weekday].slice(0, 3)} ${w.day} ${MONTH_NAMES[w.month - 1].slice(0, 3)} ${pad2(w.hour)}:${pad2(w.minute)}${seconds ? ":" + pad2(w.second) : ""}`;
}

const formatters = new Map();
function zoneFormatter(tz) {
  const key = tz || "UTC";
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: key, hourCycle: "h23", weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    formatters.set(key, f);
  }
  return f;
}

/** validZone reports whether the browser knows tz (to format times in it). */
export function validZone(tz) {
  try {
    zoneFormatter(tz);
    return true;
  } catch {
    return false;
  }
}

/**
 * fmtZoned formats the instant ms in tz as fmtWall does ("Tue 7 Jan
 * 06:00"), with the browser's own zone data: for times the server writes
 * in UTC, such as the fire history.
 */
export function fmtZoned(ms, tz, { seconds = false } = {}) {
  const p = {};
  for (const part of zoneFormatter(tz).formatToParts(new Date(ms))) p[part.type] = part.value;
  return `${p.weekday} ${Number(p.day)} ${p.month} ${pad2(Number(p.hour) % 24)}:${p.minute}${seconds ? ":" + p.second : ""}`;
}

// ---- blackout windows ---------------------------------------------------------------

function dayIndex(name) {
  const l = String(name).trim().toLowerCase();
  for (let i = 0; i < 7; i++) if (l === DAY_SHORT[i] || l === DAY_NAMES[i].toLowerCase()) return i;
  return -1;
}

function dayList(days) {
  if (!days || !days.length) return "every day";
  const idx = days.map(dayIndex);
  const names = idx.map((i, k) => (i >= 0 ? DAY_NAMES[i] : days[k]));
  const sorted = [...idx].sort((a, b) => a - b);
  if (idx.every((i) => i >= 0) && sorted.join() === "1,2,3,4,5") return "Monday to Friday";
  if (idx.every((i) => i >= 0) && sorted.join() === "0,6") return "Saturday and Sunday";
  return joinWords(names);
}

/** describeBlackout says a window in words: "Monday to Friday, 22:00–06:00 (into the next day)". */
export function describeBlackout(b) {
  // "HH:MM" texts compare as the times they name.
  const span = b.from === b.to ? "all day" : `${b.from}\u2013${b.to}${b.to < b.from ? " (into the next day)" : ""}`;
  return `${dayList(b.days)}, ${span}`;
}

// ---- words -------------------------------------------------------------------

function joinWords(list) {
  if (list.length <= 1) return list.join("");
  return `${list.slice(0, -1).join(", ")} and ${list[list.length - 1]}`;
}

// fmtInterval says a duration in milliseconds in words: "1 hour 30 minutes".
function fmtInterval(ms) {
  const units = [[86400000, "day"], [3600000, "hour"], [60000, "minute"], [1000, "second"]];
  const out = [];
  let rest = ms;
  for (const [size, name] of units) {
    const n = Math.floor(rest / size);
    if (n) {
      out.push(`${n} ${name}${n === 1 ? "" : "s"}`);
      rest -= n * size;
    }
  }
  return out.join(" ") || `${ms} ms`;
}

const ordinal = (n) => n + (n % 100 >= 11 && n % 100 <= 13 ? "th" : ["th", "st", "nd", "rd"][n % 10] || "th");
const sorted = (set) => [...set].sort((a, b) => a - b);

// stepOf returns n when the field is "*/n" (or "0/n" from the minimum).
function stepOf(field, min) {
  const m = /^(?:\*|(\d+))\/(\d+)$/.exec(field.text);
  if (!m || (m[1] !== undefined && Number(m[1]) !== min)) return 0;
  return Number(m[2]);
}

// rangeOf returns [a, b] when the values are consecutive.
function rangeOf(values) {
  const v = sorted(values);
  for (let i = 1; i < v.length; i++) if (v[i] !== v[i - 1] + 1) return null;
  return v.length > 2 ? [v[0], v[v.length - 1]] : null;
}

function timePart(f) {
  const mins = sorted(f.minute.values);
  const hours = sorted(f.hour.values);
  const minuteStep = stepOf(f.minute, 0);
  const hourStep = stepOf(f.hour, 0);
  const hourRange = f.hour.star ? null : rangeOf(f.hour.values);
  const during = f.hour.star ? "" : hourRange ? ` from ${pad2(hourRange[0])}:00 to ${pad2(hourRange[1])}:59` : ` during hours ${joinWords(hours.map(pad2))}`;
  if (f.minute.star) return `every minute${during}`;
  if (minuteStep) return `every ${minuteStep} minute${minuteStep === 1 ? "" : "s"}${during}`;
  if (mins.length === 1) {
    const m = mins[0];
    if (f.hour.star) return m === 0 ? "every hour, on the hour" : `every hour at ${pad2(m)} past`;
    const at = hours.map((h) => `${pad2(h)}:${pad2(m)}`);
    if (hourStep && hours.length > 2) return `every ${hourStep} hours (at ${joinWords(at)})`;
    if (at.length <= 6) return `at ${joinWords(at)}`;
    return `at minute ${m} of hours ${joinWords(hours.map(String))}`;
  }
  return `at minutes ${joinWords(mins.map(String))} past ${f.hour.star ? "every hour" : `hours ${joinWords(hours.map(String))}`}`;
}

function dayPart(f) {
  const out = [];
  const dows = sorted(f.dow.values);
  const doms = sorted(f.dom.values);
  const dowText = () => {
    if (dows.join() === "1,2,3,4,5") return "Monday to Friday";
    if (dows.join() === "0,6") return "Saturday and Sunday";
    const r = rangeOf(f.dow.values);
    return r ? `${DAY_NAMES[r[0]]} to ${DAY_NAMES[r[1]]}` : joinWords(dows.map((d) => DAY_NAMES[d]));
  };
  const domText = () => `on the ${joinWords(doms.map(ordinal))} of the month`;
  if (!f.dom.star && !f.dow.star) out.push(`${domText()} and on ${dowText()}`);
  else if (!f.dow.star) out.push(`on ${dowText()}`);
  else if (!f.dom.star) out.push(domText());
  else out.push("every day");
  if (!f.month.star) out.push(`in ${joinWords(sorted(f.month.values).map((m) => MONTH_NAMES[m - 1]))}`);
  return out.join(" ");
}

/**
 * describeCron says a schedule in words, e.g. "every 6 hours (at 00:00,
 * 06:00, 12:00 and 18:00), every day" for "0 *\/6 * * *"; unreadable
 * text is returned as it is.
 */
export function describeCron(text) {
  let c;
  try {
    c = readCron(text);
  } catch {
    return String(text);
  }
  if (c.every) return `every ${fmtInterval(c.every)}`;
  const f = c.fields;
  const time = timePart(f);
  const days = dayPart(f);
  return days === "every day" && /^every (minute|\d+ minutes?|hour)/.test(time) ? time : `${time}, ${days}`;
}

/** describePolicies says what concurrency and missed mean for this schedule. */
export function describePolicies(s, what = "run") {
  const conc = {
    forbid: `a fire is skipped while the previous scheduled ${what} is still active`,
    allow: `a fire starts even while the previous ${what} is still active`,
    replace: `a fire stops the previous ${what} first`,
  }[s.concurrency || "forbid"] || `concurrency ${s.concurrency}`;
  const missed = {
    skip: "fires missed while the server was down are skipped",
    runOnce: "one fire missed while the server was down runs at start-up",
  }[s.missed || "skip"] || `missed ${s.missed}`;
  return { concurrency: conc, missed };
}
