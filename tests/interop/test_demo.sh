#!/usr/bin/env bash
# The `wsx serve` demo: checks that the embedded page matches tools/demo/,
# drives the page in headless Chromium from two visitors (chat broadcast,
# EventSource clock, echo; tests/interop/demo_chromium.js), refuses a
# cross-origin chat handshake, saves a screenshot to
# $WSX_BUILD/test-logs/demo.png and shuts the server down with SIGTERM.
set -u
. "$(dirname "$0")/lib.sh"
: "${WSX_BUILD:=$WSX_ROOT/build}"

# 1. tools/demo_page.c is generated from tools/demo/: it must be current.
if command -v cmake >/dev/null; then
  if cmake -DOUT="$TMP/demo_page.c" -P "$WSX_ROOT/tools/demo/embed.cmake" &&
     cmp -s "$TMP/demo_page.c" "$WSX_ROOT/tools/demo_page.c"; then
    ok demo_page_in_sync
  else
    fail demo_page_in_sync "tools/demo_page.c is stale: run cmake -P tools/demo/embed.cmake"
  fi
fi

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  fail demo "chromium not installed (scripts/install-deps.sh)"
  exit 1
fi
if ! need_node_module playwright-core; then
  fail demo "$NODE_ERR"
  exit 1
fi
if [ ! -x "$WSX_BIN" ]; then
  fail demo "$WSX_BIN not built"
  exit 1
fi

# 2. The server picks its own port and says which.
LOG=$TMP/serve.log
"$WSX_BIN" serve --port 0 --host 127.0.0.1 >"$LOG" 2>&1 &
PID=$!
STARTED+=("$PID")
if ! wait_for "$LOG" "listening on http://127.0.0.1:" 10 "$PID"; then
  fail demo_listen "wsx serve did not start: $(tail -n 3 "$LOG" | tr '\n' ' ')"
  exit 1
fi
PORT=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\)/$|\1|p' "$LOG" | head -n 1)
if [ -n "$PORT" ] && [ "$PORT" != 0 ]; then
  ok demo_listen
else
  fail demo_listen "no port in: $(head -n 1 "$LOG")"
  exit 1
fi

# 3. The browser test.
SHOTS=$WSX_BUILD/test-logs
mkdir -p "$SHOTS"
rm -f "$SHOTS/demo.png"
CHROMIUM=$CHROMIUM timeout 120 node "$HERE/demo_chromium.js" \
  "http://127.0.0.1:$PORT/" "$SHOTS/demo.png"
rc=$?
[ $rc -eq 124 ] && fail demo_run "demo_chromium.js timed out"
if [ -s "$SHOTS/demo.png" ]; then
  ok demo_screenshot_saved
else
  fail demo_screenshot_saved "$SHOTS/demo.png missing"
fi

# 4. Every endpoint reported its connections.
missing=""
for p in /chat /clock /echo; do
  grep -q "^open [0-9]* 127\.0\.0\.1:[0-9]* $p\$" "$LOG" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  ok demo_event_lines
else
  fail demo_event_lines "no 'open' line for:$missing"
fi

# 5. A page from another origin may not join the chat.
if timeout 15 node -e '
  const WebSocket = require("ws");
  const ws = new WebSocket(process.argv[1], { origin: "http://evil.example" });
  ws.on("open", () => { console.log("opened"); process.exit(1); });
  ws.on("unexpected-response", (req, res) => process.exit(res.statusCode === 403 ? 0 : 1));
  ws.on("error", () => process.exit(1));
' "ws://127.0.0.1:$PORT/chat"; then
  ok demo_cross_origin_refused
else
  fail demo_cross_origin_refused "a chat handshake with a foreign Origin was not answered 403"
fi

# 6. SIGTERM: the server closes everything and exits 0 within the grace time.
kill -TERM "$PID"
for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID" 2>/dev/null; then
  fail demo_shutdown "still running 5 s after SIGTERM"
else
  wait "$PID"
  src=$?
  if [ $src -eq 0 ]; then
    ok demo_shutdown
  else
    fail demo_shutdown "exit status $src: $(tail -n 3 "$LOG" | tr '\n' ' ')"
  fi
fi
cp "$LOG" "$SHOTS/demo-serve.log" 2>/dev/null
exit 0
