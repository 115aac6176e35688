// npm `eventsource` against a wsx EventSource server: prints each event as
// "message TYPE ID DATA", then "stopped" once the server answers 204.
const EventSource = require('eventsource');
const es = new EventSource(process.argv[2]);
const log = (e) => console.log(`message ${e.type} ${e.lastEventId} ${e.data}`);
es.onmessage = log;
es.addEventListener('custom', log);
es.onerror = (e) => {
  if (e && e.status === 204) { console.log('stopped'); es.close(); process.exit(0); }
};
setTimeout(() => { console.log('timeout'); process.exit(1); }, 10000);
