// The demo page on two `wsx serve --redis` processes in headless Chromium
// (playwright-core): node redis_chromium.js URL_A URL_B
// Visitor A on server A and visitor B on server B chat both ways through
// Redis. Prints "ok redis_chromium_<name>" / "FAIL ...: why".
'use strict';
const [urlA, urlB] = process.argv.slice(2);
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.log('FAIL redis_chromium: playwright-core not installed (scripts/install-deps.sh)');
  process.exit(1);
}
const T = 10000;
let failures = 0;

async function visitor(browser, url) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(url, { timeout: T });
  await page.waitForFunction(() =>
    document.getElementById('chat-status').textContent === 'connected', null, { timeout: T });
  return page;
}
async function say(page, name, text) {
  await page.fill('#name', name, { timeout: T });
  await page.fill('#text', text, { timeout: T });
  await page.click('#send', { timeout: T });
}
async function seen(page, text) {
  await page.waitForFunction((t) => [...document.querySelectorAll('#messages li .text')]
    .some((s) => s.textContent === t), text, { timeout: T });
}
async function check(name, fn) {
  try {
    await fn();
    console.log(`ok redis_chromium_${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL redis_chromium_${name}: ${String(e.message).split('\n')[0]}`);
  }
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    timeout: 30000, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
  try {
    const a = await visitor(browser, urlA);
    const b = await visitor(browser, urlB);
    await check('a_to_b', async () => { await say(a, 'Alice', 'hello via redis'); await seen(b, 'hello via redis'); });
    await check('b_to_a', async () => { await say(b, 'Bob', 'caf\u00e9 back'); await seen(a, 'caf\u00e9 back'); });
  } finally {
    await browser.close();
  }
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.log(`FAIL redis_chromium: ${e.message}`); process.exit(1); });
