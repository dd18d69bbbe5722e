// A pipeline's step graph drawn as SVG from its spec: sources (input topics and named
// sources) on the left, steps by depth (a join reads two nodes), output topics on the
// right; routed outputs and the dead-letter topic with dashed edges.

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** The step's label: its name or index, and what it runs. */
function stepLabel(step, i, modules) {
  const name = step.name ?? String(i);
  const op = step.op ?? 'map';
  const running = modules?.[i];
  const what = step.module ? (running && op === 'map' ? `${running.module}@${running.version}` : step.module) : op;
  return { name, text: op === 'map' ? `${name}: ${what}` : `${name}: ${op}${step.module ? ` ${step.module}` : ''}` };
}

/** The nodes and edges of `spec` (`modules`: what runs now, from the status). */
export function layout(spec, modules) {
  const nodes = [];
  const byName = new Map();
  const add = (id, kind, text, depth) => {
    const n = { id, kind, text, depth };
    nodes.push(n);
    byName.set(id, n);
    return n;
  };
  for (const topic of spec.inputs ?? []) add(`topic:${topic}`, 'source', topic, 0);
  for (const [name, s] of Object.entries(spec.sources ?? {})) add(`source:${name}`, 'source', `${name} (${s.as ?? 'stream'} of ${s.topic})`, 0);
  const resolve = (ref) => byName.get(`step:${ref}`) ?? byName.get(`source:${ref}`) ?? byName.get(`topic:${ref}`);
  const edges = [];
  const firstInputs = nodes.filter((n) => n.kind === 'source');
  let previous = null;
  (spec.steps ?? []).forEach((step, i) => {
    const label = stepLabel(step, i, modules);
    const from = [];
    for (const ref of [step.left, step.right, step.input]) {
      if (ref !== undefined && ref !== null) {
        const n = resolve(ref);
        if (n) from.push(n);
      }
    }
    if (from.length === 0) from.push(...(previous ? [previous] : firstInputs));
    const depth = Math.max(0, ...from.map((n) => n.depth)) + 1;
    const node = add(`step:${label.name}`, step.op === 'join' ? 'join' : 'step', label.text, depth);
    byName.set(`step:${i}`, node);
    for (const f of from) edges.push({ from: f, to: node, dashed: false });
    previous = node;
  });
  const last = spec.output_from ? resolve(spec.output_from) ?? previous : previous;
  const outDepth = Math.max(0, ...nodes.map((n) => n.depth)) + 1;
  const outputs = [[spec.output, false], ...(spec.outputs ?? []).map((t) => [t, true])];
  if (spec.dead_letter_topic) outputs.push([`${spec.dead_letter_topic} (dead letters)`, true]);
  for (const [topic, dashed] of outputs) {
    if (!topic) continue;
    const node = add(`out:${topic}`, 'output', topic, outDepth);
    if (last) edges.push({ from: last, to: node, dashed });
  }
  return { nodes, edges };
}

/** The graph of `spec` as an SVG element. */
export function stepGraph(spec, modules) {
  const { nodes, edges } = layout(spec, modules);
  const colW = 210;
  const rowH = 56;
  const boxW = 180;
  const boxH = 34;
  const columns = new Map();
  for (const n of nodes) {
    const col = columns.get(n.depth) ?? [];
    n.row = col.length;
    col.push(n);
    columns.set(n.depth, col);
  }
  const rows = Math.max(1, ...[...columns.values()].map((c) => c.length));
  const width = (Math.max(...columns.keys(), 0) + 1) * colW + 20;
  const height = rows * rowH + 20;
  for (const n of nodes) {
    n.x = 10 + n.depth * colW;
    n.y = 10 + n.row * rowH + (rows - columns.get(n.depth).length) * rowH / 2;
  }
  const root = svg('svg', { class: 'graph', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': 'step graph' });
  root.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto' },
    svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));
  for (const e of edges) {
    const x1 = e.from.x + boxW;
    const y1 = e.from.y + boxH / 2;
    const x2 = e.to.x;
    const y2 = e.to.y + boxH / 2;
    const mid = (x1 + x2) / 2;
    root.append(svg('path', { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, class: `edge${e.dashed ? ' dashed' : ''}`, 'marker-end': 'url(#arrow)' }));
  }
  for (const n of nodes) {
    const g = svg('g', { class: `node ${n.kind}`, 'data-id': n.id });
    g.append(svg('rect', { x: n.x, y: n.y, width: boxW, height: boxH, rx: 5 }));
    const text = n.text.length > 26 ? `${n.text.slice(0, 25)}…` : n.text;
    g.append(svg('text', { x: n.x + boxW / 2, y: n.y + boxH / 2 + 4, 'text-anchor': 'middle' }, text));
    g.append(svg('title', {}, n.text));
    root.append(g);
  }
  return root;
}
