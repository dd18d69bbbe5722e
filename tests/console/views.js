// Scenarios of the Overview, Topics, records and Groups views and of signing in,
// run by harness.js; tests/console.rs prepares the servers and asserts on the values.

/** Waits for `selector` to hold `text`. */
async function waitText(page, selector, text) {
  await page.locator(selector).filter({ hasText: text }).first().waitFor();
}

/** The records table's rows: offset and each cell's rendered kind and text. */
async function recordRows(page) {
  await page.locator('#records').waitFor();
  return page.$$eval('#records tbody tr', (rows) => rows.map((r) => {
    const cells = r.querySelectorAll('td');
    const shown = (td) => {
      const pre = td.querySelector('pre');
      return pre ? { kind: pre.title, text: pre.textContent } : null;
    };
    return {
      offset: Number(cells[0].textContent.replace(/,/g, '')),
      key: shown(cells[2]),
      value: shown(cells[3]),
      headers: cells[4].textContent,
    };
  }));
}

/** `/` in a browser is the console; its overview shows counts and the chart. */
async function overview(page, { url }) {
  const response = await page.goto(`${url}/`);
  await page.locator('#stat-topics .value').waitFor();
  await page.locator('#throughput svg').waitFor();
  return {
    content_type: response.headers()['content-type'],
    csp: response.headers()['content-security-policy'],
    title: await page.title(),
    topics: await page.textContent('#stat-topics .value'),
    partitions: await page.textContent('#stat-partitions .value'),
    groups: await page.$$eval('#groups tbody tr', (rows) => rows.map((r) => r.textContent)),
  };
}

/** Creates a topic, alters it, produces from the form, browses, deletes it. */
async function topicLifecycle(page, { url, args }) {
  const name = args.topic;
  await page.goto(`${url}/ui`);
  await page.locator('#nav a', { hasText: 'Topics' }).click();
  await page.fill('#create-topic input[name=name]', name);
  await page.fill('#create-topic input[name=partitions]', '2');
  await page.click('#create-topic button');
  await page.waitForURL(`**/#/topics/${name}`);
  await page.locator('#partitions').waitFor();
  const partitionsBefore = await page.locator('#partitions tbody tr').count();
  await page.fill('#add-partitions input[name=count]', '3');
  await page.click('#add-partitions button');
  await page.locator('#partitions tbody tr').nth(2).waitFor();
  await page.fill('#alter-config input[name=key]', 'retention.ms');
  await page.fill('#alter-config input[name=value]', '3600000');
  await page.click('#alter-config button');
  // The row of the key set, not another that holds the same number.
  await waitText(page, '#config tr', 'retention.ms3600000set');
  await page.fill('#produce input[name=key]', 'k1');
  await page.fill('#produce textarea[name=value]', '{"id":1,"item":"tea"}');
  await page.fill('#produce input[name=headers]', '{"source":"console"}');
  await page.fill('#produce input[name=partition]', '1');
  await page.click('#produce button');
  await waitText(page, '#produce .msg.ok', 'offset 0');
  await page.goto(`${url}/#/topics/${name}/records?partition=1`);
  const rows = await recordRows(page);
  await page.screenshot({ path: `${args.screenshots}/records-json.png`, fullPage: true });
  // A bad %-escape in the hash is "No such page", not an uncaught error (which fails
  // the scenario through the harness).
  await page.goto(`${url}/#/topics/%E0`);
  await waitText(page, '.msg.error', 'No such page');
  // Deleting asks for the name: a wrong one is refused in the page.
  await page.goto(`${url}/#/topics/${name}`);
  await page.fill('#delete-topic input[name=confirm]', 'not-it');
  await page.click('#delete-topic button');
  await page.locator('#delete-topic .msg.error').waitFor();
  const refused = await page.textContent('#delete-topic .msg.error');
  await page.fill('#delete-topic input[name=confirm]', name);
  await page.click('#delete-topic button');
  await page.waitForURL('**/#/topics');
  await page.locator('h1', { hasText: 'Topics' }).waitFor();
  const listed = await page.$$eval('#topics tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
  return { partitionsBefore, rows, refused, listed };
}

/** The browser of a topic with JSON, text and binary records, newest first, paged. */
async function browse(page, { url, args }) {
  await page.goto(`${url}/#/topics/${args.topic}/records?partition=0`);
  const newest = await recordRows(page);
  await page.click('text=older');
  await page.waitForURL(/end=/);
  const older = await recordRows(page);
  // From an offset, oldest first.
  await page.fill('#rb-offset', '2');
  await page.click('#browse button');
  await page.waitForURL(/offset=2/);
  const fromOffset = await recordRows(page);
  // From a time: the first record at or after it.
  await page.fill('#rb-offset', '');
  await page.fill('#rb-timestamp', String(args.timestamp));
  await page.click('#browse button');
  await page.waitForURL(/timestamp=/);
  const fromTime = await recordRows(page);
  return { newest, older, fromOffset, fromTime };
}

/** A search over keys and values, with the scan count shown. */
async function search(page, { url, args }) {
  await page.goto(`${url}/#/topics/${args.topic}/records?partition=0`);
  await page.locator('#records').waitFor();
  await page.fill('#rb-q', args.q);
  await page.click('#browse button');
  await page.waitForURL(/q=/);
  const rows = await recordRows(page);
  const note = await page.textContent('.msg.note');
  return { rows, note };
}

async function lagBars(page) {
  await page.locator('#lag-chart rect.bar').first().waitFor();
  return page.$$eval('#lag-chart rect.bar', (bars) => bars.map((b) => Number(b.dataset.value)));
}

/** A group's lag chart before and after resetting its offsets (earliest, then exact). */
async function resetGroup(page, { url, args }) {
  await page.goto(`${url}/#/groups`);
  await page.locator('#groups a', { hasText: args.group }).click();
  await page.waitForURL(`**/#/groups/${args.group}`);
  const before = await lagBars(page);
  await page.selectOption('#reset-to', 'earliest');
  await page.click('#reset button');
  await page.locator('#reset .msg.ok').waitFor();
  const earliest = await lagBars(page);
  await page.selectOption('#reset-to', 'offset');
  await page.fill('#reset-value', String(args.offset));
  await page.click('#reset button');
  await page.locator('#reset .msg.ok').waitFor();
  const exact = await lagBars(page);
  return { before, earliest, exact };
}

/** Resetting a group that has members is refused with a clear message. */
async function resetActiveGroup(page, { url, args }) {
  await page.goto(`${url}/#/groups/${args.group}`);
  await page.locator('#members').waitFor();
  const members = await page.locator('#members tbody tr').count();
  await page.selectOption('#reset-to', 'latest');
  await page.click('#reset button');
  await page.locator('#reset .msg.error').waitFor();
  return { members, error: await page.textContent('#reset .msg.error') };
}

/** With auth on, the console asks to sign in; wrong credentials are refused. */
async function signIn(page, { url, args }) {
  await page.goto(`${url}/#/topics`);
  await page.locator('#signin').waitFor();
  await page.fill('#signin-user', args.user);
  await page.fill('#signin-password', 'wrong');
  await page.click('#signin button');
  await waitText(page, '#signin .msg.error', 'refused');
  await page.fill('#signin-user', args.user);
  await page.fill('#signin-password', args.password);
  await page.click('#signin button');
  await page.locator('#topics').waitFor();
  const topics = await page.$$eval('#topics tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
  // Kept for the tab: a reload needs no second sign-in.
  await page.reload();
  await page.locator('#topics').waitFor();
  // A token works too, after signing out.
  await page.click('#signout');
  await page.locator('#signin').waitFor();
  await page.fill('#signin-token', args.token);
  await page.click('#signin button');
  await page.locator('#topics').waitFor();
  return { topics };
}

/** The harness's own check: a console.error in the page fails the scenario. */
async function consoleError(page, { url }) {
  await page.goto(`${url}/`);
  await page.locator('#stat-topics').waitFor();
  await page.evaluate(() => console.error('a deliberate error'));
  return 'done';
}

/** A user who may see one topic: the overview shows it and leaves the history out. */
async function viewerOverview(page, { url, args }) {
  await page.goto(`${url}/`);
  await page.locator('#signin').waitFor();
  await page.fill('#signin-user', args.user);
  await page.fill('#signin-password', args.password);
  await page.click('#signin button');
  await page.locator('#stat-topics .value').waitFor();
  return {
    topics: await page.textContent('#stat-topics .value'),
    note: await page.textContent('main .msg.note'),
  };
}

module.exports = { viewerOverview, consoleError, overview, topicLifecycle, browse, search, resetGroup, resetActiveGroup, signIn };
