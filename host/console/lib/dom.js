// Building the page: a small element helper (no innerHTML, so nothing a record or a
// topic name holds can become markup), number formats, and how record bytes are shown.

/**
 * `tag` with `attrs` (`class`, `on*` handlers, `dataset`, other attributes) and
 * `children` (nodes, strings, numbers; null and false are skipped; arrays flattened).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

/** Appends `children` to `el` as h() does (null and false skipped, arrays flattened). */
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Removes every child of `el`. */
export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
}

/** A table with `head` labels and `rows` (arrays of cells). */
export function table(head, rows, attrs = {}) {
  return h(
    'table',
    attrs,
    h('thead', {}, h('tr', {}, head.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))),
  );
}

/** A heading with an optional note. */
export function title(text, ...rest) {
  return h('h1', {}, text, ...rest);
}

/** A message box: `kind` is `error`, `note` or `ok`. */
export function message(kind, text) {
  return h('p', { class: `msg ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** `n` with thousands separators; `-` for null. */
export function num(n) {
  return n === null || n === undefined ? '-' : Number(n).toLocaleString('en-US');
}

/** A byte count as B / KiB / MiB / GiB. */
export function bytes(n) {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** A rate per second with one decimal. */
export function rate(n) {
  return n === null || n === undefined ? '-' : `${Number(n).toFixed(1)}/s`;
}

/** Milliseconds since the epoch as an ISO time (UTC); `-` when unknown (-1). */
export function time(ms) {
  if (ms === null || ms === undefined || ms < 0) return '-';
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC');
}

/** A duration in ms as Kafka configs write them, e.g. `7 d`, `-1` as `forever`. */
export function duration(ms) {
  if (ms === null || ms === undefined) return '-';
  const n = Number(ms);
  if (n < 0) return 'forever';
  const units = [['d', 86400000], ['h', 3600000], ['min', 60000], ['s', 1000]];
  for (const [u, size] of units) if (n >= size && n % size === 0) return `${n / size} ${u}`;
  return `${n} ms`;
}

/**
 * How record bytes (base64 from the API, or null) are shown: `json` when they parse
 * as JSON, `text` when they are UTF-8, `hex` otherwise; `null` for none.
 */
export function decode(base64) {
  if (base64 === null || base64 === undefined) return { kind: 'null', text: 'null' };
  const binary = atob(base64);
  const raw = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    const hex = Array.from(raw, (b) => b.toString(16).padStart(2, '0')).join(' ');
    return { kind: 'hex', text: hex };
  }
  if (text.trim() !== '') {
    try {
      return { kind: 'json', text: JSON.stringify(JSON.parse(text), null, 2) };
    } catch {
      // Not JSON: text.
    }
  }
  return { kind: 'text', text };
}

/** A `<pre>` showing decoded bytes, marked with their kind. */
export function shown(base64) {
  const d = decode(base64);
  return h('pre', { class: `bytes ${d.kind}`, title: d.kind }, d.text);
}
