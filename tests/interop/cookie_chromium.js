// Chromium (playwright-core) opens examples/cookie_server's page; its
// WebSocket is accepted with "visible=yes" and an HttpOnly "secret": the
// page's document.cookie must show the first and not the second.
// argv: page URL, profile dir. Prints ok/FAIL lines.
'use strict';
const { chromium } = require('playwright-core');
(async () => {
  const ctx = await chromium.launchPersistentContext(process.argv[3], {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update',
      '--disable-sync'],
  });
  try {
    const page = await ctx.newPage();
    await page.goto(process.argv[2], { timeout: 15000 });
    await page.waitForFunction(() => window.result !== null, null, { timeout: 15000 });
    // The cookie jar is written with the handshake; read it again after.
    const r = await page.evaluate(() => window.result + ' | later=' + document.cookie);
    const ok = /visible=yes/.test(r) && !/secret/.test(r);
    console.log(ok ? 'ok cookie_chromium_document_cookie' : 'FAIL cookie_chromium_document_cookie: ' + r);
    const all = await ctx.cookies();
    const secret = all.find((c) => c.name === 'secret');
    console.log(secret && secret.httpOnly && secret.value === 's3'
      ? 'ok cookie_chromium_httponly_stored'
      : 'FAIL cookie_chromium_httponly_stored: ' + JSON.stringify(all));
  } finally {
    await ctx.close();
  }
})().catch((e) => { console.log('FAIL cookie_chromium: ' + e.message); process.exit(1); });
