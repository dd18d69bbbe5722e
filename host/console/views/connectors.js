// Connectors, through Kafka Connect's REST API on the same listener: the list with
// each connector's state and its tasks' (`#/connectors`); one connector's status with
// its tasks and failure traces, pause/resume/stop/restart and its source offsets
// (`#/connectors/NAME`); and creating one from a form generated from the plugin's
// `config/validate` answer (`#/connectors/new?class=CLASS`).

import { api, get, ApiError } from '../lib/api.js';
import { h, clear, table, title, message } from '../lib/dom.js';
import { href, go } from '../lib/route.js';

const path = (...segments) => `/${segments.map((s) => encodeURIComponent(String(s))).join('/')}`;

function stateOf(s) {
  return h('span', { class: `state ${String(s).toLowerCase()}` }, s);
}

async function list(root, ctx) {
  const [names, plugins] = await Promise.all([get('/connectors'), get('/connector-plugins')]);
  const statuses = await Promise.all(names.map((n) => get(path('connectors', n, 'status'))));
  if (!ctx.alive()) return;
  clear(root);
  root.append(
    title('Connectors'),
    statuses.length === 0
      ? message('note', 'No connectors yet.')
      : table(['connector', 'type', 'state', 'tasks'], statuses.map((s) => [
        h('a', { href: href(['connectors', s.name]) }, s.name),
        s.type ?? '-',
        stateOf(s.connector.state),
        s.tasks.map((t) => `${t.id}: ${t.state}`).join(', ') || '-',
      ]), { id: 'connectors' }),
    h('h2', {}, 'Create a connector'),
    table(['plugin', 'type', 'version', ''], plugins.map((p) => [
      p.class, p.type, p.version ?? '-',
      h('a', { href: href(['connectors', 'new'], { class: p.class }), class: 'create-link', 'data-class': p.class }, 'create…'),
    ]), { id: 'plugins' }),
  );
}

/** One input per config definition of the validate answer, grouped as it groups them. */
function generatedForm(cls, validated, ctx) {
  const status = h('div', { class: 'form-status' });
  // The class and the name have their own places: the page and the name field.
  const defs = validated.configs.map((c) => c.definition).filter((d) => d.name !== 'connector.class' && d.name !== 'name');
  const inputs = defs.map((d) => {
    const id = `cfg-${d.name.replace(/[^A-Za-z0-9]/g, '-')}`;
    const control = h('input', {
      id,
      name: d.name,
      'data-config': d.name,
      required: d.required && (d.default_value === null || d.default_value === undefined),
      placeholder: d.default_value ?? '',
      type: d.type === 'PASSWORD' ? 'password' : 'text',
    });
    return h('span', { class: 'field wide' },
      h('label', { for: id }, `${d.name}${d.required ? ' *' : ''} (${d.type})`), control,
      d.documentation ? h('span', { class: 'small' }, d.documentation) : null);
  });
  const name = h('input', { id: 'connector-name', name: '__name', required: true });
  // Keys the plugin does not declare (weir's own, e.g. weir.allow.dirs, and the
  // framework's: transforms, converters) as a JSON object.
  const extra = h('input', { id: 'connector-extra', name: '__extra', placeholder: '{"weir.allow.dirs": "/data:ro"}' });
  const el = h('form', {
    id: 'create-connector',
    class: 'inline',
    onsubmit: async (e) => {
      e.preventDefault();
      clear(status);
      const config = { 'connector.class': cls, name: name.value };
      for (const input of el.querySelectorAll('[data-config]')) {
        if (input.value !== '') config[input.dataset.config] = input.value;
      }
      try {
        if (extra.value.trim() !== '') {
          let more;
          try {
            more = JSON.parse(extra.value);
          } catch (err) {
            status.append(message('error', `more config is not a JSON object: ${err.message}`));
            return;
          }
          for (const [k, v] of Object.entries(more)) config[k] = String(v);
        }
        const check = await api('PUT', `${path('connector-plugins', cls, 'config', 'validate')}`, config);
        const problems = check.configs.flatMap((c) => (c.value.errors ?? []).map((err) => `${c.value.name}: ${err}`));
        if (problems.length > 0) {
          status.append(message('error', problems.join('; ')));
          return;
        }
        await api('POST', '/connectors', { name: name.value, config });
        go(['connectors', name.value]);
      } catch (err) {
        if (err instanceof ApiError) status.append(message('error', `${err.message} (${err.code})`));
        else ctx.fail(err);
      }
    },
  }, h('span', { class: 'field wide' }, h('label', { for: 'connector-name' }, 'name *'), name), inputs,
  h('span', { class: 'field wide' }, h('label', { for: 'connector-extra' }, 'more config (JSON object)'), extra),
  h('button', { type: 'submit' }, 'Create'), status);
  return el;
}

async function create(root, route, ctx) {
  const cls = route.query.get('class');
  const validated = await api('PUT', path('connector-plugins', cls, 'config', 'validate'), { 'connector.class': cls });
  if (!ctx.alive()) return;
  clear(root);
  root.append(title(`New ${cls} connector`), generatedForm(cls, validated, ctx));
}

async function detail(root, name, ctx) {
  const [s, offsets] = await Promise.all([
    get(path('connectors', name, 'status')),
    get(path('connectors', name, 'offsets')).catch((err) => {
      if (err instanceof ApiError) return { error: err.message };
      throw err;
    }),
  ]);
  if (!ctx.alive()) return;
  clear(root);
  const action = (label, method, verb) => h('button', {
    type: 'button',
    id: `connector-${verb}`,
    onclick: async () => {
      try {
        await api(method, path('connectors', name, verb));
        await detail(root, name, ctx);
      } catch (err) {
        ctx.fail(err);
      }
    },
  }, label);
  const traces = [s.connector, ...s.tasks].filter((x) => x.trace);
  // h() drops the absent parts (no traces); the DOM's append would not.
  root.append(h('div', {},
    title(`Connector ${name}`, ' ', stateOf(s.connector.state)),
    h('div', { class: 'inline' }, action('Pause', 'PUT', 'pause'), ' ', action('Resume', 'PUT', 'resume'), ' ',
      action('Stop', 'PUT', 'stop'), ' ', action('Restart', 'POST', 'restart')),
    h('h2', {}, 'Tasks'),
    table(['task', 'state', 'worker'], s.tasks.map((t) => [t.id, stateOf(t.state), t.worker_id ?? '-']), { id: 'tasks' }),
    traces.length > 0 ? [h('h2', {}, 'Traces'), traces.map((t) => h('pre', { class: 'bytes trace' }, t.trace))] : null,
    h('h2', {}, 'Offsets'),
    offsets.error
      ? message('note', offsets.error)
      : h('pre', { id: 'offsets', class: 'bytes' }, JSON.stringify(offsets.offsets ?? offsets, null, 2)),
  ));
}

export async function render(root, route, ctx) {
  const [, name] = route.path;
  if (name === undefined) return list(root, ctx);
  if (name === 'new') return create(root, route, ctx);
  return detail(root, name, ctx);
}
