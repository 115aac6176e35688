#!/usr/bin/env bash
# bench/soak.sh — `make soak` (not part of `make test`): issue 20's soak.
# `wsx echo` (CPU 0) serves SOAK_CONNS connections of `wsx bench` (CPU 1)
# echoing 20-byte text messages at a bounded total rate (`wsx bench
# --rate`) for SOAK_SECONDS. The server's RSS is sampled every second;
# printed: RSS once every connection is open, after the warm-up (the
# first SOAK_WARMUP seconds of traffic), the peak, and at the end, then a
# verdict line:
#   soak: PASS|FAIL start=KB peak=KB end=KB growth=KB limit=KB msgs=N
# PASS when the RSS at the end is at most the larger of 1% and 512 kB
# above the RSS after the warm-up (no growth once warm), the generator
# kept every connection, and the server is still running.
#
# Env: WSX_BIN (default build/wsx), SOAK_SECONDS (default 600),
#      SOAK_CONNS (default 10000), SOAK_RATE (messages/s in all, default
#      10000), SOAK_WARMUP (seconds, default a tenth of SOAK_SECONDS, at
#      least 2).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=${WSX_BUILD:-$ROOT/build}
WSX=${WSX_BIN:-$BUILD/wsx}
OUT=$BUILD/bench
SECS=${SOAK_SECONDS:-600}
IDLE=${SOAK_CONNS:-10000} # lib.sh fits it to ulimit -n
RATE=${SOAK_RATE:-10000}
WARM=${SOAK_WARMUP:-$((SECS / 10))}
[ "$WARM" -ge 2 ] || WARM=2
note() { echo "soak: $*" >&2; }
LOG_PREFIX=soak_
. "$ROOT/bench/lib.sh"
CONNS=$IDLE

if [ ! -x "$WSX" ] || ! "$WSX" bench --help 2>&1 | grep -q -- --rate; then
  note "$WSX (with bench --rate) not built: run make first"
  exit 1
fi
if [ "$WARM" -ge "$SECS" ]; then
  note "SOAK_WARMUP ($WARM) must be shorter than SOAK_SECONDS ($SECS)"
  exit 2
fi

port=$(free_port)
start_server wsx "$WSX" echo --host 127.0.0.1 --quiet --port "$port" || exit 1
SRV=$SRV_PID
gen_err="$OUT/soak_gen.err" gen_out="$OUT/soak_gen.out"
"${PIN_GEN[@]}" "$WSX" bench "ws://127.0.0.1:$port/" -c "$CONNS" -s 20 \
  --rate "$RATE" -d "$SECS" >"$gen_out" 2>"$gen_err" &
GEN=$!
PIDS+=("$GEN")

# The timed window starts once every connection is open (the generator's
# progress lines switch from "opening" to "msgs/s").
for i in $(seq 1200); do
  grep -q "msgs/s" "$gen_err" && break
  kill -0 "$GEN" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q "msgs/s" "$gen_err"; then
  note "the connections did not all open: $(tail -n 2 "$gen_err" | tr '\n' ' ')"
  echo "soak: FAIL (connections did not open)"
  exit 1
fi
open_kb=$(rss_kb "$SRV")
echo "soak: $CONNS connections open, ${RATE} msgs/s for ${SECS}s (warm-up ${WARM}s); server RSS ${open_kb} kB"

t=0 start_kb="" peak_kb=$open_kb end_kb=$open_kb
while kill -0 "$GEN" 2>/dev/null; do
  sleep 1
  t=$((t + 1))
  kill -0 "$SRV" 2>/dev/null || break
  r=$(rss_kb "$SRV")
  # A sample taken as the generator finished may see its connections
  # closing: only samples with the generator still running count.
  kill -0 "$GEN" 2>/dev/null || break
  [ "$r" -gt 0 ] || continue
  end_kb=$r
  [ "$r" -gt "$peak_kb" ] && peak_kb=$r
  [ "$t" -eq "$WARM" ] && start_kb=$r
  if [ $((t % 60)) -eq 0 ]; then
    echo "soak: [${t}s] RSS ${r} kB (peak ${peak_kb} kB)"
  fi
done
wait "$GEN"
gen_rc=$?
summary=$(tail -n 1 "$gen_out")
msgs=$(field msgs "$summary")
[ -n "$start_kb" ] || start_kb=$open_kb
growth=$((end_kb - start_kb))
limit=$((start_kb / 100))
[ "$limit" -ge 512 ] || limit=512
echo "soak: generator: $summary"
echo "soak: RSS open ${open_kb} kB, after warm-up ${start_kb} kB, peak ${peak_kb} kB, end ${end_kb} kB"
verdict=PASS
if ! kill -0 "$SRV" 2>/dev/null; then
  verdict=FAIL
  note "the server exited during the soak (see $OUT/soak_wsx.log)"
elif [ "$gen_rc" -ne 0 ]; then
  verdict=FAIL
  note "the generator failed: $(tail -n 2 "$gen_err" | tr '\n' ' ')"
elif [ "$growth" -gt "$limit" ]; then
  verdict=FAIL
fi
echo "soak: $verdict start=${start_kb} peak=${peak_kb} end=${end_kb} growth=${growth} limit=${limit} msgs=${msgs:-0}"
stop_server
[ "$verdict" = PASS ]
