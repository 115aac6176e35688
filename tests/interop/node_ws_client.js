// Node `ws` client against `wsx echo`: node node_ws_client.js URL
// Prints "ok <name>" / "FAIL <name>: why" per case. Used by test_node_ws.sh.
'use strict';
const WebSocket = require('ws');
const crypto = require('crypto');
const url = process.argv[2];
const P = 'node_ws_client_';

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

async function echoCase(ws, name, payload, binary) {
  try {
    const got = nextMessage(ws);
    ws.send(payload, { binary });
    const m = await withTimeout(got, 10000, 'echo');
    const want = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
    if (m.isBinary !== binary) throw new Error(`echo came back as ${m.isBinary ? 'binary' : 'text'}`);
    if (!Buffer.from(m.data).equals(want)) throw new Error(`echo differs (${m.data.length} bytes, want ${want.length})`);
    console.log(`ok ${P}${name}`);
  } catch (e) {
    console.log(`FAIL ${P}${name}: ${e.message}`);
  }
}

async function main() {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 << 20 });
  ws.on('error', () => {});
  try {
    await withTimeout(new Promise((res, rej) => {
      ws.once('open', res);
      ws.once('error', rej);
      ws.once('unexpected-response', (req, r) => rej(new Error(`HTTP ${r.statusCode}`)));
    }), 10000, 'open');
    console.log(`ok ${P}open`);
  } catch (e) {
    console.log(`FAIL ${P}open: ${e.message}`);
    process.exit(1);
  }
  await echoCase(ws, 'text', 'hello from node ws', false);
  await echoCase(ws, 'binary', Buffer.from([...Array(256).keys()]), true);
  await echoCase(ws, 'binary_1mib', crypto.randomBytes(1 << 20), true);
  await echoCase(ws, 'text_1mib', 'x'.repeat(1 << 20), false);
  await echoCase(ws, 'utf8', 'h\u00e9llo w\u00f6rld \u20ac \u{1D11E} \u65e5\u672c\u8a9e', false);
  await echoCase(ws, 'empty_text', '', false);
  try {
    const pong = new Promise((res) => ws.once('pong', res));
    ws.ping(Buffer.from('ping-42'));
    const data = await withTimeout(pong, 5000, 'pong');
    if (data.toString() !== 'ping-42') throw new Error(`pong payload '${data}'`);
    console.log(`ok ${P}ping`);
  } catch (e) {
    console.log(`FAIL ${P}ping: ${e.message}`);
  }
  try {
    const closed = new Promise((res) => ws.once('close', (code, reason) => res({ code, reason: reason.toString() })));
    ws.close(4001, 'bye-node');
    const c = await withTimeout(closed, 5000, 'close');
    if (c.code !== 4001) throw new Error(`close code ${c.code}, want 4001 echoed`);
    if (c.reason !== '' && c.reason !== 'bye-node') throw new Error(`close reason '${c.reason}'`);
    console.log(`ok ${P}close`);
  } catch (e) {
    console.log(`FAIL ${P}close: ${e.message}`);
  }
}
main().then(() => process.exit(0), (e) => { console.log(`FAIL ${P}run: ${e.message}`); process.exit(1); });
