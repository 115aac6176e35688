#!/usr/bin/env bash
# bench/run.sh — `make bench`: the driver benchmark, then wsx echo against the
# echo servers of libwebsockets and Node `ws` and a raw TCP echo (the floor),
# all driven by `wsx bench` in one run on this machine, printed as one table
# with absolute figures and ratios.
#
# Env: WSX_BIN (default build/wsx), BENCH_SECONDS (default 5 per run),
#      BENCH_IDLE (idle connections for the memory figure, default 10000),
#      BENCH_SKIP_DRIVER=1 to skip the driver benchmark,
#      BENCH_SKIP_DEFLATE=1 to skip the permessage-deflate runs (bench/deflate.sh).
# Installs nothing: scripts/install-deps.sh provides libwebsockets-dev and
# Node `ws` (in .deps/node); a missing peer is skipped with a message.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=${WSX_BUILD:-$ROOT/build}
WSX=${WSX_BIN:-$BUILD/wsx}
OUT=$BUILD/bench
SECS=${BENCH_SECONDS:-5}
IDLE=${BENCH_IDLE:-10000}
CC=${CC:-cc}
note() { echo "bench: $*" >&2; }
. "$ROOT/bench/lib.sh"

# ---- driver benchmark (issue 2) ----------------------------------------
if [ "${BENCH_SKIP_DRIVER:-0}" != 1 ]; then
  DRV=""
  for c in "$BUILD/bench/bench_driver" "$BUILD/bench_driver"; do
    [ -x "$c" ] && DRV=$c && break
  done
  if [ -z "$DRV" ] && [ -f "$BUILD/libwsx.a" ]; then
    if $CC -std=c11 -O2 -D_GNU_SOURCE -I"$ROOT/include" -I"$ROOT/src" \
        "$ROOT/bench/bench_driver.c" "$BUILD/libwsx.a" -lz -lm \
        -o "$OUT/bench_driver"; then
      DRV=$OUT/bench_driver
    fi
  fi
  if [ -n "$DRV" ]; then
    echo "== driver (sans-I/O, no network) =="
    "$DRV" || note "bench_driver failed"
    echo
  else
    note "driver benchmark skipped: $BUILD/libwsx.a not built (run make)"
  fi
fi

declare -A R # R[server,metric] = value

# run_gen SERVER KEY URL ARGS... : one load-generator run; records the rate
# and the server's CPU microseconds per message.
run_gen() {
  local srv=$1 key=$2 url=$3; shift 3
  local t0 t1 line n rate
  t0=$(cpu_ticks "$SRV_PID")
  line=$("${PIN_GEN[@]}" "$WSX" bench "$url" -d "$SECS" -q "$@") || {
    note "$srv $key: load generator failed"; return 1; }
  t1=$(cpu_ticks "$SRV_PID")
  rate=$(field msgs_per_sec "$line")
  [ -z "$rate" ] && rate=$(field handshakes_per_sec "$line")
  n=$(field msgs "$line")
  R[$srv,$key]=$rate
  if [ -n "$n" ] && [ "$n" -gt 0 ]; then
    R[$srv,cpu_$key]=$(awk -v d=$((t1 - t0)) -v t="$TICK" -v n="$n" \
      'BEGIN { printf "%.2f", d / t * 1e6 / n }')
  fi
  note "$srv $key: $line"
}

# idle_mem SERVER URL : bytes of server RSS per idle connection.
idle_mem() {
  local srv=$1 url=$2 before after gpid i out="$OUT/idle.out"
  # Warm the code paths so the baseline is not mostly first-touch pages.
  "${PIN_GEN[@]}" "$WSX" bench "$url" -c 10 -d 0.5 -q >/dev/null || return 1
  sleep 0.2
  before=$(rss_kb "$SRV_PID")
  : >"$out"
  "${PIN_GEN[@]}" "$WSX" bench "$url" --idle "$IDLE" -d 3 -q >"$out" &
  gpid=$!
  for i in $(seq 600); do
    grep -q idle_ready "$out" && break
    kill -0 "$gpid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q idle_ready "$out"; then
    note "$srv idle: connections did not all open"
    kill "$gpid" 2>/dev/null; wait "$gpid" 2>/dev/null
    return 1
  fi
  sleep 0.5
  after=$(rss_kb "$SRV_PID")
  wait "$gpid"
  R[$srv,idle]=$(( (after - before) * 1024 / IDLE ))
  note "$srv idle: RSS ${before} kB -> ${after} kB with $IDLE connections"
}

bench_ws_server() { # NAME URL
  local srv=$1 url=$2
  idle_mem "$srv" "$url"
  run_gen "$srv" t20 "$url" -c 100 -s 20 --text
  run_gen "$srv" b16k "$url" -c 100 -s 16384 --binary
  run_gen "$srv" b1m "$url" -c 10 -s 1048576 --binary
  run_gen "$srv" hs "$url" -c 50 --handshakes
}

if [ ! -x "$WSX" ] || ! "$WSX" bench --help >/dev/null 2>&1; then
  note "$WSX (with the bench command) not built: run make first"
  exit 1
fi

SERVERS=()

# ---- raw TCP echo: the floor -------------------------------------------
if $CC -O2 "$ROOT/bench/servers/raw_echo.c" -o "$OUT/raw_echo" -luv; then
  P=$(free_port)
  if start_server raw "$OUT/raw_echo" "$P"; then
    SERVERS+=(raw)
    run_gen raw t20 "tcp://127.0.0.1:$P" --raw -c 100 -s 20
    run_gen raw b16k "tcp://127.0.0.1:$P" --raw -c 100 -s 16384
    run_gen raw b1m "tcp://127.0.0.1:$P" --raw -c 10 -s 1048576
    stop_server
  fi
else
  note "raw echo server did not build (libuv1-dev missing?)"
fi

# ---- wsx echo -----------------------------------------------------------
P=$(free_port)
if start_server wsx "$WSX" echo --port "$P" --host 127.0.0.1 --quiet; then
  SERVERS+=(wsx)
  bench_ws_server wsx "ws://127.0.0.1:$P/"
  stop_server
fi

# ---- libwebsockets ------------------------------------------------------
if pkg-config --exists libwebsockets 2>/dev/null &&
  $CC -O2 "$ROOT/bench/servers/lws_echo.c" -o "$OUT/lws_echo" \
    $(pkg-config --cflags --libs libwebsockets); then
  P=$(free_port)
  if start_server lws "$OUT/lws_echo" "$P"; then
    SERVERS+=(lws)
    bench_ws_server lws "ws://127.0.0.1:$P/"
    stop_server
  fi
else
  note "libwebsockets skipped: libwebsockets-dev not installed (scripts/install-deps.sh)"
fi

# ---- Node ws ------------------------------------------------------------
if command -v node >/dev/null && node -e "require('ws')" 2>/dev/null; then
  P=$(free_port)
  if start_server ws node "$ROOT/bench/servers/ws_echo.js" "$P"; then
    SERVERS+=(ws)
    bench_ws_server ws "ws://127.0.0.1:$P/"
    stop_server
  fi
else
  note "Node ws skipped: node or the ws package (in $NODE_PATH) missing (scripts/install-deps.sh)"
fi

# ---- the table ----------------------------------------------------------
has() { local s; for s in "${SERVERS[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
val() { echo "${R[$1,$2]:--}"; }
ratio() { # wsx value / other value
  local a=${R[wsx,$2]:-} b=${R[$1,$2]:-}
  if [ -n "$a" ] && [ -n "$b" ] && awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
    awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", a / b }'
  else
    echo -
  fi
}

echo
echo "== echo servers: wsx bench on CPU 1, server on CPU 0, ${SECS}s per run, $(date +%F) =="
printf '%-34s %12s %12s %12s %12s %9s %9s\n' "" wsx libwebsockets "ws(node)" "raw tcp" wsx/lws wsx/ws
row() { # LABEL KEY
  printf '%-34s %12s %12s %12s %12s %9s %9s\n' "$1" "$(val wsx "$2")" \
    "$(val lws "$2")" "$(val ws "$2")" "$(val raw "$2")" \
    "$(ratio lws "$2")" "$(ratio ws "$2")"
}
row "msgs/s 100 x 20 B text" t20
row "msgs/s 100 x 16 KiB binary" b16k
row "msgs/s 10 x 1 MiB binary" b1m
row "handshakes/s (open,echo,close)" hs
row "server CPU us/handshake (lower)" cpu_hs
row "server CPU us/msg 20 B (lower)" cpu_t20
row "server CPU us/msg 16 KiB (lower)" cpu_b16k
row "server CPU us/msg 1 MiB (lower)" cpu_b1m
row "bytes per idle conn ($IDLE) (lower)" idle

# The load generator is not the bottleneck if raw TCP beats every server.
if has raw; then
  for k in t20 b16k b1m; do
    best=0 who=""
    for s in wsx lws ws; do
      v=${R[$s,$k]:-0}
      if awk -v v="$v" -v b="$best" 'BEGIN { exit !(v > b) }'; then best=$v who=$s; fi
    done
    if [ -n "$who" ]; then
      if awk -v r="${R[raw,$k]:-0}" -v b="$best" 'BEGIN { exit !(r > b) }'; then
        echo "generator check $k: raw tcp ${R[raw,$k]} > best websocket server ($who $best): ok"
      else
        echo "generator check $k: raw tcp ${R[raw,$k]:-0} <= $who $best: the generator may be the bottleneck"
      fi
    fi
  done
fi

# ---- permessage-deflate (issue 5): its own table --------------------------
if [ "${BENCH_SKIP_DEFLATE:-0}" != 1 ] && [ -f "$ROOT/bench/deflate.sh" ]; then
  WSX_BIN=$WSX bash "$ROOT/bench/deflate.sh" || note "bench/deflate.sh failed"
fi
exit 0
