#!/usr/bin/env bash
# bench/cpu-per-msg.sh — what one echoed message costs the server, wsx
# against the raw TCP floor, the WebSocket floor (bench/servers/ws_floor.c:
# raw + the work RFC 6455 requires; `wsfloor`), the C peers (libwebsockets,
# wslay) and optionally another wsx build, for rows A (100 x 20 B text)
# and B (100 x 16 KiB binary) of bench/run.sh:
#
#   cpu   server CPU microseconds per message (utime + stime from
#         /proc/PID/stat over a `wsx bench` run), BENCH_REPS rounds with the
#         servers' order rotated each round; the median of each server and
#         the median of its per-round difference to the raw floor
#   Ir    with BENCH_CALLGRIND=1: user-space instructions per message under
#         valgrind's callgrind (counters zeroed after a warm-up run, dumped
#         after a measured run; the measured run's 100 handshakes are
#         included, ~20-50 Ir/msg). Deterministic where CPU time is not:
#         on a shared machine the CPU figures move by +-1.5 us per sample
#   sys   with BENCH_SYSCALLS=1 and perf: reads, writes, writevs,
#         epoll_waits, recvfroms, sendtos and polls per message (perf stat
#         on the syscall tracepoints; libwebsockets uses the last three)
#
# Servers on CPU 0, `wsx bench` on CPU 1 (bench/lib.sh).
# Env: WSX_BIN (default build/wsx), BENCH_WSX_BASE (another wsx binary:
#      a `base` column), BENCH_PEERS (default "lws wslay": the C peers of
#      bench/run.sh, built from bench/servers/ when their -dev packages
#      are there), BENCH_SECONDS (default 2 per run), BENCH_REPS
#      (default 5), BENCH_ROWS (default "A B").
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${WSX_BUILD:-$ROOT/build}
WSX=${WSX_BIN:-$BUILD/wsx}
OUT=$BUILD/bench
SECS=${BENCH_SECONDS:-2}
REPS=${BENCH_REPS:-5}
ROWS=${BENCH_ROWS:-A B}
IDLE=0
CC=${CC:-cc}
note() { echo "cpu-per-msg: $*" >&2; }
. "$ROOT/bench/lib.sh"

[ -x "$WSX" ] || { note "$WSX not built: run make first"; exit 1; }
declare -A BIN=([wsx]=$WSX)
# The raw floor (required), the WebSocket floor (raw + the protocol's
# unavoidable work), and the C peers of bench/run.sh, for "server CPU per
# message, lowest of all peers" (row A's target): BENCH_PEERS (default
# "lws wslay"; "" for none).
BIN[raw]=$(build_server raw) || exit 1
NAMES=(raw wsx)
for n in wsfloor ${BENCH_PEERS-lws wslay}; do
  BIN[$n]=$(build_server "$n") && NAMES+=("$n")
done
if [ -n "${BENCH_WSX_BASE:-}" ]; then
  NAMES+=(base)
  BIN[base]=$BENCH_WSX_BASE
fi

row_args() { # ROW -> the generator's arguments
  case $1 in
    A) echo "-c 100 -s 20 --text" ;;
    B) echo "-c 100 -s 16384 --binary" ;;
  esac
}

# serve NAME [WRAPPER...]: starts server NAME (pinned), sets SRV_PID, URL
serve() {
  local name=$1 p
  shift
  p=$(free_port)
  if [ "$name" != wsx ] && [ "$name" != base ]; then
    start_server "cpm-$name" "$@" "${BIN[$name]}" "$p" || return 1
    URL="tcp://127.0.0.1:$p"
    [ "$name" = raw ] || URL="ws://127.0.0.1:$p/"
  else
    start_server "cpm-$name" "$@" "${BIN[$name]}" echo --host 127.0.0.1 \
      --quiet --port "$p" || return 1
    URL="ws://127.0.0.1:$p/"
  fi
}

gen() { # NAME ROW -> the generator's result line
  local raw=()
  [ "$1" = raw ] && raw=(--raw)
  # shellcheck disable=SC2046
  "${PIN_GEN[@]}" "$WSX" bench "$URL" -d "$SECS" -q "${raw[@]}" $(row_args "$2")
}

msgs_of() { sed -n 's/.* msgs=\([0-9]*\).*/\1/p' <<<"$1"; }
median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

for row in $ROWS; do
  declare -A PIDOF=() URLOF=() SAMPLES=() DIFFS=()
  for n in "${NAMES[@]}"; do
    serve "$n" || exit 1
    PIDOF[$n]=$SRV_PID
    URLOF[$n]=$URL
  done
  k=${#NAMES[@]}
  for ((r = 0; r < REPS; r++)); do
    declare -A US=()
    for ((i = 0; i < k; i++)); do
      n=${NAMES[(i + r) % k]}
      URL=${URLOF[$n]}
      t0=$(cpu_ticks "${PIDOF[$n]}")
      line=$(gen "$n" "$row") || { note "$n $row: generator failed"; exit 1; }
      t1=$(cpu_ticks "${PIDOF[$n]}")
      US[$n]=$(awk -v d=$((t1 - t0)) -v t="$TICK" -v m="$(msgs_of "$line")" \
        'BEGIN { printf "%.3f", d / t * 1e6 / m }')
      SAMPLES[$n]+="${US[$n]} "
    done
    for n in "${NAMES[@]}"; do
      DIFFS[$n]+="$(awk -v a="${US[$n]}" -v b="${US[raw]}" 'BEGIN { printf "%.3f", a - b }') "
    done
  done
  for n in "${NAMES[@]}"; do
    printf 'row %s %-5s cpu_us_per_msg=%s diff_to_raw=%s (medians of %d; samples: %s)\n' \
      "$row" "$n" "$(tr ' ' '\n' <<<"${SAMPLES[$n]}" | grep . | median)" \
      "$(tr ' ' '\n' <<<"${DIFFS[$n]}" | grep . | median)" "$REPS" "${SAMPLES[$n]% }"
  done
  cleanup
  PIDS=()

  for n in "${NAMES[@]}"; do
    if [ "${BENCH_SYSCALLS:-0}" = 1 ] && command -v perf >/dev/null; then
      serve "$n" || exit 1
      gen "$n" "$row" >/dev/null
      ev=syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_poll
      perf stat -x, -e "$ev" -p "$SRV_PID" -o "$OUT/cpm-perf.txt" &
      ppid=$!
      sleep 0.2
      line=$(gen "$n" "$row")
      kill -INT "$ppid"
      wait "$ppid" 2>/dev/null
      printf 'row %s %-5s syscalls per message:' "$row" "$n"
      awk -F, -v m="$(msgs_of "$line")" '/^[0-9]/ { sub("syscalls:sys_enter_", "", $3);
        printf " %s=%.3f", $3, $1 / m }' "$OUT/cpm-perf.txt"
      echo
      stop_server
    fi
    # (Not the WebSocket floor: built with -march=native, it may use
    # instructions valgrind does not know, AVX-512 on this machine.)
    if [ "${BENCH_CALLGRIND:-0}" = 1 ] && [ "$n" != wsfloor ] &&
      command -v valgrind >/dev/null; then
      rm -f "$OUT"/cpm-cg-"$n".out*
      serve "$n" valgrind --tool=callgrind --callgrind-out-file="$OUT/cpm-cg-$n.out" || exit 1
      gen "$n" "$row" >/dev/null
      callgrind_control -z "$SRV_PID" >/dev/null 2>&1
      line=$(gen "$n" "$row")
      callgrind_control -d "$SRV_PID" >/dev/null 2>&1
      sleep 0.5
      stop_server
      f=$(ls -t "$OUT"/cpm-cg-"$n".out.* 2>/dev/null | head -1)
      ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
      printf 'row %s %-5s Ir_per_msg=%s (user space, callgrind, %s msgs)\n' "$row" "$n" \
        "$(awk -v a="$ir" -v m="$(msgs_of "$line")" 'BEGIN { printf "%.0f", a / m }')" \
        "$(msgs_of "$line")"
    fi
  done
  PIDS=()
done
