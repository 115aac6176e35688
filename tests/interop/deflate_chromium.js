// Headless Chromium (playwright-core, Debian's /usr/bin/chromium) opens a
// WebSocket to `wsx echo --deflate` from a page and checks that
// permessage-deflate was negotiated (ws.extensions) and that echoes of
// small and large messages come back intact:
//   node deflate_chromium.js WS_URL USER_DATA_DIR
// The page is set with page.setContent (no HTTP server needed).
// Prints "ok deflate_chromium_<name>" / "FAIL deflate_chromium_<name>: why".
'use strict';
const [wsUrl, userDir] = process.argv.slice(2);
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.log('FAIL deflate_chromium: playwright-core not installed (scripts/install-deps.sh)');
  process.exit(1);
}

// Runs in the page. Returns [[name, error or null], ...].
async function pageTest(url) {
  const out = [];
  const step = (name, err) => out.push([name, err ? String(err) : null]);
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const queue = [];
  let waiter = null;
  ws.onmessage = (e) => { queue.push(e.data); if (waiter) { const w = waiter; waiter = null; w(); } };
  const next = () => new Promise((res, rej) => {
    if (queue.length) return res(queue.shift());
    const t = setTimeout(() => rej(new Error('timeout waiting for echo')), 20000);
    waiter = () => { clearTimeout(t); res(queue.shift()); };
  });
  try {
    await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error('error before open')); setTimeout(() => rej(new Error('open timeout')), 10000); });
    step('open');
  } catch (e) { step('open', e.message); return out; }
  // RFC 7692 5: the browser offers permessage-deflate (with
  // client_max_window_bits); wsx echo accepts it with its defaults.
  step('extensions', /^permessage-deflate(;|$)/.test(ws.extensions) ? null : `ws.extensions = '${ws.extensions}'`);
  const eqBuf = (a, b) => { if (a.byteLength !== b.byteLength) return false; const x = new Uint8Array(a), y = new Uint8Array(b); for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false; return true; };
  const cases = [];
  cases.push(['text', 'hello from chromium with deflate']);
  cases.push(['utf8', 'h\u00e9llo w\u00f6rld \u20ac \u{1D11E} \u65e5\u672c\u8a9e']);
  let json = ''; for (let i = 0; json.length < (1 << 20); i++) json += JSON.stringify({ id: i, name: 'wsx', v: [i, i * 2] }) + ',';
  cases.push(['text_1mib', json.slice(0, 1 << 20)]);
  const rnd = new Uint8Array(1 << 20); for (let o = 0; o < rnd.length; o += 65536) crypto.getRandomValues(rnd.subarray(o, o + 65536));
  cases.push(['binary_1mib_random', rnd.buffer]);
  const small = new Uint8Array(300); for (let i = 0; i < 300; i++) small[i] = i & 0xff;
  cases.push(['binary_small', small.buffer]);
  for (const [name, payload] of cases) {
    try {
      ws.send(payload);
      const got = await next();
      if (typeof payload === 'string') {
        if (got !== payload) throw new Error(`echo differs (${typeof got === 'string' ? got.length : 'binary'} vs ${payload.length})`);
      } else if (!(got instanceof ArrayBuffer) || !eqBuf(got, payload)) {
        throw new Error('binary echo differs');
      }
      step(name);
    } catch (e) { step(name, e.message); }
  }
  try {
    const closed = new Promise((res) => { ws.onclose = (e) => res(e); setTimeout(() => res(null), 5000); });
    ws.close(1000, 'bye');
    const e = await closed;
    step('close', e && e.code === 1000 && e.wasClean ? null : `close ${e ? e.code + ' clean=' + e.wasClean : 'timeout'}`);
  } catch (e) { step('close', e.message); }
  return out;
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
    await page.setContent('<!doctype html><title>wsx deflate</title>');
    const results = await page.evaluate(pageTest, wsUrl);
    const seen = new Set();
    for (const [name, err] of results) {
      seen.add(name);
      console.log(err ? `FAIL deflate_chromium_${name}: ${err}` : `ok deflate_chromium_${name}`);
    }
    for (const name of ['open', 'extensions', 'text', 'text_1mib', 'binary_1mib_random', 'close'])
      if (!seen.has(name)) console.log(`FAIL deflate_chromium_${name}: never happened`);
  } finally {
    await ctx.close();
  }
}
main().then(() => process.exit(0), (e) => {
  console.log(`FAIL deflate_chromium_run: ${String(e.message).split('\n')[0]}`);
  process.exit(1);
});
