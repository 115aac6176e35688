// Node `ws` clients against `wsx serve`'s router (/chat and /echo mounted
// with any subprotocol; everything else 404). argv: base URL (ws://h:p).
// Prints one "ok name" / "FAIL name: why" line per case.
'use strict';
const WebSocket = require('ws');
const base = process.argv[2];

function attempt(path, protocols) {
  return new Promise((resolve) => {
    const ws = new WebSocket(base + path, protocols);
    const done = (r) => { clearTimeout(t); resolve(r); };
    const t = setTimeout(() => { ws.terminate(); done({ kind: 'timeout' }); }, 5000);
    ws.on('unexpected-response', (req, res) => {
      done({ kind: 'status', status: res.statusCode,
             reason: res.headers['x-websocket-reject-reason'] || '' });
      req.destroy();
    });
    ws.on('open', () => {
      ws.on('message', (data) => {
        ws.close(1000);
        done({ kind: 'open', protocol: ws.protocol, echo: data.toString() });
      });
      ws.send(path === '/echo' ? 'ping-' + path : '{"type":"hello"}');
      if (path !== '/echo') { // chat: no echo guaranteed, close after open
        setTimeout(() => { ws.close(1000); done({ kind: 'open', protocol: ws.protocol }); }, 200);
      }
    });
    ws.on('error', (e) => done({ kind: 'error', message: String(e.message) }));
  });
}

const cases = [
  ['echo_no_protocol', '/echo', undefined, (r) => r.kind === 'open' && r.echo === 'ping-/echo'],
  ['echo_accepts_first_offer', '/echo', ['x-any', 'y'],
    (r) => r.kind === 'open' && r.protocol === 'x-any' && r.echo === 'ping-/echo'],
  ['chat_opens', '/chat', undefined, (r) => r.kind === 'open'],
  ['chat_query_ignored', '/chat?room=1', undefined, (r) => r.kind === 'open'],
  ['unmounted_path_404', '/nope', undefined,
    (r) => r.kind === 'status' && r.status === 404 && r.reason === 'no route for /nope'],
  ['unmounted_path_with_protocol_404', '/nope', ['chat'],
    (r) => r.kind === 'status' && r.status === 404 && r.reason === 'no route for /nope with protocol chat'],
  ['prefix_of_mount_404', '/echo/more', undefined, (r) => r.kind === 'status' && r.status === 404],
];

(async () => {
  for (const [name, path, protocols, pass] of cases) {
    const r = await attempt(path, protocols);
    if (pass(r)) console.log('ok router_node_' + name);
    else console.log('FAIL router_node_' + name + ': got ' + JSON.stringify(r));
  }
})();
