// Node `ws` echo server for bench/run.sh: every message back unchanged.
// usage: node ws_echo.js PORT   (binds 127.0.0.1; prints "listening on PORT")
'use strict';
const { WebSocketServer } = require('ws');
const port = Number(process.argv[2]);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false,
  maxPayload: 64 * 1024 * 1024, backlog: 4096 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(`listening on ${port}`));
