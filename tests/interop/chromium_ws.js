// Drives headless Chromium (Debian's /usr/bin/chromium) with playwright-core:
// node chromium_ws.js PAGE_URL WS_URL USER_DATA_DIR
// Prints "ok chromium_<name>" / "FAIL chromium_<name>: why".
'use strict';
const [pageUrl, wsUrl, userDir] = process.argv.slice(2);
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.log('FAIL chromium: playwright-core not installed (scripts/install-deps.sh)');
  process.exit(1);
}

async function main() {
  const ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update',
      '--disable-sync'],
  });
  try {
    const page = await ctx.newPage();
    await page.goto(pageUrl, { timeout: 15000 });
    const results = await page.evaluate((u) => runTest(u), wsUrl);
    const seen = new Set();
    for (const [name, err] of results) {
      seen.add(name);
      console.log(err ? `FAIL chromium_${name}: ${err}` : `ok chromium_${name}`);
    }
    for (const name of ['open', 'text', 'utf8', 'binary', 'close'])
      if (!seen.has(name)) console.log(`FAIL chromium_${name}: never happened`);
  } finally {
    await ctx.close();
  }
}
main().then(() => process.exit(0), (e) => {
  console.log(`FAIL chromium_run: ${String(e.message).split('\n')[0]}`);
  process.exit(1);
});
