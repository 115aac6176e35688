#!/usr/bin/env bash
# permessage-deflate interop with Chromium headless: a page (page.setContent,
# no HTTP server) opens a WebSocket to `wsx echo --deflate`, checks that
# ws.extensions names permessage-deflate (the browser's offer was accepted),
# exchanges small and 1 MiB text and binary messages and closes with 1000
# (deflate_chromium.js); wsx echo's log must show that close.
set -u
. "$(dirname "$0")/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  fail deflate_chromium "chromium not installed (scripts/install-deps.sh)"
  exit 1
fi
if ! need_node_module playwright-core; then
  fail deflate_chromium "$NODE_ERR"
  exit 1
fi
if [ ! -x "$WSX_BIN" ]; then
  fail deflate_chromium "$WSX_BIN not built"
  exit 1
fi

ELOG=$TMP/echo_deflate.log
started=0
for try in 1 2 3; do
  "$WSX_BIN" echo --port 0 --host 127.0.0.1 --deflate >"$ELOG" 2>&1 &
  EPID=$!
  STARTED+=("$EPID")
  if wait_for "$ELOG" "listening on" 10 "$EPID"; then started=1; break; fi
  kill "$EPID" 2>/dev/null
done
if [ $started != 1 ]; then
  fail deflate_chromium "wsx echo --deflate did not start: $(tail -n 3 "$ELOG" | tr '\n' ' ')"
  exit 1
fi
URL=$(sed -n 's/^listening on //p' "$ELOG" | head -n 1)

CHROMIUM=$CHROMIUM timeout 120 node "$HERE/deflate_chromium.js" "${URL}deflate" "$TMP/profile" ||
  echo "deflate_chromium.js exited with status $?" >&2

if wait_for "$ELOG" "1000" 5 && grep -q "bye" "$ELOG"; then
  ok deflate_chromium_close_seen_by_server
else
  fail deflate_chromium_close_seen_by_server "wsx echo did not print close 1000 bye: $(tail -n 3 "$ELOG" | tr '\n' ' ')"
fi
