// Scenarios of the Modules, Pipelines and Connectors views, run by harness.js;
// tests/console_ops.rs prepares the servers and asserts on the values.

/** Waits for `selector` to hold `text`. */
async function waitText(page, selector, text) {
  await page.locator(selector).filter({ hasText: text }).first().waitFor();
}

/** Produces `values` to `topic` through the HTTP API, as a client beside the page would. */
async function produce(page, url, topic, values) {
  const res = await page.request.post(`${url}/v1/topics/${topic}/records`, {
    data: { records: values.map((value) => ({ value })) },
  });
  if (!res.ok()) throw new Error(`producing to ${topic}: ${res.status()} ${await res.text()}`);
}

/** Uploads a module with the file picker, then runs the playground on typed records. */
async function modulePlayground(page, { url, args }) {
  await page.goto(`${url}/#/modules`);
  await page.locator('#dropzone').waitFor();
  await page.fill('#upload-name', 'shout');
  await page.setInputFiles('#upload-file', args.wasm);
  await page.waitForURL('**/#/modules/shout?version=1');
  await page.locator('#versions tbody tr').first().waitFor();
  const versions = await page.$$eval('#versions tbody tr', (rows) => rows.map((r) => r.textContent));
  await page.fill('#pg-records', '{"key": "k", "value": "hello"}\n\n{"value": "world"}');
  await page.click('#playground button[type=submit]');
  await page.locator('#pg-outputs tbody tr').nth(1).waitFor();
  const outputs = await page.$$eval('#pg-outputs tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
  // Records read from a topic instead.
  await page.selectOption('#pg-source', 'topic');
  await page.fill('#pg-topic', args.topic);
  await page.fill('#pg-count', '5');
  await page.click('#playground button[type=submit]');
  await waitText(page, '#pg-result h2', `from ${args.topic}-0`);
  const fromTopic = await page.$$eval('#pg-outputs tbody tr td:nth-child(4)', (tds) => tds.map((t) => t.textContent));
  // A typing mistake is shown in the form, not thrown.
  await page.selectOption('#pg-source', 'typed');
  await page.fill('#pg-records', '{"value": ');
  await page.click('#playground button[type=submit]');
  await page.locator('#playground .msg.error').waitFor();
  const mistake = await page.textContent('#playground .msg.error');
  await page.goto(`${url}/#/modules`);
  await page.locator('#modules').waitFor();
  const listed = await page.$$eval('#modules tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
  return { versions, outputs, fromTopic, mistake, listed };
}

/** The path data of a chart's series, joined. */
async function chartPaths(page, id) {
  return page.$$eval(`#${id} path.series`, (paths) => paths.map((p) => p.getAttribute('d')).join('|'));
}

/** Watches a pipeline's figures move as records are produced, then hot-swaps it. */
async function pipelineView(page, { url, args }) {
  await page.goto(`${url}/#/pipelines`);
  await page.locator('#pipelines').waitFor();
  await page.locator('#pipelines a', { hasText: args.pipeline }).click();
  await page.locator('#graph svg .node').first().waitFor();
  const nodes = await page.$$eval('#graph svg .node text', (ts) => ts.map((t) => t.textContent));
  await page.locator('#chart-rate svg').waitFor();
  const before = await chartPaths(page, 'chart-rate');
  const inBefore = await page.textContent('#stat-records-in .value');
  await produce(page, url, args.input, Array.from({ length: 50 }, (_, i) => `record ${i}`));
  await page.waitForFunction(() => document.querySelector('#stat-records-in .value')?.textContent === '50');
  // The chart is redrawn with the new points.
  await page.waitForFunction(
    (old) => [...document.querySelectorAll('#chart-rate path.series')].map((p) => p.getAttribute('d')).join('|') !== old,
    before,
  );
  const after = await chartPaths(page, 'chart-rate');
  // More records a sample later, so the charts draw lines (the README's screenshot).
  await produce(page, url, args.input, Array.from({ length: 30 }, (_, i) => `record ${i}`));
  await page.waitForFunction(() => document.querySelector('#chart-rate path.series')?.getAttribute('d').includes('L'));
  await page.screenshot({ path: `${args.screenshots}/pipeline-view.png`, fullPage: false });
  // Hot-swap the step to version 2 from the picker.
  await page.selectOption('#swap-0', '2');
  await page.click('#swap button[type=submit]');
  await waitText(page, '#history tbody tr', `${args.module}@2`);
  const history = await page.$$eval('#history tbody tr', (rows) => rows.map((r) => r.textContent));
  await waitText(page, '#log', 'host: updated');
  // Pause, then delete with the name typed.
  await page.click('#pause');
  await waitText(page, '#stat-state .value', 'paused');
  await page.fill('#state-key', 'nothing');
  await page.click('#state button[type=submit]');
  await page.locator('#state-result').filter({ hasText: /./ }).waitFor();
  const state = await page.textContent('#state-result');
  await page.fill('#delete-confirm', 'wrong');
  await page.click('#delete-pipeline button');
  await page.locator('#delete-pipeline .msg.error').waitFor();
  await page.fill('#delete-confirm', args.pipeline);
  await page.click('#delete-pipeline button');
  await page.waitForURL('**/#/pipelines');
  await page.locator('h1', { hasText: 'Pipelines' }).waitFor();
  return { nodes, inBefore, before, after, history, state };
}

/** Creates a connector from the form generated from config/validate; sees it RUNNING. */
async function connectorForm(page, { url, args }) {
  await page.goto(`${url}/#/connectors`);
  await page.locator('#plugins').waitFor();
  await page.click(`#plugins a[data-class="${args.class}"]`);
  await page.locator('#create-connector').waitFor();
  const fields = await page.$$eval('#create-connector [data-config]', (els) => els.map((e) => e.dataset.config));
  await page.fill('#connector-name', args.name);
  for (const [k, v] of Object.entries(args.config)) {
    await page.fill(`#create-connector [data-config="${k}"]`, v);
  }
  await page.fill('#connector-extra', JSON.stringify(args.extra));
  await page.click('#create-connector button[type=submit]');
  await page.waitForURL(`**/#/connectors/${args.name}`);
  for (let i = 0; i < 60; i += 1) {
    const state = await page.textContent('h1 .state');
    if (state === 'RUNNING') break;
    await page.waitForTimeout(250);
    await page.reload();
    await page.locator('h1 .state').waitFor();
  }
  const state = await page.textContent('h1 .state');
  const tasks = await page.$$eval('#tasks tbody tr', (rows) => rows.map((r) => r.textContent));
  await page.click('#connector-pause');
  await waitText(page, 'h1 .state', 'PAUSED');
  return { fields, state, tasks };
}

module.exports = { modulePlayground, pipelineView, connectorForm };
