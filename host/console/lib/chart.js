// Charts drawn as SVG by hand (a line chart over time, a bar chart), so the console
// needs no chart library and nothing from another host. Colours come from style.css
// through the `series-N` classes.

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** A readable short form of a number for an axis. */
function short(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function clock(ms) {
  return new Date(ms).toISOString().slice(11, 19);
}

/**
 * A line chart of `series` (`[{name, points: [[timeMs, value], ...]}]`) over time,
 * `width` × `height` pixels, with a legend; `label` names the y unit.
 */
export function lineChart(series, { width = 720, height = 220, label = '' } = {}) {
  const pad = { l: 52, r: 12, t: 12, b: 40 };
  const all = series.flatMap((s) => s.points);
  const root = svg('svg', {
    class: 'chart line',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-label': `${series.map((s) => s.name).join(', ')} ${label}`,
  });
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  if (all.length === 0) {
    root.append(svg('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'empty' }, 'no samples yet'));
    return root;
  }
  const t0 = Math.min(...all.map((p) => p[0]));
  const t1 = Math.max(...all.map((p) => p[0]), t0 + 1);
  const top = Math.max(...all.map((p) => p[1]), 1) * 1.1;
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * w;
  const y = (v) => pad.t + hgt - (v / top) * hgt;
  for (let i = 0; i <= 4; i += 1) {
    const v = (top * i) / 4;
    root.append(svg('line', { x1: pad.l, x2: pad.l + w, y1: y(v), y2: y(v), class: 'grid' }));
    root.append(svg('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, short(v)));
  }
  // The last tick ends at the plot's right edge, so its label is not clipped by the frame.
  for (const [t, anchor] of [[t0, 'middle'], [(t0 + t1) / 2, 'middle'], [t1, 'end']]) {
    root.append(svg('text', { x: x(t), y: pad.t + hgt + 16, 'text-anchor': anchor, class: 'axis' }, clock(t)));
  }
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
    root.append(svg('path', { d, class: `series series-${i}`, 'data-name': s.name }));
    const lx = pad.l + i * 160;
    root.append(svg('rect', { x: lx, y: height - 14, width: 10, height: 10, class: `swatch series-${i}` }));
    root.append(svg('text', { x: lx + 14, y: height - 5, class: 'legend' }, `${s.name}${label ? ` (${label})` : ''}`));
  });
  return root;
}

/** A bar chart of `bars` (`[{label, value}]`), one bar each, values written above. */
export function barChart(bars, { width = 720, height = 220, label = '' } = {}) {
  const pad = { l: 52, r: 12, t: 18, b: 40 };
  const root = svg('svg', {
    class: 'chart bar',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-label': label,
  });
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  if (bars.length === 0) {
    root.append(svg('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'empty' }, 'nothing to show'));
    return root;
  }
  const top = Math.max(...bars.map((b) => b.value), 1) * 1.1;
  const slot = w / bars.length;
  const bw = Math.max(2, Math.min(60, slot * 0.7));
  root.append(svg('line', { x1: pad.l, x2: pad.l + w, y1: pad.t + hgt, y2: pad.t + hgt, class: 'grid' }));
  root.append(svg('text', { x: pad.l - 6, y: pad.t + 4, 'text-anchor': 'end', class: 'axis' }, short(top)));
  bars.forEach((b, i) => {
    const bh = (b.value / top) * hgt;
    const bx = pad.l + i * slot + (slot - bw) / 2;
    const rect = svg('rect', { x: bx, y: pad.t + hgt - bh, width: bw, height: Math.max(bh, 0), class: 'bar series-0', 'data-label': b.label, 'data-value': b.value });
    rect.append(svg('title', {}, `${b.label}: ${b.value}`));
    root.append(rect);
    root.append(svg('text', { x: bx + bw / 2, y: pad.t + hgt - bh - 4, 'text-anchor': 'middle', class: 'value' }, short(b.value)));
    root.append(svg('text', { x: bx + bw / 2, y: pad.t + hgt + 16, 'text-anchor': 'middle', class: 'axis' }, b.label));
  });
  if (label) root.append(svg('text', { x: pad.l, y: height - 5, class: 'legend' }, label));
  return root;
}
