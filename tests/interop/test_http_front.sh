#!/usr/bin/env bash
# The HTTP front from outside, against examples/cookie_server: curl keeps
# one connection for several URLs (keep-alive), a raw Python script
# pipelines three requests and upgrades the same connection, Node `ws` sees
# the cookies set by the accept and the refused injection, and Chromium's
# document.cookie shows the non-HttpOnly cookie.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${WSX_BUILD:=$WSX_ROOT/build}"
SERVER=$WSX_BUILD/examples/cookie_server
if [ ! -x "$SERVER" ]; then
  fail http_front "examples/cookie_server not built in $WSX_BUILD"
  exit 1
fi
LOG=$TMP/server.log
"$SERVER" 0 >"$LOG" 2>&1 &
STARTED+=("$!")
if ! wait_for "$LOG" "listening on" 10 "$!"; then
  fail http_front "server did not start: $(tail -n 3 "$LOG" | tr '\n' ' ')"
  exit 1
fi
URL=$(sed -n 's/^listening on //p' "$LOG" | head -1)
PORT=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$LOG" | head -1)

# curl: three URLs, one connection.
if command -v curl >/dev/null; then
  out=$TMP/curl.out
  timeout 20 curl -sS -v --http1.1 "${URL}a" "${URL}b" "${URL}c" >"$out" 2>&1
  n_conn=$(grep -c "Connected to 127.0.0.1" "$out")
  n_reuse=$(grep -ci "Re-using existing connection" "$out")
  if [ "$n_conn" -eq 1 ] && [ "$n_reuse" -eq 2 ] && grep -q "^hello /a" "$out" &&
     grep -q "^hello /b" "$out" && grep -q "^hello /c" "$out"; then
    ok http_front_curl_keep_alive
  else
    fail http_front_curl_keep_alive "connects=$n_conn reuses=$n_reuse: $(grep -E '^[<>*] |^hello' "$out" | tr '\n' '|' | head -c 600)"
  fi
else
  fail http_front_curl_keep_alive "curl not installed (scripts/install-deps.sh)"
fi

timeout 30 python3 "$HERE/http_pipeline.py" "$PORT"

if need_node_module ws; then
  timeout 30 node "$HERE/cookie_node_client.js" "ws://127.0.0.1:$PORT"
else
  fail cookie_node "$NODE_ERR"
fi
grep -q "accept refused: " "$LOG" && ok cookie_server_reports_refusal ||
  fail cookie_server_reports_refusal "no 'accept refused' line: $(tail -n 3 "$LOG" | tr '\n' ' ')"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  fail cookie_chromium "chromium not installed (scripts/install-deps.sh)"
elif ! need_node_module playwright-core; then
  fail cookie_chromium "$NODE_ERR"
else
  CHROMIUM=$CHROMIUM timeout 90 node "$HERE/cookie_chromium.js" "$URL" "$TMP/profile"
fi
