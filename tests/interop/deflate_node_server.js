// A Node `ws` server with perMessageDeflate that speaks the Autobahn
// fuzzingserver protocol, so the wsx CLIENT with permessage-deflate
// (`wsx autobahn-client URL AGENT --deflate`) can be tested against ws:
//   node deflate_node_server.js NAME 'PERMESSAGEDEFLATE_JSON'
// Prints "listening on PORT", then, when the client asks for
// /updateReports, one "ok deflate_node_server_NAME_<case>" / "FAIL ...: why"
// line per case and "reports done". Used by test_deflate_node.sh.
'use strict';
const { WebSocketServer } = require('ws');
const crypto = require('crypto');
const [name, cfgJson] = process.argv.slice(2);
const pmd = JSON.parse(cfgJson);
const P = `deflate_node_server_${name}_`;

function jsonText(n) {
  let s = '';
  for (let i = 0; s.length < n; i++)
    s += JSON.stringify({ id: i, name: 'wsx', ok: i % 3 === 0, v: [i, i * 2] }) + ',';
  return s.slice(0, n);
}

// Each case: messages sent to the client, each to come back unchanged.
// `frag` sends in 256-byte frames (Autobahn 12/13 style), `plain` without
// compression, `wireMax` bounds the bytes the echoes took on the wire (the
// client must have compressed them).
const big = jsonText(1 << 20);
const CASES = [
  { id: 'small_text', msgs: [{ d: 'hello from ws' }] },
  { id: 'json_20_bytes_x50', msgs: Array.from({ length: 50 }, (_, i) => ({ d: `{"i":${i},"k":"vvvv"}`.slice(0, 20) })) },
  { id: 'empty', msgs: [{ d: '' }, { d: Buffer.alloc(0), binary: true }] },
  { id: 'text_1mib', msgs: [{ d: big }, { d: big }], wireMax: (2 << 20) / 4 },
  { id: 'binary_1mib_random', msgs: [{ d: crypto.randomBytes(1 << 20), binary: true }] },
  { id: 'text_128kib_fragmented_256', msgs: [{ d: jsonText(128 << 10), frag: 256 }] },
  { id: 'binary_64kib_fragmented_256', msgs: [{ d: crypto.randomBytes(64 << 10), binary: true, frag: 256 }] },
  { id: 'uncompressed_in_session', msgs: [{ d: jsonText(4096), plain: true }, { d: jsonText(4096) }] },
];

const results = new Map();
const negotiated = [];

function sendMsg(ws, m) {
  const data = typeof m.d === 'string' ? Buffer.from(m.d) : m.d;
  const binary = !!m.binary;
  if (!m.frag || data.length <= m.frag) {
    ws.send(data, { binary, compress: !m.plain });
    return;
  }
  for (let off = 0; off < data.length; off += m.frag) {
    const end = Math.min(off + m.frag, data.length);
    ws.send(data.subarray(off, end), { binary, compress: !m.plain, fin: end === data.length });
  }
}

async function runCase(ws, c) {
  const want = c.msgs.map((m) => ({ d: typeof m.d === 'string' ? Buffer.from(m.d) : m.d, binary: !!m.binary }));
  const got = [];
  const before = ws._socket.bytesRead;
  const done = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout after ${got.length}/${want.length} echoes`)), 30000);
    ws.on('message', (data, isBinary) => {
      got.push({ d: Buffer.from(data), binary: isBinary });
      if (got.length === want.length) { clearTimeout(t); resolve(); }
    });
    ws.on('close', (code) => { clearTimeout(t); reject(new Error(`closed ${code} after ${got.length} echoes`)); });
  });
  for (const m of c.msgs) sendMsg(ws, m);
  await done;
  for (let i = 0; i < want.length; i++) {
    if (got[i].binary !== want[i].binary) throw new Error(`echo ${i} came back as ${got[i].binary ? 'binary' : 'text'}`);
    if (!got[i].d.equals(want[i].d)) throw new Error(`echo ${i} differs (${got[i].d.length} bytes, want ${want[i].d.length})`);
  }
  const wire = ws._socket.bytesRead - before;
  if (c.wireMax && wire > c.wireMax) throw new Error(`echoes took ${wire} bytes on the wire: the wsx client did not compress`);
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: pmd, maxPayload: 64 << 20 });
wss.on('headers', (headers, req) => {
  const resp = headers.find((h) => /^sec-websocket-extensions:/i.test(h)) || '';
  negotiated.push({ offer: req.headers['sec-websocket-extensions'] || '', resp: resp.replace(/^[^:]*:\s*/, '') });
});
wss.on('connection', (ws, req) => {
  ws.on('error', () => {});
  const u = new URL(req.url, 'ws://x');
  if (u.pathname === '/getCaseCount') {
    ws.send(String(CASES.length));
    ws.close(1000);
  } else if (u.pathname === '/runCase') {
    const c = CASES[Number(u.searchParams.get('case')) - 1];
    if (!c) { ws.close(1000); return; }
    if (ws.extensions !== 'permessage-deflate') {
      results.set(c.id, `permessage-deflate not negotiated (offer '${negotiated.at(-1)?.offer}')`);
      ws.close(1000);
      return;
    }
    runCase(ws, c).then(() => { results.set(c.id, null); ws.close(1000); },
      (e) => { results.set(c.id, e.message); ws.close(1000); });
  } else if (u.pathname === '/updateReports') {
    for (const c of CASES) {
      const r = results.has(c.id) ? results.get(c.id) : 'never run';
      console.log(r ? `FAIL ${P}${c.id}: ${r}` : `ok ${P}${c.id}`);
    }
    const n = negotiated.find((x) => x.resp) || { offer: '', resp: '' };
    console.log(`negotiated offer='${n.offer}' response='${n.resp}'`);
    console.log('reports done');
    ws.close(1000);
  } else {
    ws.close(1008);
  }
});
wss.on('listening', () => console.log(`listening on ${wss.address().port}`));
