// The browser side of the console tests: one headless Chromium (Debian's, at
// /usr/bin/chromium) driven by playwright-core, a fresh browser context (cookies,
// sessionStorage) per scenario, a screenshot of each scenario's last screen, and a
// scenario failing on any JavaScript error in the page: an uncaught exception, a
// console.error, or a request the page made that the scenario did not expect to fail.

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

// This machine's network is closed: without these Chromium waits on lookups of
// Google's services. Playwright gives each launch a fresh temporary profile
// (its own --user-data-dir), removed when the browser closes.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Chromium's note of a response with an error status, e.g. "... status of 401 (Unauthorized)". */
const HTTP_STATUS = /Failed to load resource: the server responded with a status of (\d+)/;

/**
 * Runs `scenarios` ([{name, module, function, url, args, allow_http}]): each module
 * (a file next to this one) exports async functions `(page, ctx) => value`. Returns
 * `{name: {ok, value, error, errors, screenshots}}`.
 */
async function run(scenarios, screenshotDir) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.WEIR_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    timeout: 60000,
  });
  const results = {};
  try {
    for (const s of scenarios) {
      results[s.name] = await runOne(browser, s, screenshotDir);
    }
  } finally {
    await browser.close();
  }
  return results;
}

async function runOne(browser, s, screenshotDir) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const errors = [];
  const allowed = new Set(s.allow_http ?? []);
  page.on('pageerror', (e) => errors.push(`page error: ${e.stack || e.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const status = HTTP_STATUS.exec(msg.text());
    if (status && allowed.has(Number(status[1]))) return;
    errors.push(`console.error: ${msg.text()} (${msg.location().url})`);
  });
  page.on('requestfailed', (req) => {
    // A request cut short by the page's own navigation (a reload) is no error.
    if (req.failure()?.errorText === 'net::ERR_ABORTED') return;
    errors.push(`request failed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`);
  });
  const screenshots = [];
  const shoot = async (label) => {
    const file = path.join(screenshotDir, `${label}.png`);
    await page.screenshot({ path: file, fullPage: true });
    screenshots.push(file);
  };
  const ctx = { url: s.url, args: s.args ?? {}, screenshot: shoot };
  const result = { ok: false, value: null, error: null, errors, screenshots };
  try {
    const module = require(path.join(__dirname, s.module));
    const fn = module[s.function];
    if (typeof fn !== 'function') throw new Error(`${s.module} exports no function ${s.function}`);
    result.value = await fn(page, ctx);
    await shoot(s.name);
    // A failure's screenshot from an earlier run would mislead.
    fs.rmSync(path.join(screenshotDir, `${s.name}-failed.png`), { force: true });
    result.ok = errors.length === 0;
  } catch (e) {
    result.error = e.stack || String(e);
    await shoot(`${s.name}-failed`).catch(() => {});
  } finally {
    await context.close();
  }
  return result;
}

module.exports = { run };
