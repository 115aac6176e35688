#!/usr/bin/env bash
# The router (wsx/router.h) from outside: Node `ws` clients against
# `wsx serve`, whose /chat and /echo endpoints are router mounts; paths
# and subprotocols nobody mounted get 404 with a reason.
set -u
. "$(dirname "$0")/lib.sh"

if ! command -v node >/dev/null || ! node -e "require('ws')"; then
  fail router_node "node or the ws package not installed (scripts/install-deps.sh)"
  exit 1
fi
if [ ! -x "$WSX_BIN" ]; then
  fail router_node "$WSX_BIN not built"
  exit 1
fi
LOG=$TMP/serve.log
"$WSX_BIN" serve --port 0 --host 127.0.0.1 >"$LOG" 2>&1 &
PID=$!
STARTED+=("$PID")
if ! wait_for "$LOG" "listening on" 10 "$PID"; then
  fail router_node "wsx serve did not start: $(tail -n 3 "$LOG" | tr '\n' ' ')"
  exit 1
fi
PORT=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$LOG" | head -n 1)
out=$TMP/node.out
timeout 60 node "$HERE/router_node_client.js" "ws://127.0.0.1:$PORT" >"$out" 2>&1
cat "$out" | grep -E '^(ok|FAIL) '
n=$(grep -cE '^(ok|FAIL) ' "$out")
if [ "$n" -ne 7 ]; then
  fail router_node_cases "expected 7 results, got $n: $(tail -n 5 "$out" | tr '\n' ' ')"
fi
if grep -q "reject 404 /nope" "$LOG"; then
  ok router_serve_logs_404
else
  fail router_serve_logs_404 "no 'reject 404 /nope' line: $(tail -n 5 "$LOG" | tr '\n' ' ')"
fi
