#!/usr/bin/env bash
# Chromium headless over HTTP/2 (RFC 8441): `wsx serve --tls-cert --tls-key
# --http2` serves the demo page over h2, and the page's WebSocket to /echo
# rides a stream of the same connection. The protocols are checked through
# the DevTools protocol (h2_chromium.js); the server's event line must mark
# the socket "h2". The certificate is made here (openssl CLI) and trusted by
# its SPKI hash only. curl --http2 checks an EventSource stream and a POST
# over h2 (plain requests reach http_request).
set -u
. "$(dirname "$0")/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if "$WSX_BIN" serve --port 0 --tls-cert /nonexistent --tls-key /nonexistent \
    --http2 2>&1 | grep -q "without HTTP/2"; then
  ok "h2_chromium # skip: wsx built without HTTP/2 (WSX_HTTP2=OFF)"
  exit 0
fi
if [ ! -x "$CHROMIUM" ]; then
  fail h2_chromium "chromium not installed (scripts/install-deps.sh)"
  exit 1
fi
if ! need_node_module playwright-core; then
  fail h2_chromium "$NODE_ERR"
  exit 1
fi

C=$TMP/certs
mkdir -p "$C"
if ! (cd "$C" &&
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout srv.key -out srv.pem -days 30 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" &&
  openssl x509 -in srv.pem -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64 >spki) >"$TMP/gen.log" 2>&1; then
  fail h2_chromium_certs "openssl: $(tail -n 3 "$TMP/gen.log" | tr '\n' ' ')"
  exit 1
fi

LOG=$TMP/serve.log
"$WSX_BIN" serve --port 0 --host 127.0.0.1 --tls-cert "$C/srv.pem" \
  --tls-key "$C/srv.key" --http2 >"$LOG" 2>&1 &
PID=$!
STARTED+=($PID)
if ! wait_for "$LOG" "listening on" 10 $PID; then
  fail h2_chromium "wsx serve did not start: $(tail -n 3 "$LOG" | tr '\n' ' ')"
  exit 1
fi
PORT=$(sed -n 's/^listening on https:\/\/.*:\([0-9]*\)\/$/\1/p' "$LOG" | head -n 1)

# Plain HTTP/2 requests reach http_request: curl (built on libnghttp2).
if curl --version | grep -q HTTP2; then
  got=$(curl -sk --http2 --max-time 3 -H 'Accept: text/event-stream' \
    -w '\n%{http_version} %{http_code}' "https://127.0.0.1:$PORT/clock")
  if grep -q '^data: ' <<<"$got" && [ "$(tail -n 1 <<<"$got")" = "2 200" ]; then
    ok h2_curl_eventsource
  else
    fail h2_curl_eventsource "$(tail -n 3 <<<"$got" | tr '\n' ' ')"
  fi
  got=$(curl -sk --http2 --max-time 5 -o /dev/null -X POST -d hello \
    -w '%{http_version} %{http_code}' "https://127.0.0.1:$PORT/nowhere")
  if [ "$got" = "2 404" ]; then ok h2_curl_post_404; else fail h2_curl_post_404 "$got"; fi
else
  ok "h2_curl # skip: this curl has no HTTP/2"
fi

CHROMIUM=$CHROMIUM timeout 90 node "$HERE/h2_chromium.js" \
  "https://127.0.0.1:$PORT" "$(cat "$C/spki")" "$TMP/profile"

if wait_for "$LOG" "^open [0-9]* 127\.0\.0\.1:[0-9]* /echo h2$" 5 $PID; then
  ok h2_chromium_server_saw_h2
else
  fail h2_chromium_server_saw_h2 "no 'open ... /echo h2' line: $(grep open "$LOG" | tail -n 3 | tr '\n' ' ')"
fi
if wait_for "$LOG" "^close [0-9]* 4000" 5 $PID; then
  ok h2_chromium_close_seen_by_server
else
  fail h2_chromium_close_seen_by_server "$(tail -n 3 "$LOG" | tr '\n' ' ')"
fi
