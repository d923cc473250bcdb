// Finding a field in YAML text: the line of a path such as
// spec.steps[1].experiment in a block-style document, so an error the
// server names by its field can be shown at its line in the editor.

const isBlank = (line) => !line.trim() || /^\s*#/.test(line);
const indentOf = (line) => line.search(/\S/);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** pathSegments splits "spec.steps[1].experiment" into ["spec", "steps", 1, "experiment"]. */
export function pathSegments(path) {
  const out = [];
  String(path || "").replace(/([^.[\]]+)|\[(\d+)\]/g, (_, key, index) => {
    out.push(index !== undefined ? Number(index) : key);
    return "";
  });
  return out;
}

/**
 * yamlPathLine returns the 1-based line of path in src, or of the deepest
 * part of it that can be found (flow-style {…} and […] values are not
 * entered); 0 when not even the first key is found. Only the first
 * document of a stream is searched.
 */
export function yamlPathLine(src, path) {
  const lines = String(src).split("\n");
  let hi = lines.findIndex((l, i) => i > 0 && /^---\s*$/.test(l) && lines.slice(0, i).some((x) => !isBlank(x) && !/^---/.test(x)));
  if (hi < 0) hi = lines.length;
  let lo = 0;
  let col = 0; // the column the current mapping's keys start at
  let best = 0;
  for (const seg of pathSegments(path)) {
    if (typeof seg === "number") {
      let itemCol = -1;
      let n = -1;
      let at = -1;
      for (let i = lo; i < hi; i++) {
        if (isBlank(lines[i])) continue;
        const m = /^(\s*)-(\s|$)/.exec(lines[i]);
        if (!m) {
          if (itemCol < 0) return best; // not a block sequence
          continue;
        }
        if (itemCol < 0) itemCol = m[1].length;
        if (m[1].length !== itemCol) continue;
        if (++n === seg) { at = i; break; }
      }
      if (at < 0) return best;
      best = at + 1;
      let end = hi;
      for (let i = at + 1; i < hi; i++) {
        if (!isBlank(lines[i]) && indentOf(lines[i]) <= itemCol) { end = i; break; }
      }
      lo = at;
      hi = end;
      col = /^\s*-\s*/.exec(lines[at])[0].length;
      continue;
    }
    const re = new RegExp(`^(\\s*(?:-\\s+)?)(["']?)${escape(seg)}\\2\\s*:(\\s|$)`);
    let at = -1;
    for (let i = lo; i < hi; i++) {
      const m = re.exec(lines[i]);
      if (m && m[1].length === col) { at = i; break; }
    }
    if (at < 0) return best;
    best = at + 1;
    // The value: the lines below indented deeper, or a sequence at the key's column.
    let end = hi;
    let first = -1;
    for (let i = at + 1; i < hi; i++) {
      if (isBlank(lines[i])) continue;
      const c = indentOf(lines[i]);
      if (c < col || (c === col && !/^\s*-(\s|$)/.test(lines[i]))) { end = i; break; }
      if (first < 0) first = i;
    }
    if (first < 0) return best; // a value on the key's own line
    lo = first;
    hi = end;
    col = /^\s*-(\s|$)/.test(lines[first]) ? -1 : indentOf(lines[first]);
  }
  return best;
}
