// Drives the `wsx serve` demo page in headless Chromium (playwright-core):
// node demo_chromium.js BASE_URL SCREENSHOT_PATH
// Two browser contexts (two visitors) chat with each other, watch the
// EventSource clock and use the echo endpoint. Prints "ok demo_<name>" /
// "FAIL demo_<name>: why" for each check.
'use strict';
const [baseUrl, shotPath] = process.argv.slice(2);
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.log('FAIL demo: playwright-core not installed (scripts/install-deps.sh)');
  process.exit(1);
}

const T = 10000; // bound of every single wait, ms
let failures = 0;
const report = (name, err) => {
  if (err) failures++;
  console.log(err ? `FAIL demo_${name}: ${err}` : `ok demo_${name}`);
};

// Runs one named check; an exception is that check's failure, not the run's.
async function check(name, fn) {
  try {
    const err = await fn();
    report(name, err || null);
  } catch (e) {
    report(name, String(e.message).split('\n')[0]);
  }
}

async function openVisitor(browser, errors, label) {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${label}: ${m.text()}`);
  });
  await page.goto(baseUrl, { timeout: T });
  return { ctx, page };
}

const textOf = (page, sel) => page.locator(sel).textContent({ timeout: T });

async function sendChat(page, name, text) {
  await page.fill('#name', name, { timeout: T });
  await page.fill('#text', text, { timeout: T });
  await page.click('#send', { timeout: T });
}

// Waits until a message with exactly this text is in the page's list;
// returns its name and text as shown.
async function waitForMessage(page, text) {
  const handle = await page.waitForFunction((t) => {
    for (const li of document.querySelectorAll('#messages li')) {
      const span = li.querySelector('.text');
      if (span && span.textContent === t)
        return { who: li.querySelector('.who').textContent, mine: li.className === 'mine' };
    }
    return null;
  }, text, { timeout: T });
  return handle.jsonValue();
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update',
      '--disable-sync'],
  });
  const errors = [];
  try {
    const a = await openVisitor(browser, errors, 'A');
    const b = await openVisitor(browser, errors, 'B');

    await check('chat_connected', async () => {
      for (const v of [a, b])
        await v.page.waitForFunction(() =>
          document.getElementById('chat-status').textContent === 'connected', null, { timeout: T });
    });
    await check('online_count', async () => {
      for (const v of [a, b])
        await v.page.waitForFunction(() =>
          document.getElementById('online').textContent === '2', null, { timeout: T });
    });

    const hostile = 'hello from A <b>bold</b> <img src=x onerror=alert(1)> & "quotes"';
    await check('chat_broadcast', async () => {
      await sendChat(a.page, 'Alice', hostile);
      const seen = await waitForMessage(b.page, hostile);
      if (seen.who !== 'Alice') return `name shown as ${JSON.stringify(seen.who)}`;
      const own = await waitForMessage(a.page, hostile);
      if (!own.mine) return 'the sender does not see its own message marked as its own';
    });
    await check('chat_text_escaped', async () => {
      const n = await b.page.evaluate(() =>
        document.querySelectorAll('#messages b, #messages img').length);
      if (n) return `${n} element(s) were created from chat text`;
    });
    const reply = 'hi Alice \u2014 caf\u00e9 \u2713';
    await check('chat_reply', async () => {
      await sendChat(b.page, 'Bob', reply);
      const seen = await waitForMessage(a.page, reply);
      if (seen.who !== 'Bob') return `name shown as ${JSON.stringify(seen.who)}`;
    });
    await check('chat_server_time', async () => {
      const when = await a.page.locator('#messages li .when').last().textContent({ timeout: T });
      if (!/\d/.test(when)) return `time shown as ${JSON.stringify(when)}`;
    });

    await check('clock_ticks', async () => {
      const iso = () => a.page.evaluate(() => document.getElementById('clock').dataset.iso || '');
      await a.page.waitForFunction(() => document.getElementById('clock').dataset.iso, null, { timeout: T });
      const v1 = await iso();
      await a.page.waitForFunction((v) => {
        const now = document.getElementById('clock').dataset.iso;
        return now && now !== v;
      }, v1, { timeout: T });
      const v2 = await iso();
      const t1 = Date.parse(v1), t2 = Date.parse(v2);
      if (!(t2 - t1 >= 1000)) return `clock went from ${v1} to ${v2}`;
      if (Math.abs(t2 - Date.now()) > 5000) return `server time ${v2} is far from the local clock`;
      const status = await textOf(a.page, '#clock-status');
      if (status !== 'live') return `clock status is ${JSON.stringify(status)}`;
      const shown = await textOf(a.page, '#clock');
      if (shown !== v2.slice(11, 19)) return `clock shows ${JSON.stringify(shown)} for ${v2}`;
    });

    await check('echo', async () => {
      const msg = 'echo \u2713 <i>test</i>';
      await a.page.fill('#echo-text', msg, { timeout: T });
      await a.page.click('#echo-send', { timeout: T });
      await a.page.waitForFunction((m) =>
        document.getElementById('echo-reply').textContent === m, msg, { timeout: T });
    });

    // The server must refuse what the page would never send.
    await check('chat_rejects_bad_input', async () => {
      const got = await b.page.evaluate(() => new Promise((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/chat`);
        const errs = [];
        const timer = setTimeout(() => resolve({ errs, timeout: true }), 5000);
        ws.onopen = () => {
          ws.send('not json');
          ws.send(JSON.stringify({ name: 'Eve', text: 'x'.repeat(5000) }));
          ws.send(JSON.stringify({ name: 'Eve', text: 5 }));
          ws.send(JSON.stringify({ name: '', text: 'no name' }));
          ws.send(new Uint8Array([1, 2, 3]));
        };
        ws.onmessage = (e) => {
          const m = JSON.parse(e.data);
          if (m.error) errs.push(m.error);
          if (m.name) errs.push('BROADCAST ' + m.text);
          if (errs.length === 5) { clearTimeout(timer); ws.close(); resolve({ errs }); }
        };
      }));
      if (got.timeout) return `only ${got.errs.length} of 5 errors came back: ${got.errs.join('; ')}`;
      const leaked = got.errs.filter((e) => e.startsWith('BROADCAST'));
      if (leaked.length) return `bad input was broadcast: ${leaked[0].slice(0, 60)}`;
    });

    await check('http_status', async () => {
      const codes = await a.page.evaluate(async () => {
        const r = {};
        for (const p of ['/', '/app.js', '/style.css', '/nope', '/clock'])
          r[p] = (await fetch(p)).status;
        return r;
      });
      const want = { '/': 200, '/app.js': 200, '/style.css': 200, '/nope': 404, '/clock': 406 };
      for (const p of Object.keys(want))
        if (codes[p] !== want[p]) return `${p} answered ${codes[p]}, expected ${want[p]}`;
    });

    await check('unknown_ws_path', async () => {
      const code = await a.page.evaluate(() => new Promise((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/nowhere`);
        const timer = setTimeout(() => resolve('timeout'), 5000);
        ws.onopen = () => { clearTimeout(timer); resolve('opened'); };
        ws.onclose = (e) => { clearTimeout(timer); resolve(e.code); };
      }));
      if (code !== 1006) return `expected a refused handshake (1006), got ${code}`;
    });

    await check('screenshot', async () => {
      await a.page.locator('#messages li').nth(1).waitFor({ timeout: T });
      await a.page.screenshot({ path: shotPath, fullPage: true, timeout: T });
    });

    await check('online_after_leave', async () => {
      await b.ctx.close();
      await a.page.waitForFunction(() =>
        document.getElementById('online').textContent === '1', null, { timeout: T });
    });

    // Page errors, CSP violations and failed loads show up in the console.
    const unexpected = errors.filter((e) => !/\/nope|\/clock|\/nowhere|404|406/.test(e));
    report('no_page_errors', unexpected.length ? unexpected.slice(0, 3).join(' | ') : null);
    await a.ctx.close();
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(failures ? 1 : 0), (e) => {
  console.log(`FAIL demo_run: ${String(e.message).split('\n')[0]}`);
  process.exit(1);
});
