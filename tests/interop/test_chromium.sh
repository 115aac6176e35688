#!/usr/bin/env bash
# Interop with Chromium headless: a page (served by python3 -m http.server on
# another loopback port) opens a WebSocket to `wsx echo`, exchanges text,
# UTF-8 and binary messages and closes with 4000 "bye"; the server must print
# that close code and reason.
set -u
. "$(dirname "$0")/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  fail chromium "chromium not installed (scripts/install-deps.sh)"
  exit 1
fi
if ! need_node_module playwright-core; then
  fail chromium "$NODE_ERR"
  exit 1
fi
if ! start_wsx_echo; then
  fail chromium "$ECHO_ERR"
  exit 1
fi

HLOG=$TMP/http.log
HPORT=$(free_port)
python3 -u -m http.server "$HPORT" --bind 127.0.0.1 --directory "$HERE/chromium" >"$HLOG" 2>&1 &
STARTED+=($!)
if ! wait_for "$HLOG" "Serving HTTP" 10 $!; then
  # Older http.server prints nothing until the first request: probe instead.
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$HPORT/ws_page.html', timeout=5)" 2>/dev/null || {
    fail chromium "page server did not start: $(tail -n 3 "$HLOG" | tr '\n' ' ')"; exit 1; }
fi

CHROMIUM=$CHROMIUM timeout 90 node "$HERE/chromium_ws.js" \
  "http://127.0.0.1:$HPORT/ws_page.html" "ws://127.0.0.1:$ECHO_PORT/browser" "$TMP/profile"

if wait_for "$ECHO_LOG" "4000" 5 && grep "4000" "$ECHO_LOG" | grep -q "bye"; then
  ok chromium_close_seen_by_server
else
  fail chromium_close_seen_by_server "wsx echo did not print close 4000 bye: $(tail -n 3 "$ECHO_LOG" | tr '\n' ' ')"
fi
