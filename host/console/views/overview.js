// Overview: the server at a glance — topics, partitions, bytes on disk, records in and
// out per second, pipelines and their state, consumer groups with their total lag, and
// the throughput of the last 15 minutes from the server's in-memory history.

import { ApiError, get, v1 } from '../lib/api.js';
import { lineChart } from '../lib/chart.js';
import { h, clear, table, title, num, bytes, rate, message } from '../lib/dom.js';
import { href } from '../lib/route.js';

/** Groups whose lag is summed on the page (each is one request). */
const MAX_GROUPS = 50;
const REFRESH_MS = 5000;

function card(label, value, id) {
  return h('div', { class: 'card', id }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label));
}

async function groupLags() {
  const { groups } = await get('/v1/groups');
  const shown = groups.slice(0, MAX_GROUPS);
  const described = await Promise.all(shown.map((g) => get(v1('groups', g.group))));
  const rows = described.map((d) => ({
    group: d.group,
    lag: d.offsets.reduce((sum, o) => sum + (o.lag ?? 0), 0),
  }));
  return { rows, more: groups.length - shown.length };
}

async function draw(root, ctx) {
  const [topics, history, pipelines, groups] = await Promise.all([
    get('/v1/topics'),
    // Cluster-wide figures need DESCRIBE on the cluster: without it, the rest is shown.
    get('/v1/metrics/history').catch((e) => {
      if (e instanceof ApiError && e.status === 403) return null;
      throw e;
    }),
    get('/v1/pipelines'),
    groupLags(),
  ]);
  if (!ctx.alive()) return;
  const latest = history?.samples.at(-1) ?? {};
  const partitions = topics.topics.reduce((n, t) => n + t.partitions, 0);
  const size = topics.topics.reduce((n, t) => n + (t.size_bytes ?? 0), 0);
  const totalLag = groups.rows.reduce((n, g) => n + g.lag, 0);
  clear(root);
  root.append(
    title('Overview'),
    h(
      'section',
      { class: 'cards' },
      card('topics', num(topics.topics.length), 'stat-topics'),
      card('partitions', num(partitions), 'stat-partitions'),
      card('bytes on disk', bytes(size), 'stat-bytes'),
      card('records in', rate(latest.records_in_per_sec), 'stat-in'),
      card('records out', rate(latest.records_out_per_sec), 'stat-out'),
      card('total lag', num(totalLag), 'stat-lag'),
    ),
    h('h2', {}, 'Throughput, last 15 minutes'),
    history === null
      ? message('note', 'The throughput history needs DESCRIBE on the cluster.')
      : h(
        'figure',
        { id: 'throughput' },
        lineChart(
          [
            { name: 'in', points: history.samples.map((s) => [s.time_ms, s.records_in_per_sec]) },
            { name: 'out', points: history.samples.map((s) => [s.time_ms, s.records_out_per_sec]) },
          ],
          { label: 'records/s' },
        ),
        h('figcaption', {}, `one sample every ${history.interval_ms / 1000} s; records out is consumer groups' committed progress`),
      ),
    h('div', { class: 'columns' },
      h('section', {},
        h('h2', {}, 'Pipelines'),
        pipelines.pipelines.length === 0
          ? message('note', 'No pipelines.')
          : table(['pipeline', 'state', 'records in', 'records out', 'lag'], pipelines.pipelines.map((p) => [
            p.name,
            h('span', { class: `state ${p.state}` }, p.state),
            num(p.records_in),
            num(p.records_out),
            num(p.lag),
          ]), { id: 'pipelines' })),
      h('section', {},
        h('h2', {}, 'Consumer groups'),
        groups.rows.length === 0
          ? message('note', 'No consumer groups.')
          : table(['group', 'total lag'], groups.rows.map((g) => [
            h('a', { href: href(['groups', g.group]) }, g.group),
            num(g.lag),
          ]), { id: 'groups' }),
        groups.more > 0 ? message('note', `${groups.more} more groups not summed here: see Groups.`) : null)),
  );
}

export async function render(root, _route, ctx) {
  await draw(root, ctx);
  const timer = setInterval(() => {
    draw(root, ctx).catch(ctx.fail);
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
