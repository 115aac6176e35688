// Node `ws` as a wss client of `wsx echo --tls-cert --tls-key`:
//   node tls_node_client.js URL CA_FILE [expect-fail]
// With the CA: sends a text and a 100 kB binary message, checks both echoes
// and ALPN, closes with 1000, prints "ok" and exits 0. With "expect-fail"
// (no CA given to Node): the connection must fail certificate verification;
// prints "failed: <reason>" and exits 0.
'use strict';
const fs = require('fs');
const WebSocket = require('ws');
const [url, caFile, mode] = process.argv.slice(2);
const opts = mode === 'expect-fail' ? {} : { ca: fs.readFileSync(caFile) };
const ws = new WebSocket(url, opts);
const big = Buffer.alloc(100000, 7);
let step = 0;
const die = (msg) => { console.log(`error: ${msg}`); process.exit(1); };
setTimeout(() => die('timeout'), 8000).unref();
ws.on('upgrade', (res) => {
  const alpn = res.socket.alpnProtocol;
  if (alpn !== false && alpn !== 'http/1.1') die(`alpn ${alpn}`);
});
ws.on('open', () => {
  if (mode === 'expect-fail') die('connected without the CA');
  ws.send('hello over tls');
});
ws.on('message', (data, isBinary) => {
  if (step === 0) {
    if (isBinary || data.toString() !== 'hello over tls') die(`text echo ${data}`);
    step = 1;
    ws.send(big);
  } else {
    if (!isBinary || !big.equals(data)) die(`binary echo (${data.length} bytes)`);
    ws.close(1000, 'done');
  }
});
ws.on('close', (code) => {
  if (mode === 'expect-fail') return;
  if (code !== 1000 || step !== 1) die(`close ${code} at step ${step}`);
  console.log('ok');
  process.exit(0);
});
ws.on('error', (e) => {
  if (mode === 'expect-fail') {
    console.log(`failed: ${e.code || e.message}`);
    process.exit(0);
  }
  die(e.message);
});
