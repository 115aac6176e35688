#!/usr/bin/env bash
# `wsx connect --proxy` through a real tinyproxy (Debian) started here on a
# free loopback port, in front of `wsx echo`: without and with Basic auth,
# a wrong password and missing credentials (refused with the proxy's status),
# a port the proxy does not allow (403), and two fake proxies (python): one
# that answers garbage and one that closes the connection. https:// proxies:
# tinyproxy (Basic auth) behind a python TLS front with a test CA (openssl
# CLI), for ws:// and for wss:// (TLS to the origin inside TLS to the
# proxy), with --proxy-ca, without it (unknown CA), and --proxy-insecure.
set -u
. "$(dirname "$0")/lib.sh"

TINYPROXY=${WSX_TINYPROXY:-/usr/bin/tinyproxy}
FAILED=0
check() { # check NAME CONDITION-STATUS DETAIL
  if [ "$2" = 0 ]; then ok "$1"; else fail "$1" "$3"; FAILED=1; fi
}

if [ ! -x "$TINYPROXY" ]; then
  fail proxy "tinyproxy not installed (scripts/install-deps.sh)"
  exit 1
fi
if [ ! -x "$WSX_BIN" ]; then
  fail proxy "$WSX_BIN not built"
  exit 1
fi
if ! "$WSX_BIN" connect --help | grep -q -- "--proxy"; then
  fail proxy "wsx connect has no --proxy option"
  exit 1
fi
if ! start_wsx_echo; then
  fail proxy "$ECHO_ERR"
  exit 1
fi

# start_tinyproxy NAME "CONNECT-PORT..." [BASICAUTH]: sets TP_PORT, TP_LOG.
start_tinyproxy() {
  local name=$1 cport=$2 auth=${3:-} try p
  TP_LOG=$TMP/$name.log
  for try in 1 2 3; do
    TP_PORT=$(free_port)
    {
      echo "Port $TP_PORT"
      echo "Listen 127.0.0.1"
      echo "Allow 127.0.0.1"
      echo "Timeout 10"
      echo "MaxClients 16"
      echo "LogLevel Connect"
      for p in $cport; do echo "ConnectPort $p"; done
      [ -n "$auth" ] && echo "BasicAuth $auth"
    } >"$TMP/$name.conf"
    "$TINYPROXY" -d -c "$TMP/$name.conf" >"$TP_LOG" 2>&1 &
    local pid=$!
    STARTED+=("$pid")
    # tinyproxy logs nothing when a port is free: poll the port itself.
    local i
    for i in $(seq 50); do
      if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$TP_PORT),1)" 2>/dev/null; then
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$pid" 2>/dev/null
  done
  return 1
}

# via NAME PROXY-URL: one line through `wsx connect --proxy`.
via() {
  local name=$1 purl=$2
  (printf 'through the proxy\n'; sleep 0.3) |
    timeout 20 "$WSX_BIN" connect "ws://127.0.0.1:$ECHO_PORT/$name" --proxy "$purl" \
      >"$TMP/$name.out" 2>"$TMP/$name.err"
  echo $? >"$TMP/$name.st"
}

# ---- tinyproxy, no auth ----------------------------------------------------
if start_tinyproxy open "$ECHO_PORT"; then
  via plain "http://127.0.0.1:$TP_PORT"
  [ "$(cat "$TMP/plain.st")" = 0 ] && [ "$(cat "$TMP/plain.out")" = "through the proxy" ] &&
    grep -q "CONNECT 127.0.0.1:$ECHO_PORT" "$TP_LOG"
  check proxy_round_trip $? "status $(cat "$TMP/plain.st"): $(cat "$TMP/plain.out" "$TMP/plain.err")"

  # The proxy only allows CONNECT to the echo port.
  printf 'x\n' | timeout 20 "$WSX_BIN" connect "ws://127.0.0.1:$((ECHO_PORT == 65535 ? 1 : ECHO_PORT + 1))/" \
    --proxy "http://127.0.0.1:$TP_PORT" >"$TMP/forbidden.out" 2>"$TMP/forbidden.err"
  st=$?
  [ $st = 1 ] && grep -q "proxy refused CONNECT" "$TMP/forbidden.err" && grep -q "403" "$TMP/forbidden.err"
  check proxy_forbidden_port_403 $? "status $st: $(cat "$TMP/forbidden.err")"

  # --proxy-env: http_proxy without a scheme, and no_proxy bypassing it.
  (printf 'env\n'; sleep 0.3) | http_proxy="127.0.0.1:$TP_PORT" no_proxy="" \
    timeout 20 "$WSX_BIN" connect "ws://127.0.0.1:$ECHO_PORT/envpath" --proxy-env >"$TMP/env.out" 2>"$TMP/env.err"
  st=$?
  [ $st = 0 ] && [ "$(cat "$TMP/env.out")" = env ] && grep -q "/envpath" "$ECHO_LOG"
  check proxy_env_round_trip $? "status $st: $(cat "$TMP/env.err")"
  DEAD=$(free_port)
  (printf 'direct\n'; sleep 0.3) | http_proxy="http://127.0.0.1:$DEAD" no_proxy="localhost,127.0.0.1" \
    timeout 20 "$WSX_BIN" connect "ws://127.0.0.1:$ECHO_PORT/" --proxy-env >"$TMP/noproxy.out" 2>"$TMP/noproxy.err"
  st=$?
  [ $st = 0 ] && [ "$(cat "$TMP/noproxy.out")" = direct ]
  check proxy_env_no_proxy_goes_direct $? "status $st: $(cat "$TMP/noproxy.err")"
else
  check proxy_round_trip 1 "tinyproxy did not start: $(tail -n 3 "$TP_LOG" | tr '\n' ' ')"
fi

# ---- tinyproxy with Basic auth --------------------------------------------
if start_tinyproxy auth "$ECHO_PORT" "wsxuser s3cret"; then
  # Percent-encoded in the URL, decoded for the credentials.
  via auth "http://wsxuser:s3cr%65t@127.0.0.1:$TP_PORT"
  [ "$(cat "$TMP/auth.st")" = 0 ] && [ "$(cat "$TMP/auth.out")" = "through the proxy" ]
  check proxy_basic_auth_round_trip $? "status $(cat "$TMP/auth.st"): $(cat "$TMP/auth.err")"

  # tinyproxy 1.11 answers wrong credentials with 401, none with 407.
  via wrongpw "http://wsxuser:wrong@127.0.0.1:$TP_PORT"
  [ "$(cat "$TMP/wrongpw.st")" = 1 ] && grep -q "cannot connect" "$TMP/wrongpw.err" &&
    grep -Eq "proxy refused CONNECT to 127.0.0.1:$ECHO_PORT: 40[17]" "$TMP/wrongpw.err"
  check proxy_wrong_password_refused $? "status $(cat "$TMP/wrongpw.st"): $(cat "$TMP/wrongpw.err")"

  via nocreds "http://127.0.0.1:$TP_PORT"
  [ "$(cat "$TMP/nocreds.st")" = 1 ] && grep -q "407 Proxy Authentication Required" "$TMP/nocreds.err"
  check proxy_missing_credentials_407 $? "status $(cat "$TMP/nocreds.st"): $(cat "$TMP/nocreds.err")"
else
  check proxy_basic_auth_round_trip 1 "tinyproxy did not start: $(tail -n 3 "$TP_LOG" | tr '\n' ' ')"
fi

# ---- fake proxies ----------------------------------------------------------
# fake_proxy MODE: a one-shot python proxy that reads the CONNECT head, then
# answers garbage (MODE=garbage) or closes the connection (MODE=close).
fake_proxy() {
  FAKE_PORT=$(free_port)
  python3 - "$FAKE_PORT" "$1" >"$TMP/fake-$1.log" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(15)
print("ready", flush=True)
c, _ = s.accept(); c.settimeout(5); head = b""
while b"\r\n\r\n" not in head:
    d = c.recv(4096)
    if not d: break
    head += d
if sys.argv[2] == "garbage":
    c.sendall(b"SSH-2.0-OpenSSH_9.2 nonsense\r\n\r\n")
    time.sleep(2)
c.close()
EOF
  local pid=$!
  STARTED+=("$pid")
  wait_for "$TMP/fake-$1.log" ready 10 "$pid"
}

fake_proxy garbage
via garbage "http://127.0.0.1:$FAKE_PORT"
[ "$(cat "$TMP/garbage.st")" = 1 ] && grep -q "malformed response from proxy" "$TMP/garbage.err"
check proxy_garbage_answer $? "status $(cat "$TMP/garbage.st"): $(cat "$TMP/garbage.err")"

fake_proxy close
via closed "http://127.0.0.1:$FAKE_PORT"
[ "$(cat "$TMP/closed.st")" = 1 ] && grep -q "proxy closed the connection" "$TMP/closed.err"
check proxy_closes_connection $? "status $(cat "$TMP/closed.st"): $(cat "$TMP/closed.err")"

# ---- https:// proxy: a TLS front in front of tinyproxy ----------------------
C=$TMP/certs
mkdir -p "$C"
gen_certs() (
  set -e
  cd "$C"
  K="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
  openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 -subj "/CN=wsx proxy interop CA"
  for leaf in proxy srv; do
    openssl req -new $K -keyout $leaf.key -out $leaf.csr -subj "/CN=wsx-$leaf"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >$leaf.ext
    openssl x509 -req -in $leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -days 2 -extfile $leaf.ext -out $leaf.pem
  done
)

# tls_front UPSTREAM-PORT: terminates TLS (proxy.pem) on a free port and
# relays each connection's plaintext to UPSTREAM-PORT; sets FRONT_PORT.
tls_front() {
  python3 - "$C/proxy.pem" "$C/proxy.key" "$1" >"$TMP/front.log" 2>&1 <<'EOF' &
import select, socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0)); ls.listen(16)
print("listening on %d" % ls.getsockname()[1], flush=True)
def handle(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
    except Exception as e:
        print("TLS failed: %s" % e, flush=True); c.close(); return
    u = socket.create_connection(("127.0.0.1", int(sys.argv[3])))
    try:
        while True:
            r = [t] if t.pending() else select.select([t, u], [], [], 30)[0]
            if not r: break
            d = r[0].recv(65536)
            if not d: break
            (u if r[0] is t else t).sendall(d)
    except Exception as e:
        print("relay: %s" % e, flush=True)
    t.close(); u.close()
while True:
    c, _ = ls.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
EOF
  local pid=$!
  STARTED+=("$pid")
  wait_for "$TMP/front.log" "listening on" 10 "$pid" || return 1
  FRONT_PORT=$(grep -m 1 -o 'listening on [0-9]*' "$TMP/front.log" | grep -o '[0-9]*$')
}

# via_args NAME URL ARGS...: one line through `wsx connect URL ARGS...`.
via_args() {
  local name=$1 url=$2
  shift 2
  (printf 'through the proxy\n'; sleep 0.3) |
    timeout 20 "$WSX_BIN" connect "$url" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
  echo $? >"$TMP/$name.st"
}

if ! gen_certs >"$TMP/gen.log" 2>&1; then
  check proxy_https_certs 1 "openssl: $(tail -n 3 "$TMP/gen.log" | tr '\n' ' ')"
elif ! "$WSX_BIN" connect --help | grep -q -- "--proxy-ca"; then
  check proxy_https 1 "wsx connect has no --proxy-ca option"
else
  WSS_PORT=""
  "$WSX_BIN" echo --port 0 --host 127.0.0.1 --tls-cert "$C/srv.pem" \
    --tls-key "$C/srv.key" >"$TMP/wss-echo.log" 2>&1 &
  WSS_PID=$!
  STARTED+=("$WSS_PID")
  if wait_for "$TMP/wss-echo.log" "listening on" 10 "$WSS_PID"; then
    WSS_PORT=$(grep -m 1 -o 'listening on wss://[^ ]*' "$TMP/wss-echo.log" | grep -o '[0-9]*/$' | tr -d /)
  fi
  if [ -z "$WSS_PORT" ]; then
    check proxy_https 1 "wsx echo --tls-cert did not start: $(tail -n 3 "$TMP/wss-echo.log" | tr '\n' ' ')"
  elif ! start_tinyproxy tlsauth "$ECHO_PORT $WSS_PORT" "wsxuser s3cret"; then
    check proxy_https 1 "tinyproxy did not start: $(tail -n 3 "$TP_LOG" | tr '\n' ' ')"
  elif ! tls_front "$TP_PORT"; then
    check proxy_https 1 "TLS front did not start: $(cat "$TMP/front.log")"
  else
    PURL="https://wsxuser:s3cret@127.0.0.1:$FRONT_PORT"
    via_args https_ws "ws://127.0.0.1:$ECHO_PORT/https-ws" --proxy "$PURL" --proxy-ca "$C/ca.pem"
    [ "$(cat "$TMP/https_ws.st")" = 0 ] && [ "$(cat "$TMP/https_ws.out")" = "through the proxy" ] &&
      grep -q "CONNECT 127.0.0.1:$ECHO_PORT" "$TP_LOG"
    check proxy_https_ws_round_trip $? "status $(cat "$TMP/https_ws.st"): $(cat "$TMP/https_ws.out" "$TMP/https_ws.err")"

    # wss:// through the https:// proxy: TLS to the origin inside TLS to
    # the proxy; both verified against the test CA.
    via_args https_wss "wss://127.0.0.1:$WSS_PORT/https-wss" --ca "$C/ca.pem" \
      --proxy "$PURL" --proxy-ca "$C/ca.pem"
    [ "$(cat "$TMP/https_wss.st")" = 0 ] && [ "$(cat "$TMP/https_wss.out")" = "through the proxy" ] &&
      grep -q "CONNECT 127.0.0.1:$WSS_PORT" "$TP_LOG"
    check proxy_https_wss_round_trip $? "status $(cat "$TMP/https_wss.st"): $(cat "$TMP/https_wss.out" "$TMP/https_wss.err")"

    # Without --proxy-ca the proxy's certificate does not verify (the test
    # CA is not in the system store); the error names the proxy.
    via_args https_unknown_ca "wss://127.0.0.1:$WSS_PORT/x" --ca "$C/ca.pem" --proxy "$PURL"
    [ "$(cat "$TMP/https_unknown_ca.st")" = 1 ] &&
      grep -q "proxy 127.0.0.1:$FRONT_PORT: certificate verify failed" "$TMP/https_unknown_ca.err"
    check proxy_https_unknown_ca_refused $? "status $(cat "$TMP/https_unknown_ca.st"): $(cat "$TMP/https_unknown_ca.err")"

    via_args https_insecure "ws://127.0.0.1:$ECHO_PORT/insecure" --proxy "$PURL" --proxy-insecure
    [ "$(cat "$TMP/https_insecure.st")" = 0 ] && [ "$(cat "$TMP/https_insecure.out")" = "through the proxy" ]
    check proxy_https_insecure_round_trip $? "status $(cat "$TMP/https_insecure.st"): $(cat "$TMP/https_insecure.err")"

    via_args https_nocreds "ws://127.0.0.1:$ECHO_PORT/" --proxy "https://127.0.0.1:$FRONT_PORT" --proxy-ca "$C/ca.pem"
    [ "$(cat "$TMP/https_nocreds.st")" = 1 ] && grep -q "407 Proxy Authentication Required" "$TMP/https_nocreds.err"
    check proxy_https_missing_credentials_407 $? "status $(cat "$TMP/https_nocreds.st"): $(cat "$TMP/https_nocreds.err")"
  fi
fi

exit $FAILED
