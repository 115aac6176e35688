#!/usr/bin/env bash
# permessage-deflate interop with Node `ws` (npm, in .deps/node):
#  1. ws clients with perMessageDeflate (every option combination) against
#     `wsx echo --deflate` (deflate_node_client.js);
#  2. the wsx CLIENT with --deflate against ws servers with perMessageDeflate
#     in several configurations: `wsx autobahn-client --deflate` talks to
#     deflate_node_server.js, which speaks the Autobahn fuzzingserver
#     protocol;
#  3. `wsx connect --deflate` against a ws echo server with perMessageDeflate.
# Prints "ok name" / "FAIL name: why"; loopback, ephemeral ports, bounded
# waits; everything started here is killed on exit (lib.sh).
set -u
. "$(dirname "$0")/lib.sh"

if ! need_node_module ws; then
  fail deflate_node "$NODE_ERR"
  exit 1
fi
if [ ! -x "$WSX_BIN" ]; then
  fail deflate_node "$WSX_BIN not built"
  exit 1
fi

# ---- 1. ws clients -> wsx echo --deflate ----
ELOG=$TMP/echo_deflate.log
started=0
for try in 1 2 3; do
  "$WSX_BIN" echo --port 0 --host 127.0.0.1 --deflate >"$ELOG" 2>&1 &
  EPID=$!
  STARTED+=("$EPID")
  if wait_for "$ELOG" "listening on" 10 "$EPID"; then started=1; break; fi
  kill "$EPID" 2>/dev/null
done
if [ $started = 1 ]; then
  URL=$(sed -n 's/^listening on //p' "$ELOG" | head -n 1)
  timeout 240 node "$HERE/deflate_node_client.js" "$URL" ||
    echo "deflate_node_client.js exited with status $?" >&2
  if kill -0 "$EPID" 2>/dev/null; then
    ok deflate_node_echo_survived
  else
    fail deflate_node_echo_survived "wsx echo --deflate died: $(tail -n 3 "$ELOG" | tr '\n' ' ')"
  fi
else
  fail deflate_node_client "wsx echo --deflate did not start: $(tail -n 3 "$ELOG" | tr '\n' ' ')"
fi

# ---- 2. wsx autobahn-client --deflate -> ws servers ----
run_server_config() {
  local name=$1 cfg=$2 want=$3
  local slog=$TMP/ws_server_$name.log
  node "$HERE/deflate_node_server.js" "$name" "$cfg" >"$slog" 2>&1 &
  local spid=$!
  STARTED+=("$spid")
  if ! wait_for "$slog" "listening on" 10 "$spid"; then
    fail "deflate_node_server_$name" "ws server did not start: $(tail -n 3 "$slog" | tr '\n' ' ')"
    return
  fi
  local port
  port=$(sed -n 's/^listening on //p' "$slog")
  local clog=$TMP/autobahn_$name.log
  timeout 120 "$WSX_BIN" autobahn-client "ws://127.0.0.1:$port" wsx-deflate --deflate >"$clog" 2>&1
  local st=$?
  if ! wait_for "$slog" "reports done" 5 "$spid"; then
    fail "deflate_node_server_$name" "no report (wsx autobahn-client status $st): $(tail -n 3 "$clog" "$slog" | tr '\n' ' ')"
    return
  fi
  grep -E '^(ok|FAIL) ' "$slog"
  # The negotiated parameters (RFC 7692 7.1) as ws answered wsx's offer.
  local neg
  neg=$(grep '^negotiated ' "$slog")
  if grep -q "response='permessage-deflate" <<<"$neg" && grep -q "$want" <<<"$neg"; then
    ok "deflate_node_server_${name}_negotiated"
  else
    fail "deflate_node_server_${name}_negotiated" "expected '$want' in: $neg"
  fi
  [ $st = 0 ] && ok "deflate_node_server_${name}_client_exit" ||
    fail "deflate_node_server_${name}_client_exit" "wsx autobahn-client exited $st: $(tail -n 2 "$clog" | tr '\n' ' ')"
  kill "$spid" 2>/dev/null
}

run_server_config default 'true' "offer='permessage-deflate; client_max_window_bits'"
run_server_config threshold_0 '{"threshold":0}' "response='permessage-deflate'"
run_server_config no_context_takeover \
  '{"threshold":0,"serverNoContextTakeover":true,"clientNoContextTakeover":true}' \
  "server_no_context_takeover; client_no_context_takeover"
run_server_config windows_9 \
  '{"threshold":0,"serverMaxWindowBits":9,"clientMaxWindowBits":9}' \
  "client_max_window_bits=9; server_max_window_bits=9"
run_server_config client_window_10_nct \
  '{"threshold":0,"clientMaxWindowBits":10,"clientNoContextTakeover":true}' \
  "client_max_window_bits=10; client_no_context_takeover"
run_server_config server_window_12 \
  '{"threshold":0,"serverMaxWindowBits":12}' "server_max_window_bits=12"

# ---- 3. wsx connect --deflate -> a ws echo server with perMessageDeflate ----
# The server echoes every message and answers "?ext" with the extensions it
# negotiated and whether the last message arrived compressed (RSV1).
CLOG=$TMP/ws_connect_server.log
node -e '
const { WebSocketServer } = require("ws");
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0,
  perMessageDeflate: { threshold: 0 } });
wss.on("listening", () => console.log("listening on " + wss.address().port));
wss.on("connection", (ws, req) => {
  ws.on("message", (data, isBinary) => {
    const s = data.toString();
    if (s === "?ext")
      ws.send("ext=" + Object.keys(ws._extensions).join(",") +
              " offer=" + req.headers["sec-websocket-extensions"]);
    else ws.send(data, { binary: isBinary, compress: true });
  });
});
setTimeout(() => process.exit(0), 30000);
' >"$CLOG" 2>&1 &
CPID=$!
STARTED+=("$CPID")
if wait_for "$CLOG" "listening on" 10 "$CPID"; then
  port=$(sed -n 's/^listening on //p' "$CLOG")
  big=$(head -c 200000 /dev/zero | tr '\0' 'a')
  out=$(printf 'hello deflate\n%s\n?ext\n' "$big" |
        timeout 20 "$WSX_BIN" connect "ws://127.0.0.1:$port/" --deflate 2>&1)
  st=$?
  # The 200,000-byte line must come back whole (as one line of 'a').
  if [ $st = 0 ] && printf '%s\n' "$out" | grep -qx 'hello deflate' &&
     [ "$(printf '%s\n' "$out" | awk 'length($0) == 200000 && !/[^a]/' | wc -l)" = 1 ]; then
    ok deflate_connect_echo
  else
    fail deflate_connect_echo "exit $st, output: $(printf '%s' "$out" | head -c 200)"
  fi
  if printf '%s\n' "$out" | grep -q '^ext=permessage-deflate offer=permessage-deflate'; then
    ok deflate_connect_negotiated
  else
    fail deflate_connect_negotiated "got: $(printf '%s\n' "$out" | grep '^ext=' | head -c 200)"
  fi
else
  fail deflate_connect_echo "ws server did not start: $(tail -n 3 "$CLOG" | tr '\n' ' ')"
fi
kill "$CPID" 2>/dev/null
