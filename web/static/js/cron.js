// Schedules as the server reads them: five cron fields (robfig/cron's
// standard spec, as the scheduler uses it), the @-descriptors, and
// "@every <duration>" aligned to multiples of the interval. Everything is
// read in the schedule's IANA time zone. Used to say a schedule in words
// and to lay its fires and blackout windows out on a calendar.

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

// Go's time.Truncate counts from 1 January of year 1, UTC: this many
// milliseconds before the Unix epoch.
const GO_ZERO_MS = 62135596800000;

const pad2 = (n) => String(n).padStart(2, "0");

/** parseDuration reads a Go duration ("30s", "1h30m", "1.5h") into milliseconds. */
export function parseDuration(text) {
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

// parseField expands one field into its set of values; star is true when
// it is "*" or "?" without a step (robfig's star bit, which decides how
// the two day fields combine).
function parseField(f, text) {
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

/**
 * parseCron returns {every} (milliseconds) for "@every", or {fields} with
 * the expanded minute, hour, dom, month and dow; it throws on bad text.
 */
export function parseCron(text) {
  let t = String(text || "").trim();
  if (t.startsWith("@every ")) {
    const ms = parseDuration(t.slice(7));
    if (!(ms >= 1000)) throw new Error(`"${t}": the interval must be at least 1s`);
    return { text: t, every: ms };
  }
  if (t.startsWith("@")) {
    if (!DESCRIPTORS[t]) throw new Error(`"${t}" is not a known descriptor`);
    return { ...parseCron(DESCRIPTORS[t]), text: t, descriptor: t };
  }
  const parts = t.split(/\s+/);
  if (parts.length !== 5) throw new Error(`"${t}" has ${parts.length} fields, want 5`);
  const [minute, hour, dom, month, dow] = parts.map((p, i) => parseField(FIELDS[i], p));
  // Sunday may be written 7 in some crons; robfig's standard spec allows 0-6 only.
  return { text: t, fields: { minute, hour, dom, month, dow } };
}

// ---- time zones --------------------------------------------------------------

const formatters = new Map();
function partsFormatter(tz) {
  const key = tz || "UTC";
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: key, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric", weekday: "short" });
    formatters.set(key, f);
  }
  return f;
}

/** zoned returns the wall-clock fields of the instant ms in tz. */
export function zoned(ms, tz) {
  const p = {};
  for (const part of partsFormatter(tz).formatToParts(new Date(ms))) p[part.type] = part.value;
  return {
    year: Number(p.year), month: Number(p.month), day: Number(p.day),
    hour: Number(p.hour) % 24, minute: Number(p.minute), second: Number(p.second),
    weekday: DAY_SHORT.indexOf(p.weekday.toLowerCase().slice(0, 3)),
  };
}

/** offsetMs is how far tz's wall clock is ahead of UTC at ms. */
export function offsetMs(ms, tz) {
  const z = zoned(ms, tz);
  return Date.UTC(z.year, z.month - 1, z.day, z.hour, z.minute, z.second) - Math.floor(ms / 1000) * 1000;
}

/**
 * wallClock returns a fast zoned(ms) for tz: the zone's offset is read
 * once per quarter hour (no zone changes its offset more often), and
 * the fields come from plain date arithmetic.
 */
export function wallClock(tz) {
  const BLOCK = 15 * 60000;
  const offsets = new Map();
  return (ms) => {
    const block = Math.floor(ms / BLOCK);
    let off = offsets.get(block);
    if (off === undefined) {
      off = offsetMs(block * BLOCK, tz);
      offsets.set(block, off);
    }
    const d = new Date(ms + off);
    return {
      year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(),
      hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), weekday: d.getUTCDay(),
    };
  };
}

/** zonedMidnight returns the instant of 00:00 on the given local date in tz. */
export function zonedMidnight(year, month, day, tz) {
  const guess = Date.UTC(year, month - 1, day);
  // Two rounds settle the offset, also across a DST change.
  let ms = guess - offsetMs(guess, tz);
  ms = guess - offsetMs(ms, tz);
  return ms;
}

/** validZone reports whether the browser knows tz. */
export function validZone(tz) {
  try {
    partsFormatter(tz);
    return true;
  } catch {
    return false;
  }
}

/** fmtZoned formats ms in tz, e.g. "Tue 7 Jan 06:00". */
export function fmtZoned(ms, tz, { seconds = false } = {}) {
  const z = zoned(ms, tz);
  const wd = DAY_NAMES[z.weekday].slice(0, 3);
  return `${wd} ${z.day} ${MONTH_NAMES[z.month - 1].slice(0, 3)} ${pad2(z.hour)}:${pad2(z.minute)}${seconds ? ":" + pad2(z.second) : ""}`;
}

// ---- fires -------------------------------------------------------------------

/**
 * firesBetween lists the schedule's times t with from < t <= to (ms), at
 * most limit of them, in tz. It returns {times, more} where more says the
 * limit cut the list.
 */
export function firesBetween(cron, tz, from, to, limit = 5000) {
  const c = typeof cron === "string" ? parseCron(cron) : cron;
  const times = [];
  if (c.every) {
    // The scheduler aligns intervals to multiples of the interval since Go's zero time.
    let t = Math.floor((from + GO_ZERO_MS) / c.every) * c.every - GO_ZERO_MS;
    if (t <= from) t += c.every;
    for (; t <= to; t += c.every) {
      if (times.length >= limit) return { times, more: true };
      times.push(t);
    }
    return { times, more: false };
  }
  const f = c.fields;
  const daysStar = f.dom.star || f.dow.star;
  const BLOCK = 15 * 60000; // a zone's offset changes on a quarter hour at most
  let t = Math.floor(from / 60000) * 60000 + 60000;
  while (t <= to) {
    const blockEnd = Math.min(to, Math.floor(t / BLOCK) * BLOCK + BLOCK - 60000);
    const off = offsetMs(t, tz);
    for (; t <= blockEnd; t += 60000) {
      const d = new Date(t + off); // wall clock, read with the UTC getters
      if (!f.minute.values.has(d.getUTCMinutes()) || !f.hour.values.has(d.getUTCHours()) || !f.month.values.has(d.getUTCMonth() + 1)) continue;
      const domOK = f.dom.values.has(d.getUTCDate());
      const dowOK = f.dow.values.has(d.getUTCDay());
      if (daysStar ? domOK && dowOK : domOK || dowOK) {
        if (times.length >= limit) return { times, more: true };
        times.push(t);
      }
    }
  }
  return { times, more: false };
}

// ---- blackout windows --------------------------------------------------------

/** clockMinutes reads "HH:MM" into minutes after midnight, or NaN. */
export function clockMinutes(s) {
  const m = /^(\d\d):(\d\d)$/.exec(String(s || ""));
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) return NaN;
  return Number(m[1]) * 60 + Number(m[2]);
}

function dayIndex(name) {
  const l = String(name).trim().toLowerCase();
  for (let i = 0; i < 7; i++) if (l === DAY_SHORT[i] || l === DAY_NAMES[i].toLowerCase()) return i;
  return -1;
}

/** blackoutOnDay reports whether window b starts on weekday wd (0 = Sunday). */
export function blackoutOnDay(b, wd) {
  if (!b.days || !b.days.length) return true;
  return b.days.some((d) => dayIndex(d) === wd);
}

/**
 * blackoutSpans returns the [fromMin, toMin) parts of window b that fall
 * on a day of weekday wd, in minutes after midnight (a window past
 * midnight belongs to the day it starts on and spills into the next).
 */
export function blackoutSpans(b, wd) {
  const from = clockMinutes(b.from);
  const to = clockMinutes(b.to);
  if (Number.isNaN(from) || Number.isNaN(to)) return [];
  const out = [];
  if (to > from) {
    if (blackoutOnDay(b, wd)) out.push([from, to]);
    return out;
  }
  if (blackoutOnDay(b, (wd + 6) % 7) && to > 0) out.push([0, to]);
  if (blackoutOnDay(b, wd)) out.push([from, 1440]);
  return out;
}

/**
 * blackoutAt returns the first window of blackouts that holds ms in tz, or
 * null; clock, when given, is a wallClock(tz) to read the time with.
 */
export function blackoutAt(blackouts, ms, tz, clock = null) {
  if (!blackouts || !blackouts.length) return null;
  const z = clock ? clock(ms) : zoned(ms, tz);
  const now = z.hour * 60 + z.minute;
  return blackouts.find((b) => blackoutSpans(b, z.weekday).some(([a, e]) => now >= a && now < e)) || null;
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

/** describeBlackout says a window in words: "Monday to Friday 22:00–06:00 (next day)". */
export function describeBlackout(b) {
  const from = clockMinutes(b.from);
  const to = clockMinutes(b.to);
  const span = from === to ? "all day" : `${b.from}\u2013${b.to}${to < from ? " (into the next day)" : ""}`;
  return `${dayList(b.days)}, ${span}`;
}

// ---- words -------------------------------------------------------------------

function joinWords(list) {
  if (list.length <= 1) return list.join("");
  return `${list.slice(0, -1).join(", ")} and ${list[list.length - 1]}`;
}

/** fmtInterval says a duration in milliseconds in words: "1 hour 30 minutes". */
export function fmtInterval(ms) {
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
    c = parseCron(text);
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
