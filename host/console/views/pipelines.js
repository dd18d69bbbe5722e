// Pipelines: the list with state, lag and records in/out (`#/pipelines`); one pipeline
// (`#/pipelines/NAME`): its step graph, per-task lag, records/s and batch latency over
// the last 15 minutes (the server's sampled ring, refreshed every few seconds), tasks
// and their errors, dead letters, the log followed live, state lookup by key, the
// deployment history with rollbacks; pause/resume, hot-swap a step to another version
// from a version picker, and delete (confirmed by typing the name).

import { api, get, v1, ApiError } from '../lib/api.js';
import { lineChart } from '../lib/chart.js';
import { stepGraph } from '../lib/graph.js';
import { h, clear, table, title, num, time, message } from '../lib/dom.js';
import { href, go } from '../lib/route.js';
import { form } from '../lib/form.js';

/** How often the figures are fetched again while the page is open, ms. */
const REFRESH_MS = 2000;
/** How long one follow of the log waits for a line, ms. */
const FOLLOW_MS = 5000;
/** Wait after an empty or refused follow before asking again, ms. */
const FOLLOW_BACKOFF_MS = 1000;
/** Log lines kept on the page. */
const LOG_LINES = 500;

async function list(root, ctx) {
  const { pipelines } = await get('/v1/pipelines');
  if (!ctx.alive()) return;
  clear(root);
  root.append(
    title('Pipelines'),
    pipelines.length === 0
      ? message('note', 'No pipelines. Create one with POST /v1/pipelines or `weir pipeline create`.')
      : table(['pipeline', 'state', 'steps', 'lag', 'records in', 'records out', 'errored'], pipelines.map((p) => [
        h('a', { href: href(['pipelines', p.name]) }, p.name),
        h('span', { class: `state ${p.state}` }, p.state),
        p.modules.map((m) => `${m.module}@${m.version}`).join(' → ') || '-',
        num(p.lag),
        num(p.records_in),
        num(p.records_out),
        num(p.records_errored),
      ]), { id: 'pipelines' }),
  );
}

function field(label, control) {
  return h('span', { class: 'field' }, h('label', { for: control.id }, label), control);
}

/** Per-task series of one figure from the history's points. */
function series(history, pick) {
  const byTask = new Map();
  for (const p of history.points) {
    for (const t of p.tasks) {
      const v = pick(t);
      if (v === null || v === undefined) continue;
      const name = `partition ${t.partition}${t.stage ? ` ${t.stage}` : ''}`;
      if (!byTask.has(name)) byTask.set(name, []);
      byTask.get(name).push([p.at_ms, v]);
    }
  }
  return [...byTask.entries()].map(([name, points]) => ({ name, points }));
}

function charts(el, history) {
  clear(el);
  el.append(
    h('figure', { id: 'chart-lag' }, lineChart(series(history, (t) => t.lag), { label: 'lag, records', width: 440, height: 200 }), h('figcaption', {}, 'lag')),
    h('figure', { id: 'chart-rate' }, lineChart(series(history, (t) => t.records_per_sec), { label: 'records/s', width: 440, height: 200 }), h('figcaption', {}, 'records/s')),
    h('figure', { id: 'chart-latency' }, lineChart(series(history, (t) => t.batch_latency_ms), { label: 'ms/batch', width: 440, height: 200 }), h('figcaption', {}, 'batch latency')),
  );
}

function summary(el, p) {
  clear(el);
  // h() drops the absent parts (no warnings, no rollback); the DOM's append would not.
  el.append(h('div', {},
    h('div', { class: 'cards' },
      [['state', h('span', { class: `state ${p.state}` }, p.state)], ['lag', num(p.lag)], ['records in', num(p.records_in)],
        ['records out', num(p.records_out)], ['errored', num(p.records_errored)], ['swaps', num(p.swaps)], ['rollbacks', num(p.rollbacks)]]
        .map(([label, value]) => h('div', { class: 'card', id: `stat-${label.replace(/ /g, '-')}` }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label)))),
    p.warnings.map((w) => message('note', w)),
    p.last_rollback ? message('error', p.last_rollback) : null,
    table(['partition', 'stage', 'state', 'committed', 'lag', 'in', 'out', 'errored', 'last error'], p.tasks.map((t) => [
      t.partition, t.stage ?? '-', h('span', { class: `state ${t.state}` }, t.state), num(t.committed_offset), num(t.lag),
      num(t.records_in), num(t.records_out), num(t.records_errored), t.last_error ?? '',
    ]), { id: 'tasks' }),
  ));
}

function historyTable(el, p) {
  clear(el);
  el.append(table(['#', 'at', 'modules', 'reason'], p.history.map((d, i) => [
    i + 1, time(d.at_ms), d.modules.join(', '), h('span', { class: d.reason.startsWith('rolled back') ? 'state failed' : '' }, d.reason),
  ]).reverse(), { id: 'history' }));
}

async function deadLetters(el, name) {
  const dl = await get(`${v1('pipelines', name, 'dead-letters')}?limit=20`);
  clear(el);
  if (dl.topic === null) {
    el.append(message('note', 'This pipeline has no dead_letter_topic: failed records are skipped or stop the task.'));
    return;
  }
  el.append(dl.records.length === 0
    ? message('ok', `Nothing in ${dl.topic}.`)
    : table(['partition', 'offset', 'at', 'step', 'error', 'key', 'value'], dl.records.map((r) => [
      r.partition, r.offset, time(r.timestamp), r.step ?? '-', h('pre', { class: 'bytes' }, r.error ?? ''),
      h('pre', { class: 'bytes' }, r.key ?? 'null'), h('pre', { class: 'bytes' }, r.value ?? (r.value_base64 ? `base64:${r.value_base64}` : 'null')),
    ]), { id: 'dead-letters', class: 'records' }));
}

/** Version pickers for the map steps running an uploaded module, and a deploy button. */
async function swapForm(name, p, redraw, ctx) {
  const steps = p.spec.steps
    .map((s, i) => ({ s, i, running: p.modules[i] }))
    .filter(({ s }) => s.module && !String(s.module).startsWith('builtin:') && (s.op ?? 'map') === 'map');
  if (steps.length === 0) return message('note', 'No step runs an uploaded module: nothing to swap.');
  const pickers = [];
  for (const { s, i } of steps) {
    const module = String(s.module).split('@')[0];
    const { versions } = await get(v1('modules', module));
    const current = p.modules.find((m) => m.module === module)?.version;
    const select = h('select', { id: `swap-${i}`, name: String(i), 'data-module': module },
      versions.map((v) => h('option', { value: v.version, selected: v.version === current }, `${module}@${v.version}${v.version === current ? ' (running)' : ''}`)));
    pickers.push(field(`step ${s.name ?? i}`, select));
  }
  return form('swap', pickers, 'Deploy', async (d) => {
    const spec = structuredClone(p.spec);
    for (const [i, version] of Object.entries(d)) {
      const step = spec.steps[Number(i)];
      step.module = `${String(step.module).split('@')[0]}@${version}`;
    }
    await api('PUT', v1('pipelines', name), spec);
    await redraw();
    return 'deployed';
  }, ctx);
}

function stateForm(name, p, ctx) {
  const out = h('pre', { id: 'state-result', class: 'bytes' });
  const steps = p.spec.steps.map((s, i) => s.name ?? String(i));
  const names = [...steps, ...Object.keys(p.spec.sources ?? {})];
  const el = form('state', [
    field('step', h('select', { id: 'state-step', name: 'step' }, names.map((s) => h('option', { value: s }, s)))),
    field('key', h('input', { id: 'state-key', name: 'key', required: true })),
  ], 'Look up', async (d) => {
    clear(out);
    try {
      const answer = await get(`${v1('pipelines', name, 'state', d.step)}?key=${encodeURIComponent(d.key)}`);
      out.append(JSON.stringify(answer, null, 2));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) out.append(err.message);
      else throw err;
    }
    return null;
  }, ctx);
  return h('div', {}, el, out);
}

/** Follows the log by long poll while the page is open. */
async function followLog(el, name, ctx, stopped) {
  let { lines, next } = await get(`${v1('pipelines', name, 'logs')}?tail=100`);
  const shown = [...lines];
  const draw = () => {
    el.textContent = shown.length === 0 ? '(no lines yet)' : shown.join('\n');
    el.scrollTop = el.scrollHeight;
  };
  draw();
  while (ctx.alive() && !stopped()) {
    const asked = Date.now();
    let got;
    try {
      got = await get(`${v1('pipelines', name, 'logs')}?since=${next}&timeout_ms=${FOLLOW_MS}`);
    } catch (e) {
      // Busy (429) or unreachable: wait before asking again rather than spin.
      if (!(e instanceof ApiError) || e.status === 429) {
        await new Promise((done) => setTimeout(done, FOLLOW_BACKOFF_MS));
        continue;
      }
      throw e;
    }
    if (!ctx.alive() || stopped()) return;
    if (got.lines.length === 0 && Date.now() - asked < FOLLOW_BACKOFF_MS) {
      // An empty answer that came back at once (the server closing, a short max_poll):
      // back off instead of re-asking in a tight loop.
      await new Promise((done) => setTimeout(done, FOLLOW_BACKOFF_MS));
    }
    if (got.skipped > 0) shown.push(`… ${got.skipped} lines not kept by the server …`);
    shown.push(...got.lines);
    shown.splice(0, Math.max(0, shown.length - LOG_LINES));
    ({ next } = got);
    draw();
  }
}

async function detail(root, name, ctx) {
  let stopped = false;
  const p0 = await get(v1('pipelines', name));
  if (!ctx.alive()) return undefined;
  clear(root);
  const els = {
    summary: h('section', { id: 'summary' }),
    graph: h('figure', { id: 'graph' }),
    charts: h('div', { id: 'charts', class: 'columns' }),
    history: h('section', { id: 'history-section' }),
    dead: h('section', { id: 'dead-section' }),
    swap: h('section', { id: 'swap-section' }),
    log: h('pre', { id: 'log', class: 'log' }),
  };
  const refresh = async () => {
    const [p, hist] = await Promise.all([get(v1('pipelines', name)), get(v1('pipelines', name, 'metrics', 'history'))]);
    if (!ctx.alive()) return p;
    summary(els.summary, p);
    charts(els.charts, hist);
    historyTable(els.history, p);
    clear(els.graph);
    els.graph.append(stepGraph(p.spec, p.modules));
    return p;
  };
  const redraw = async () => {
    const p = await refresh();
    await deadLetters(els.dead, name);
    const swap = await swapForm(name, p, redraw, ctx);
    clear(els.swap);
    els.swap.append(swap);
    pause.textContent = p.state === 'paused' ? 'Resume' : 'Pause';
  };
  const pause = h('button', {
    type: 'button',
    id: 'pause',
    onclick: async () => {
      try {
        await api('POST', v1('pipelines', name, pause.textContent === 'Resume' ? 'resume' : 'pause'));
        await redraw();
      } catch (err) {
        ctx.fail(err);
      }
    },
  }, p0.state === 'paused' ? 'Resume' : 'Pause');
  const remove = form('delete-pipeline', [field(`type ${name} to delete`, h('input', { id: 'delete-confirm', name: 'confirm' }))], 'Delete', async (d) => {
    if (d.confirm !== name) throw new TypeError(`type the pipeline's name, ${name}, to delete it`);
    await api('DELETE', v1('pipelines', name));
    go(['pipelines']);
    return null;
  }, ctx);
  root.append(
    title(`Pipeline ${name}`, ' ', pause),
    els.summary,
    h('h2', {}, 'Step graph'), els.graph,
    h('h2', {}, 'Last 15 minutes'), els.charts,
    h('h2', {}, 'Hot-swap'), els.swap,
    h('h2', {}, 'Deployment history'), els.history,
    h('h2', {}, 'Dead letters'), els.dead,
    h('h2', {}, 'Log'), els.log,
    h('h2', {}, 'State'), stateForm(name, p0, ctx),
    h('h2', {}, 'Delete'), remove,
  );
  await redraw();
  const timer = setInterval(() => {
    refresh().then(() => deadLetters(els.dead, name)).catch((err) => ctx.fail(err));
  }, REFRESH_MS);
  followLog(els.log, name, ctx, () => stopped).catch((err) => {
    if (!stopped) ctx.fail(err);
  });
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

export async function render(root, route, ctx) {
  const [, name] = route.path;
  if (name === undefined) return list(root, ctx);
  return detail(root, name, ctx);
}
