#!/usr/bin/env bash
# wss interop with real peers, both directions: Node `ws` (client with `ca`,
# and https.createServer + ws as server) and Python `websockets` (ssl
# contexts) against `wsx echo --tls-cert --tls-key` and
# `wsx connect wss://... --ca F`, plus the verification failures a wsx
# client must report (unknown CA, wrong name). Certificates are generated
# here with the openssl CLI into a temporary directory.
set -u
. "$(dirname "$0")/lib.sh"

FAILED=0
check() { # check NAME STATUS DETAIL
  if [ "$2" = 0 ]; then ok "$1"; else fail "$1" "$3"; FAILED=1; fi
}
PY=${WSX_PYTHON:-/usr/bin/python3}

if [ ! -x "$WSX_BIN" ]; then
  fail tls "$WSX_BIN not built"
  exit 1
fi
if ! command -v openssl >/dev/null; then
  fail tls "openssl CLI not found"
  exit 1
fi

# ---- certificates ----------------------------------------------------------
C=$TMP/certs
mkdir -p "$C"
gen_certs() (
  set -e
  cd "$C"
  K="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
  openssl req -x509 $K -keyout ca.key -out ca.pem -days 30 -subj "/CN=wsx interop CA"
  leaf() {
    openssl req -new $K -keyout $1.key -out $1.csr -subj "/CN=$2"
    printf 'subjectAltName=%s\n' "$3" >$1.ext
    openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -days 30 -extfile $1.ext -out $1.pem
  }
  leaf srv localhost "DNS:localhost,IP:127.0.0.1"
  leaf wrong wrong.example "DNS:wrong.example"
)
if ! gen_certs >"$TMP/gen.log" 2>&1; then
  fail tls_certs "openssl: $(tail -n 3 "$TMP/gen.log" | tr '\n' ' ')"
  exit 1
fi

# start_bg NAME LOGFILE CMD...: starts a server that prints "listening on"
# with its port; sets BG_PID and BG_PORT.
start_bg() {
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  BG_PID=$!
  STARTED+=("$BG_PID")
  if ! wait_for "$log" "listening on" 10 "$BG_PID"; then
    fail "$name" "did not start: $(tail -n 3 "$log" | tr '\n' ' ')"
    FAILED=1
    return 1
  fi
  # "listening on 4567" (Node, Python) or "listening on wss://H:4567/" (wsx)
  BG_PORT=$(grep -m 1 "listening on" "$log" | grep -o '[0-9][0-9]*/\{0,1\}$' | tr -d /)
  if [ -z "$BG_PORT" ]; then
    fail "$name" "no port in: $(head -n 1 "$log")"
    FAILED=1
    return 1
  fi
}

stop_bg() {
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# ---- wsx echo (wss) with Node and Python clients --------------------------
# --host localhost listens on every address localhost has (127.0.0.1, and
# ::1 where /etc/hosts says so, as Debian's does): Node 18 dials only the
# first one getaddrinfo returns, which is ::1 on Debian.
if start_bg wsx_echo_wss "$TMP/echo.log" "$WSX_BIN" echo --port 0 \
  --host localhost --tls-cert "$C/srv.pem" --tls-key "$C/srv.key"; then
  EP=$BG_PORT
  ECHO=$BG_PID
  grep -q "listening on wss://localhost:$EP/" "$TMP/echo.log"
  check wsx_echo_prints_wss $? "$(head -n 1 "$TMP/echo.log")"

  for host in 127.0.0.1 localhost; do
    out=$(timeout 15 node "$HERE/tls_node_client.js" "wss://$host:$EP/n" "$C/ca.pem" 2>&1)
    [ "$out" = ok ]
    check "node_client_to_wsx_echo_$host" $? "$out"
  done

  out=$(timeout 15 node "$HERE/tls_node_client.js" "wss://127.0.0.1:$EP/n" "" expect-fail 2>&1)
  case $out in
    *failed:*SELF_SIGNED*|*failed:*UNABLE_TO_GET_ISSUER*|*failed:*LOCAL_ISSUER*|*failed:*UNABLE_TO_VERIFY_LEAF*) st=0 ;;
    *) st=1 ;;
  esac
  check node_client_without_ca_rejects_wsx_cert $st "$out"

  out=$(timeout 15 "$PY" "$HERE/tls_py.py" client "wss://localhost:$EP/py" "$C/ca.pem" 2>&1)
  [ "$out" = ok ]
  check python_client_to_wsx_echo $? "$out"

  # A plain-text client at the TLS port is dropped; the server keeps going.
  printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 5 "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=4)
s.sendall(sys.stdin.buffer.read())
data = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
sys.exit(1 if b"HTTP/1.1" in data else 0)
' "$EP"
  check wsx_echo_drops_plaintext_client $? "got a plaintext HTTP answer or no close"
  out=$(timeout 15 node "$HERE/tls_node_client.js" "wss://127.0.0.1:$EP/n" "$C/ca.pem" 2>&1)
  [ "$out" = ok ]
  check wsx_echo_serves_after_garbage $? "$out"

  grep -q "^close [0-9]* 1000" "$TMP/echo.log"
  check wsx_echo_clean_closes $? "$(tr '\n' ' ' <"$TMP/echo.log" | head -c 300)"
  ! grep -q "^error" "$TMP/echo.log"
  check wsx_echo_no_errors $? "$(grep '^error' "$TMP/echo.log" | head -n 3 | tr '\n' ' ')"
  stop_bg "$ECHO"
fi

# ---- wsx connect against Node and Python wss servers ----------------------
# wsx_connect_to NAME PORT: a round trip with the CA, then failures.
wsx_connect_to() {
  local name=$1 port=$2 out st
  # stdin stays open a moment: `wsx connect` closes at EOF, and a server
  # (Python's) may not echo what arrives right before a close frame.
  out=$({ printf 'hello tls\nsecond line\n'; sleep 0.5; } |
    timeout 10 "$WSX_BIN" connect "wss://127.0.0.1:$port/" --ca "$C/ca.pem" 2>"$TMP/c.err")
  st=$?
  [ $st = 0 ] && [ "$out" = "$(printf 'hello tls\nsecond line')" ]
  check "wsx_connect_to_$name" $? "status $st, out '$out', err $(head -c 200 "$TMP/c.err")"

  out=$({ printf 'x\n'; sleep 0.5; } | timeout 10 "$WSX_BIN" connect "wss://localhost:$port/" --ca "$C/ca.pem" 2>&1)
  [ "$out" = x ]
  check "wsx_connect_to_${name}_by_name" $? "$out"

  printf 'x\n' | timeout 10 "$WSX_BIN" connect "wss://127.0.0.1:$port/" >/dev/null 2>"$TMP/c.err"
  st=$?
  [ $st = 1 ] && grep -q "certificate verify failed: unable to get local issuer certificate" "$TMP/c.err"
  check "wsx_connect_to_${name}_unknown_ca" $? "status $st: $(head -c 200 "$TMP/c.err")"

  out=$({ printf 'x\n'; sleep 0.5; } | timeout 10 "$WSX_BIN" connect "wss://127.0.0.1:$port/" --insecure 2>&1)
  [ "$out" = x ]
  check "wsx_connect_to_${name}_insecure" $? "$out"
}

if start_bg node_wss_server "$TMP/node.log" node "$HERE/tls_node_server.js" \
  "$C/srv.pem" "$C/srv.key"; then
  NODE=$BG_PID
  wsx_connect_to node_server "$BG_PORT"
  grep -q "^alpn http/1.1" "$TMP/node.log"
  check node_server_saw_alpn_http11 $? "$(tr '\n' ' ' <"$TMP/node.log")"
  grep -q "^close 1000" "$TMP/node.log"
  check node_server_saw_close_1000 $? "$(tr '\n' ' ' <"$TMP/node.log")"
  stop_bg "$NODE"
fi

if start_bg node_wss_server_wrong_name "$TMP/node2.log" node \
  "$HERE/tls_node_server.js" "$C/wrong.pem" "$C/wrong.key"; then
  NODE=$BG_PID
  printf 'x\n' | timeout 10 "$WSX_BIN" connect "wss://localhost:$BG_PORT/" --ca "$C/ca.pem" >/dev/null 2>"$TMP/c.err"
  st=$?
  [ $st = 1 ] && grep -q "certificate verify failed: hostname mismatch" "$TMP/c.err"
  check wsx_connect_wrong_name "$?" "status $st: $(head -c 200 "$TMP/c.err")"
  stop_bg "$NODE"
fi

if start_bg python_wss_server "$TMP/py.log" "$PY" "$HERE/tls_py.py" server \
  "$C/srv.pem" "$C/srv.key"; then
  PYS=$BG_PID
  wsx_connect_to python_server "$BG_PORT"
  grep -q "^close 1000" "$TMP/py.log"
  check python_server_saw_close_1000 $? "$(tr '\n' ' ' <"$TMP/py.log")"
  stop_bg "$PYS"
fi

exit $FAILED
