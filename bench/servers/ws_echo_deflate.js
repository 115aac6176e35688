// Node `ws` echo server WITH permessage-deflate, for bench/deflate.sh: every
// message back unchanged, compressed like `wsx echo --deflate` compresses
// (zlib default level and memLevel, 15-bit windows, context takeover, and
// threshold 0 so that 20-byte messages are compressed too: ws's default
// threshold of 1 KiB would skip them and compare different work).
// usage: node ws_echo_deflate.js PORT   (binds 127.0.0.1; prints "listening on PORT")
'use strict';
const { WebSocketServer } = require('ws');
const port = Number(process.argv[2]);
const wss = new WebSocketServer({
  host: '127.0.0.1', port, maxPayload: 64 * 1024 * 1024, backlog: 4096,
  perMessageDeflate: { threshold: 0 },
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(`listening on ${port}`));
