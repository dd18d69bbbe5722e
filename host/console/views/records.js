// The record browser of one topic partition (`#/topics/NAME/records?partition=P&...`):
// newest first by default (`end=O` pages back from offset O), oldest first from
// `offset=O` or from the first record at or after `timestamp=MS`, or a server-side
// search (`q=TEXT`) over keys and values that scans a bounded number of records and
// says how many. Keys, values and headers are shown as JSON, text or hex (lib/dom.js).

import { get, v1 } from '../lib/api.js';
import { h, clear, table, title, num, time, shown, message } from '../lib/dom.js';
import { href, go } from '../lib/route.js';

const PAGE = 50;

// Every header in order: `headers_list` is there when a key repeats (the object then
// holds only each key's last value).
function headersCell(headers, list) {
  const entries = list ?? Object.entries(headers ?? {});
  if (entries.length === 0) return '';
  return h('dl', { class: 'headers' }, entries.map(([k, v]) => [h('dt', {}, k), h('dd', {}, shown(v))]));
}

function rows(records) {
  return records.map((r) => [num(r.offset), time(r.timestamp), shown(r.key), shown(r.value), headersCell(r.headers, r.headers_list)]);
}

/** `ms`, or an ISO date, as epoch milliseconds; NaN otherwise. */
function millis(text) {
  if (/^\d+$/.test(text.trim())) return Number(text);
  return Date.parse(text);
}

function controls(name, partitions, q) {
  const input = (label, key, attrs = {}) => {
    const id = `rb-${key}`;
    return h('span', { class: 'field' }, h('label', { for: id }, label), h('input', { id, name: key, value: q.get(key) ?? '', ...attrs }));
  };
  const select = h('select', { id: 'rb-partition', name: 'partition' },
    partitions.map((p) => h('option', { value: p.partition, selected: String(p.partition) === (q.get('partition') ?? '0') }, `partition ${p.partition}`)));
  const status = h('div', { class: 'form-status' });
  const el = h('form', {
    id: 'browse',
    class: 'inline',
    onsubmit: (e) => {
      e.preventDefault();
      clear(status);
      const d = Object.fromEntries(new FormData(el).entries());
      const query = { partition: d.partition, q: d.q };
      if (d.timestamp.trim() !== '') {
        const ts = millis(d.timestamp);
        if (Number.isNaN(ts)) {
          status.append(message('error', `"${d.timestamp}" is neither milliseconds nor a date`));
          return;
        }
        query.timestamp = ts;
      } else if (d.offset.trim() !== '') {
        query.offset = d.offset.trim();
      }
      go(['topics', name, 'records'], query);
    },
  },
  h('span', { class: 'field' }, h('label', { for: 'rb-partition' }, 'partition'), select),
  input('from offset', 'offset', { type: 'number', min: 0, placeholder: 'newest' }),
  input('from time (ms or ISO)', 'timestamp', { placeholder: '2026-01-01T00:00:00Z' }),
  input('search keys and values', 'q', { placeholder: 'text' }),
  h('button', { type: 'submit' }, 'Show'),
  status);
  return el;
}

export async function render(root, name, q, ctx) {
  const topic = await get(v1('topics', name));
  const partition = Number(q.get('partition') ?? 0);
  const p = topic.partitions.find((x) => x.partition === partition);
  if (!ctx.alive()) return;
  clear(root);
  root.append(
    title(h('a', { href: href(['topics', name]) }, name), ` · partition ${partition}`),
    controls(name, topic.partitions, q),
  );
  if (!p) {
    root.append(message('error', `topic ${name} has no partition ${partition}`));
    return;
  }
  const base = `${v1('topics', name, 'partitions', partition, 'records')}?encoding=base64`;
  const link = (query) => h('a', { href: href(['topics', name, 'records'], { partition, ...query }) });
  const search = q.get('q') ?? '';
  let answer;
  let order = 'oldest first';
  let pager = null;
  let note = null;
  if (search !== '') {
    // From the time asked, else the offset, else the log start.
    const from = q.has('timestamp')
      ? `timestamp=${Number(q.get('timestamp'))}`
      : `offset=${Number(q.get('offset') ?? p.log_start_offset)}`;
    answer = await get(`${base}&q=${encodeURIComponent(search)}&${from}&max=${PAGE}`);
    note = message('note', `scanned ${num(answer.scanned)} records from ${from.replace('=', ' ')}: ${answer.records.length} match "${search}"`);
    if (answer.next_offset < answer.high_watermark) {
      pager = link({ q: search, offset: answer.next_offset });
      pager.append('search on');
    }
  } else if (q.has('timestamp') || q.has('offset')) {
    const from = q.has('timestamp') ? `timestamp=${Number(q.get('timestamp'))}` : `offset=${Number(q.get('offset'))}`;
    answer = await get(`${base}&${from}&max=${PAGE}`);
    if (answer.next_offset < answer.high_watermark) {
      pager = link({ offset: answer.next_offset });
      pager.append('newer');
    }
  } else {
    const end = Math.min(Number(q.get('end') ?? p.high_watermark), p.high_watermark);
    const from = Math.max(p.log_start_offset, end - PAGE);
    answer = end > from ? await get(`${base}&offset=${from}&max=${end - from}`) : { records: [] };
    answer.records = answer.records.filter((r) => r.offset < end).reverse();
    order = 'newest first';
    if (from > p.log_start_offset) {
      pager = link({ end: from });
      pager.append('older');
    }
  }
  if (!ctx.alive()) return;
  root.append(...[
    note,
    h('p', { class: 'small' }, `${order}; log start ${num(p.log_start_offset)}, high watermark ${num(p.high_watermark)}`),
    answer.records.length === 0
      ? message('note', 'No records here.')
      : table(['offset', 'time', 'key', 'value', 'headers'], rows(answer.records), { id: 'records', class: 'records' }),
    pager ? h('p', {}, pager) : null,
  ].filter((x) => x !== null));
}
