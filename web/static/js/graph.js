// The service graph of an environment, drawn as SVG from GET
// /environments/{id}/graph, the way Kiali draws a mesh: a box per service
// (and "unknown" for clients outside the services), an arrow per caller →
// callee labelled with its rate, error ratio and p99, coloured by its error
// ratio, dashed with a "fault" badge where a fault in force acts on the
// callee. Only the edges with traffic in the window are drawn.
//
// The layout is a plain layered one, the same for the same data: cycles
// are broken where a depth-first walk from the roots meets a node on its
// own path, each node's column is its longest path from a root ("unknown"
// first), and each column is ordered by the mean row of its callers, then
// by name.

import { svg, fmtNum, fmtPct, fmtMs } from "./dom.js";

/**
 * THRESHOLDS colour an edge by its error ratio in the window: amber from
 * degraded, red from failure. They are Kiali's defaults for 5xx (any
 * error at all degrades, more than 10 % fails); the graph counts 5xx and
 * resets as errors, as Kiali's 5xx tolerance does.
 */
export const THRESHOLDS = { degraded: 0.001, failure: 0.1 };

export const UNKNOWN = "unknown";

/** edgeLevel is an edge's colour: idle (no traffic in the window), ok, warn or bad. */
export function edgeLevel(e) {
  if (!e.windowRequests) return "idle";
  if (e.errorRatio >= THRESHOLDS.failure) return "bad";
  if (e.errorRatio >= THRESHOLDS.degraded) return "warn";
  return "ok";
}

const LEVEL_RANK = { idle: 0, ok: 1, warn: 2, bad: 3 };

const byName = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * graphLayout places the services of edges in columns: it returns
 * {nodes: Map name → {name, column, row}, columns: [[name…]…], back: Set
 * of "source→destination" edges drawn against the flow}.
 */
export function graphLayout(edges) {
  const names = [...new Set(edges.flatMap((e) => [e.source, e.destination]))].sort(byName);
  const out = new Map(names.map((n) => [n, []]));
  const incoming = new Map(names.map((n) => [n, 0]));
  for (const e of edges) {
    if (e.source === e.destination) continue;
    out.get(e.source).push(e.destination);
    incoming.set(e.destination, incoming.get(e.destination) + 1);
  }
  for (const list of out.values()) list.sort(byName);

  // Roots: the outside clients, then every service nobody calls, then
  // (for a cycle nothing else reaches) the first service not yet seen.
  const roots = [];
  if (out.has(UNKNOWN)) roots.push(UNKNOWN);
  for (const n of names) if (n !== UNKNOWN && incoming.get(n) === 0) roots.push(n);
  const state = new Map(); // name → "open" while on the walk's path, then "done"
  const back = new Set();
  const walk = (n) => {
    state.set(n, "open");
    for (const m of out.get(n)) {
      if (state.get(m) === "open") back.add(`${n}→${m}`);
      else if (!state.has(m)) walk(m);
    }
    state.set(n, "done");
  };
  for (const r of roots) if (!state.has(r)) walk(r);
  for (const n of names) {
    if (!state.has(n)) {
      roots.push(n);
      walk(n);
    }
  }

  // Columns: the longest path from a root over the edges that go with the
  // flow, in topological order (Kahn's, taking names in order).
  const parents = new Map(names.map((n) => [n, []]));
  const pending = new Map(names.map((n) => [n, 0]));
  for (const [n, list] of out) {
    for (const m of list) {
      if (back.has(`${n}→${m}`)) continue;
      parents.get(m).push(n);
      pending.set(m, pending.get(m) + 1);
    }
  }
  const column = new Map();
  const ready = names.filter((n) => pending.get(n) === 0);
  const order = [];
  while (ready.length) {
    ready.sort((a, b) => (a === UNKNOWN ? -1 : b === UNKNOWN ? 1 : byName(a, b)));
    const n = ready.shift();
    order.push(n);
    column.set(n, Math.max(0, ...parents.get(n).map((p) => column.get(p) + 1)));
    for (const m of out.get(n)) {
      if (back.has(`${n}→${m}`)) continue;
      pending.set(m, pending.get(m) - 1);
      if (pending.get(m) === 0) ready.push(m);
    }
  }

  // Rows: column 0 has the outside clients first, then names; every later
  // column is ordered by the mean row of its callers, then by name.
  const columns = [];
  for (const n of order) {
    const c = column.get(n);
    while (columns.length <= c) columns.push([]);
    columns[c].push(n);
  }
  const nodes = new Map();
  columns.forEach((col, c) => {
    const mean = (n) => {
      const rows = parents.get(n).map((p) => nodes.get(p)).filter(Boolean).map((p) => p.row);
      return rows.length ? rows.reduce((s, r) => s + r, 0) / rows.length : Infinity;
    };
    const key = new Map(col.map((n) => [n, c === 0 ? (n === UNKNOWN ? -1 : 0) : mean(n)]));
    col.sort((a, b) => key.get(a) - key.get(b) || byName(a, b));
    col.forEach((n, row) => nodes.set(n, { name: n, column: c, row }));
  });
  return { nodes, columns, back };
}

// Geometry, in SVG units.
const NODE_W = 150;
const NODE_H = 44;
const COL_GAP = 190;
const ROW_H = 104;
const PAD = 24;
const ARC_ROOM = 64; // above the nodes, for edges drawn against the flow
const LABEL_W = 132;
const LABEL_H = 32;

const rpsText = (r) => `${fmtNum(r, r < 1 ? 2 : r < 100 ? 1 : 0)} rps`;
// Error ratios under 1 % keep two decimals: 0.05 % is below the amber line, 0.1 % is on it.
const ratioText = (r) => fmtPct(r, r > 0 && r < 0.01 ? 2 : 1);

/** edgeSummary says an edge in words, for its title and the chart's name. */
export function edgeSummary(e) {
  return `${e.source} → ${e.destination}: ${rpsText(e.rps)}, ${ratioText(e.errorRatio)} errors, p50 ${fmtMs(e.p50Ms)}, p99 ${fmtMs(e.p99Ms)}` +
    `, ${fmtNum(e.requests)} requests since the environment started` + (e.faulted ? `; a fault in force acts on ${e.destination}` : "");
}

let seq = 0;

/**
 * serviceGraph draws graph ({windowSeconds, edges}) as an SVG element:
 * nodes g.graph-node[data-name], edges g.graph-edge[data-source]
 * [data-destination] with the level (ok, warn, bad) and "faulted" as
 * classes, and their labels g.graph-label[data-source][data-destination]
 * (text.edge-label; a g.fault-badge when faulted), drawn over the nodes.
 */
export function serviceGraph(graph, { label = "Service graph" } = {}) {
  const windowS = Math.max(1, Math.round((graph && graph.windowSeconds) || 60));
  const edges = ((graph && graph.edges) || []).filter((e) => e.windowRequests > 0);
  if (!edges.length) {
    const message = "No traffic through this environment in the last minute";
    return svg("svg", { class: "chart service-graph graph-empty", viewBox: "0 0 640 120", style: "max-width: 640px", role: "img", "aria-label": `${label}: ${message}`, preserveAspectRatio: "xMinYMin meet" },
      svg("title", {}, `${label}: ${message}`),
      svg("text", { x: 320, y: 60, "text-anchor": "middle", "dominant-baseline": "central", class: "muted-text graph-empty-text" }, message));
  }
  const { nodes, columns } = graphLayout(edges);
  const rows = Math.max(...columns.map((c) => c.length));
  const col = (n) => nodes.get(n).column;
  const hasArcs = edges.some((e) => e.source === e.destination || col(e.source) > col(e.destination));
  const top = PAD + (hasArcs ? ARC_ROOM : 0);
  const sideways = edges.some((e) => e.source === e.destination || col(e.source) === col(e.destination));
  const width = 2 * PAD + columns.length * NODE_W + (columns.length - 1) * COL_GAP + (sideways ? 60 + LABEL_W : 0);
  // A call that skips a column runs in a lane of its own under the nodes,
  // so it crosses neither the nodes between nor their labels.
  const long = edges.filter((e) => col(e.destination) - col(e.source) > 1);
  const bottom = top + rows * ROW_H - (ROW_H - NODE_H);
  const LANE_H = LABEL_H + 14;
  const lane = new Map(long.map((e, i) => [e, bottom + 28 + i * LANE_H + LABEL_H / 2]));
  const height = bottom + long.length * LANE_H + PAD + 16 + (long.length ? 14 : 0);
  const box = (n) => {
    const p = nodes.get(n);
    const offset = ((rows - columns[p.column].length) * ROW_H) / 2;
    return { x: PAD + p.column * (NODE_W + COL_GAP), y: top + offset + p.row * ROW_H };
  };

  const id = `sg${++seq}`;
  const summary = `${label} of the last ${windowS} s: ${edges.length} call${edges.length === 1 ? "" : "s"} among ${nodes.size} services. ` +
    edges.map(edgeSummary).join(". ");
  // Never drawn larger than life: a small graph keeps its text size.
  const root = svg("svg", { class: "chart service-graph", viewBox: `0 0 ${width} ${height}`, style: `max-width: ${width}px`, role: "img", "aria-label": summary, preserveAspectRatio: "xMidYMin meet", dataset: { edges: String(edges.length) } },
    svg("title", {}, summary),
    svg("defs", {}, ["ok", "warn", "bad"].map((lv) => svg("marker", { id: `${id}-${lv}`, class: `arrow arrow-${lv}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse", markerUnits: "userSpaceOnUse" },
      svg("path", { d: "M0 0L10 5L0 10z" })))));

  // The worst edge into each node colours its border.
  const worst = new Map();
  for (const e of edges) {
    const lv = edgeLevel(e);
    if (LEVEL_RANK[lv] > LEVEL_RANK[worst.get(e.destination) || "idle"]) worst.set(e.destination, lv);
  }

  // Edges first, so the nodes sit on top of their ends; labels last.
  const labels = [];
  const edgeLayer = svg("g", { class: "graph-edges" });
  for (const e of edges) {
    const lv = edgeLevel(e);
    const a = box(e.source);
    const b = box(e.destination);
    let d;
    let lx;
    let ly;
    if (e.source === e.destination) {
      const x = a.x + NODE_W - 24;
      d = `M${x} ${a.y}C${x} ${a.y - 46} ${a.x + NODE_W + 40} ${a.y - 10} ${a.x + NODE_W} ${a.y + 12}`;
      lx = a.x + NODE_W + 10;
      ly = a.y - 40;
    } else if (col(e.source) === col(e.destination)) {
      // Within a column (a cycle can leave one): a bulge to the right.
      const x = a.x + NODE_W;
      const y1 = a.y + NODE_H / 2;
      const y2 = b.y + NODE_H / 2;
      d = `M${x} ${y1}C${x + 70} ${y1} ${x + 70} ${y2} ${x} ${y2}`;
      lx = x + 52 + LABEL_W / 2;
      ly = (y1 + y2) / 2;
    } else if (col(e.source) > col(e.destination)) {
      // Against the flow: an arc over the nodes.
      const x1 = a.x + NODE_W / 2;
      const x2 = b.x + NODE_W / 2;
      const lift = 40 + Math.min(ARC_ROOM - 16, Math.abs(x2 - x1) * 0.08);
      const yTop = Math.min(a.y, b.y) - lift;
      d = `M${x1} ${a.y}C${x1} ${yTop} ${x2} ${yTop} ${x2} ${b.y}`;
      lx = (x1 + x2) / 2;
      ly = Math.min(a.y, b.y) - lift * 0.75;
    } else if (lane.has(e)) {
      const x1 = a.x + NODE_W;
      const y1 = a.y + NODE_H / 2;
      const x2 = b.x;
      const y2 = b.y + NODE_H / 2;
      const yl = lane.get(e);
      const r = COL_GAP / 2;
      d = `M${x1} ${y1}C${x1 + r} ${y1} ${x1 + r / 2} ${yl} ${x1 + r} ${yl}L${x2 - r} ${yl}C${x2 - r / 2} ${yl} ${x2 - r} ${y2} ${x2} ${y2}`;
      lx = (x1 + x2) / 2;
      ly = yl;
    } else {
      const x1 = a.x + NODE_W;
      const y1 = a.y + NODE_H / 2;
      const x2 = b.x;
      const y2 = b.y + NODE_H / 2;
      const dx = (x2 - x1) / 2;
      d = `M${x1} ${y1}C${x1 + dx} ${y1} ${x2 - dx} ${y2} ${x2} ${y2}`;
      lx = (x1 + x2) / 2;
      ly = (y1 + y2) / 2;
    }
    const stroke = 1.6 + Math.min(3, Math.log10(1 + e.rps));
    const g = svg("g", { class: `graph-edge ${lv}${e.faulted ? " faulted" : ""}`, dataset: { source: e.source, destination: e.destination, level: lv, faulted: String(!!e.faulted) } },
      svg("title", {}, edgeSummary(e)),
      svg("path", { class: "edge-line", d, "stroke-width": stroke.toFixed(1), "marker-end": `url(#${id}-${lv === "idle" ? "ok" : lv})` }));
    edgeLayer.append(g);
    labels.push({ e, lv, x: lx - LABEL_W / 2, y: ly - LABEL_H / 2 });
  }
  root.append(edgeLayer);

  const nodeLayer = svg("g", { class: "graph-nodes" });
  for (const n of nodes.values()) {
    const { x, y } = box(n.name);
    const outside = n.name === UNKNOWN;
    const lv = worst.get(n.name) || "idle";
    nodeLayer.append(svg("g", { class: `graph-node${outside ? " outside" : ""} ${lv}`, dataset: { name: n.name, column: String(n.column), row: String(n.row) } },
      svg("title", {}, outside ? "unknown: clients outside the environment's services (the load, curl)" : `${n.name}, column ${n.column + 1}`),
      svg("rect", { class: "node-box", x, y, width: NODE_W, height: NODE_H, rx: outside ? 22 : 8 }),
      svg("text", { class: "node-name", x: x + NODE_W / 2, y: y + (outside ? 17 : NODE_H / 2), "text-anchor": "middle", "dominant-baseline": "central" }, clip(n.name, 20)),
      outside ? svg("text", { class: "node-sub", x: x + NODE_W / 2, y: y + 31, "text-anchor": "middle", "dominant-baseline": "central" }, "outside clients") : null));
  }
  root.append(nodeLayer);

  // Labels, moved down where they would overlap one placed before.
  labels.sort((p, q) => p.x - q.x || p.y - q.y);
  const placed = [];
  const labelLayer = svg("g", { class: "graph-labels" });
  for (const l of labels) {
    const h = LABEL_H + (l.e.faulted ? 16 : 0);
    let y = l.y - (l.e.faulted ? 16 : 0);
    for (let moved = true; moved;) {
      moved = false;
      for (const p of placed) {
        if (l.x < p.x + LABEL_W && p.x < l.x + LABEL_W && y < p.y + p.h + 2 && p.y < y + h + 2) {
          y = p.y + p.h + 3;
          moved = true;
        }
      }
    }
    placed.push({ x: l.x, y, h });
    const parts = [];
    let ty = y;
    if (l.e.faulted) {
      parts.push(svg("g", { class: "fault-badge" },
        svg("rect", { x: l.x + LABEL_W / 2 - 22, y: ty, width: 44, height: 14, rx: 7 }),
        svg("text", { x: l.x + LABEL_W / 2, y: ty + 7.5, "text-anchor": "middle", "dominant-baseline": "central" }, "fault")));
      ty += 16;
    }
    parts.push(
      svg("rect", { class: "label-box", x: l.x, y: ty, width: LABEL_W, height: LABEL_H, rx: 4 }),
      svg("text", { class: "edge-label", x: l.x + LABEL_W / 2, y: ty + 11, "text-anchor": "middle", "dominant-baseline": "central" },
        svg("tspan", { class: "edge-rps" }, rpsText(l.e.rps)),
        svg("tspan", { class: `edge-errors ${l.lv}`, dx: 6 }, ratioText(l.e.errorRatio)),
        svg("tspan", { class: "edge-p99", x: l.x + LABEL_W / 2, dy: 13 }, `p99 ${fmtMs(l.e.p99Ms)}`)));
    labelLayer.append(svg("g", { class: `graph-label ${l.lv}${l.e.faulted ? " faulted" : ""}`, dataset: { source: l.e.source, destination: l.e.destination } },
      svg("title", {}, edgeSummary(l.e)), parts));
  }
  root.append(labelLayer);
  return root;
}

const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + "…" : s);
