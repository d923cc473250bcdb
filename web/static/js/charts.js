// Charts drawn as plain SVG: status-code bars, a latency histogram, line
// charts (latency over time, trends across runs) and paired bars for a
// comparison. Every chart is role="img" with a summary in aria-label; the
// numbers are also in a table beside it.

import { svg, codeClass, fmtNum } from "./dom.js";
import { wallClock, fmtWall, describeBlackout } from "./cron.js";

/** ticks returns about count round values covering [min, max]. */
export function ticks(min, max, count = 5) {
  if (!(max > min)) max = min + 1;
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const out = [];
  for (let v = Math.floor(min / step) * step; v <= Math.ceil(max / step) * step + step / 2; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

/** short formats an axis value compactly: 0.25, 1.5, 12, 1.2k. */
export function short(v) {
  const a = Math.abs(v);
  if (a >= 10000) return fmtNum(v / 1000, 0) + "k";
  if (a >= 1000) return fmtNum(v / 1000, 1) + "k";
  if (a >= 10 || a === 0) return fmtNum(v, 0);
  if (a >= 1) return fmtNum(v, 1);
  return fmtNum(v, 3);
}

const msLabel = (v) => (v >= 1000 ? short(v / 1000) + " s" : short(v) + " ms");

function frame(width, height, label, cls) {
  return svg("svg", { class: `chart ${cls}`, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, preserveAspectRatio: "xMinYMin meet" },
    svg("title", {}, label));
}

function empty(width, height, label, message) {
  const root = frame(width, height, label, "chart-empty");
  root.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "muted-text" }, message));
  return root;
}

/**
 * codeBars draws one horizontal bar per status code, coloured by class
 * (2xx, 3xx, 4xx, 5xx), with the count and share at the end of the bar.
 */
export function codeBars(codes, { label = "Status code distribution" } = {}) {
  const entries = Object.entries(codes || {}).sort((a, b) => a[0].localeCompare(b[0], undefined, { numeric: true }));
  const width = 560;
  const rowH = 32;
  if (!entries.length) return empty(width, 80, label, "No responses yet");
  const height = entries.length * rowH + 8;
  const total = entries.reduce((s, [, n]) => s + n, 0) || 1;
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const padL = 60;
  const padR = 130;
  const plotW = width - padL - padR;
  const summary = entries.map(([c, n]) => `${c}: ${n}`).join(", ");
  const root = frame(width, height, `${label}: ${summary}`, "chart-codes");
  entries.forEach(([code, n], i) => {
    const y = 4 + i * rowH;
    const w = Math.max(2, (plotW * n) / max);
    const pct = ((100 * n) / total).toFixed(1);
    root.append(
      svg("text", { x: padL - 12, y: y + rowH / 2, "text-anchor": "end", "dominant-baseline": "central", class: "label-strong" }, code === "-1" ? "error" : code),
      svg("rect", { class: `bar ${codeClass(code)}`, x: padL, y: y + 5, width: w, height: rowH - 10, rx: 3 },
        svg("title", {}, `${code}: ${fmtNum(n)} requests (${pct} %)`)),
      svg("text", { x: padL + w + 8, y: y + rowH / 2, "dominant-baseline": "central", class: "value-text" }, `${fmtNum(n)} · ${pct} %`));
  });
  return root;
}

/**
 * histogram draws the latency histogram's buckets as equal-width bars (the
 * buckets are of unequal width, so the axis labels give their bounds) and
 * marks the given percentiles.
 */
export function histogram(buckets, { markers = [], label = "Latency histogram" } = {}) {
  const width = 640;
  const height = 250;
  if (!buckets || !buckets.length) return empty(width, 120, label, "No latency recorded");
  const padL = 48;
  const padR = 14;
  const padT = 24;
  const padB = 44;
  const plotW = width - padL - padR;
  const plotH = height - padT - padB;
  const n = buckets.length;
  const bw = plotW / n;
  const maxCount = Math.max(...buckets.map((b) => b.count));
  const yt = ticks(0, maxCount, 4);
  const yMax = yt[yt.length - 1] || 1;
  const y = (v) => padT + plotH - (plotH * v) / yMax;
  const total = buckets.reduce((s, b) => s + b.count, 0) || 1;
  const root = frame(width, height, `${label}: ${n} buckets from ${msLabel(buckets[0].startMs)} to ${msLabel(buckets[n - 1].endMs)}`, "chart-histogram");

  for (const t of yt) {
    root.append(svg("line", { class: "grid", x1: padL, x2: width - padR, y1: y(t), y2: y(t) }),
      svg("text", { x: padL - 6, y: y(t), "text-anchor": "end", "dominant-baseline": "central", class: "axis-text" }, short(t)));
  }
  buckets.forEach((b, i) => {
    const h = Math.max(b.count > 0 ? 1 : 0, (plotH * b.count) / yMax);
    root.append(svg("rect", { class: "bar hist", x: padL + i * bw + Math.min(1, bw * 0.1), y: padT + plotH - h, width: Math.max(1, bw - 2 * Math.min(1, bw * 0.1)), height: h },
      svg("title", {}, `${msLabel(b.startMs)} – ${msLabel(b.endMs)}: ${fmtNum(b.count)} requests (${((100 * b.count) / total).toFixed(1)} %)`)));
  });
  const every = Math.ceil(n / 7);
  const at = [];
  for (let i = 0; i < n; i += every) at.push(i);
  if (n - at[at.length - 1] <= every / 2 && at.length > 1) at.pop();
  at.push(n);
  for (const i of at) {
    const v = i < n ? buckets[i].startMs : buckets[n - 1].endMs;
    const anchor = i === 0 ? "start" : i === n ? "end" : "middle";
    root.append(svg("line", { class: "tick", x1: padL + i * bw, x2: padL + i * bw, y1: padT + plotH, y2: padT + plotH + 4 }),
      svg("text", { x: padL + i * bw, y: padT + plotH + 16, "text-anchor": anchor, class: "axis-text" }, msLabel(v)));
  }
  root.append(svg("line", { class: "axis", x1: padL, x2: width - padR, y1: padT + plotH, y2: padT + plotH }),
    svg("text", { x: padL + plotW / 2, y: height - 6, "text-anchor": "middle", class: "axis-title" }, "latency (bucket bounds; buckets differ in width)"));

  markers.forEach((m, k) => {
    const i = buckets.findIndex((b) => m.value >= b.startMs && m.value <= b.endMs);
    if (i < 0) return;
    const b = buckets[i];
    const frac = b.endMs > b.startMs ? (m.value - b.startMs) / (b.endMs - b.startMs) : 0.5;
    const x = padL + (i + frac) * bw;
    root.append(svg("line", { class: `marker marker-${k}`, x1: x, x2: x, y1: padT - 4, y2: padT + plotH }),
      svg("text", { x: Math.min(width - padR - 2, Math.max(padL + 2, x)), y: padT - 10, "text-anchor": x > width - 90 ? "end" : x < padL + 60 ? "start" : "middle", class: `marker-text marker-${k}` }, `${m.name} ${msLabel(m.value)}`));
  });
  return root;
}

/**
 * lineChart draws series of [x, y] points. opts: xFormat and yFormat for
 * the axis labels, xTitle, yTitle, xLabels (a label per x for ordinal axes),
 * hrefs (a link per x, making each point a link), markers (vertical lines
 * at {x, label, title, failed, cls}, labelled above the plot), spans
 * (shaded {from, to, title} ranges of x), bands (labelled {from, to,
 * label, cls, title} ranges of x, such as a run's phases, shaded behind
 * everything with their label at the top of the plot) and emptyText (said
 * when there is no point).
 */
export function lineChart(series, opts = {}) {
  const { width = 640, label = "Line chart", xFormat = short, yFormat = short, xTitle = "", xLabels = null, hrefs = null, xDomain = null, markers = [], spans = [], bands = [], emptyText = "No data yet" } = opts;
  const pts = series.flatMap((s) => s.points);
  if (!pts.length) return empty(width, 120, label, emptyText);
  const padL = 56;
  const padR = 16;
  const padB = xTitle ? 44 : 28;
  const plotW = width - padL - padR;
  const xs = [...pts.map((p) => p[0]), ...markers.map((m) => m.x)];
  let xMin = xDomain ? Math.min(xDomain[0], ...xs) : Math.min(...xs);
  let xMax = xDomain ? Math.max(xDomain[1], ...xs) : Math.max(...xs);
  if (xMax === xMin) { xMin -= 1; xMax += 1; }
  const x = (v) => padL + (plotW * (v - xMin)) / (xMax - xMin);
  // Marker labels go in rows above the plot, a new row where they would overlap.
  const LABEL_H = 14;
  const rowEnds = [];
  const placed = markers.map((m) => {
    const mx = x(m.x);
    const w = m.label.length * 6.1 + 8;
    const left = Math.min(Math.max(padL, mx - w / 2), width - padR - w);
    let row = rowEnds.findIndex((end) => end <= left);
    if (row < 0) { row = rowEnds.length; rowEnds.push(0); }
    rowEnds[row] = left + w + 4;
    return { ...m, mx, left, w, row };
  });
  const padT = 30 + rowEnds.length * LABEL_H;
  const height = (opts.height || 240) + rowEnds.length * LABEL_H;
  const plotH = height - padT - padB;
  const yt = ticks(0, Math.max(...pts.map((p) => p[1])) || 1, 4);
  const yMax = yt[yt.length - 1];
  const y = (v) => padT + plotH - (plotH * v) / yMax;
  const root = frame(width, height, label, "chart-line");
  for (const bd of bands) {
    const a = x(Math.max(xMin, bd.from));
    const b = x(Math.min(xMax, bd.to));
    if (!(b > a)) continue;
    root.append(svg("g", { class: `band ${bd.cls || ""}`, "data-label": bd.label, "data-from": bd.from, "data-to": bd.to },
      svg("title", {}, bd.title || bd.label),
      svg("rect", { class: "band-area", x: a, y: padT, width: b - a, height: plotH }),
      b - a >= bd.label.length * 6 + 8 ? svg("text", { class: "band-label", x: a + 4, y: padT + 11, "dominant-baseline": "central" }, bd.label) : null));
  }
  for (const sp of spans) {
    const a = x(Math.max(xMin, sp.from));
    const b = x(Math.min(xMax, sp.to));
    if (b > a) root.append(svg("rect", { class: "action-span", x: a, y: padT, width: b - a, height: plotH }, svg("title", {}, sp.title)));
  }

  for (const t of yt) {
    root.append(svg("line", { class: "grid", x1: padL, x2: width - padR, y1: y(t), y2: y(t) }),
      svg("text", { x: padL - 6, y: y(t), "text-anchor": "end", "dominant-baseline": "central", class: "axis-text" }, yFormat(t)));
  }
  const xt = xLabels ? [...new Set(xs)].sort((a, b) => a - b) : ticks(xMin, xMax, 6).filter((t) => t >= xMin && t <= xMax);
  const step = Math.ceil(xt.length / 10);
  xt.forEach((t, i) => {
    if (i % step) return;
    root.append(svg("text", { x: x(t), y: padT + plotH + 16, "text-anchor": "middle", class: "axis-text" }, xLabels ? xLabels(t) : xFormat(t)));
  });
  root.append(svg("line", { class: "axis", x1: padL, x2: width - padR, y1: padT + plotH, y2: padT + plotH }));
  if (xTitle) root.append(svg("text", { x: padL + plotW / 2, y: height - 6, "text-anchor": "middle", class: "axis-title" }, xTitle));

  series.forEach((s, i) => {
    const cls = `series s${s.color ?? i}`;
    if (s.points.length > 1) {
      root.append(svg("polyline", { class: cls + (s.dashed ? " dashed" : ""), points: s.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ") }));
    }
    if (s.points.length <= 80) {
      for (const p of s.points) {
        const dot = svg("circle", { class: cls + " dot", cx: x(p[0]), cy: y(p[1]), r: s.points.length > 30 ? 2 : 3.5, "data-x": p[0], "data-y": p[1] },
          svg("title", {}, `${s.name} at ${xLabels ? xLabels(p[0]) : xFormat(p[0])}: ${yFormat(p[1])}`));
        const href = hrefs && hrefs(p[0]);
        root.append(href ? svg("a", { href, "aria-label": `${s.name} at ${xLabels ? xLabels(p[0]) : xFormat(p[0])}: ${yFormat(p[1])}` }, dot) : dot);
      }
    }
  });
  for (const m of placed) {
    const ly = 30 + m.row * LABEL_H + LABEL_H / 2 - 2;
    root.append(svg("g", { class: m.cls || `action-marker${m.failed ? " failed" : ""}`, "data-label": m.label, "data-at": m.x },
      svg("title", {}, m.title || m.label),
      svg("line", { class: "action-line", x1: m.mx, x2: m.mx, y1: ly + LABEL_H / 2 - 2, y2: padT + plotH }),
      svg("rect", { class: "action-tag", x: m.left, y: ly - LABEL_H / 2 + 1, width: m.w, height: LABEL_H - 1, rx: 3 }),
      svg("text", { class: "action-label", x: m.left + m.w / 2, y: ly + 1, "text-anchor": "middle", "dominant-baseline": "central" }, m.label)));
  }
  // Legend, top right.
  let lx = width - padR;
  for (let i = series.length - 1; i >= 0; i--) {
    const s = series[i];
    const w = 26 + s.name.length * 6.6;
    lx -= w;
    root.append(svg("line", { class: `series s${s.color ?? i}` + (s.dashed ? " dashed" : ""), x1: lx, x2: lx + 16, y1: 12, y2: 12 }),
      svg("text", { x: lx + 20, y: 12, "dominant-baseline": "central", class: "legend-text" }, s.name));
  }
  return root;
}

/**
 * pairBars draws, per row, run A's and run B's value as two horizontal
 * bars on one scale.
 */
export function pairBars(rows, { label = "Comparison", format = short, aName = "A", bName = "B" } = {}) {
  const width = 560;
  const rowH = 34;
  const padT = 26;
  const height = padT + rows.length * rowH + 6;
  const padL = 56;
  const padR = 84;
  const plotW = width - padL - padR;
  const max = Math.max(1e-9, ...rows.flatMap((r) => [r.a, r.b]));
  const root = frame(width, height, label, "chart-pairs");
  root.append(
    svg("rect", { class: "bar pair-a", x: padL, y: 6, width: 12, height: 8, rx: 2 }), svg("text", { x: padL + 16, y: 10, "dominant-baseline": "central", class: "legend-text" }, aName),
    svg("rect", { class: "bar pair-b", x: padL + 110, y: 6, width: 12, height: 8, rx: 2 }), svg("text", { x: padL + 126, y: 10, "dominant-baseline": "central", class: "legend-text" }, bName));
  rows.forEach((r, i) => {
    const y0 = padT + i * rowH;
    root.append(svg("text", { x: padL - 10, y: y0 + rowH / 2 - 2, "text-anchor": "end", "dominant-baseline": "central", class: "label-strong" }, r.name));
    [["a", r.a, 0], ["b", r.b, 1]].forEach(([k, v, j]) => {
      const w = Math.max(1, (plotW * v) / max);
      const yy = y0 + 3 + j * 13;
      root.append(svg("rect", { class: `bar pair-${k}`, x: padL, y: yy, width: w, height: 11, rx: 2 }, svg("title", {}, `${r.name}, run ${k === "a" ? aName : bName}: ${format(v)}`)),
        svg("text", { x: padL + w + 6, y: yy + 6, "dominant-baseline": "central", class: "value-text small" }, format(v)));
    });
  });
  return root;
}

const pad2 = (n) => String(n).padStart(2, "0");
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * fireCalendar draws a schedule's calendar as the server lays it out (GET
 * …/calendar): a day × 24-hour grid on the schedule's clock, one row per
 * day of the range; the times that fire as dots (the server's next fires,
 * whose instants next holds in ms, larger), the times a blackout window
 * skips as rings, the stretches the windows hold shaded, and the hours
 * outside the range hatched. The clock is read off the server's times,
 * which are written in the schedule's zone. More than 400 times (or a
 * list the server cut short) are drawn as a count per hour instead.
 */
export function fireCalendar(cal, { next = new Set() } = {}) {
  const tz = cal.timezone;
  const width = 1100;
  const padL = 96;
  const padR = 12;
  const padT = 24;
  const rowH = 30;
  const plotW = width - padL - padR;
  const DAY = 86400000;
  const first = wallClock(cal.from);
  const end = wallClock(cal.to);
  const base = first.date;
  // A range that ends at midnight ends with the day before.
  const lastDate = end.date > base && end.hour === 0 && end.minute === 0 && end.second === 0 ? end.date - DAY : end.date;
  const rows = [];
  for (let d = base; d <= lastDate && rows.length < 40; d += DAY) {
    const day = new Date(d);
    rows.push({ label: d === base ? "Today" : `${WEEKDAYS[day.getUTCDay()]} ${day.getUTCDate()} ${MONTHS[day.getUTCMonth()]}` });
  }
  const legendH = 26;
  const height = padT + rows.length * rowH + legendH + 8;
  const xMin = (min) => padL + (plotW * min) / 1440;
  const place = (iso) => {
    const w = wallClock(iso);
    return { row: Math.round((w.date - base) / DAY), hour: w.hour, x: xMin(w.hour * 60 + w.minute + w.second / 60) };
  };
  const rowY = (r) => padT + r * rowH;
  const fires = cal.fires.filter((f) => !f.skipped);
  const blocked = cal.fires.filter((f) => f.skipped);
  const dense = cal.truncated || cal.fires.length > 400;
  let total = 0;
  let skipped = 0;
  for (const h of cal.hours) {
    total += h.fires;
    skipped += h.skipped;
  }
  const label = `Calendar of the next 7 days in ${tz}: ${total} fires` +
    (skipped ? `, ${skipped} skipped by blackout windows` : "") + (cal.blackouts.length ? `, ${cal.blackouts.length} blackout stretches shaded` : "");
  const root = frame(width, height, label, "chart-calendar");

  // Hour labels, the rows and the blackout stretches.
  for (let h = 0; h <= 24; h += 3) {
    root.append(svg("text", { x: xMin(h * 60), y: padT - 8, "text-anchor": h === 0 ? "start" : h === 24 ? "end" : "middle", class: "axis-text" }, `${pad2(h)}:00`));
  }
  rows.forEach((r, i) => {
    const y = rowY(i);
    root.append(
      svg("rect", { class: `cal-row ${i % 2 ? "odd" : ""}`, x: padL, y, width: plotW, height: rowH }),
      svg("text", { x: padL - 8, y: y + rowH / 2, "text-anchor": "end", "dominant-baseline": "central", class: `cal-day${i === 0 ? " today" : ""}` }, r.label));
  });
  for (const b of cal.blackouts) {
    const a = place(b.from);
    const e = place(b.to);
    const title = `Blackout: ${describeBlackout(b.window)}${b.window.reason ? " — " + b.window.reason : ""} (${fmtWall(b.from)} to ${fmtWall(b.to)})`;
    for (let r = Math.max(0, a.row); r <= Math.min(rows.length - 1, e.row); r++) {
      const x0 = r === a.row ? a.x : xMin(0);
      const x1 = r === e.row ? e.x : xMin(1440);
      if (x1 <= x0) continue;
      root.append(svg("rect", { class: "blackout", x: x0, y: rowY(r) + 1, width: Math.max(1, x1 - x0), height: rowH - 2 }, svg("title", {}, title)));
    }
  }
  for (let h = 0; h <= 24; h++) {
    root.append(svg("line", { class: h % 6 ? "cal-grid" : "cal-grid major", x1: xMin(h * 60), x2: xMin(h * 60), y1: padT, y2: rowY(rows.length) }));
  }
  // The hours outside the range.
  const start = place(cal.from);
  const stop = place(cal.to);
  if (start.x > padL) root.append(svg("rect", { class: "cal-outside", x: padL, y: rowY(0), width: start.x - padL, height: rowH }, svg("title", {}, "Past")));
  if (stop.row < rows.length && stop.x < padL + plotW) {
    root.append(svg("rect", { class: "cal-outside", x: stop.x, y: rowY(stop.row), width: padL + plotW - stop.x, height: rowH }, svg("title", {}, "Beyond the next 7 days")));
  }
  root.append(svg("line", { class: "cal-now", x1: start.x, x2: start.x, y1: rowY(0) - 3, y2: rowY(1) + 3 }, svg("title", {}, `Now: ${fmtWall(cal.from)}`)));

  if (!dense) {
    for (const f of fires) {
      const p = place(f.at);
      const ms = Date.parse(f.at);
      const isNext = next.has(ms);
      root.append(svg("circle", { class: `fire${isNext ? " next" : ""}`, cx: p.x, cy: rowY(p.row) + rowH / 2, r: isNext ? 5.5 : 4, "data-time": new Date(ms).toISOString() },
        svg("title", {}, `${isNext ? "Next fire" : "Fires"} ${fmtWall(f.at)} (${tz})`)));
    }
    for (const f of blocked) {
      const p = place(f.at);
      root.append(svg("circle", { class: "fire-blocked", cx: p.x, cy: rowY(p.row) + rowH / 2, r: 4, "data-time": new Date(Date.parse(f.at)).toISOString() },
        svg("title", {}, `Skipped ${fmtWall(f.at)}: ${f.reason}`)));
    }
  } else {
    // Dense schedules: the fires per hour; the skipped ones are left to
    // the shading. An hour the clock repeats is one cell.
    const cells = new Map();
    for (const h of cal.hours) {
      if (!h.fires) continue;
      const p = place(h.from);
      const k = `${p.row}:${p.hour}`;
      cells.set(k, (cells.get(k) || 0) + h.fires);
    }
    const maxN = Math.max(1, ...cells.values());
    for (const [k, n] of cells) {
      const [row, hour] = k.split(":").map(Number);
      if (row < 0 || row >= rows.length) continue;
      root.append(svg("rect", { class: "fire-cell", x: xMin(hour * 60) + 1, y: rowY(row) + 5, width: plotW / 24 - 2, height: rowH - 10, rx: 2, "fill-opacity": (0.35 + 0.65 * n / maxN).toFixed(2) },
        svg("title", {}, `${n} fires from ${pad2(hour)}:00`)));
    }
  }

  // Legend.
  const ly = rowY(rows.length) + 18;
  let lx = padL;
  const item = (shape, text) => {
    root.append(shape(lx), svg("text", { x: lx + 14, y: ly, "dominant-baseline": "central", class: "legend-text" }, text));
    lx += 28 + text.length * 6.2;
  };
  item((x) => svg("circle", { class: "fire legend", cx: x + 5, cy: ly, r: 4 }), "fire");
  item((x) => svg("circle", { class: "fire next legend", cx: x + 5, cy: ly, r: 5.5 }), "next fires (server)");
  if (blocked.length && !dense) item((x) => svg("circle", { class: "fire-blocked legend", cx: x + 5, cy: ly, r: 4 }), "skipped by a blackout");
  if (cal.blackouts.length) item((x) => svg("rect", { class: "blackout legend", x, y: ly - 6, width: 11, height: 12 }), "blackout window");
  item((x) => svg("rect", { class: "cal-outside legend", x, y: ly - 6, width: 11, height: 12 }), "outside the 7 days");
  return root;
}

/**
 * stepTimeline draws a game day's steps as horizontal bars on one time
 * axis (a Gantt chart), coloured by status. rows: {id, label, kind,
 * status, start, end (ms; end null while running), href, depth, title}.
 * Steps without a start say why on their row ("waiting", "skipped", "not
 * taken" for an action its run never took); action steps are a diamond at
 * the moment their run took the action. from and to bound the axis (ms).
 */
export function stepTimeline(rows, { from, to, label = "Game-day timeline" } = {}) {
  const width = 900;
  const padL = 250;
  const padR = 20;
  const padT = 30;
  const rowH = 28;
  const plotW = width - padL - padR;
  const height = padT + rows.length * rowH + 10;
  const span = Math.max(1000, to - from);
  const x = (t) => padL + (plotW * (Math.min(Math.max(t, from), from + span) - from)) / span;
  const root = frame(width, height, label, "chart-gantt");
  const secs = span / 1000;
  for (const t of ticks(0, secs, 6).filter((v) => v <= secs)) {
    const tx = padL + (plotW * t) / secs;
    root.append(svg("line", { class: "grid", x1: tx, x2: tx, y1: padT - 4, y2: height - 10 }),
      svg("text", { x: tx, y: padT - 10, "text-anchor": "middle", class: "axis-text" }, t >= 60 ? `${short(t / 60)} min` : `${short(t)} s`));
  }
  rows.forEach((r, i) => {
    const y = padT + i * rowH;
    const cy = y + rowH / 2;
    const text = r.label.length > 38 ? r.label.slice(0, 37) + "…" : r.label;
    root.append(svg("rect", { class: `gantt-row${i % 2 ? " odd" : ""}`, x: 0, y, width, height: rowH }),
      svg("text", { x: 8 + 14 * (r.depth || 0), y: cy, "dominant-baseline": "central", class: `gantt-label${r.kind === "parallel" ? " group" : ""}` }, text, svg("title", {}, r.label)));
    let mark;
    if (!r.start) {
      const note = r.status === "skipped" ? "skipped" : r.status === "running" ? "waiting" : r.kind === "action" ? "not taken" : r.status;
      mark = svg("text", { x: padL + 6, y: cy, "dominant-baseline": "central", class: "gantt-none" }, note);
    } else if (r.kind === "action") {
      const ax = x(r.start);
      mark = svg("path", { class: `gantt-action status-${r.status}`, d: `M${ax} ${cy - 7}L${ax + 7} ${cy}L${ax} ${cy + 7}L${ax - 7} ${cy}Z` });
    } else {
      const x0 = x(r.start);
      const x1 = x(r.end || to);
      mark = svg("rect", { class: `gantt-bar status-${r.status}${r.kind === "parallel" ? " group" : ""}`, x: x0, y: y + (r.kind === "parallel" ? 9 : 6), width: Math.max(3, x1 - x0), height: r.kind === "parallel" ? 10 : rowH - 12, rx: 3 });
    }
    mark.append(svg("title", {}, r.title || `${r.label}: ${r.status}`));
    root.append(r.href && r.start ? svg("a", { href: r.href, class: "gantt-link", "aria-label": r.title || `${r.label}: ${r.status}` }, mark) : mark);
  });
  return root;
}

/**
 * intervalBar draws one prediction: its interval [low, high] as a bar on
 * a small axis, the predicted value as a tick inside it and, when there is
 * one, the observed value as a dot (inside the interval or out of it).
 * format labels the values.
 */
export function intervalBar({ low, high, predicted, observed = null, format = short, label = "Prediction" }) {
  const width = 240;
  const height = 40;
  const padX = 10;
  const vals = [low, high, predicted, ...(observed === null || observed === undefined ? [] : [observed])].filter((v) => Number.isFinite(v));
  let min = Math.min(...vals);
  let max = Math.max(...vals);
  if (!(max > min)) { const d = Math.abs(min) * 0.1 || 1; min -= d; max += d; }
  const pad = (max - min) * 0.12;
  min -= pad;
  max += pad;
  const x = (v) => padX + ((width - 2 * padX) * (v - min)) / (max - min);
  const has = observed !== null && observed !== undefined && Number.isFinite(observed);
  const inside = has && observed >= low - 1e-9 && observed <= high + 1e-9;
  const summary = `${label}: predicted ${format(predicted)}, 95 % interval ${format(low)} to ${format(high)}` +
    (has ? `, observed ${format(observed)}, ${inside ? "within" : "outside"} the interval` : ", not observed");
  const root = frame(width, height, summary, "chart-interval");
  const cy = 14;
  root.append(
    svg("line", { class: "axis", x1: padX, x2: width - padX, y1: cy, y2: cy }),
    svg("rect", { class: "interval", x: x(low), y: cy - 6, width: Math.max(2, x(high) - x(low)), height: 12, rx: 3 }, svg("title", {}, `95 % interval ${format(low)} – ${format(high)}`)),
    svg("line", { class: "predicted", x1: x(predicted), x2: x(predicted), y1: cy - 9, y2: cy + 9, "data-value": predicted }, svg("title", {}, `predicted ${format(predicted)}`)),
    ...(x(high) - x(low) >= 56
      ? [svg("text", { class: "axis-text", x: x(low), y: cy + 19, "text-anchor": "middle" }, format(low)),
        svg("text", { class: "axis-text", x: x(high), y: cy + 19, "text-anchor": "middle" }, format(high))]
      : [svg("text", { class: "axis-text", x: Math.min(width - 60, Math.max(60, (x(low) + x(high)) / 2)), y: cy + 19, "text-anchor": "middle" }, `${format(low)} – ${format(high)}`)]));
  if (has) {
    root.append(svg("circle", { class: `observed ${inside ? "inside" : "outside"}`, cx: x(observed), cy, r: 5, "data-value": observed }, svg("title", {}, `observed ${format(observed)}`)));
  }
  return root;
}
