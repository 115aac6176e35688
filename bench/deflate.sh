#!/usr/bin/env bash
# bench/deflate.sh — the compressed runs of `make bench` (issue 5):
# `wsx echo --deflate` side by side with Node `ws` with perMessageDeflate
# (bench/servers/ws_echo_deflate.js), both driven by `wsx bench --deflate`
# (JSON-like text, compressed once by the generator, no client context
# takeover; the servers compress their echoes with context takeover):
#   - 100 connections x 20-byte messages, 100 connections x 16 KiB messages:
#     msgs/s and server CPU microseconds per message;
#   - server memory (RSS) per idle connection with permessage-deflate
#     negotiated, right after the handshake and after one echo ("warm":
#     the zlib streams of a context-takeover connection are live).
# Each idle figure uses a fresh server so earlier traffic does not hide it.
#
# Env: WSX_BIN (default build/wsx), BENCH_SECONDS (default 5 per run),
#      BENCH_DEFLATE_IDLE (idle connections, default 1000: a warm
#      connection costs ~300 KiB of zlib state in the worst case).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=${WSX_BUILD:-$ROOT/build}
WSX=${WSX_BIN:-$BUILD/wsx}
OUT=$BUILD/bench
SECS=${BENCH_SECONDS:-5}
IDLE=${BENCH_DEFLATE_IDLE:-1000}
note() { echo "bench/deflate: $*" >&2; }
LOG_PREFIX=deflate_
. "$ROOT/bench/lib.sh"

if [ ! -x "$WSX" ] || ! "$WSX" bench --help 2>&1 | grep -q -- --deflate; then
  note "$WSX (with bench --deflate) not built: run make first"
  exit 1
fi

declare -A R

run_gen() { # SERVER KEY URL ARGS...
  local srv=$1 key=$2 url=$3; shift 3
  local t0 t1 line n
  t0=$(cpu_ticks "$SRV_PID")
  line=$("${PIN_GEN[@]}" "$WSX" bench "$url" -d "$SECS" -q --deflate "$@") || {
    note "$srv $key: load generator failed"; return 1; }
  t1=$(cpu_ticks "$SRV_PID")
  R[$srv,$key]=$(field msgs_per_sec "$line")
  n=$(field msgs "$line")
  if [ -n "$n" ] && [ "$n" -gt 0 ]; then
    R[$srv,cpu_$key]=$(awk -v d=$((t1 - t0)) -v t="$TICK" -v n="$n" \
      'BEGIN { printf "%.2f", d / t * 1e6 / n }')
  fi
  note "$srv $key: $line"
}

idle_mem() { # SERVER KEY URL [--warm]
  local srv=$1 key=$2 url=$3 warm=${4:-} before after gpid i out="$OUT/deflate_idle.out"
  "${PIN_GEN[@]}" "$WSX" bench "$url" -c 10 -d 0.5 -q --deflate >/dev/null || return 1
  sleep 0.2
  before=$(rss_kb "$SRV_PID")
  : >"$out"
  "${PIN_GEN[@]}" "$WSX" bench "$url" --idle "$IDLE" $warm -d 3 -q --deflate >"$out" &
  gpid=$!
  for i in $(seq 600); do
    grep -q idle_ready "$out" && break
    kill -0 "$gpid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q idle_ready "$out"; then
    note "$srv $key: connections did not all open"
    kill "$gpid" 2>/dev/null; wait "$gpid" 2>/dev/null
    return 1
  fi
  sleep 0.5
  after=$(rss_kb "$SRV_PID")
  wait "$gpid"
  R[$srv,$key]=$(( (after - before) * 1024 / IDLE ))
  note "$srv $key: RSS ${before} kB -> ${after} kB with $IDLE connections"
}

# bench_server NAME CMD... (CMD takes the port as its last argument)
bench_server() {
  local name=$1; shift
  local p url
  p=$(free_port); url="ws://127.0.0.1:$p/"
  start_server "$name" "$@" "$p" || return 1
  SERVERS+=("$name")
  run_gen "$name" t20 "$url" -c 100 -s 20
  run_gen "$name" t16k "$url" -c 100 -s 16384
  stop_server
  p=$(free_port); url="ws://127.0.0.1:$p/"
  start_server "$name" "$@" "$p" && { idle_mem "$name" idle "$url"; stop_server; }
  p=$(free_port); url="ws://127.0.0.1:$p/"
  start_server "$name" "$@" "$p" && { idle_mem "$name" idle_warm "$url" --warm; stop_server; }
}

SERVERS=()
bench_server wsx "$WSX" echo --deflate -q --host 127.0.0.1 --port
if command -v node >/dev/null && node -e "require('ws')" 2>/dev/null; then
  bench_server ws node "$ROOT/bench/servers/ws_echo_deflate.js"
else
  note "Node ws skipped: node or the ws package (in $NODE_PATH) missing (scripts/install-deps.sh)"
fi

val() { echo "${R[$1,$2]:--}"; }
ratio() { # wsx value / ws value
  local a=${R[wsx,$1]:-} b=${R[ws,$1]:-}
  if [ -n "$a" ] && [ -n "$b" ] && awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
    awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", a / b }'
  else
    echo -
  fi
}
echo
echo "== permessage-deflate echo: wsx bench --deflate on CPU 1, server on CPU 0, ${SECS}s per run, $(date +%F) =="
printf '%-44s %12s %12s %9s\n' "" "wsx" "ws(node)" "wsx/ws"
row() { printf '%-44s %12s %12s %9s\n' "$1" "$(val wsx "$2")" "$(val ws "$2")" "$(ratio "$2")"; }
row "msgs/s 100 x 20 B JSON text" t20
row "msgs/s 100 x 16 KiB JSON text" t16k
row "server CPU us/msg 20 B (lower)" cpu_t20
row "server CPU us/msg 16 KiB (lower)" cpu_t16k
row "bytes/idle conn, after handshake (lower)" idle
row "bytes/idle conn, after one echo (lower)" idle_warm
echo "($IDLE idle connections; RSS deltas, so zlib pages never touched do not count)"
exit 0
