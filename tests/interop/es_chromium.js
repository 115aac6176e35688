// Chromium's EventSource (playwright-core) on the wsx example server's page:
// prints the events the page saw, then "done".
const { chromium } = require('playwright-core');
(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(process.argv[2]);
    await page.waitForFunction(() => window.events.length >= 6 && window.state === 2,
                               null, { timeout: 15000 });
    for (const e of await page.evaluate(() => window.events)) console.log(e);
    console.log('done');
  } finally {
    await browser.close();
  }
})().catch((e) => { console.log('error ' + e.message); process.exit(1); });
