#!/usr/bin/env bash
# EventSource interop: npm `eventsource` and Chromium against the wsx server
# (examples/eventsource_server), the wsx client against the wsx server and a
# Node SSE server (chunked). Each case prints ok/FAIL; reconnects with
# Last-Event-ID are checked through the continuous ids 1..6.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${WSX_BUILD:=$WSX_ROOT/build}"
SERVER=$WSX_BUILD/examples/eventsource_server
CLIENT=$WSX_BUILD/examples/eventsource_client

WANT_IDS="1 2 3 4 5 6"
ids_of() { grep '^message' "$1" | awk '{print $3}' | tr '\n' ' ' | sed 's/ $//'; }

start_server() { # start_server LOGNAME CMD...: sets SRV_URL
  local log=$TMP/$1.log; shift
  "$@" >"$log" 2>&1 &
  STARTED+=("$!")
  if ! wait_for "$log" "listening on" 10 "$!"; then
    SRV_URL=""
    return 1
  fi
  SRV_URL=$(sed -n 's/^listening on //p' "$log" | head -1)
}

if [ ! -x "$SERVER" ] || [ ! -x "$CLIENT" ]; then
  fail es_interop "examples not built in $WSX_BUILD"
  exit 1
fi
start_server wsx "$SERVER" 0 || { fail es_interop "server did not start"; exit 1; }
WSX_URL=$SRV_URL

# npm eventsource
out=$TMP/node_client.out
timeout 20 node "$HERE/es_node_client.js" "${WSX_URL}events" >"$out" 2>&1
if [ "$(ids_of "$out")" = "$WANT_IDS" ] && grep -q '^message custom 2 event 2' "$out" &&
   grep -q '^stopped' "$out"; then
  ok es_npm_eventsource_reconnect
else
  fail es_npm_eventsource_reconnect "$(tr '\n' '|' <"$out" | head -c 400)"
fi
grep -q "open /events last=3" "$TMP/wsx.log" && ok es_server_saw_last_event_id ||
  fail es_server_saw_last_event_id "no reconnect with Last-Event-ID: 3"

# wsx client against the wsx server
out=$TMP/wsx_client.out
timeout 20 "$CLIENT" "${WSX_URL}events" >"$out" 2>&1
if [ "$(ids_of "$out")" = "$WANT_IDS" ] && grep -q 'status 204' "$out" &&
   grep -q '^closed' "$out"; then
  ok es_wsx_client_wsx_server
else
  fail es_wsx_client_wsx_server "$(tr '\n' '|' <"$out" | head -c 400)"
fi

# wsx client against a Node (chunked) SSE server
if start_server node_srv node "$HERE/es_node_server.js"; then
  out=$TMP/wsx_node.out
  timeout 20 "$CLIENT" "$SRV_URL" >"$out" 2>&1
  if [ "$(ids_of "$out")" = "$WANT_IDS" ] && grep -q '^message message 4 node 4' "$out" &&
     grep -q 'open last=3' "$TMP/node_srv.log" && grep -q '^closed' "$out"; then
    ok es_wsx_client_node_server
  else
    fail es_wsx_client_node_server "$(tr '\n' '|' <"$out" | head -c 400)"
  fi
else
  fail es_wsx_client_node_server "node server did not start"
fi

# Chromium
if [ -x /usr/bin/chromium ]; then
  out=$TMP/chromium.out
  timeout 60 node "$HERE/es_chromium.js" "$WSX_URL" >"$out" 2>&1
  if grep -q '^done' "$out" && grep -q '^custom:2:event 2' "$out" &&
     grep -q '^message:6:event 6' "$out" &&
     [ "$(grep -c ':event ' "$out")" = 6 ]; then
    ok es_chromium_reconnect
  else
    fail es_chromium_reconnect "$(tr '\n' '|' <"$out" | head -c 400)"
  fi
else
  fail es_chromium_reconnect "/usr/bin/chromium missing"
fi
