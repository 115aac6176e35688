#!/usr/bin/env bash
# Interop with Node `ws` (npm, in .deps/node): ws client -> `wsx echo`, and
# `wsx connect` -> ws echo server.
set -u
. "$(dirname "$0")/lib.sh"

if ! need_node_module ws; then
  fail node_ws "$NODE_ERR"
  exit 1
fi

# ---- ws client against wsx echo ----
if start_wsx_echo; then
  timeout 60 node "$HERE/node_ws_client.js" "ws://127.0.0.1:$ECHO_PORT/chat?x=1" ||
    echo "node client exited with status $?" >&2
  if wait_for "$ECHO_LOG" "4001" 5 && grep -q "bye-node" "$ECHO_LOG"; then
    ok node_ws_client_close_seen_by_server
  else
    fail node_ws_client_close_seen_by_server "wsx echo did not print close 4001 bye-node: $(tail -n 3 "$ECHO_LOG" | tr '\n' ' ')"
  fi
else
  fail node_ws_client "$ECHO_ERR"
fi

# ---- wsx connect against a ws echo server ----
if [ ! -x "$WSX_BIN" ]; then
  fail node_ws_server "$WSX_BIN not built"
  exit 1
fi
SLOG=$TMP/ws_server.log
node "$HERE/node_ws_server.js" >"$SLOG" 2>&1 &
STARTED+=($!)
if ! wait_for "$SLOG" "listening on" 10 $!; then
  fail node_ws_server "ws server did not start: $(tail -n 3 "$SLOG")"
  exit 1
fi
SPORT=$(sed -n 's/^listening on //p' "$SLOG")
URL="ws://127.0.0.1:$SPORT/echo"

# Keep stdin open a moment after the lines so the echoes come back before
# the client closes.
out=$TMP/connect_text.out
(printf 'first line\nh\xc3\xa9llo \xe2\x82\xac\n'; sleep 1) |
  timeout 15 "$WSX_BIN" connect "$URL" --protocol chat --header 'X-Wsx-Test: 42' >"$out" 2>"$TMP/connect_text.err"
st=$?
if grep -q "hello protocol=chat x-wsx-test=42" "$out"; then
  ok node_ws_server_protocol_and_header
else
  fail node_ws_server_protocol_and_header "greeting not seen (status $st): $(cat "$out" "$TMP/connect_text.err" | head -c 300 | tr '\n' ' ')"
fi
if grep -qx "first line" "$out" && grep -qx "$(printf 'h\xc3\xa9llo \xe2\x82\xac')" "$out"; then
  ok node_ws_server_text_echo
else
  fail node_ws_server_text_echo "echoes missing (status $st): $(head -c 300 "$out" | tr '\n' ' ')"
fi

out=$TMP/connect_bin.out
(printf 'abc\n'; sleep 1) | timeout 15 "$WSX_BIN" connect "$URL" --binary >"$out" 2>"$TMP/connect_bin.err"
st=$?
if grep -q "binary 3: abc" "$out"; then
  ok node_ws_server_binary
else
  fail node_ws_server_binary "server did not get 3 binary bytes (status $st): $(cat "$out" "$TMP/connect_bin.err" | head -c 300 | tr '\n' ' ')"
fi
if wait_for "$SLOG" "^close 1000" 5; then
  ok node_ws_server_close_1000
else
  fail node_ws_server_close_1000 "ws server saw no close 1000 from wsx connect at EOF: $(tail -n 3 "$SLOG" | tr '\n' ' ')"
fi
