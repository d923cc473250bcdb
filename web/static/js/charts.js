// Charts drawn as plain SVG: status-code bars, a latency histogram, line
// charts (latency over time, trends across runs) and paired bars for a
// comparison. Every chart is role="img" with a summary in aria-label; the
// numbers are also in a table beside it.

import { svg, codeClass, fmtNum } from "./dom.js";

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
 * hrefs (a link per x, making each point a link).
 */
export function lineChart(series, opts = {}) {
  const { width = 640, height = 240, label = "Line chart", xFormat = short, yFormat = short, xTitle = "", xLabels = null, hrefs = null, xDomain = null } = opts;
  const pts = series.flatMap((s) => s.points);
  if (!pts.length) return empty(width, 120, label, "No data yet");
  const padL = 56;
  const padR = 16;
  const padT = 30;
  const padB = xTitle ? 44 : 28;
  const plotW = width - padL - padR;
  const plotH = height - padT - padB;
  const xs = pts.map((p) => p[0]);
  let xMin = xDomain ? xDomain[0] : Math.min(...xs);
  let xMax = xDomain ? Math.max(xDomain[1], ...xs) : Math.max(...xs);
  if (xMax === xMin) { xMin -= 1; xMax += 1; }
  const yt = ticks(0, Math.max(...pts.map((p) => p[1])) || 1, 4);
  const yMax = yt[yt.length - 1];
  const x = (v) => padL + (plotW * (v - xMin)) / (xMax - xMin);
  const y = (v) => padT + plotH - (plotH * v) / yMax;
  const root = frame(width, height, label, "chart-line");

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
        const dot = svg("circle", { class: cls + " dot", cx: x(p[0]), cy: y(p[1]), r: s.points.length > 30 ? 2 : 3.5 },
          svg("title", {}, `${s.name} at ${xLabels ? xLabels(p[0]) : xFormat(p[0])}: ${yFormat(p[1])}`));
        const href = hrefs && hrefs(p[0]);
        root.append(href ? svg("a", { href, "aria-label": `${s.name} at ${xLabels ? xLabels(p[0]) : xFormat(p[0])}: ${yFormat(p[1])}` }, dot) : dot);
      }
    }
  });
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
