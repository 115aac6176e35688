#!/usr/bin/env bash
# Topics through real peers: Node `ws` chat clients (with and without
# permessage-deflate, with and without context takeover) on `wsx serve
# --deflate`, on one loop and on --threads 2 (clients spread over the
# loops by SO_REUSEPORT); `wsx echo --threads 2` echoing for Node clients.
# Every chat text must reach every client exactly once.
set -u
. "$(dirname "$0")/lib.sh"

if ! need_node_module ws; then
  fail pubsub_node "$NODE_ERR"
  exit 1
fi

# start_serve NAME ARGS...: starts `wsx serve`; sets PORT and SPID.
start_serve() {
  local name=$1 log=$TMP/$1.log
  shift
  "$WSX_BIN" serve --port 0 --host 127.0.0.1 --quiet "$@" >"$log" 2>&1 &
  SPID=$!
  STARTED+=($SPID)
  if ! wait_for "$log" "listening on" 10 $SPID; then
    fail "$name" "wsx serve did not start: $(tail -n 3 "$log" | tr '\n' ' ')"
    return 1
  fi
  PORT=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log")
}

# stop_serve NAME: SIGTERM, exit status 0 within the grace time.
stop_serve() {
  local i
  kill -TERM "$SPID"
  for i in $(seq 50); do
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  if wait "$SPID"; then ok "$1_sigterm_exit_0"; else fail "$1_sigterm_exit_0" "status $?"; fi
  if grep -q "handles open" "$TMP/$1.log"; then
    fail "$1_loop_closed_clean" "$(grep "handles open" "$TMP/$1.log")"
  else
    ok "$1_loop_closed_clean"
  fi
}

for threads in 1 2; do
  name=pubsub_serve_threads_$threads
  if start_serve "$name" --threads "$threads" --deflate; then
    out=$(timeout 30 node "$HERE/pubsub_node_clients.js" 24 "ws://127.0.0.1:$PORT/chat" 2>&1)
    if grep -q '^ok pubsub_node_chat' <<<"$out"; then
      ok "$name: $(sed -n 's/^ok pubsub_node_chat //p' <<<"$out")"
    else
      fail "$name" "$(tr '\n' ' ' <<<"$out" | head -c 400)"
    fi
    stop_serve "$name"
  fi
done

# wsx echo --threads 2: Node clients get their echoes.
ELOG=$TMP/echo_threads.log
"$WSX_BIN" echo --threads 2 --port 0 --host 127.0.0.1 --quiet >"$ELOG" 2>&1 &
EPID=$!
STARTED+=($EPID)
if wait_for "$ELOG" "listening on" 10 $EPID; then
  EPORT=$(sed -n 's|^listening on ws://127.0.0.1:\([0-9]*\)/.*|\1|p' "$ELOG")
  if timeout 30 node -e '
    const WebSocket = require("ws"); const n = 16; let got = 0;
    for (let i = 0; i < n; i++) {
      const c = new WebSocket(process.argv[1]);
      c.on("open", () => c.send("e" + i));
      c.on("message", (d) => { if (d.toString() !== "e" + i) process.exit(2);
        c.close(); if (++got === n) process.exit(0); });
      c.on("error", () => process.exit(3));
    }' "ws://127.0.0.1:$EPORT/"; then
    ok echo_threads_2_node_clients
  else
    fail echo_threads_2_node_clients "node exited with status $?"
  fi
  kill -TERM "$EPID"
  if wait "$EPID"; then ok echo_threads_sigterm_exit_0; else fail echo_threads_sigterm_exit_0 "status $?"; fi
else
  fail echo_threads_2_node_clients "wsx echo --threads 2 did not start: $(tail -n 3 "$ELOG" | tr '\n' ' ')"
fi
