// ws_floor_client.js URL: Node `ws` against bench/servers/ws_floor.c (the
// benchmark's WebSocket floor). Checks that it is a WebSocket echo, so the
// bench's "ws floor" column measures real protocol work: random payloads at
// every length class (7-bit, 16-bit, 64-bit, vector head/tail edges, a
// payload larger than one read) come back byte for byte, a fragmented
// message comes back whole, a ping gets its pong, a close its echo.
// Prints "ok NAME" / "FAIL NAME: why" lines; exits 0 when it ran to the end.
const WebSocket = require('ws');
const crypto = require('crypto');
const url = process.argv[2];
const sizes = [0, 1, 3, 31, 32, 33, 63, 64, 65, 125, 126, 127, 4097, 65535,
  65536, 65537, 1000001, 3 << 20];
const ws = new WebSocket(url);
let i = 0, cur, failed = false;
const timer = setTimeout(() => { console.log('FAIL ws_floor_timeout: step ' + i); process.exit(1); }, 30000);
function fail(n, why) { console.log(`FAIL ${n}: ${why}`); failed = true; ws.terminate(); }
function next() { cur = crypto.randomBytes(sizes[i]); ws.send(cur); }
ws.on('error', (e) => fail('ws_floor_error', e.message));
ws.on('open', () => ws.ping(Buffer.from('ping-payload')));
ws.on('pong', (d) => {
  if (d.toString() === 'ping-payload') console.log('ok ws_floor_pong');
  else fail('ws_floor_pong', 'payload ' + JSON.stringify(d.toString()));
  next();
});
ws.on('message', (d, binary) => {
  if (i < sizes.length) {
    if (!binary || !Buffer.from(d).equals(cur)) return fail('ws_floor_echo', `size ${sizes[i]} differs`);
    if (++i < sizes.length) return next();
    console.log(`ok ws_floor_echo_${sizes.length}_sizes`);
    ws.send('frag', { fin: false });
    ws.send('mented', { fin: true });
    return;
  }
  if (!binary && d.toString() === 'fragmented') console.log('ok ws_floor_fragments');
  else return fail('ws_floor_fragments', JSON.stringify(d.toString()));
  ws.close(4000, 'bye');
});
ws.on('close', (code, reason) => {
  clearTimeout(timer);
  if (failed) process.exit(1);
  if (code === 4000 && reason.toString() === 'bye') console.log('ok ws_floor_close_echoed');
  else console.log(`FAIL ws_floor_close_echoed: ${code} ${reason}`);
  process.exit(0);
});
