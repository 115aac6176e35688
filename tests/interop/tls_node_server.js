// Node `ws` as a wss server for `wsx connect wss://... --ca F`:
//   node tls_node_server.js CERT KEY
// https.createServer + ws on an ephemeral loopback port; prints
// "listening on PORT", echoes every message, and logs "close CODE" and
// "alpn PROTO" per connection.
'use strict';
const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');
const [cert, key] = process.argv.slice(2);
const server = https.createServer({
  cert: fs.readFileSync(cert), key: fs.readFileSync(key),
  ALPNProtocols: ['http/1.1'],
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws, req) => {
  console.log(`alpn ${req.socket.alpnProtocol}`);
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('close', (code) => console.log(`close ${code}`));
  ws.on('error', () => {});
});
server.listen(0, '127.0.0.1', () =>
  console.log(`listening on ${server.address().port}`));
