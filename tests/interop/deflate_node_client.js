// Node `ws` clients with perMessageDeflate against `wsx echo --deflate`:
//   node deflate_node_client.js ws://127.0.0.1:PORT/
// One connection per option combination. Each checks the negotiated
// extension (ws.extensions and the exact Sec-WebSocket-Extensions response
// wsx sent), echoes of small and large (1 MiB compressible text, 1 MiB
// random binary) messages, and that the server really compressed (bytes
// read off the socket for the compressible echo). Prints "ok name" /
// "FAIL name: why" lines; used by test_deflate_node.sh.
'use strict';
const WebSocket = require('ws');
const crypto = require('crypto');
const base = process.argv[2];
const P = 'deflate_node_client_';

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => {
    t = setTimeout(() => rej(new Error(`timeout waiting for ${what}`)), ms);
  })]).finally(() => clearTimeout(t));
}

function nextMessage(ws) {
  return new Promise((resolve, reject) => {
    const onMsg = (data, isBinary) => { cleanup(); resolve({ data, isBinary }); };
    const onClose = (code) => { cleanup(); reject(new Error(`closed (${code})`)); };
    const cleanup = () => { ws.off('message', onMsg); ws.off('close', onClose); };
    ws.on('message', onMsg);
    ws.on('close', onClose);
  });
}

async function echo(ws, payload, binary) {
  const got = nextMessage(ws);
  const before = ws._socket.bytesRead;
  ws.send(payload, { binary });
  const m = await withTimeout(got, 20000, 'echo');
  const want = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  if (m.isBinary !== binary) throw new Error(`echo came back as ${m.isBinary ? 'binary' : 'text'}`);
  if (!Buffer.from(m.data).equals(want)) throw new Error(`echo differs (${m.data.length} bytes, want ${want.length})`);
  return ws._socket.bytesRead - before;
}

function jsonText(n) {
  const parts = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const s = JSON.stringify({ id: i, name: 'wsx', ok: i % 3 === 0, v: [i, i * 2, i * 3], t: 'h\u00e9llo' }) + ',';
    parts.push(s);
    len += Buffer.byteLength(s);
  }
  return Buffer.from(parts.join('')).subarray(0, n).toString('latin1').replace(/[^\x20-\x7e]/g, 'x');
}

// Parameters wsx echo (wsx_deflate_new(NULL): windows 15, context takeover)
// must answer to each ws offer (RFC 7692 7.1).
function expected(o) {
  const p = [];
  if (o.serverNoContextTakeover) p.push('server_no_context_takeover');
  if (o.clientNoContextTakeover) p.push('client_no_context_takeover');
  if (typeof o.serverMaxWindowBits === 'number') p.push(`server_max_window_bits=${o.serverMaxWindowBits}`);
  if (typeof o.clientMaxWindowBits === 'number' && o.clientMaxWindowBits < 15)
    p.push(`client_max_window_bits=${o.clientMaxWindowBits}`);
  return p.sort().join('; ');
}

async function runCase(name, pmd, big) {
  const ws = new WebSocket(base + name, { perMessageDeflate: pmd, maxPayload: 64 << 20 });
  ws.on('error', () => {});
  let respExt = null;
  ws.on('upgrade', (res) => { respExt = res.headers['sec-websocket-extensions'] || ''; });
  try {
    await withTimeout(new Promise((res, rej) => {
      ws.once('open', res);
      ws.once('error', rej);
      ws.once('unexpected-response', (req, r) => rej(new Error(`HTTP ${r.statusCode}`)));
    }), 10000, 'open');
    if (ws.extensions !== 'permessage-deflate') throw new Error(`ws.extensions '${ws.extensions}'`);
    const parts = (respExt || '').split(';').map((s) => s.trim());
    if (parts[0] !== 'permessage-deflate') throw new Error(`response extension '${respExt}'`);
    const got = parts.slice(1).sort().join('; ');
    if (got !== expected(pmd)) throw new Error(`response '${respExt}', expected params '${expected(pmd)}'`);
    await echo(ws, 'hello deflate', false);
    await echo(ws, '', false);
    await echo(ws, Buffer.from([...Array(200).keys()]), true);
    for (let i = 0; i < 20; i++) await echo(ws, `{"seq":${i},"msg":"small json"}`, false);
    if (big) {
      const text = jsonText(1 << 20);
      const wire = await echo(ws, text, false);
      // RFC 7692: the echo came back compressed (with context takeover or
      // not, JSON-like text shrinks far below a quarter).
      if (wire > (1 << 20) / 4) throw new Error(`1 MiB text echo took ${wire} bytes on the wire: not compressed`);
      await echo(ws, crypto.randomBytes(1 << 20), true);
      await echo(ws, text, false); // again, through the kept (or reset) context
    }
    const closed = new Promise((res) => ws.once('close', (code) => res(code)));
    ws.close(1000, 'done');
    const code = await withTimeout(closed, 5000, 'close');
    if (code !== 1000) throw new Error(`close code ${code}`);
    console.log(`ok ${P}${name}`);
  } catch (e) {
    console.log(`FAIL ${P}${name}: ${e.message}`);
    ws.terminate();
  }
}

async function main() {
  const cases = [
    ['default', {}, true],
    ['threshold_0', { threshold: 0 }, true],
    ['server_no_context_takeover', { serverNoContextTakeover: true, threshold: 0 }, true],
    ['client_no_context_takeover', { clientNoContextTakeover: true, threshold: 0 }, true],
    ['both_no_context_takeover', { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 }, true],
    ['client_max_window_bits_bare', { clientMaxWindowBits: true, threshold: 0 }, false],
  ];
  for (let b = 9; b <= 15; b++) {
    cases.push([`server_max_window_bits_${b}`, { serverMaxWindowBits: b, threshold: 0 }, b === 9 || b === 15]);
    cases.push([`client_max_window_bits_${b}`, { clientMaxWindowBits: b, threshold: 0 }, b === 9]);
  }
  cases.push(['windows_9_9_no_takeover', { serverMaxWindowBits: 9, clientMaxWindowBits: 9,
    serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 }, true]);
  for (const [name, pmd, big] of cases) await runCase(name, pmd, big);
}
main().then(() => process.exit(0), (e) => { console.log(`FAIL ${P}run: ${e.message}`); process.exit(1); });
