// The wsx demo page: chat over a WebSocket (/chat), a server clock over
// EventSource (/clock) and an echo WebSocket (/echo). Text from peers is
// only ever put into the page with textContent.
'use strict';

const $ = (id) => document.getElementById(id);
const wsBase = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
const MAX_MESSAGES = 200;

function setStatus(el, text, cls) {
  el.textContent = text;
  el.className = 'status' + (cls ? ' ' + cls : '');
}

// ---- chat ----------------------------------------------------------------

let chat = null;
let retryMs = 500;

function formatTime(ms) {
  const d = new Date(ms);
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function addMessage(m) {
  const li = document.createElement('li');
  const who = document.createElement('span');
  const when = document.createElement('span');
  const text = document.createElement('span');
  who.className = 'who';
  when.className = 'when';
  text.className = 'text';
  who.textContent = m.name;
  when.textContent = formatTime(m.time);
  text.textContent = m.text;
  if (m.name === $('name').value.trim()) li.className = 'mine';
  li.append(when, who, text);
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(li);
  while (list.children.length > MAX_MESSAGES) list.firstElementChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function showError(text) {
  const el = $('chat-error');
  el.textContent = text;
  el.hidden = !text;
}

function connectChat() {
  setStatus($('chat-status'), 'connecting');
  chat = new WebSocket(wsBase + '/chat');
  chat.onopen = () => {
    retryMs = 500;
    setStatus($('chat-status'), 'connected', 'ok');
    $('send').disabled = false;
  };
  chat.onmessage = (e) => {
    let m;
    try { m = JSON.parse(e.data); } catch (err) { return; }
    if (typeof m.online === 'number') $('online').textContent = String(m.online);
    else if (typeof m.error === 'string') showError(m.error);
    else if (typeof m.name === 'string' && typeof m.text === 'string') addMessage(m);
  };
  chat.onclose = () => {
    $('send').disabled = true;
    setStatus($('chat-status'), 'disconnected', 'bad');
    setTimeout(connectChat, retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
  };
}

$('name').value = localStorage.getItem('wsx-demo-name') || '';
$('name').addEventListener('change', () => localStorage.setItem('wsx-demo-name', $('name').value.trim()));
$('send').disabled = true;
$('chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('name').value.trim() || 'anonymous';
  const text = $('text').value.trim();
  if (!text || !chat || chat.readyState !== WebSocket.OPEN) return;
  showError('');
  chat.send(JSON.stringify({ name, text }));
  $('text').value = '';
  $('text').focus();
});
connectChat();

// ---- clock ---------------------------------------------------------------

const clock = new EventSource('/clock');
clock.onopen = () => setStatus($('clock-status'), 'live', 'ok');
clock.onerror = () => setStatus($('clock-status'), clock.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting', 'bad');
clock.onmessage = (e) => {
  // e.data is the server's time in ISO 8601 UTC: "2024-05-01T12:34:56Z".
  $('clock').dataset.iso = e.data;
  $('clock').textContent = e.data.slice(11, 19);
  $('clock-date').textContent = e.data.slice(0, 10) + ' UTC, server time';
};

// ---- echo ----------------------------------------------------------------

let echo = null;

function connectEcho() {
  echo = new WebSocket(wsBase + '/echo');
  setStatus($('echo-status'), 'connecting');
  echo.onopen = () => setStatus($('echo-status'), 'connected', 'ok');
  echo.onmessage = (e) => { $('echo-reply').textContent = e.data; };
  echo.onclose = () => { setStatus($('echo-status'), 'closed', 'bad'); echo = null; };
  return echo;
}

$('echo-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('echo-text').value;
  if (!text) return;
  const ws = echo || connectEcho();
  if (ws.readyState === WebSocket.OPEN) ws.send(text);
  else ws.addEventListener('open', () => ws.send(text), { once: true });
});
connectEcho();
