// Modules: every module with its versions — digest, world, size — and uploading one
// by dropping a .wasm file or picking it (`#/modules`); one module's versions and its
// playground, which runs a version over records typed as JSON lines or read from a
// topic and shows what comes out, errors and log lines (`#/modules/NAME?version=V`).

import { api, get, v1, authorization, ApiError, Unauthenticated } from '../lib/api.js';
import { h, clear, table, title, bytes, time, message } from '../lib/dom.js';
import { href, go } from '../lib/route.js';

/** The largest upload the page sends (the server has its own cap and says so). */
const MAX_UPLOAD = 256 << 20;

/** POSTs a component's bytes to `/v1/modules/NAME` (not JSON, so not through api()). */
async function upload(name, file) {
  const headers = { 'Content-Type': 'application/wasm', 'X-Weir-Console': '1' };
  const auth = authorization();
  if (auth) headers.Authorization = auth;
  const res = await fetch(v1('modules', name), { method: 'POST', headers, body: file });
  const json = await res.json().catch(() => null);
  if (res.status === 401) throw new Unauthenticated(json?.error?.message ?? 'sign in');
  if (!res.ok) throw new ApiError(res.status, json?.error?.code ?? String(res.status), json?.error?.message ?? res.statusText);
  return json;
}

/** A module name from a file name: `my_filter.wasm` → `my-filter`. */
function nameOf(file) {
  return file.name.replace(/\.wasm$/i, '').replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase();
}

function uploader(ctx, done) {
  const status = h('div', { class: 'form-status', id: 'upload-status' });
  const name = h('input', { id: 'upload-name', name: 'name', placeholder: 'from the file name' });
  const picker = h('input', { id: 'upload-file', type: 'file', accept: '.wasm,application/wasm' });
  const send = async (file) => {
    clear(status);
    if (!file) return;
    if (file.size > MAX_UPLOAD) {
      status.append(message('error', `${file.name} is ${bytes(file.size)}, more than the page sends`));
      return;
    }
    const module = name.value.trim() || nameOf(file);
    status.append(message('note', `uploading ${file.name} as ${module}…`));
    try {
      const m = await upload(module, file);
      clear(status);
      status.append(message('ok', `${m.name} version ${m.version} (${m.world}, ${bytes(m.size)})`));
      await done(m);
    } catch (err) {
      clear(status);
      if (err instanceof ApiError) status.append(message('error', `${err.message} (${err.code})`));
      else ctx.fail(err);
    }
  };
  picker.addEventListener('change', () => send(picker.files[0]));
  const zone = h('div', { id: 'dropzone', class: 'dropzone' }, 'Drop a .wasm component here, or pick one: ', picker);
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    send(e.dataTransfer.files[0]);
  });
  return h('section', { id: 'upload' },
    h('span', { class: 'field' }, h('label', { for: 'upload-name' }, 'module name'), name), zone, status);
}

async function list(root, ctx) {
  const { modules } = await get('/v1/modules');
  if (!ctx.alive()) return;
  clear(root);
  const byName = new Map();
  for (const m of modules) {
    if (!byName.has(m.name)) byName.set(m.name, []);
    byName.get(m.name).push(m);
  }
  root.append(
    title('Modules'),
    uploader(ctx, (m) => go(['modules', m.name], { version: m.version })),
    modules.length === 0
      ? message('note', 'No modules uploaded yet.')
      : table(['module', 'versions', 'newest', 'world', 'digest', 'size'], [...byName.entries()].map(([name, vs]) => {
        const newest = vs.reduce((a, b) => (b.version > a.version ? b : a));
        return [
          h('a', { href: href(['modules', name]) }, name),
          vs.map((v) => v.version).join(', '),
          newest.version,
          newest.world,
          h('code', {}, newest.digest.slice(0, 16)),
          bytes(newest.size),
        ];
      }), { id: 'modules' }),
  );
}

/** Records typed one JSON object per line: `{"key"?, "value"?, "headers"?, "timestamp"?}`. */
function parseLines(text) {
  const records = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let r;
    try {
      r = JSON.parse(line);
    } catch (e) {
      throw new SyntaxError(`line ${i + 1} is not JSON: ${e.message}`);
    }
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new SyntaxError(`line ${i + 1} is not an object`);
    for (const k of ['key', 'value']) if (r[k] !== undefined && r[k] !== null && typeof r[k] !== 'string') r[k] = JSON.stringify(r[k]);
    records.push(r);
  });
  return records;
}

function recordRows(list, withTopic) {
  return list.map((r) => [
    r.offset ?? '-',
    withTopic ? (r.topic ?? 'output') : null,
    h('pre', { class: 'bytes' }, r.key ?? (r.key_base64 ? `base64:${r.key_base64}` : 'null')),
    h('pre', { class: 'bytes' }, r.value ?? (r.value_base64 ? `base64:${r.value_base64}` : 'null')),
    // `headers_list` (every header in order) when a key repeats; entries [k, null, base64] are not UTF-8.
    (r.headers_list ?? Object.entries(r.headers ?? {})).map(([k, v, b64]) => `${k}=${b64 ? `base64:${b64}` : v}`).join(', '),
  ].filter((c) => c !== null));
}

function showRun(out, run) {
  clear(out);
  if (run.truncated) {
    // The server stopped the run at one of its bounds; say which, not just fewer outputs.
    out.append(message('note', `The run stopped early (${run.truncated_reason}): later records did not run.`));
  }
  out.append(
    h('h2', {}, `Outputs (${run.outputs.length})`),
    table(['from offset', 'topic', 'key', 'value', 'headers'], recordRows(run.outputs, true), { id: 'pg-outputs', class: 'records' }),
    h('h2', {}, `Errors (${run.errors.length})`),
    run.errors.length === 0
      ? message('ok', 'No record failed.')
      : table(['kind', 'offsets', 'message'], run.errors.map((e) => [
        e.kind,
        e.kind === 'batch' ? `${e.first}-${e.last}` : (e.offset ?? '-'),
        h('pre', { class: 'bytes' }, e.message),
      ]), { id: 'pg-errors' }),
    h('h2', {}, `Logs (${run.logs.length}${run.logs_dropped ? `, ${run.logs_dropped} dropped` : ''})`),
    h('pre', { id: 'pg-logs', class: 'log' }, run.logs.map((l) => `${l.level} ${l.message}`).join('\n') || '(none)'),
    h('h2', {}, `Inputs (${run.inputs.length}${run.input.topic ? ` from ${run.input.topic}-${run.input.partition}` : ''})`),
    table(['offset', 'key', 'value', 'headers'], recordRows(run.inputs, false), { id: 'pg-inputs', class: 'records' }),
  );
}

function playground(name, versions, chosen, ctx) {
  const out = h('div', { id: 'pg-result' });
  const status = h('div', { class: 'form-status' });
  const version = h('select', { id: 'pg-version', name: 'version' },
    versions.map((v) => h('option', { value: v.version, selected: v.version === chosen }, `${v.version} (${v.world})`)));
  const source = h('select', { id: 'pg-source', name: 'source' },
    h('option', { value: 'typed' }, 'records typed below'), h('option', { value: 'topic' }, 'records from a topic'));
  const lines = h('textarea', { id: 'pg-records', name: 'records', rows: 6, cols: 80, placeholder: '{"key": "k", "value": "hello"}' });
  const topic = h('input', { id: 'pg-topic', name: 'topic', placeholder: 'topic' });
  const partition = h('input', { id: 'pg-partition', name: 'partition', type: 'number', min: 0, value: '0' });
  const offset = h('input', { id: 'pg-offset', name: 'offset', type: 'number', min: 0, placeholder: 'start' });
  const count = h('input', { id: 'pg-count', name: 'count', type: 'number', min: 1, max: 1000, value: '10' });
  const config = h('input', { id: 'pg-config', name: 'config', placeholder: '{"pattern": "x"}' });
  const form = h('form', {
    id: 'playground',
    class: 'inline',
    onsubmit: async (e) => {
      e.preventDefault();
      clear(status);
      try {
        const body = {};
        if (config.value.trim() !== '') body.config = JSON.parse(config.value);
        if (source.value === 'topic') {
          body.from = { topic: topic.value, partition: Number(partition.value || 0), count: Number(count.value || 10) };
          if (offset.value !== '') body.from.offset = Number(offset.value);
        } else {
          body.records = parseLines(lines.value);
        }
        const run = await api('POST', `${v1('modules', name, version.value)}/test`, body);
        if (!ctx.alive()) return;
        showRun(out, run);
      } catch (err) {
        if (err instanceof ApiError) status.append(message('error', `${err.message} (${err.code})`));
        else if (err instanceof SyntaxError || err instanceof TypeError) status.append(message('error', err.message));
        else ctx.fail(err);
      }
    },
  },
  h('span', { class: 'field' }, h('label', { for: 'pg-version' }, 'version'), version),
  h('span', { class: 'field' }, h('label', { for: 'pg-source' }, 'input'), source),
  h('span', { class: 'field wide' }, h('label', { for: 'pg-config' }, 'config (JSON object)'), config),
  h('span', { class: 'field wide' }, h('label', { for: 'pg-records' }, 'records, one JSON object per line'), lines),
  h('span', { class: 'field' }, h('label', { for: 'pg-topic' }, 'topic'), topic),
  h('span', { class: 'field' }, h('label', { for: 'pg-partition' }, 'partition'), partition),
  h('span', { class: 'field' }, h('label', { for: 'pg-offset' }, 'offset'), offset),
  h('span', { class: 'field' }, h('label', { for: 'pg-count' }, 'count'), count),
  h('button', { type: 'submit' }, 'Run'),
  status);
  return h('section', {}, h('h2', {}, 'Playground'), message('note', 'Runs the version in an instance of its own, with fresh state: no pipeline is touched.'), form, out);
}

async function detail(root, name, route, ctx) {
  const { versions } = await get(v1('modules', name));
  if (!ctx.alive()) return;
  clear(root);
  const chosen = Number(route.query.get('version')) || versions.reduce((n, v) => Math.max(n, v.version), 0);
  root.append(
    title(`Module ${name}`),
    table(['version', 'world', 'digest', 'size', 'uploaded'], versions.map((v) => [
      v.version, v.world, h('code', {}, v.digest), bytes(v.size), time(v.created_ms),
    ]), { id: 'versions' }),
    playground(name, versions, chosen, ctx),
  );
}

export async function render(root, route, ctx) {
  const [, name] = route.path;
  if (name === undefined) return list(root, ctx);
  return detail(root, name, route, ctx);
}
