#!/usr/bin/env bash
# bench/bench-scale.sh — `make bench` (issue 11): multi-core scaling of the
# echo server. `wsx echo --threads 1` and then `--threads 2` (one event loop
# per thread on one port) are driven by `wsx bench` (100 connections, 20 B
# text echo), first with one load generator process, then with two in
# parallel (their msgs/s summed). Nothing is pinned: the server's threads
# and the generators share this machine's cores, so each line prints the
# CPU both sides used (percent of one core over the run: 100 = one core
# busy) — a generator near 100 % is the limit, not the server.
#
# Prints one table: threads, generators, msgs/s, server CPU %, generator
# CPU % (sum), server CPU microseconds per message, and the scaling ratio
# (msgs/s over the --threads 1 run with the same number of generators).
#
# Env: WSX_BIN (default build/wsx), BENCH_SECONDS (default 5; BENCH_SHORT=1
#      makes it 1), BENCH_SCALE_CONNS (default 100), BENCH_SCALE_SIZE (20).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=${WSX_BUILD:-$ROOT/build}
WSX=${WSX_BIN:-$BUILD/wsx}
OUT=$BUILD/bench
SECS=${BENCH_SECONDS:-5}
[ "${BENCH_SHORT:-0}" = 1 ] && SECS=${BENCH_SECONDS:-1}
CONNS=${BENCH_SCALE_CONNS:-100}
SIZE=${BENCH_SCALE_SIZE:-20}
mkdir -p "$OUT"
TICK=$(getconf CLK_TCK)
note() { echo "bench-scale: $*" >&2; }

if [ ! -x "$WSX" ]; then
  note "skipped: $WSX not built (run make build)"
  exit 0
fi

SRV_PID=""
cleanup() {
  [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }

# start_echo THREADS: sets SRV_PID and PORT; 1 if it did not come up.
start_echo() {
  local log="$OUT/scale-echo-$1.log" i
  PORT=$(free_port)
  "$WSX" echo --host 127.0.0.1 --port "$PORT" --threads "$1" --quiet \
    >"$log" 2>&1 &
  SRV_PID=$!
  for i in $(seq 100); do
    grep -q "listening on" "$log" 2>/dev/null && return 0
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  note "wsx echo --threads $1 did not start: $(tail -n 3 "$log" | tr '\n' ' ')"
  return 1
}

# run_gens N: N `wsx bench` processes at once; sets RATE (sum of msgs/s)
# and GEN_CPU (their user+sys seconds, summed).
run_gens() {
  local n=$1 i rate out t
  local -a gp=()
  for i in $(seq "$n"); do
    (
      TIMEFORMAT='%U %S'
      { time "$WSX" bench "ws://127.0.0.1:$PORT/" -c "$CONNS" -s "$SIZE" \
          -d "$SECS" -q >"$OUT/scale-gen-$i.res" 2>/dev/null; } \
        2>"$OUT/scale-gen-$i.out"
    ) &
    gp+=($!)
  done
  wait "${gp[@]}" # not the server
  RATE=0 GEN_CPU=0
  for i in $(seq "$n"); do
    out=$(cat "$OUT/scale-gen-$i.res" 2>/dev/null)
    rate=$(field msgs_per_sec "$out")
    [ -n "$rate" ] || { note "generator $i failed: $out"; rate=0; }
    t=$(awk '{ print $1 + $2 }' "$OUT/scale-gen-$i.out" 2>/dev/null)
    RATE=$(awk -v a="$RATE" -v b="$rate" 'BEGIN { print a + b }')
    GEN_CPU=$(awk -v a="$GEN_CPU" -v b="${t:-0}" 'BEGIN { print a + b }')
  done
}

echo "== multi-core echo: wsx echo --threads 1 vs 2, $CONNS conns x $SIZE B," \
  "$SECS s per run, $(nproc) cores, not pinned;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-7s %-4s %12s %9s %9s %10s %7s\n' threads gens "msgs/s" "srv CPU%" \
  "gen CPU%" "srv us/msg" "x t1"
declare -A BASE=()
for threads in 1 2; do
  start_echo "$threads" || continue
  for gens in 1 2; do
    c0=$(cpu_ticks "$SRV_PID")
    t0=$(date +%s.%N)
    run_gens "$gens"
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "$SRV_PID")
    awk -v th="$threads" -v g="$gens" -v r="$RATE" -v gc="$GEN_CPU" \
      -v sc="$((c1 - c0))" -v tick="$TICK" -v t0="$t0" -v t1="$t1" \
      -v base="${BASE[$gens]:-0}" 'BEGIN {
        el = t1 - t0; s = sc / tick
        printf "%-7d %-4d %12.0f %9.0f %9.0f %10.2f %7s\n", th, g, r,
          100 * s / el, 100 * gc / el, (r > 0 ? 1e6 * s / (r * el) : 0),
          (base > 0 ? sprintf("%.2f", r / base) : "1.00") }'
    [ "$threads" = 1 ] && BASE[$gens]=$RATE
  done
  kill "$SRV_PID" 2>/dev/null
  wait "$SRV_PID" 2>/dev/null
  SRV_PID=""
done
echo "(srv/gen CPU% = CPU time over wall time; 100 = one core. A generator"
echo " near 100 % per process, or server + generators near $(( $(nproc) * 100 )) %,"
echo " says the machine, not the server, sets the ceiling.)"
