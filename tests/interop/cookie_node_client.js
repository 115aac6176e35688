// Node `ws` clients against examples/cookie_server: the 101 of /ws carries
// both Set-Cookie headers (the secret one HttpOnly); /inject, whose cookie
// smuggles a header, is refused with 500 and no Set-Cookie at all.
// argv: base URL (ws://h:p). Prints ok/FAIL lines.
'use strict';
const WebSocket = require('ws');
const base = process.argv[2];

function attempt(path) {
  return new Promise((resolve) => {
    const ws = new WebSocket(base + path);
    const done = (r) => { clearTimeout(t); resolve(r); };
    const t = setTimeout(() => { ws.terminate(); done({ kind: 'timeout' }); }, 5000);
    let cookies = null;
    ws.on('upgrade', (res) => { cookies = res.headers['set-cookie'] || []; });
    ws.on('unexpected-response', (req, res) => {
      done({ kind: 'status', status: res.statusCode, headers: res.headers });
      req.destroy();
    });
    ws.on('open', () => {
      ws.on('message', (data) => { ws.close(1000); done({ kind: 'open', cookies, echo: String(data) }); });
      ws.send('cookie echo');
    });
    ws.on('error', (e) => done({ kind: 'error', message: String(e.message) }));
  });
}

(async () => {
  const a = await attempt('/ws');
  const ok1 = a.kind === 'open' && a.echo === 'cookie echo' && a.cookies.length === 2 &&
    a.cookies.includes('visible=yes; Path=/') &&
    a.cookies.includes('secret=s3; Path=/; HttpOnly');
  console.log(ok1 ? 'ok cookie_node_set_cookie_on_101' : 'FAIL cookie_node_set_cookie_on_101: ' + JSON.stringify(a));
  const b = await attempt('/inject');
  const ok2 = b.kind === 'status' && b.status === 500 && !('set-cookie' in b.headers) &&
    !('x-evil' in b.headers) && b.headers['x-websocket-reject-reason'] === 'invalid cookie';
  console.log(ok2 ? 'ok cookie_node_injection_refused' : 'FAIL cookie_node_injection_refused: ' + JSON.stringify(b));
})();
