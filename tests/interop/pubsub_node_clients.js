// Chat clients on Node `ws` for tests/interop/test_pubsub.sh.
// usage: node pubsub_node_clients.js N URL [URL...]
// Opens N clients spread over the URLs, with three permessage-deflate
// setups in turn (none; serverNoContextTakeover, which shares one
// compressed frame; context takeover, compressed per socket). When all are
// open, client i sends chat text "m<i>"; every client must see every text
// exactly once. Prints "ok ..." / "FAIL ...: why" lines.
'use strict';
const WebSocket = require('ws');
const n = parseInt(process.argv[2], 10);
const urls = process.argv.slice(3);
const modes = [false, { serverNoContextTakeover: true, threshold: 0 },
               { threshold: 0 }];
const cs = [];
let opened = 0, done = 0, failed = false;

function fail(why) {
  if (failed) return;
  failed = true;
  console.log(`FAIL pubsub_node_chat: ${why}`);
  process.exit(1);
}
const timer = setTimeout(() => fail(`timeout: ${cs.map((c) => c.seen.size).join(',')} of ${n} texts seen`), 15000);

for (let i = 0; i < n; i++) {
  const c = new WebSocket(urls[i % urls.length], { perMessageDeflate: modes[i % 3] });
  c.seen = new Map();
  c.on('error', (e) => fail(`client ${i}: ${e.message}`));
  c.on('open', () => {
    if (++opened === n)
      cs.forEach((x, k) => x.send(JSON.stringify({ name: `c${k}`, text: `m${k}` })));
  });
  c.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (!m.text) return; // "online" counts
    c.seen.set(m.text, (c.seen.get(m.text) || 0) + 1);
    if (c.seen.get(m.text) > 1) fail(`client ${i} saw ${m.text} twice`);
    if (c.seen.size === n && ++done === n) finish();
  });
  cs.push(c);
}

function finish() {
  // A moment for duplicates to show up.
  setTimeout(() => {
    clearTimeout(timer);
    const ext = cs.map((c) => c.extensions ? Object.keys(c.extensions).length : 0);
    console.log(`ok pubsub_node_chat (${n} clients, every text once; deflate on ${ext.filter((e) => e).length})`);
    cs.forEach((c) => c.close());
    setTimeout(() => process.exit(0), 200);
  }, 300);
}
