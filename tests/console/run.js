// Entry point of the console tests' browser side: `node run.js CONFIG.json`, where
// the config is `{"screenshots": DIR, "scenarios": [...]}` (see harness.js). Prints
// `{"results": {...}}` as one JSON line on stdout; exits 0 when it ran, whatever
// the scenarios' outcomes (the Rust test asserts on them).

const fs = require('fs');
const { run } = require('./harness.js');

async function main() {
  const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const results = await run(config.scenarios, config.screenshots);
  process.stdout.write(`${JSON.stringify({ results })}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
