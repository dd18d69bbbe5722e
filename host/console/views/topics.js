// Topics: the list with partitions, size and retention, and creating a topic
// (`#/topics`); one topic's partitions and config, altering its config, adding
// partitions, producing a record and deleting it (`#/topics/NAME`); its record
// browser (`#/topics/NAME/records`, views/records.js).

import { api, get, v1 } from '../lib/api.js';
import { h, clear, table, title, num, bytes, duration, message } from '../lib/dom.js';
import { href, go } from '../lib/route.js';
import { form } from '../lib/form.js';
import * as records from './records.js';

function field(label, name, attrs = {}) {
  const id = `f-${name}-${Math.random().toString(36).slice(2, 8)}`;
  return h('span', { class: 'field' }, h('label', { for: id }, label), h('input', { id, name, ...attrs }));
}

async function list(root, ctx) {
  const { topics } = await get('/v1/topics');
  if (!ctx.alive()) return;
  clear(root);
  root.append(
    title('Topics'),
    form('create-topic', [
      field('name', 'name', { required: true, pattern: '[A-Za-z0-9._\\-]+' }),
      field('partitions', 'partitions', { type: 'number', min: 1, placeholder: 'default' }),
      field('retention.ms', 'retention', { type: 'number', placeholder: 'default' }),
    ], 'Create topic', async (d) => {
      const body = { name: d.name };
      if (d.partitions) body.partitions = Number(d.partitions);
      if (d.retention) body.config = { 'retention.ms': Number(d.retention) };
      await api('POST', '/v1/topics', body);
      go(['topics', d.name]);
    }, ctx),
    topics.length === 0
      ? message('note', 'No topics yet.')
      : table(['topic', 'partitions', 'records', 'size', 'retention'], topics.map((t) => [
        h('a', { href: href(['topics', t.name]) }, t.name),
        num(t.partitions),
        num(t.records),
        bytes(t.size_bytes),
        duration(t.retention_ms),
      ]), { id: 'topics' }),
  );
}

async function detail(root, name, ctx) {
  const topic = await get(v1('topics', name));
  if (!ctx.alive()) return;
  const redraw = () => detail(root, name, ctx);
  clear(root);
  const configRows = Object.entries(topic.config).map(([k, v]) => [
    k,
    String(v),
    Object.hasOwn(topic.overrides, k) ? 'set' : 'default',
  ]);
  root.append(
    title(`Topic ${topic.name}`, ' ', h('a', { class: 'small', href: href(['topics', name, 'records']) }, 'browse records')),
    h('h2', {}, 'Partitions'),
    table(['partition', 'log start', 'high watermark', 'size', 'segments', ''], topic.partitions.map((p) => [
      p.partition,
      num(p.log_start_offset),
      num(p.high_watermark),
      bytes(p.size_bytes),
      p.segments,
      h('a', { href: href(['topics', name, 'records'], { partition: p.partition }) }, 'records'),
    ]), { id: 'partitions' }),
    form('add-partitions', [field('new total', 'count', { type: 'number', min: topic.partitions.length + 1, required: true })],
      'Add partitions', async (d) => {
        await api('POST', v1('topics', name, 'partitions'), { count: Number(d.count) });
        await redraw();
      }, ctx),
    h('h2', {}, 'Produce a record'),
    form('produce', [
      field('key', 'key'),
      h('span', { class: 'field wide' }, h('label', { for: 'produce-value' }, 'value'), h('textarea', { id: 'produce-value', name: 'value', rows: 3 })),
      field('headers (JSON object)', 'headers', { placeholder: '{"h": "v"}' }),
      field('partition', 'partition', { type: 'number', min: 0, placeholder: 'by key' }),
    ], 'Produce', async (d) => {
      const record = { value: d.value };
      if (d.key !== '') record.key = d.key;
      if (d.headers.trim() !== '') record.headers = JSON.parse(d.headers);
      if (d.partition !== '') record.partition = Number(d.partition);
      const { offsets } = await api('POST', v1('topics', name, 'records'), { records: [record] });
      return `produced to partition ${offsets[0].partition} at offset ${offsets[0].offset}`;
    }, ctx),
    h('h2', {}, 'Config'),
    table(['key', 'value', ''], configRows, { id: 'config' }),
    form('alter-config', [field('key', 'key', { required: true, placeholder: 'retention.ms' }), field('value (empty resets)', 'value')],
      'Set', async (d) => {
        await api('PATCH', v1('topics', name, 'config'), { config: { [d.key]: d.value === '' ? null : d.value } });
        await redraw();
      }, ctx),
    h('h2', {}, 'Delete'),
    form('delete-topic', [field(`type "${name}" to confirm`, 'confirm', { required: true, autocomplete: 'off' })],
      `Delete topic ${name}`, async (d) => {
        if (d.confirm !== name) return Promise.reject(new TypeError(`type the topic's name, "${name}", to delete it`));
        await api('DELETE', v1('topics', name));
        go(['topics']);
        return null;
      }, ctx),
  );
}

export async function render(root, route, ctx) {
  const [, name, sub] = route.path;
  if (name === undefined) return list(root, ctx);
  if (sub === 'records') return records.render(root, name, route.query, ctx);
  return detail(root, name, ctx);
}
