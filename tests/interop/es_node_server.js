// A Node SSE server (chunked, no Content-Length): three events after the
// client's Last-Event-ID, then the stream ends; 204 once id 6 was sent.
const http = require('http');
const srv = http.createServer((req, res) => {
  const last = parseInt(req.headers['last-event-id'] || '0', 10);
  console.log(`open last=${req.headers['last-event-id'] || ''}`);
  if (last >= 6) { res.writeHead(204); res.end(); return; }
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8',
                       'Cache-Control': 'no-cache' });
  res.write('\ufeffretry: 100\n\n');
  let i = 1;
  const t = setInterval(() => {
    const id = last + i;
    // CRLF line ends and a comment, split over separate chunks.
    res.write(`: ping\r\nid: ${id}\r`);
    res.write(`\ndata: node ${id}\r\n\r\n`);
    if (++i > 3) { clearInterval(t); res.end(); }
  }, 20);
});
srv.listen(0, '127.0.0.1', () =>
  console.log(`listening on http://127.0.0.1:${srv.address().port}/`));
