// Consumer groups: the list with total lag (`#/groups`); one group's members and their
// assignments, committed offset, high watermark and lag per partition (as a bar chart),
// and resetting its offsets to the earliest, the latest, a time or an exact offset
// while it has no members (`#/groups/NAME`).

import { api, get, v1, ApiError } from '../lib/api.js';
import { barChart } from '../lib/chart.js';
import { h, append, clear, table, title, num, message } from '../lib/dom.js';
import { href } from '../lib/route.js';

/** Groups described on the list page (each is one request). */
const MAX_GROUPS = 100;

async function list(root, ctx) {
  const { groups } = await get('/v1/groups');
  const shown = groups.slice(0, MAX_GROUPS);
  const described = await Promise.all(shown.map((g) => get(v1('groups', g.group))));
  if (!ctx.alive()) return;
  clear(root);
  append(root, [
    title('Consumer groups'),
    described.length === 0
      ? message('note', 'No consumer groups have committed offsets.')
      : table(['group', 'state', 'members', 'partitions', 'total lag'], described.map((d) => [
        h('a', { href: href(['groups', d.group]) }, d.group),
        d.state ?? '-',
        num(d.members?.length ?? 0),
        num(d.offsets.length),
        num(d.offsets.reduce((n, o) => n + (o.lag ?? 0), 0)),
      ]), { id: 'groups' }),
    groups.length > shown.length ? message('note', `${groups.length - shown.length} more groups not shown.`) : null,
  ]);
}

function resetForm(group, offsets, redraw, ctx) {
  const topics = [...new Set(offsets.map((o) => o.topic))];
  const status = h('div', { class: 'form-status' });
  const value = h('input', { id: 'reset-value', name: 'value', placeholder: 'for time or offset' });
  const el = h('form', {
    id: 'reset',
    class: 'inline',
    onsubmit: async (e) => {
      e.preventDefault();
      clear(status);
      const d = Object.fromEntries(new FormData(el).entries());
      const body = { to: d.to };
      if (d.topic !== '') body.topic = d.topic;
      if (d.to === 'timestamp') {
        const ms = /^\d+$/.test(d.value.trim()) ? Number(d.value) : Date.parse(d.value);
        if (Number.isNaN(ms)) {
          status.append(message('error', `"${d.value}" is neither milliseconds nor a date`));
          return;
        }
        body.timestamp = ms;
      }
      if (d.to === 'offset') body.offset = Number(d.value);
      try {
        const answer = await api('POST', `${v1('groups', group, 'offsets')}/reset`, body);
        await redraw();
        // The page was drawn anew: the note goes into the new form.
        document.querySelector('#reset .form-status')?.append(message('ok', `reset ${answer.reset.length} partition(s)`));
      } catch (err) {
        if (err instanceof ApiError) status.append(message('error', `${err.message} (${err.code})`));
        else ctx.fail(err);
      }
    },
  },
  h('span', { class: 'field' }, h('label', { for: 'reset-topic' }, 'topic'),
    h('select', { id: 'reset-topic', name: 'topic' }, h('option', { value: '' }, 'every topic'), topics.map((t) => h('option', { value: t }, t)))),
  h('span', { class: 'field' }, h('label', { for: 'reset-to' }, 'to'),
    h('select', { id: 'reset-to', name: 'to' }, ['earliest', 'latest', 'timestamp', 'offset'].map((t) => h('option', { value: t }, t)))),
  h('span', { class: 'field' }, h('label', { for: 'reset-value' }, 'time (ms or ISO) / offset'), value),
  h('button', { type: 'submit' }, 'Reset offsets'),
  status);
  return el;
}

async function detail(el, name, ctx) {
  const g = await get(v1('groups', name));
  if (!ctx.alive()) return;
  clear(el);
  const redraw = () => detail(el, name, ctx);
  const members = g.members ?? [];
  const assigned = (m) => (m.assignments ?? []).map((a) => `${a.topic} [${a.partitions.join(', ')}]`).join('; ');
  el.append(
    title(`Group ${g.group}`, ' ', h('span', { class: `state ${g.state}` }, g.state ?? '')),
    h('h2', {}, 'Members'),
    members.length === 0
      ? message('note', 'No members: the group is inactive, so its offsets can be reset.')
      : table(['member', 'client', 'host', 'assignments'], members.map((m) => [m.member_id, m.client_id, m.host, assigned(m)]), { id: 'members' }),
    h('h2', {}, 'Lag per partition'),
    h('figure', { id: 'lag-chart' }, barChart(g.offsets.map((o) => ({ label: `${o.topic}-${o.partition}`, value: o.lag ?? 0 })), { label: 'lag (records)' })),
    table(['topic', 'partition', 'committed', 'high watermark', 'lag'], g.offsets.map((o) => [
      h('a', { href: href(['topics', o.topic, 'records'], { partition: o.partition, offset: o.committed_offset }) }, o.topic),
      o.partition,
      num(o.committed_offset),
      num(o.high_watermark),
      num(o.lag),
    ]), { id: 'offsets' }),
    h('h2', {}, 'Reset offsets'),
    resetForm(g.group, g.offsets, redraw, ctx),
  );
}

export async function render(root, route, ctx) {
  const [, name] = route.path;
  if (name === undefined) return list(root, ctx);
  return detail(root, name, ctx);
}
