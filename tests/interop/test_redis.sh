#!/usr/bin/env bash
# The Redis backplane through real programs: a redis-server started here on
# a loopback port (no persistence), two `wsx serve --redis` processes (one
# with --threads 2), Node `ws` chat clients spread over both: every text
# reaches every client exactly once (loop-back suppressed, no duplicates).
# Redis is then killed (by PID): both servers report it, keep serving their
# own clients, and after Redis restarts they reconnect by themselves and
# the shared chat works again. The servers never crash and exit 0 on
# SIGTERM.
set -u
. "$(dirname "$0")/lib.sh"

if ! command -v redis-server >/dev/null; then
  echo "skip redis: redis-server not installed (scripts/install-deps.sh installs it)"
  exit 0
fi
if ! "$WSX_BIN" serve --redis redis://127.0.0.1:1 --help >/dev/null 2>&1; then
  echo "skip redis: this wsx was built without hiredis (WSX_REDIS, libhiredis-dev)"
  exit 0
fi
if ! need_node_module ws; then
  fail redis_node "$NODE_ERR"
  exit 1
fi

RPORT=$(free_port)
start_redis() {
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no >"$TMP/redis.log" 2>&1 &
  RPID=$!
  STARTED+=($RPID)
  local i
  for i in $(seq 50); do
    redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  return 1
}
stop_redis() {
  kill "$RPID" 2>/dev/null
  wait "$RPID" 2>/dev/null
}

if ! start_redis; then
  fail redis_start "redis-server did not start: $(tail -n 3 "$TMP/redis.log" | tr '\n' ' ')"
  exit 1
fi

# start_node N ARGS...: `wsx serve` number N; sets PORT_N, PID_N.
start_node() {
  local n=$1 log=$TMP/serve$1.log
  shift
  "$WSX_BIN" serve --port 0 --host 127.0.0.1 --quiet \
    --redis "redis://127.0.0.1:$RPORT" "$@" >"$log" 2>&1 &
  eval "PID_$n=$!"
  STARTED+=($!)
  if ! wait_for "$log" "backplane up" 10 $!; then
    fail "redis_node_$n" "no 'backplane up': $(tail -n 3 "$log" | tr '\n' ' ')"
    return 1
  fi
  eval "PORT_$n=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log")"
}
start_node 1 || exit 1
start_node 2 --threads 2 || exit 1
ok redis_two_nodes_up

# chat NAME N URL...: every client sees every text once.
chat() {
  local name=$1 out
  shift
  out=$(timeout 30 node "$HERE/pubsub_node_clients.js" "$@" 2>&1)
  if grep -q '^ok pubsub_node_chat' <<<"$out"; then
    ok "$name: $(sed -n 's/^ok pubsub_node_chat //p' <<<"$out")"
  else
    fail "$name" "$(tr '\n' ' ' <<<"$out" | head -c 400)"
  fi
}
U1="ws://127.0.0.1:$PORT_1/chat"
U2="ws://127.0.0.1:$PORT_2/chat"
chat redis_chat_across_processes 12 "$U1" "$U2"

# The demo page in Chromium, one visitor on each process.
if [ -x "${CHROMIUM:-/usr/bin/chromium}" ] && need_node_module playwright-core; then
  timeout 90 node "$HERE/redis_chromium.js" "http://127.0.0.1:$PORT_1/" \
    "http://127.0.0.1:$PORT_2/" || true
else
  echo "skip redis_chromium: chromium or playwright-core missing"
fi

# Redis goes away: both nodes notice, local chat goes on.
stop_redis
if wait_for "$TMP/serve1.log" "backplane down" 10 && wait_for "$TMP/serve2.log" "backplane down" 10; then
  ok redis_outage_reported
else
  fail redis_outage_reported "$(tail -n 2 "$TMP/serve1.log" "$TMP/serve2.log" | tr '\n' ' ')"
fi
chat redis_outage_local_chat_works 6 "$U2"

# Redis comes back on the same port: both reconnect by themselves.
if ! start_redis; then
  fail redis_restart "redis-server did not restart"
  exit 1
fi
ups() { grep -c "backplane up" "$1" 2>/dev/null; }
for i in $(seq 100); do
  [ "$(ups "$TMP/serve1.log")" -ge 2 ] && [ "$(ups "$TMP/serve2.log")" -ge 2 ] && break
  sleep 0.1
done
if [ "$(ups "$TMP/serve1.log")" -ge 2 ] && [ "$(ups "$TMP/serve2.log")" -ge 2 ]; then
  ok redis_reconnected
else
  fail redis_reconnected "$(tail -n 3 "$TMP/serve1.log" "$TMP/serve2.log" | tr '\n' ' ')"
fi
chat redis_chat_after_reconnect 12 "$U1" "$U2"

for n in 1 2; do
  eval "p=\$PID_$n"
  if ! kill -0 "$p" 2>/dev/null; then
    fail "redis_node_${n}_alive" "wsx serve $n exited: $(tail -n 3 "$TMP/serve$n.log" | tr '\n' ' ')"
    continue
  fi
  kill -TERM "$p"
  if wait "$p"; then ok "redis_node_${n}_sigterm_exit_0"; else fail "redis_node_${n}_sigterm_exit_0" "status $?"; fi
  if grep -q "handles open" "$TMP/serve$n.log"; then
    fail "redis_node_${n}_loop_closed_clean" "$(grep "handles open" "$TMP/serve$n.log")"
  else
    ok "redis_node_${n}_loop_closed_clean"
  fi
done
stop_redis
