// Node `ws` echo server for the wsx client: node node_ws_server.js
// Listens on an ephemeral loopback port and prints "listening on PORT".
// On each connection it first sends "hello protocol=<p> x-wsx-test=<h>"
// (what the client negotiated / sent), then echoes text messages and answers
// a binary message with the text "binary <len>: <payload as UTF-8>", so the
// test can tell that the client really sent binary.
'use strict';
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({
  host: '127.0.0.1', port: 0, perMessageDeflate: false,
  handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
});
wss.on('connection', (ws, req) => {
  ws.send(`hello protocol=${ws.protocol || '-'} x-wsx-test=${req.headers['x-wsx-test'] || '-'}`);
  ws.on('message', (data, isBinary) => {
    if (isBinary) ws.send(`binary ${data.length}: ${data.toString('utf8')}`);
    else ws.send(data, { binary: false });
  });
  ws.on('close', (code, reason) => console.log(`close ${code} ${reason}`));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(`listening on ${wss.address().port}`));
