// Chromium headless over HTTP/2 (RFC 8441) to `wsx serve --http2`:
// node h2_chromium.js ORIGIN SPKI_HASH USER_DATA_DIR
// The self-signed server certificate is trusted by its SPKI hash
// (--ignore-certificate-errors-spki-list: that key only, nothing else).
// Loads ORIGIN/ over h2, opens a WebSocket to ORIGIN/echo, exchanges a
// message and closes 4000; the DevTools protocol reports the protocols
// (Network.responseReceived: response.protocol "h2"; the WebSocket's
// handshake status 200, an RFC 8441 stream, where HTTP/1.1 has 101).
// Prints "ok h2_chromium_<name>" / "FAIL h2_chromium_<name>: why".
'use strict';
const [origin, spki, userDir] = process.argv.slice(2);
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.log('FAIL h2_chromium: playwright-core not installed (scripts/install-deps.sh)');
  process.exit(1);
}
const say = (name, err) =>
  console.log(err ? `FAIL h2_chromium_${name}: ${err}` : `ok h2_chromium_${name}`);

async function main() {
  const ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update',
      '--disable-sync', `--ignore-certificate-errors-spki-list=${spki}`],
  });
  try {
    const page = await ctx.newPage();
    const cdp = await ctx.newCDPSession(page);
    const protocols = {};
    const wsStatus = [];
    cdp.on('Network.responseReceived', (e) => {
      protocols[e.response.url] = e.response.protocol;
    });
    cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
      wsStatus.push(e.response.status);
    });
    await cdp.send('Network.enable');
    await page.goto(origin + '/', { timeout: 15000 });
    const pageProto = protocols[origin + '/'];
    say('page_h2', pageProto === 'h2' ? null : `page protocol ${pageProto}`);
    const r = await page.evaluate((u) => new Promise((resolve) => {
      const ws = new WebSocket(u);
      const t = setTimeout(() => resolve('timeout'), 10000);
      ws.onopen = () => ws.send('hello over h2');
      ws.onmessage = (m) => {
        if (m.data !== 'hello over h2') { clearTimeout(t); resolve(`echo ${m.data}`); }
        ws.close(4000, 'bye');
      };
      ws.onclose = (e) => { clearTimeout(t); resolve(e.code === 4000 ? 'ok' : `close ${e.code}`); };
      ws.onerror = () => { clearTimeout(t); resolve('error event'); };
    }), origin.replace(/^https/, 'wss') + '/echo');
    say('ws_echo', r === 'ok' ? null : r);
    say('ws_h2', wsStatus.length && wsStatus[0] === 200 ? null
      : `handshake statuses ${JSON.stringify(wsStatus)} (101 = HTTP/1.1)`);
  } finally {
    await ctx.close();
  }
}
main().then(() => process.exit(0), (e) => {
  console.log(`FAIL h2_chromium_run: ${String(e.message).split('\n')[0]}`);
  process.exit(1);
});
