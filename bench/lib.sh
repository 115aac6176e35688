# bench/lib.sh — shared by bench/run.sh, bench/deflate.sh and
# bench/cpu-per-msg.sh (sourced).
# Needs: ROOT, OUT (log folder), IDLE; sets TICK, PIDS, PIN_SRV, PIN_GEN.
# The sourcing script defines note() first (its own message prefix).

export NODE_PATH=${NODE_PATH:-$ROOT/.deps/node/node_modules}
mkdir -p "$OUT"
TICK=$(getconf CLK_TCK)

# Everything started is killed on exit.
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Server on CPU 0, load generator on CPU 1.
PIN_SRV=() PIN_GEN=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SRV=(taskset -c 0) PIN_GEN=(taskset -c "${BENCH_GEN_CPUS:-1}")
else
  note "not pinning (need taskset and 2 cores): figures are noisier"
fi

# Idle connections need file descriptors on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
lim=$(ulimit -n)
if [ "$lim" != unlimited ] && [ "$lim" -lt $((IDLE + 200)) ]; then
  IDLE=$((lim - 200))
  note "ulimit -n is $lim: measuring memory with $IDLE idle connections"
fi

# build_server NAME: builds the C echo server NAME of bench/servers/ (raw,
# wsfloor, lws, wslay) as $OUT/NAME and prints its path; 1 (with a note
# saying what is missing) if it cannot be built here.
build_server() {
  local cc=${CC:-cc} bin=$OUT/$1
  case $1 in
    raw)
      $cc -O2 "$ROOT/bench/servers/raw_echo.c" -o "$bin" -luv ||
        { note "raw echo server did not build (libuv1-dev missing?)"; return 1; } ;;
    wsfloor)
      # -march=native: the floor unmasks with whatever vectors this CPU has.
      $cc -O2 -march=native "$ROOT/bench/servers/ws_floor.c" -o "$bin" -luv -lcrypto ||
        { note "WebSocket floor did not build (libuv1-dev or libssl-dev missing?)"; return 1; } ;;
    lws)
      pkg-config --exists libwebsockets 2>/dev/null &&
        $cc -O2 "$ROOT/bench/servers/lws_echo.c" -o "$bin" \
          $(pkg-config --cflags --libs libwebsockets) ||
        { note "libwebsockets skipped: libwebsockets-dev not installed (scripts/install-deps.sh)"; return 1; } ;;
    wslay)
      [ -f /usr/include/wslay/wslay.h ] &&
        $cc -O2 "$ROOT/bench/servers/wslay_echo.c" -o "$bin" -lwslay -lcrypto ||
        { note "wslay skipped: libwslay-dev (or libssl-dev) not installed (scripts/install-deps.sh)"; return 1; } ;;
    *) note "no C server $1 (raw, wsfloor, lws, wslay)"; return 1 ;;
  esac
  echo "$bin"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server NAME CMD... : starts CMD pinned, waits for "listening on",
# sets SRV_PID. Returns 1 if it did not come up within 10 s. The log is
# $OUT/$LOG_PREFIX$NAME.log.
start_server() {
  local name=$1; shift
  local log="$OUT/${LOG_PREFIX:-}$name.log"
  "${PIN_SRV[@]}" "$@" >"$log" 2>&1 &
  SRV_PID=$!
  PIDS+=("$SRV_PID")
  local i
  for i in $(seq 100); do
    grep -q "listening on" "$log" 2>/dev/null && return 0
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  note "$name did not start: $(tail -n 3 "$log" | tr '\n' ' ')"
  kill "$SRV_PID" 2>/dev/null
  return 1
}

stop_server() {
  kill "$SRV_PID" 2>/dev/null
  wait "$SRV_PID" 2>/dev/null
}

cpu_ticks() { # utime+stime of a process, in clock ticks
  awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }
