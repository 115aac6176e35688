#!/usr/bin/env bash
# bench/run.sh — `make bench`: the driver benchmark, then one table of every
# echo server against every workload, all driven by `wsx bench` in one run
# on this machine (server on CPU 0, generator on CPU 1):
#
#   servers   raw    a raw TCP echo on libuv (bench/servers/raw_echo.c): the
#                    floor no WebSocket server can beat on the same bytes
#             wsfloor  the least RFC 6455 lets an echo server do, on libuv
#                    like raw (bench/servers/ws_floor.c: upgrade, frame
#                    headers, unmask; nothing checked): raw + the protocol's
#                    unavoidable work, so wsx / wsfloor is what wsx itself
#                    adds (rows A and B, whose targets are 0.98x raw; at
#                    1 MiB its naive streaming is no floor: wsx beat it by
#                    3-29% in the runs of 2026-12-06)
#             wsx    `wsx echo` (and `wsx echo --deflate` for F)
#             lws    libwebsockets (bench/servers/lws_echo.c)
#             ws     Node `ws` (bench/servers/ws_echo.js, ws_echo_deflate.js)
#             wslay  wslay's event API on epoll (bench/servers/wslay_echo.c)
#             base   optional: another wsx binary (BENCH_WSX_BASE), e.g. an
#                    older build, for before/after ratios in the same run
#   workloads A  100 conns x 20 B text echo        msgs/s
#             B  100 x 16 KiB binary               msgs/s
#             C  10 x 1 MiB binary                 msgs/s
#             D  handshakes/s (open, 1 echo, close; 50 at a time)
#             E  server RSS bytes per idle connection (BENCH_IDLE open)
#             F  100 x 20 B JSON-like text with permessage-deflate  msgs/s,
#                and server RSS bytes per idle deflate connection
#                (BENCH_IDLE open, after the handshake)
#
# Every server runs for the whole benchmark (one process each, so its CPU
# time comes from /proc/PID/stat); E is measured first on each fresh
# server; then A-D and F run in BENCH_REPS interleaved rounds (each round
# visits every workload and every server, starting with a different
# server each round) and the table shows the medians, each with its ratio
# to the raw floor of the same workload (F against A's floor), and the
# server CPU microseconds per message (median of the rounds).
#
# Env: WSX_BIN (default build/wsx), BENCH_SECONDS (default 5 per run),
#      BENCH_REPS (rounds, default 5: a slow phase of this shared VM can
#        cover a whole round, and the median of 5 outvotes two such rounds),
#      BENCH_IDLE (default 10000),
#      BENCH_SHORT=1: quick mode (1 s runs, 1 round, 1000 idle connections,
#        no driver benchmark, no deflate detail table),
#      BENCH_SERVERS="raw wsx ..." (subset, default all),
#      BENCH_WSX_BASE=/path/to/wsx (adds the `base` column),
#      BENCH_GEN_CPUS="1,2" (the generator's CPUs, default 1) and
#        BENCH_GEN_THREADS=N (D's generator processes, default 1: one per
#        generator CPU); every run also reports the generator's CPU %,
#      BENCH_ROWS="D" (a subset of "A B C D E F", default all): only those
#        workloads, e.g. BENCH_ROWS=D BENCH_SERVERS="wsx lws wslay" for the
#        handshake row alone (implies BENCH_SKIP_DRIVER=1 and
#        BENCH_SKIP_DEFLATE=1 unless F is among them),
#      BENCH_SKIP_DRIVER=1 to skip the driver benchmark,
#      BENCH_SKIP_DEFLATE=1 to skip the permessage-deflate detail table
#        (bench/deflate.sh; F stays in the main table),
#      BENCH_IDLE_WAIT (seconds, default 2.5): E and F's idle figures are
#        sampled this long after the connections are open, for every
#        server alike (wsx hibernates idle connections after 1 s, checked
#        every 0.5 s: 2 x 1 s + margin); the figure right after opening is
#        printed too (R[...,idle0], "E ... right after opening").
# The table is also written to build/bench/table.txt.
# Installs nothing: scripts/install-deps.sh provides libwebsockets-dev,
# libwslay-dev and Node `ws` (in .deps/node); a missing peer is skipped with
# a message.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=${WSX_BUILD:-$ROOT/build}
WSX=${WSX_BIN:-$BUILD/wsx}
OUT=$BUILD/bench
SECS=${BENCH_SECONDS:-5}
REPS=${BENCH_REPS:-5}
IDLE=${BENCH_IDLE:-10000}
IDLE_WAIT=${BENCH_IDLE_WAIT:-2.5}
if [ "${BENCH_SHORT:-0}" = 1 ]; then
  SECS=${BENCH_SECONDS:-1} REPS=${BENCH_REPS:-1} IDLE=${BENCH_IDLE:-1000}
  BENCH_SKIP_DRIVER=${BENCH_SKIP_DRIVER:-1}
  BENCH_SKIP_DEFLATE=${BENCH_SKIP_DEFLATE:-1}
fi
WANT=${BENCH_SERVERS:-raw wsfloor wsx lws ws wslay base}
ROWS=${BENCH_ROWS:-A B C D E F}
row_wanted() { [[ " $ROWS " == *" $1 "* ]]; }
if [ -n "${BENCH_ROWS:-}" ]; then
  BENCH_SKIP_DRIVER=${BENCH_SKIP_DRIVER:-1}
  row_wanted F || BENCH_SKIP_DEFLATE=${BENCH_SKIP_DEFLATE:-1}
  # The raw floor serves A-C only, the WebSocket floor A and B.
  row_wanted A || row_wanted B || row_wanted C || WANT=${WANT//raw/}
  row_wanted A || row_wanted B || WANT=${WANT//wsfloor/}
fi
# D's generator processes (wsx bench --threads): one per core it is given
# (BENCH_GEN_CPUS, default CPU 1 only, so 1).
GEN_THREADS=${BENCH_GEN_THREADS:-1}
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

declare -A R      # R[server,key] = median; R[server,cpu_key] = us/msg
declare -A S      # S[server,key] = the rounds' samples, space-separated
declare -A PID URL
SERVERS=()        # started, in column order

wanted() { [[ " $WANT " == *" $1 "* ]]; }

# up NAME KEYNAME CMD... : starts CMD (port appended) as server KEYNAME
# (NAME, or NAME:z for its deflate instance) and records it.
up() {
  local name=$1 key=$2 url_scheme=ws; shift 2
  local p
  p=$(free_port)
  [ "$name" = raw ] && url_scheme=tcp
  start_server "$key" "$@" "$p" || return 1
  PID[$key]=$SRV_PID
  URL[$key]="$url_scheme://127.0.0.1:$p/"
  [ "$url_scheme" = tcp ] && URL[$key]="tcp://127.0.0.1:$p"
  return 0
}

median() { # numbers on stdin -> median
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit;
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# run_gen SERVER KEY ARGS... : one load-generator run against SERVER's
# instance for KEY (z20 uses the deflate one); records a sample of the rate
# and of the server's CPU microseconds per message.
run_gen() {
  local srv=$1 key=$2; shift 2
  local inst=$srv t0 t1 line n rate g m
  [ "$key" = z20 ] && inst=$srv:z
  [ -n "${PID[$inst]:-}" ] || return 1
  t0=$(cpu_ticks "${PID[$inst]}")
  line=$("${PIN_GEN[@]}" "$WSX" bench "${URL[$inst]}" -d "$SECS" -q "$@") || {
    note "$srv $key: load generator failed"; return 1; }
  t1=$(cpu_ticks "${PID[$inst]}")
  rate=$(field msgs_per_sec "$line")
  [ "$key" = hs ] && rate=$(field handshakes_per_sec "$line")
  [ "$key" = hs ] && n=$(field handshakes "$line") || n=$(field msgs "$line")
  S[$srv,$key]+="$rate "
  g=$(field gen_cpu_pct "$line")
  [ -n "$g" ] && S[$srv,gen_$key]+="$g "
  # The generator's CPU per handshake: what one costs the client side.
  [ "$key" = hs ] && [ -n "$g" ] && awk -v r="$rate" 'BEGIN { exit !(r > 0) }' &&
    S[$srv,genus_hs]+="$(awk -v g="$g" -v r="$rate" 'BEGIN { printf "%.2f", g / 100 * 1e6 / r }') "
  m=$(field msgs_per_turn "$line") # echoes per turn of the generator's loop
  [ -n "$m" ] && S[$srv,mpt_$key]+="$m "
  local us=""
  if [ -n "$n" ] && [ "$n" -gt 0 ]; then
    us=$(awk -v d=$((t1 - t0)) -v t="$TICK" -v n="$n" \
      'BEGIN { printf "%.3f", d / t * 1e6 / n }')
    S[$srv,cpu_$key]+="$us "
  fi
  note "$srv $key: $line${us:+ server_cpu_us=$us}"
}

# idle_mem SERVER [INSTANCE KEY GEN_ARGS...] : bytes of server RSS per idle
# connection (fresh server) into R[SERVER,KEY] (default: the SERVER
# instance, key idle; F's is the deflate instance, key zidle, --deflate).
idle_mem() {
  local srv=$1 inst=${2:-$1} key=${3:-idle} before after gpid i
  local out="$OUT/idle.out" url
  shift $(($# < 3 ? $# : 3))
  local -a extra=("$@")
  url=${URL[$inst]}
  # Warm the code paths so the baseline is not mostly first-touch pages.
  "${PIN_GEN[@]}" "$WSX" bench "$url" -c 10 -d 0.5 -q "${extra[@]}" >/dev/null || return 1
  sleep 0.2
  before=$(rss_kb "${PID[$inst]}")
  : >"$out"
  # The generator holds the connections for the wait plus 3 s.
  "${PIN_GEN[@]}" "$WSX" bench "$url" --idle "$IDLE" \
    -d "$(awk -v w="$IDLE_WAIT" 'BEGIN { print w + 3 }')" -q "${extra[@]}" >"$out" &
  gpid=$!
  for i in $(seq 600); do
    grep -q idle_ready "$out" && break
    kill -0 "$gpid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q idle_ready "$out"; then
    note "$inst $key: connections did not all open"
    kill "$gpid" 2>/dev/null; wait "$gpid" 2>/dev/null
    return 1
  fi
  sleep 0.5
  local first
  first=$(rss_kb "${PID[$inst]}")
  R[$srv,${key}0]=$(( (first - before) * 1024 / IDLE ))
  # Idle for IDLE_WAIT in all (same for every server: fair).
  sleep "$(awk -v w="$IDLE_WAIT" 'BEGIN { w -= 0.5; print (w > 0 ? w : 0) }')"
  after=$(rss_kb "${PID[$inst]}")
  wait "$gpid"
  R[$srv,$key]=$(( (after - before) * 1024 / IDLE ))
  note "$inst $key: RSS ${before} kB -> ${first} kB 0.5 s after $IDLE connections opened -> ${after} kB after ${IDLE_WAIT} s"
}

if [ ! -x "$WSX" ] || ! "$WSX" bench --help >/dev/null 2>&1; then
  note "$WSX (with the bench command) not built: run make first"
  exit 1
fi

# ---- start every server -------------------------------------------------
for srv in raw wsfloor; do
  wanted "$srv" && bin=$(build_server "$srv") && up "$srv" "$srv" "$bin" && SERVERS+=("$srv")
done
if wanted wsx; then
  up wsx wsx "$WSX" echo --host 127.0.0.1 --quiet --port && SERVERS+=(wsx)
  row_wanted F && up wsx wsx:z "$WSX" echo --deflate -q --host 127.0.0.1 --port
fi
if wanted base && [ -n "${BENCH_WSX_BASE:-}" ]; then
  up base base "$BENCH_WSX_BASE" echo --host 127.0.0.1 --quiet --port && SERVERS+=(base)
  row_wanted F && up base base:z "$BENCH_WSX_BASE" echo --deflate -q --host 127.0.0.1 --port
fi
wanted lws && bin=$(build_server lws) && up lws lws "$bin" && SERVERS+=(lws)
if wanted ws; then
  if command -v node >/dev/null && node -e "require('ws')" 2>/dev/null; then
    up ws ws node "$ROOT/bench/servers/ws_echo.js" && SERVERS+=(ws)
    row_wanted F && up ws ws:z node "$ROOT/bench/servers/ws_echo_deflate.js"
  else
    note "Node ws skipped: node or the ws package (in $NODE_PATH) missing (scripts/install-deps.sh)"
  fi
fi
wanted wslay && bin=$(build_server wslay) && up wslay wslay "$bin" && SERVERS+=(wslay)
[ ${#SERVERS[@]} -gt 0 ] || { note "no server started"; exit 1; }

# What the kernel charges every server alike (bench/bench_syscall_cost.c,
# built with the bench programs), on the servers' CPU before the load
# starts: one system call, and one page touched after one (TLB refill).
KCOST=""
[ -x "$BUILD/bench/bench_syscall_cost" ] &&
  KCOST=$("${PIN_SRV[@]}" "$BUILD/bench/bench_syscall_cost")

# ---- E: idle memory, first, on each fresh WebSocket server ---------------
for srv in "${SERVERS[@]}"; do
  row_wanted E || break
  [ "$srv" = raw ] || [ "$srv" = wsfloor ] || idle_mem "$srv"
  # F's idle figure: an idle permessage-deflate connection (after the
  # handshake; the generator offers no client context takeover).
  [ -z "${PID[$srv:z]:-}" ] || idle_mem "$srv" "$srv:z" zidle --deflate
done

# ---- A-D, F: interleaved rounds ----------------------------------------
workload() { # SERVER KEY
  local srv=$1 key=$2 raw=()
  [ "$srv" = raw ] && raw=(--raw)
  case $key in
    t20) run_gen "$srv" t20 "${raw[@]}" -c 100 -s 20 --text ;;
    b16k) run_gen "$srv" b16k "${raw[@]}" -c 100 -s 16384 --binary ;;
    b1m) [ "$srv" = wsfloor ] || run_gen "$srv" b1m "${raw[@]}" -c 10 -s 1048576 --binary ;;
    hs) [ "$srv" = raw ] || [ "$srv" = wsfloor ] || run_gen "$srv" hs -c 50 --handshakes --threads "$GEN_THREADS" ;;
    z20) [ -n "${PID[$srv:z]:-}" ] && run_gen "$srv" z20 -c 100 -s 20 --deflate ;;
  esac
}
KEYS=""
for r in A:t20 B:b16k C:b1m D:hs F:z20; do
  row_wanted "${r%%:*}" && KEYS+="${r#*:} "
done
n=${#SERVERS[@]}
for ((rep = 0; rep < REPS; rep++)); do
  for key in $KEYS; do
    for ((i = 0; i < n; i++)); do
      workload "${SERVERS[(i + rep) % n]}" "$key"
    done
  done
done
for srv in "${SERVERS[@]}"; do
  for key in $KEYS; do
    for k in "$key" "cpu_$key" "gen_$key" "genus_$key" "mpt_$key"; do
      [ -n "${S[$srv,$k]:-}" ] && R[$srv,$k]=$(tr ' ' '\n' <<<"${S[$srv,$k]}" | grep . | median)
    done
  done
done

# ---- D: who limits -------------------------------------------------------
# For each server: the generator's CPU (% of one core, all its processes;
# at >= 90% per process it is the limit), the server's (its CPU per
# handshake x handshakes/s: at >= 90% of its core, the server is the
# limit), else neither (latency, or other load on the machine). When the
# generator limits every server but those the server's own CPU limits, the
# handshakes/s figures measure the generator, not the servers: then the
# server CPU per handshake (lower is better) decides the row, and the line
# says so.
who_limits_hs() {
  local s g c rate sp lim line="" best="" bestv="" any="" ncpu cap
  local idle=""
  # The generator's ceiling: its processes, at most one core each of the
  # CPUs it is pinned to.
  ncpu=$("${PIN_GEN[@]}" nproc 2>/dev/null || echo 1)
  cap=$((GEN_THREADS < ncpu ? GEN_THREADS : ncpu))
  for s in "${SERVERS[@]}"; do
    rate=${R[$s,hs]:-}
    [ -n "$rate" ] || continue
    any=1
    g=${R[$s,gen_hs]:-0} c=${R[$s,cpu_hs]:-0}
    sp=$(awk -v c="$c" -v r="$rate" 'BEGIN { printf "%.0f", c * r / 1e4 }')
    if awk -v g="$g" -v t="$cap" 'BEGIN { exit !(g >= 90 * t) }'; then
      lim=generator
    elif [ "$sp" -ge 90 ]; then
      lim=server
    else
      lim=neither idle+=" ${COL[$s]}"
    fi
    line+=" ${COL[$s]}: generator ${g}%, server ${sp}% -> $lim;"
    [ "$lim" = generator ] || continue
    if [ -z "$bestv" ] || awk -v c="$c" -v b="$bestv" 'BEGIN { exit !(c < b) }'; then
      best=$s bestv=$c
    fi
  done
  [ -n "$any" ] || return 0
  echo "who limits D (generator ceiling ${cap}00%):${line%;}"
  if [ -n "$idle" ]; then
    echo "D: neither the generator nor the server reached its CPU limit for$idle (other load on the machine, or latency): those handshakes/s do not compare; server CPU us/handshake does"
  elif [ -n "$best" ]; then
    echo "D decided by server CPU us/handshake (the generator limits every server not limited by its own CPU, so handshakes/s measure the generator): lowest ${COL[$best]} $bestv"
  else
    echo "D decided by handshakes/s (every server is limited by its own CPU)"
  fi
}

# who_limits_echo KEY ROW: for an echo row, each server's generator CPU and
# its own CPU (us/msg x msgs/s, in % of its core). Both near 100%: both
# ends are saturated, and the rate is as much the generator's as the
# server's. The server's CPU per message does not separate them either:
# it is the server's CPU share over the rate, so at 100% it is 1 / rate
# (measured 2026-12-06: generator and server each 10.2-11.4 us a 16 KiB
# message, within 1.5% of each other in 15 of 16 runs). What bounds any
# WebSocket server there is the ws floor's ratio in the same row.
# "N per turn": echoes the generator completed per turn of its loop (one
# epoll_wait each, about 1.1 us on this VM). Many: the two ends run batched;
# near 1: in lockstep, each end waking for each message, and the generator
# pays a system call per message more; 90-100 at a low rate: the server's
# side was slowed. docs/performance.md ("how far one round's rate holds")
# has rounds of each kind, the rate moving by up to 2x between them.
# limit_of SERVER KEY: sets LIM_G (the generator's CPU %, whole), LIM_SP
# (the server's: its CPU us/msg x msgs/s, in % of its core) and LIM (both,
# generator, server or neither: 90% or more of a core is a limit), from
# the medians of an echo row. Used by who_limits_echo and targets.
limit_of() {
  local rate=${R[$1,$2]:-0}
  LIM_G=$(awk -v g="${R[$1,gen_$2]:-0}" 'BEGIN { printf "%.0f", g }')
  LIM_SP=$(awk -v c="${R[$1,cpu_$2]:-0}" -v r="$rate" 'BEGIN { printf "%.0f", c * r / 1e4 }')
  if [ "$LIM_G" -ge 90 ]; then [ "$LIM_SP" -ge 90 ] && LIM=both || LIM=generator
  elif [ "$LIM_SP" -ge 90 ]; then LIM=server
  else LIM=neither; fi
}
who_limits_echo() {
  local key=$1 name=$2 s m line="" both=""
  for s in "${SERVERS[@]}"; do
    [ -n "${R[$s,$key]:-}" ] || continue
    m=${R[$s,mpt_$key]:-}
    limit_of "$s" "$key"
    [ "$LIM" = both ] && [ "$s" != raw ] && both+=" ${COL[$s]}"
    line+=" ${COL[$s]}: generator ${LIM_G}%${m:+ (${m} per turn)}, server ${LIM_SP}% -> $LIM;"
  done
  [ -n "$line" ] || return 0
  echo "who limits $name (ceilings 100%):${line%;}"
  # The ws floor runs in A and B only: name it as the bound where it ran.
  local fl=""
  [ -n "${R[wsfloor,$key]:-}" ] && fl="; the ws floor's ratio bounds what any WebSocket server can show"
  [ -n "$both" ] &&
    echo "$name: generator and server both saturated for$both: there the server CPU us/msg is about 1 / rate and says no more than the rate$fl"
  return 0
}

# ---- targets: issue 20's rows, each against this run's figures ------------
# One line a row: the target, wsx's figure, and "met", or "not met" with
# the figures that say why (A-C: who limits wsx and raw TCP; A, B: the
# WebSocket floor, the least any WebSocket server can do, against the same
# target; D: who limits). Peers are the other WebSocket servers in the
# run: not wsx(base), not the two floors (raw TCP and the ws floor).
rx() { # A B: "1.234" (median of the round ratios) or nothing
  local r
  r=$(pratio "${S[$1,$2]:-}" "${S[$3,$2]:-}")
  [ -n "$r" ] && awk -v r="$r" 'BEGIN { printf "%.3f", r }'
}
ge() { awk -v a="${1:-0}" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
# limits SERVER KEY: "generator G%, server S% -> both|generator|server|neither"
limits() {
  limit_of "$1" "$2"
  echo "generator ${LIM_G}%, server ${LIM_SP}% -> $LIM"
}
targets() {
  local k key row line t r f s ok
  has wsx || return 0
  for k in t20:A:0.98 b16k:B:0.98 b1m:C:0.90; do
    IFS=: read -r key row t <<<"$k"
    [ -n "${R[wsx,$key]:-}" ] && has raw || continue
    r=$(rx wsx "$key" raw)
    [ -n "$r" ] || continue
    ok=met
    if ! ge "$r" "$t"; then
      ok="not met"
      if has wsfloor && [ -n "${R[wsfloor,$key]:-}" ]; then
        f=$(rx wsfloor "$key" raw)
        [ -n "$f" ] && ! ge "$f" "$t" &&
          ok="$ok, beyond this machine in this run: the ws floor (the protocol's unavoidable work, nothing else) reached ${f}x; wsx / ws floor $(rx wsx "$key" wsfloor)x"
      fi
    fi
    line="target $row (>= ${t}x raw tcp): wsx ${r}x"
    if [ "$row" = A ]; then
      # The peers are the other WebSocket servers: raw TCP is the floor,
      # by construction the least any of them can do (its own target is
      # the rate ratio above). Like the rate ratios, the comparison pairs
      # the runs of one round (the median of wsx's CPU per message over
      # the peer's, round by round): the medians of the table's CPU rows
      # come from different rounds, and one round in a slow phase moves
      # them by more than the servers differ.
      local pr cmp="" beat=""
      for s in "${SERVERS[@]}"; do
        case $s in wsx | base | wsfloor | raw) continue ;; esac
        [ -n "${S[$s,cpu_$key]:-}" ] || continue
        pr=$(pratio "${S[wsx,cpu_$key]:-}" "${S[$s,cpu_$key]:-}")
        # A peer whose rounds do not pair with wsx's (a failed run) is not
        # taken as beaten.
        [ -n "$pr" ] || { cmp+=" ${COL[$s]} (rounds do not pair),"; beat+=" $s"; continue; }
        cmp+=" ${COL[$s]} $(awk -v r="$pr" 'BEGIN { printf "%.3f", r }')x,"
        ge "$pr" 1 && beat+=" $s"
      done
      [ -n "$cmp" ] || cmp=" none in this run,"
      line+="; server CPU us/msg lowest of the WebSocket peers: wsx / peer, median of the round ratios:${cmp%,}"
      if [ -n "$beat" ]; then
        [ "$ok" = met ] && ok="not met (CPU)" || ok+="; CPU not lowest"
        for s in $beat; do ok+="; ${COL[$s]}: $(limits "$s" "$key")"; done
      fi
    else
      line+="; server CPU us/msg wsx ${R[wsx,cpu_$key]:-}, raw tcp ${R[raw,cpu_$key]:-}"
    fi
    # Who limits wsx and raw TCP in this row, with the figures.
    [ "$ok" = met ] || ok+="; wsx: $(limits wsx "$key"); raw tcp: $(limits raw "$key")"
    echo "$line -> $ok"
  done
  if [ -n "${R[wsx,hs]:-}" ]; then
    local top=wsx tv=${R[wsx,hs]} low=wsx lcpu=${R[wsx,cpu_hs]:-} gl=1
    for s in "${SERVERS[@]}"; do
      case $s in wsx | base | wsfloor | raw) continue ;; esac
      [ -n "${R[$s,hs]:-}" ] || continue
      awk -v v="${R[$s,hs]}" -v b="$tv" 'BEGIN { exit !(v > b) }' && top=$s tv=${R[$s,hs]}
      awk -v v="${R[$s,cpu_hs]:-0}" -v b="$lcpu" 'BEGIN { exit !(v > 0 && v < b) }' && low=$s lcpu=${R[$s,cpu_hs]}
    done
    ge "${R[wsx,gen_hs]:-0}" $((90 * GEN_THREADS)) || gl=0
    if [ "$top" = wsx ]; then ok=met
    elif [ $gl = 1 ] && [ "$low" = wsx ]; then ok="met on server CPU us/handshake (the generator, at ${R[wsx,gen_hs]}%, limits the rate)"
    else ok="not met"; fi
    echo "target D (highest handshakes/s): wsx ${R[wsx,hs]}, highest ${COL[$top]} $tv; server CPU us/handshake wsx ${R[wsx,cpu_hs]:-}, lowest ${COL[$low]} $lcpu -> $ok"
  fi
  if [ -n "${R[wsx,idle]:-}" ]; then
    ge 256 "${R[wsx,idle]}" && ok=met || ok="not met"
    echo "target E (<= 256 bytes per idle connection): wsx ${R[wsx,idle]} -> $ok"
  fi
  if [ -n "${R[wsx,z20]:-}" ]; then
    ok=met
    for s in "${SERVERS[@]}"; do
      case $s in wsx | base) continue ;; esac
      [ -n "${R[$s,z20]:-}" ] || continue
      awk -v v="${R[$s,z20]}" -v w="${R[wsx,z20]}" 'BEGIN { exit !(v > w) }' && ok="not met (${COL[$s]} ${R[$s,z20]})"
    done
    [ -n "${R[wsx,zidle]:-}" ] && ! ge 2048 "${R[wsx,zidle]}" && ok="not met (idle)"
    echo "target F (deflate: >= every peer; idle <= 2048 bytes): wsx ${R[wsx,z20]} msgs/s, idle ${R[wsx,zidle]:-?} -> $ok"
  fi
  return 0
}

# ---- the table ----------------------------------------------------------
has() { local s; for s in "${SERVERS[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
floor_of() { case $1 in z20) echo t20 ;; hs | idle | idle0 | zidle | zidle0 | cpu_* | gen_* | genus_* | mpt_*) echo "" ;; *) echo "$1" ;; esac; }
# pratio A_SAMPLES B_SAMPLES: the median of the per-round ratios a_i / b_i
# (runs of one round are close in time, so a loaded machine shifts both),
# or nothing when the rounds do not pair up.
pratio() {
  local -a a b
  read -r -a a <<<"$1"
  read -r -a b <<<"$2"
  [ ${#a[@]} -gt 0 ] && [ ${#a[@]} = ${#b[@]} ] || return 0
  local i
  for ((i = 0; i < ${#a[@]}; i++)); do
    awk -v x="${a[i]}" -v y="${b[i]}" 'BEGIN { if (y > 0) printf "%.4f\n", x / y }'
  done | median
}
cell() { # SERVER KEY -> "value ratio-to-raw"
  local v=${R[$1,$2]:-} f r
  f=$(floor_of "$2")
  [ -z "$v" ] && { echo -; return; }
  if [ -n "$f" ] && [ -n "${R[raw,$f]:-}" ] && [ "$1" != raw ] &&
    awk -v b="${R[raw,$f]}" 'BEGIN { exit !(b > 0) }'; then
    r=$(pratio "${S[$1,$2]:-}" "${S[raw,$f]:-}")
    [ -n "$r" ] || r=$(awk -v a="$v" -v b="${R[raw,$f]}" 'BEGIN { printf "%.4f", a / b }')
    awk -v a="$v" -v r="$r" 'BEGIN { printf "%.0f %.2fx", a, r }'
  else
    awk -v a="$v" 'BEGIN { if (a == int(a) && a >= 100) printf "%d", a; else printf "%.2f", a }'
  fi
}
declare -A COL=([raw]="raw tcp" [wsfloor]="ws floor" [wsx]=wsx [base]="wsx(base)" [lws]=libwebsockets [ws]="ws(node)" [wslay]=wslay)
{
  echo "== echo servers: wsx bench on CPU 1, server on CPU 0, ${SECS}s per run, median of $REPS interleaved round(s), $(date -u '+%F %H:%M UTC') =="
  echo "   cells: median value, and for rates the median of the rounds' ratios to the raw TCP floor of the same workload (F: to A's floor)"
  [ -n "$KCOST" ] &&
    echo "   kernel, CPU 0: a system call $(field syscall_ns "$KCOST") ns, a page touched after one +$(field page_ns "$KCOST") ns; 16 KiB over loopback: write()+read() $(field rw_ns "$KCOST") ns (libuv's), send()+recv() $(field sr_ns "$KCOST") ns (wsx writes with send()) (bench/bench_syscall_cost.c)"
  printf '%-40s' ""
  for s in "${SERVERS[@]}"; do printf ' %16s' "${COL[$s]}"; done
  echo
  row() { # LABEL KEY (rows of workloads not run are left out)
    local s any=""
    for s in "${SERVERS[@]}"; do [ -n "${R[$s,$2]:-}" ] && any=1; done
    [ -n "$any" ] || return 0
    printf '%-40s' "$1"
    for s in "${SERVERS[@]}"; do printf ' %16s' "$(cell "$s" "$2")"; done
    echo
  }
  row "A msgs/s 100 x 20 B text" t20
  row "B msgs/s 100 x 16 KiB binary" b16k
  row "C msgs/s 10 x 1 MiB binary" b1m
  row "D handshakes/s (open, echo, close)" hs
  row "E bytes/idle conn, $IDLE open (lower)" idle
  row "E ... right after opening (0.5 s)" idle0
  row "F msgs/s 100 x 20 B permessage-deflate" z20
  row "F bytes/idle deflate conn (lower)" zidle
  row "F ... right after opening (0.5 s)" zidle0
  row "A server CPU us/msg (lower)" cpu_t20
  row "B server CPU us/msg (lower)" cpu_b16k
  row "C server CPU us/msg (lower)" cpu_b1m
  row "D server CPU us/handshake (lower)" cpu_hs
  row "F server CPU us/msg (lower)" cpu_z20
  # The generator's own CPU (% of one core, all its processes): near
  # 100 x BENCH_GEN_THREADS, the generator is what limits the row.
  row "A generator CPU % (limit ${GEN_THREADS}00)" gen_t20
  row "B generator CPU %" gen_b16k
  row "C generator CPU %" gen_b1m
  row "D generator CPU % ($GEN_THREADS proc)" gen_hs
  row "D generator CPU us/handshake (lower)" genus_hs
  # Before/after: wsx against another build of itself, round by round.
  if has base && has wsx; then
    printf '%-40s' "wsx / wsx(base), median of round ratios"
    for k in t20 b16k b1m hs z20 cpu_t20 cpu_b16k cpu_b1m cpu_hs cpu_z20; do
      r=$(pratio "${S[wsx,$k]:-}" "${S[base,$k]:-}")
      printf ' %s=%s' "$k" "$(awk -v r="${r:-0}" 'BEGIN { if (r > 0) printf "%.3f", r; else printf "-" }')"
    done
    echo " (rates: >1 = faster; cpu_*: <1 = less CPU)"
  fi
  # The load generator is not the bottleneck where raw TCP beats every server.
  if has raw; then
    for k in t20 b16k b1m; do
      best=0 who=""
      for s in "${SERVERS[@]}"; do
        [ "$s" = raw ] && continue
        v=${R[$s,$k]:-0}
        if awk -v v="$v" -v b="$best" 'BEGIN { exit !(v > b) }'; then best=$v who=$s; fi
      done
      [ -n "$who" ] || continue
      if awk -v r="${R[raw,$k]:-0}" -v b="$best" 'BEGIN { exit !(r > b) }'; then
        echo "generator check $k: raw tcp ${R[raw,$k]} > best websocket server ($who $best): ok"
      else
        echo "generator check $k: raw tcp ${R[raw,$k]:-0} <= $who $best: the generator may be the bottleneck"
      fi
    done
  fi
  # What the protocol itself costs: the WebSocket floor against raw TCP,
  # and wsx against the WebSocket floor (medians of the round ratios).
  if has wsfloor; then
    for k in t20 b16k; do
      [ -n "${R[wsfloor,$k]:-}" ] || continue
      a=$(pratio "${S[wsfloor,$k]:-}" "${S[raw,$k]:-}")
      b=$(pratio "${S[wsx,$k]:-}" "${S[wsfloor,$k]:-}")
      ca=${R[wsfloor,cpu_$k]:-} cr=${R[raw,cpu_$k]:-} cw=${R[wsx,cpu_$k]:-}
      printf 'protocol cost %s: ws floor %s raw tcp (server CPU us/msg %s vs %s); wsx %s ws floor (%s)\n' "$k" \
        "$(awk -v r="${a:-0}" 'BEGIN { if (r > 0) printf "%.3fx", r; else printf "-" }')" "${ca:--}" "${cr:--}" \
        "$(awk -v r="${b:-0}" 'BEGIN { if (r > 0) printf "%.3fx", r; else printf "-" }')" "${cw:--}"
    done
  fi
  who_limits_echo t20 A
  who_limits_echo b16k B
  who_limits_echo b1m C
  who_limits_hs
  targets
} | tee "$OUT/table.txt"

# The servers are done: stop them before the detail table starts its own.
cleanup
PIDS=()

# ---- permessage-deflate detail (issue 5): its own table --------------------
if [ "${BENCH_SKIP_DEFLATE:-0}" != 1 ] && [ -f "$ROOT/bench/deflate.sh" ]; then
  WSX_BIN=$WSX bash "$ROOT/bench/deflate.sh" || note "bench/deflate.sh failed"
fi
exit 0
