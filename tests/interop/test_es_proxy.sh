#!/usr/bin/env bash
# The EventSource client (examples/eventsource_client, which honours
# http_proxy / https_proxy) through a real tinyproxy started here on a free
# loopback port, in front of examples/eventsource_server (http://) and of a
# Python ssl server (https://: TLS to the origin inside the CONNECT
# tunnel); over https:// its close() must send TLS close_notify (the
# Python server tells a clean TLS EOF from a truncation), directly and
# through the proxy.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${WSX_BUILD:=$WSX_ROOT/build}"
SERVER=$WSX_BUILD/examples/eventsource_server
CLIENT=$WSX_BUILD/examples/eventsource_client
TINYPROXY=${WSX_TINYPROXY:-/usr/bin/tinyproxy}
if [ ! -x "$SERVER" ] || [ ! -x "$CLIENT" ]; then
  fail es_proxy "examples not built in $WSX_BUILD"
  exit 1
fi

mkdir -p "$TMP/direct" "$TMP/proxied"
timeout 60 python3 "$HERE/es_close_notify.py" "$CLIENT" "$TMP/direct"

if [ ! -x "$TINYPROXY" ]; then
  fail es_proxy_tinyproxy "tinyproxy not installed (scripts/install-deps.sh)"
  exit 1
fi
LOG=$TMP/server.log
"$SERVER" 0 >"$LOG" 2>&1 &
STARTED+=("$!")
if ! wait_for "$LOG" "listening on" 10 "$!"; then
  fail es_proxy_tinyproxy "server did not start: $(tail -n 3 "$LOG" | tr '\n' ' ')"
  exit 1
fi
URL=$(sed -n 's/^listening on //p' "$LOG" | head -1)
SPORT=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$LOG" | head -1)
started=0
for try in 1 2 3; do
  TP_PORT=$(free_port)
  # No ConnectPort line: CONNECT to any port (the Python server's is
  # chosen by the script).
  printf 'Port %s\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 10\nMaxClients 16\nLogLevel Connect\n' \
    "$TP_PORT" >"$TMP/tp.conf"
  "$TINYPROXY" -d -c "$TMP/tp.conf" >"$TMP/tp.log" 2>&1 &
  STARTED+=("$!")
  for i in $(seq 50); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1',$TP_PORT),1)" 2>/dev/null; then
      started=1; break
    fi
    sleep 0.1
  done
  [ $started = 1 ] && break
done
if [ $started != 1 ]; then
  fail es_proxy_tinyproxy "tinyproxy did not start: $(tail -n 3 "$TMP/tp.log" | tr '\n' ' ')"
  exit 1
fi
out=$TMP/client.out
http_proxy="http://127.0.0.1:$TP_PORT" no_proxy="" NO_PROXY="" \
  timeout 20 "$CLIENT" "${URL}events" 3 >"$out" 2>&1
if grep -q "^message message 3 event 3" "$out" && grep -q "CONNECT 127.0.0.1:$SPORT" "$TMP/tp.log"; then
  ok es_proxy_tinyproxy_events
else
  fail es_proxy_tinyproxy_events "$(tr '\n' '|' <"$out" | head -c 300) / proxy log: $(grep -c CONNECT "$TMP/tp.log") CONNECT lines"
fi
timeout 60 python3 "$HERE/es_close_notify.py" "$CLIENT" "$TMP/proxied" "http://127.0.0.1:$TP_PORT"
n=$(grep -c "CONNECT 127.0.0.1:" "$TMP/tp.log")
if [ "$n" -ge 2 ]; then
  ok es_proxy_tinyproxy_tunnelled_https
else
  fail es_proxy_tinyproxy_tunnelled_https "tinyproxy logged $n CONNECT lines, expected 2"
fi
