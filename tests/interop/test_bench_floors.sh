#!/usr/bin/env bash
# The benchmark's two floors (bench/servers/raw_echo.c, ws_floor.c), which
# every row of `make bench` is divided by, do what their columns claim:
#   - ws_floor is a WebSocket echo: Node `ws` gets byte-exact echoes at every
#     length class, a fragmented message, a pong and the close back
#     (ws_floor_client.js);
#   - `wsx bench` runs against both (raw with --raw), rows A and B for 1 s,
#     and counts messages.
set -u
. "$(dirname "$0")/lib.sh"

CC=${CC:-cc}
if ! $CC -O2 "$WSX_ROOT/bench/servers/raw_echo.c" -o "$TMP/raw_echo" -luv 2>"$TMP/cc.err" ||
  ! $CC -O2 -march=native "$WSX_ROOT/bench/servers/ws_floor.c" -o "$TMP/ws_floor" \
    -luv -lcrypto 2>>"$TMP/cc.err"; then
  fail bench_floors_build "$(head -c 400 "$TMP/cc.err")"
  exit 1
fi

start_floor() { # NAME -> FLOOR_PORT
  local log=$TMP/$1.log
  FLOOR_PORT=$(free_port)
  "$TMP/$1" "$FLOOR_PORT" >"$log" 2>&1 &
  STARTED+=($!)
  wait_for "$log" "listening on" 10 $!
}

if ! start_floor ws_floor; then
  fail ws_floor_start "$(tail -n 3 "$TMP/ws_floor.log")"
  exit 1
fi
WSF=$FLOOR_PORT
if need_node_module ws; then
  timeout 60 node "$HERE/ws_floor_client.js" "ws://127.0.0.1:$WSF/" ||
    fail ws_floor_client "exited with status $?"
else
  fail ws_floor_client "$NODE_ERR"
fi

if ! start_floor raw_echo; then
  fail raw_echo_start "$(tail -n 3 "$TMP/raw_echo.log")"
  exit 1
fi
RAWP=$FLOOR_PORT

gen() { # NAME KEY URL ARGS... : one second of `wsx bench`
  local name=$1 k=$2 url=$3 line msgs
  shift 3
  line=$(timeout 30 "$WSX_BIN" bench "$url" -d 1 -q "$@" 2>&1)
  msgs=$(sed -n 's/.* msgs=\([0-9]*\).*/\1/p' <<<"$line")
  if [ "${msgs:-0}" -gt 100 ]; then
    ok "bench_floor_${name}_$k"
  else
    fail "bench_floor_${name}_$k" "wsx bench: $line"
  fi
}
gen raw t20 "tcp://127.0.0.1:$RAWP" --raw -c 100 -s 20 --text
gen ws t20 "ws://127.0.0.1:$WSF/" -c 100 -s 20 --text
gen raw b16k "tcp://127.0.0.1:$RAWP" --raw -c 100 -s 16384 --binary
gen ws b16k "ws://127.0.0.1:$WSF/" -c 100 -s 16384 --binary

# bench/bench_syscall_cost.c (the kernel line at the top of the table)
# prints all four figures; a system call takes more than 10 ns on any
# machine, and a 16 KiB loopback write and read (either way) far more than
# two calls, so a loop the compiler dropped or a wrong subtraction shows.
line=$("${WSX_BUILD:-$WSX_ROOT/build}/bench/bench_syscall_cost" 2>&1)
num() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$line"; }
if grep -Eq '^syscall_ns=[0-9]+ page_ns=-?[0-9]+[.][0-9] rw_ns=[0-9]+ sr_ns=[0-9]+$' <<<"$line" &&
  [ "$(num syscall_ns)" -gt 10 ] &&
  [ "$(num rw_ns)" -gt $((2 * $(num syscall_ns))) ] &&
  [ "$(num sr_ns)" -gt $((2 * $(num syscall_ns))) ]; then
  ok bench_syscall_cost
else
  fail bench_syscall_cost "$line"
fi
