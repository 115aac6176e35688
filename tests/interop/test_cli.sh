#!/usr/bin/env bash
# The `wsx` CLI itself: argument errors (exit 2), a port in use (exit 1),
# `wsx echo` + `wsx connect` round trips through a pipe and a file (text,
# UTF-8, binary, long lines, --protocol, --header), max-length, connection
# failures, server-initiated closes and graceful shutdown on SIGTERM.
set -u
. "$(dirname "$0")/lib.sh"

FAILED=0
check() { # check NAME CONDITION-STATUS DETAIL
  if [ "$2" = 0 ]; then ok "$1"; else fail "$1" "$3"; FAILED=1; fi
}

if [ ! -x "$WSX_BIN" ]; then
  fail cli "$WSX_BIN not built"
  exit 1
fi

# expect_usage NAME EXPECTED-STDERR-TEXT ARGS...: exit 2, message + hint.
expect_usage() {
  local name=$1 want=$2
  shift 2
  "$WSX_BIN" "$@" </dev/null >"$TMP/u.out" 2>"$TMP/u.err"
  local st=$?
  if [ $st = 2 ] && grep -qF -- "$want" "$TMP/u.err" &&
    grep -q "Try 'wsx" "$TMP/u.err"; then
    ok "$name"
  else
    fail "$name" "status $st, stderr: $(head -c 300 "$TMP/u.err" | tr '\n' ' ')"
    FAILED=1
  fi
}

# ---- global --------------------------------------------------------------
"$WSX_BIN" >/dev/null 2>"$TMP/noargs.err"
st=$?
[ $st = 2 ] && grep -q "usage: wsx" "$TMP/noargs.err"
check no_args_usage_exit_2 $? "status $st"
expect_usage unknown_command "unknown command 'frobnicate'" frobnicate
expect_usage unknown_global_option "unknown option '--frob'" --frob
out=$("$WSX_BIN" --help)
st=$?
[ $st = 0 ] && grep -q "echo" <<<"$out" && grep -q "connect" <<<"$out" &&
  grep -q "autobahn-client" <<<"$out"
check help_lists_commands $? "status $st"
out=$("$WSX_BIN" --version)
[ $? = 0 ] && grep -q "^wsx [0-9]" <<<"$out"
check version $? "got '$out'"
out=$("$WSX_BIN" connect --help)
[ $? = 0 ] && grep -q "1000" <<<"$out" && grep -q "1005" <<<"$out"
check connect_help_documents_exit_codes $? "got '$(head -c 200 <<<"$out")'"

# ---- echo arguments ------------------------------------------------------
expect_usage echo_unknown_option "unknown option '--bogus'" echo --port 0 --bogus
expect_usage echo_missing_value "'--port' needs a value" echo --port
expect_usage echo_bad_port_range "bad port '70000'" echo --port 70000
expect_usage echo_bad_port_text "bad port 'http'" echo --port http
expect_usage echo_bad_port_sign "bad port '-1'" echo --port=-1
expect_usage echo_missing_port "missing --port" echo --host 127.0.0.1
expect_usage echo_bad_host "bad host 'localhost:80'" echo --port 0 --host localhost:80
expect_usage echo_bad_max_length "bad value 'lots'" echo --port 0 --max-length lots
expect_usage echo_zero_max_length "--max-length must be" echo --port 0 --max-length 0
expect_usage echo_flag_with_value "takes no value" echo --port 0 --quiet=yes

# ---- connect / autobahn-client arguments -------------------------------
expect_usage connect_missing_url "missing URL" connect
expect_usage connect_bad_url "bad URL 'http://127.0.0.1:1/'" connect http://127.0.0.1:1/
expect_usage connect_bad_url_garbage "bad URL 'not a url'" connect 'not a url'
expect_usage connect_unknown_option "unknown option '--nope'" connect ws://127.0.0.1:1/ --nope
expect_usage connect_bad_header "bad --header 'NoColon'" connect ws://127.0.0.1:1/ --header NoColon
expect_usage connect_header_crlf "bad --header" connect ws://127.0.0.1:1/ --header "$(printf 'X-A: b\r\nX-Evil: 1')"
expect_usage connect_missing_protocol_value "'--protocol' needs a value" connect ws://127.0.0.1:1/ --protocol
expect_usage autobahn_missing_agent "missing AGENT" autobahn-client ws://127.0.0.1:9001
expect_usage autobahn_bad_url "bad URL 'http://x'" autobahn-client http://x agent

# ---- a server to talk to ----------------------------------------------------
if ! start_wsx_echo; then
  fail cli_echo_start "$ECHO_ERR"
  exit 1
fi
URL="ws://127.0.0.1:$ECHO_PORT"
grep -qx "listening on ws://127.0.0.1:$ECHO_PORT/" "$ECHO_LOG"
check echo_listening_line $? "$(head -n 1 "$ECHO_LOG")"

# ---- port in use ---------------------------------------------------------
timeout 10 "$WSX_BIN" echo --port "$ECHO_PORT" --host 127.0.0.1 >"$TMP/inuse.out" 2>"$TMP/inuse.err"
st=$?
[ $st = 1 ] && grep -qx "wsx echo: cannot listen on 127.0.0.1:$ECHO_PORT: address already in use" "$TMP/inuse.err"
check echo_port_in_use_exit_1 $? "status $st, stderr: $(cat "$TMP/inuse.err")"

# ---- a host name listens on every address it resolves to ----------------------
# A client dialing localhost may try any of its addresses first (Node 18
# tries only the first; on Debian that is ::1): each must answer.
# every_address_answers NAME PORT: connects to each address of NAME.
every_address_answers() {
  python3 - "$1" "$2" <<'PY'
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
addrs = sorted({ai[4][:2] for ai in socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)})
for a in addrs:
    fam = socket.AF_INET6 if ":" in a[0] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(a)
    except OSError as e:
        print("%s:%d refused: %s" % (a[0], a[1], e))
        sys.exit(1)
    s.close()
print(" ".join(a[0] for a in addrs))
PY
}
for cmd in "echo --port 0 --host localhost" "serve --port 0"; do
  name="${cmd%% *}_localhost"
  [ "$cmd" = "serve --port 0" ] && name=serve_default_localhost
  "$WSX_BIN" $cmd >"$TMP/$name.log" 2>&1 &
  pid=$!
  STARTED+=("$pid")
  if wait_for "$TMP/$name.log" "listening on" 10 "$pid"; then
    line=$(head -n 1 "$TMP/$name.log")
    port=$(sed -n 's|^listening on [a-z]*://localhost:\([0-9]*\)/$|\1|p' <<<"$line")
    if [ -n "$port" ]; then
      out=$(every_address_answers localhost "$port" 2>&1)
      check "${name}_every_address" $? "$out"
    else
      fail "${name}_every_address" "listening line names no localhost port: $line"
      FAILED=1
    fi
  else
    fail "${name}_every_address" "did not start: $(head -c 300 "$TMP/$name.log")"
    FAILED=1
  fi
  kill "$pid" 2>/dev/null
done
expect_usage echo_bad_host_name "bad host 'a..b'" echo --port 0 --host a..b
timeout 30 "$WSX_BIN" echo --port 0 --host no-such-host.invalid >"$TMP/nx.out" 2>"$TMP/nx.err"
st=$?
[ $st = 1 ] && grep -q "wsx echo: cannot resolve 'no-such-host.invalid'" "$TMP/nx.err"
check echo_unresolvable_host_exit_1 $? "status $st, stderr: $(cat "$TMP/nx.err")"

# ---- round trips ---------------------------------------------------------
# connect_run NAME ARGS...: stdin from $TMP/in, out/err/status in $TMP/NAME.*
connect_run() {
  local name=$1
  shift
  timeout 20 "$WSX_BIN" connect "$@" <"$TMP/in" >"$TMP/$name.out" 2>"$TMP/$name.err"
  echo $? >"$TMP/$name.st"
}

printf 'first line\nh\xc3\xa9llo \xe2\x82\xac\n\nlast line without newline' >"$TMP/in"
# Through a pipe, keeping stdin open a moment so the echoes arrive first.
(cat "$TMP/in"; sleep 0.5) | timeout 20 "$WSX_BIN" connect "$URL/pipe?q=1" --protocol chat --protocol other >"$TMP/pipe.out" 2>"$TMP/pipe.err"
st=$?
cmp -s <(cat "$TMP/in"; echo) "$TMP/pipe.out"
check connect_pipe_text_round_trip $? "status $st, got: $(head -c 200 "$TMP/pipe.out" | od -c | head -n 3)"
[ $st = 0 ]
check connect_exit_0_after_eof $? "status $st: $(cat "$TMP/pipe.err")"
wait_for "$ECHO_LOG" "^open [0-9]* 127.0.0.1:[0-9]* /pipe chat$" 5
check echo_open_line_path_and_first_protocol $? "$(grep '^open' "$ECHO_LOG" | tail -n 1)"
id=$(sed -n 's#^open \([0-9]*\) .* /pipe chat$#\1#p' "$ECHO_LOG" | head -n 1)
wait_for "$ECHO_LOG" "^close $id 1000$" 5
check echo_close_line $? "$(grep '^close' "$ECHO_LOG" | tail -n 2 | tr '\n' ' ')"

# Regular file on stdin (read without a pipe), EOF at once: every echo must
# still arrive before the close handshake completes.
connect_run file "$URL/file"
cmp -s <(cat "$TMP/in"; echo) "$TMP/file.out" && [ "$(cat "$TMP/file.st")" = 0 ]
check connect_file_stdin_round_trip $? "status $(cat "$TMP/file.st"): $(head -c 200 "$TMP/file.out" "$TMP/file.err")"

printf 'abc\nxyz\x01\xff\n' >"$TMP/in"
connect_run bin "$URL/bin" --binary
cmp -s "$TMP/in" "$TMP/bin.out" && [ "$(cat "$TMP/bin.st")" = 0 ]
check connect_binary_round_trip $? "status $(cat "$TMP/bin.st"): $(od -c "$TMP/bin.out" | head -n 3)"

printf 'ok\n\xff\xfe\nafter\n' >"$TMP/in"
connect_run badutf8 "$URL/"
[ "$(cat "$TMP/badutf8.out")" = "$(printf 'ok\nafter')" ] && grep -q "line 2 is not valid UTF-8" "$TMP/badutf8.err"
check connect_text_refuses_invalid_utf8_line $? "$(head -c 200 "$TMP/badutf8.out" "$TMP/badutf8.err")"

head -c 300000 /dev/zero | tr '\0' 'a' >"$TMP/in"
printf '\nshort\n' >>"$TMP/in"
connect_run long "$URL/"
cmp -s "$TMP/in" "$TMP/long.out"
check connect_long_line_round_trip $? "status $(cat "$TMP/long.st"), $(wc -c <"$TMP/long.out") bytes back"

# --header reaches the server: a one-shot TCP listener records the request
# head and answers 403, which must also fail the client with exit 1.
HPORT=$(free_port)
python3 - "$HPORT" "$TMP/head.txt" >"$TMP/hsrv.log" 2>&1 <<'EOF' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(15)
print("ready", flush=True)
c, _ = s.accept(); c.settimeout(5); head = b""
while b"\r\n\r\n" not in head:
    d = c.recv(4096)
    if not d: break
    head += d
open(sys.argv[2], "wb").write(head)
c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
c.close()
EOF
HSRV=$!
STARTED+=($HSRV)
wait_for "$TMP/hsrv.log" ready 10 $HSRV
printf 'x\n' >"$TMP/in"
connect_run hdr "ws://127.0.0.1:$HPORT/h" --header 'X-Wsx-Test: 42' --header 'X-Other:  spaced value' --origin http://example.test --protocol p1
tr -d '\r' <"$TMP/head.txt" >"$TMP/head.lf" 2>/dev/null
grep -qx "X-Wsx-Test: 42" "$TMP/head.lf" && grep -qx "X-Other: spaced value" "$TMP/head.lf" &&
  grep -qix "Origin: http://example.test" "$TMP/head.lf" && grep -qix "Sec-WebSocket-Protocol: p1" "$TMP/head.lf"
check connect_header_origin_protocol_sent $? "request head: $(head -c 400 "$TMP/head.lf" | tr '\n' '|')"
[ "$(cat "$TMP/hdr.st")" = 1 ] && grep -q "cannot connect" "$TMP/hdr.err" && grep -q "403" "$TMP/hdr.err"
check connect_http_403_exit_1 $? "status $(cat "$TMP/hdr.st"): $(cat "$TMP/hdr.err")"

# Nothing listening.
DEAD=$(free_port)
connect_run refused "ws://127.0.0.1:$DEAD/"
[ "$(cat "$TMP/refused.st")" = 1 ] && grep -q "cannot connect" "$TMP/refused.err"
check connect_refused_exit_1 $? "status $(cat "$TMP/refused.st"): $(cat "$TMP/refused.err")"

# ---- max-length: the server closes with 1009; the client reports it ------
P2=$(free_port)
"$WSX_BIN" echo --port "$P2" --host 127.0.0.1 --max-length 10 >"$TMP/small.log" 2>&1 &
SMALL_PID=$!
STARTED+=($SMALL_PID)
if wait_for "$TMP/small.log" "listening on" 10 $SMALL_PID; then
  (printf 'short\n0123456789ABCDEF\n'; sleep 3) | timeout 20 "$WSX_BIN" connect "ws://127.0.0.1:$P2/" >"$TMP/small.out" 2>"$TMP/small.err"
  st=$?
  [ $st = 1 ] && grep -q "^closed 1009" "$TMP/small.err" && grep -qx short "$TMP/small.out"
  check connect_server_close_1009_exit_1 $? "status $st: $(cat "$TMP/small.err")"
  wait_for "$TMP/small.log" "^close [0-9]* 1009" 5 && grep -q "^error [0-9]* " "$TMP/small.log"
  check echo_max_length_error_and_close_lines $? "$(tail -n 3 "$TMP/small.log" | tr '\n' '|')"
else
  fail echo_max_length "server did not start: $(cat "$TMP/small.log")"
  FAILED=1
fi

# ---- with Node ws (optional): autobahn-client against a fake fuzzingserver,
# and a server-initiated close with an application code.
if need_node_module ws; then
  node - >"$TMP/fz.log" 2>&1 <<'EOF' &
// A miniature Autobahn fuzzingserver: 3 cases, each sending text, binary
// and a 70 KB * N text message that must come back unchanged; path /bye
// closes at once with 4000 "bye".
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
const seen = [];
wss.on('connection', (ws, req) => {
  const u = new URL(req.url, 'http://x');
  seen.push(u.pathname + u.search);
  if (u.pathname === '/bye') { ws.close(4000, 'bye'); return; }
  if (u.pathname === '/getCaseCount') { ws.send('3'); ws.close(1000); return; }
  if (u.pathname === '/updateReports') {
    console.log('report ' + JSON.stringify(seen)); ws.close(1000); return;
  }
  const n = +u.searchParams.get('case');
  const msgs = [['text ' + n, false], [Buffer.from([0, 1, 0xff, n]), true],
                ['x'.repeat(70000 * n), false]];
  let got = 0;
  ws.on('message', (d, bin) => {
    const [m, b] = msgs[got++];
    const same = bin === b && Buffer.compare(Buffer.from(d), Buffer.from(m)) === 0;
    console.log(`case ${n} echo ${got} ${same ? 'same' : 'DIFFERENT'}`);
    if (got === msgs.length) ws.close(1000);
  });
  for (const [m, b] of msgs) ws.send(m, { binary: b });
});
wss.on('listening', () => console.log('listening on ' + wss.address().port));
EOF
  FZ=$!
  STARTED+=($FZ)
  if wait_for "$TMP/fz.log" "listening on" 10 $FZ; then
    FP=$(sed -n 's/^listening on //p' "$TMP/fz.log")
    timeout 30 "$WSX_BIN" autobahn-client "ws://127.0.0.1:$FP/" "wsx cli" >"$TMP/ab.out" 2>"$TMP/ab.err"
    st=$?
    wait_for "$TMP/fz.log" "^report" 5
    [ $st = 0 ] && [ "$(grep -c ' same$' "$TMP/fz.log")" = 9 ] && ! grep -q DIFFERENT "$TMP/fz.log" &&
      grep -qF 'report ["/getCaseCount","/runCase?case=1&agent=wsx%20cli","/runCase?case=2&agent=wsx%20cli","/runCase?case=3&agent=wsx%20cli","/updateReports?agent=wsx%20cli"]' "$TMP/fz.log"
    check autobahn_client_protocol $? "status $st: $(tr '\n' '|' <"$TMP/fz.log" | head -c 400) $(cat "$TMP/ab.err")"
    (sleep 3) | timeout 10 "$WSX_BIN" connect "ws://127.0.0.1:$FP/bye" >"$TMP/bye.out" 2>"$TMP/bye.err"
    st=$?
    [ $st = 1 ] && grep -qx "closed 4000 bye" "$TMP/bye.err"
    check connect_server_close_4000_exit_1 $? "status $st: $(cat "$TMP/bye.err")"
  else
    fail autobahn_client_protocol "node server did not start: $(cat "$TMP/fz.log")"
    FAILED=1
  fi
else
  ok "autobahn_client_protocol # skipped: $NODE_ERR"
fi

# ---- wsx bench: --threads shares the connections out over processes and
# sums them; every result line says how much CPU the generator used --------
out=$(timeout 20 "$WSX_BIN" bench "$URL/" -c 4 -s 100000 --binary -d 0.5 -q 2>&1)
grep -Eq '^msgs_per_sec=[1-9][0-9]* .* msgs=[1-9][0-9]* loop_turns=[1-9][0-9]* msgs_per_turn=[0-9]+[.][0-9] threads=1 gen_cpu_pct=[0-9]+$' <<<"$out"
check bench_reports_generator_cpu $? "$out"
# msgs_per_turn: echoes completed per turn of the generator's loop. One
# connection has one message in flight, so a turn completes at most one
# (and only the timers turn the loop without completing one).
out=$(timeout 20 "$WSX_BIN" bench "$URL/" -c 1 -d 0.5 -q 2>&1)
mpt=$(sed -n 's/.* msgs_per_turn=\([0-9.]*\) .*/\1/p' <<<"$out")
[ -n "$mpt" ] && awk -v m="$mpt" 'BEGIN { exit !(m > 0.5 && m <= 1.0) }'
check bench_one_conn_at_most_one_per_turn $? "$out"
# --threads sums the workers' turns and their echoes in the window (not
# msgs=, which counts from the first connect): msgs_per_turn is then
# msgs_per_sec x seconds / loop_turns (within the rounding of each
# worker's seconds and per-turn figure), and the window's echoes are at
# most msgs= (within that rounding: each worker's msgs_per_turn and the
# sum's are printed to 0.1, so up to 0.1 x turns over, and each worker's
# window to 0.01 s: 1%).
out=$(timeout 20 "$WSX_BIN" bench "$URL/" -c 8 -d 0.5 -q --threads 2 2>&1)
read -r r sec n t mpt < <(sed -n 's/^msgs_per_sec=\([0-9]*\) .* seconds=\([0-9.]*\) msgs=\([0-9]*\) loop_turns=\([0-9]*\) msgs_per_turn=\([0-9.]*\) threads=2 .*/\1 \2 \3 \4 \5/p' <<<"$out")
[ -n "${mpt:-}" ] && [ "$t" -gt 0 ] &&
  awk -v r="$r" -v s="$sec" -v n="$n" -v t="$t" -v m="$mpt" 'BEGIN {
    w = r * s / t; d = w - m; if (d < 0) d = -d
    exit !(m > 0 && d <= 0.05 * w + 0.1 && (m - 0.1) * t <= 1.01 * n) }'
check bench_threads_sum_turns $? "$out"
# --rate R holds R messages a second over all the connections, also above
# 100 per connection (a pacer that sent only on its 10 ms ticks stopped
# there: 400/s here), and no more: a functional bound, far below what
# loopback echoes.
rbad=""
for want in 2000 200; do
  out=$(timeout 20 "$WSX_BIN" bench "$URL/" -c 4 --rate $want -d 1 -q 2>&1)
  r=$(sed -n 's/^msgs_per_sec=\([0-9]*\) .*/\1/p' <<<"$out")
  [ -n "$r" ] && awk -v r="$r" -v w="$want" 'BEGIN { exit !(r >= 0.85 * w && r <= 1.03 * w) }' ||
    rbad="$rbad [--rate $want: $out]"
done
[ -z "$rbad" ]
check bench_rate_holds $? "$rbad"
out=$(timeout 20 "$WSX_BIN" bench "$URL/" -c 4 --handshakes -d 0.5 -q --threads 2 2>&1)
grep -Eq '^handshakes_per_sec=[1-9][0-9]* conns=4 .* handshakes=[1-9][0-9]* .* threads=2 gen_cpu_pct=[0-9]+$' <<<"$out"
check bench_threads_sum $? "$out"
# Handshake mode dials with its own non-blocking connect() and writes the
# request at once: per connection no SO_ERROR query and two epoll_ctl calls
# (add for reading, delete at close), not four (strace counts them).
if command -v strace >/dev/null; then
  timeout 30 strace -f -c -o "$TMP/bs.trace" "$WSX_BIN" bench "$URL/" -c 4 \
    --handshakes -d 0.5 -q >"$TMP/bs.out" 2>&1
  # strace -c: "% time  seconds  usecs/call  calls  [errors]  syscall"
  calls() { awk -v n="$1" '$NF == n { c = $4 } END { print c + 0 }' "$TMP/bs.trace"; }
  nc=$(calls connect) ne=$(calls epoll_ctl) ng=$(calls getsockopt)
  [ "$nc" -gt 10 ] && [ "$ng" = 0 ] && [ $((ne * 10)) -le $((nc * 22)) ]
  check bench_dial_syscalls $? "connect=$nc epoll_ctl=$ne getsockopt=$ng: $(cat "$TMP/bs.out")"
else
  ok "bench_dial_syscalls # skipped: strace not installed (scripts/install-deps.sh)"
fi
"$WSX_BIN" bench "$URL/" --threads 0 >/dev/null 2>"$TMP/bt.err"
st=$?
[ $st = 2 ] && grep -qF -- "'--threads' needs a valid value" "$TMP/bt.err"
check bench_bad_threads $? "status $st: $(cat "$TMP/bt.err")"
# The two real-valued options: (0, 86400] seconds and (0, 1e9] msgs/s.
bad=""
for a in "-d 0" "-d x" "-d 90000" "--rate -1" "--rate abc" "--rate 1e10"; do
  # shellcheck disable=SC2086 # the option and its value are two words
  "$WSX_BIN" bench "$URL/" $a >/dev/null 2>"$TMP/bt.err"
  st=$?
  [ $st = 2 ] && grep -qF -- "'${a%% *}' needs a valid value" "$TMP/bt.err" ||
    bad="$bad [$a: status $st: $(cat "$TMP/bt.err")]"
done
[ -z "$bad" ]
check bench_bad_reals $? "$bad"

# ---- graceful shutdown: SIGTERM closes clients with 1001, exit 0 ----------
(sleep 30) | timeout 20 "$WSX_BIN" connect "$URL/held" >"$TMP/held.out" 2>"$TMP/held.err" &
HELD=$!
if wait_for "$ECHO_LOG" " /held -$" 10; then
  kill -TERM "$ECHO_PID"
  timeout 10 tail --pid="$ECHO_PID" -f /dev/null
  wait "$ECHO_PID"
  st=$?
  [ $st = 0 ]
  check echo_sigterm_exit_0 $? "status $st"
  wait "$HELD"
  st=$?
  [ $st = 0 ] && grep -q "^closed 1001" "$TMP/held.err"
  check connect_server_going_away_exit_0 $? "status $st: $(cat "$TMP/held.err")"
  grep -q "^close [0-9]* 1001" "$ECHO_LOG"
  check echo_shutdown_close_lines $? "$(tail -n 2 "$ECHO_LOG" | tr '\n' '|')"
else
  fail echo_sigterm "held client did not connect: $(cat "$TMP/held.err")"
  FAILED=1
fi

exit $FAILED
