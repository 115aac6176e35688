#!/usr/bin/env bash
# Interop of the legacy drafts: raw-socket hixie-76 and hixie-75 clients
# (hixie_client.py) against `wsx echo --allow-drafts`: handshake, echo of
# multi-byte UTF-8, closing, and a key3 body held back 200 ms. Then both
# drafts against `wsx echo` without the flag: refused with 400.
set -u
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null; then
  fail hixie "python3 not installed"
  exit 1
fi
if [ ! -x "$WSX_BIN" ]; then
  fail hixie "$WSX_BIN not built"
  exit 1
fi

# start_echo LOG [flags...]: `wsx echo` on an ephemeral loopback port; sets
# PORT and PID. The CLI prints "listening on ws://127.0.0.1:PORT/".
start_echo() {
  local log=$1
  shift
  "$WSX_BIN" echo --port 0 --host 127.0.0.1 "$@" >"$log" 2>&1 &
  PID=$!
  STARTED+=("$PID")
  if ! wait_for "$log" "listening on" 10 "$PID"; then
    PORT=""
    return 1
  fi
  PORT=$(sed -n 's/.*listening on [a-z]*:\/\/[^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
  [ -n "$PORT" ]
}

# stop PID: ends one server we started and reports if it died on its own.
stop() {
  if ! kill -0 "$1" 2>/dev/null; then
    return 1
  fi
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}

status=0
LOG=$TMP/echo_drafts.log
if start_echo "$LOG" --allow-drafts; then
  timeout 60 python3 "$HERE/hixie_client.py" 127.0.0.1 "$PORT" || status=1
  if stop "$PID"; then
    ok hixie_server_survived
  else
    fail hixie_server_survived "wsx echo exited during the test: $(tail -n 3 "$LOG" | tr '\n' ' ')"
    status=1
  fi
else
  fail hixie_echo "wsx echo --allow-drafts did not start: $(tail -n 3 "$LOG" | tr '\n' ' ')"
  status=1
fi

LOG=$TMP/echo_plain.log
if start_echo "$LOG"; then
  timeout 30 python3 "$HERE/hixie_client.py" 127.0.0.1 "$PORT" refused || status=1
  stop "$PID"
else
  fail hixie_refused "wsx echo did not start: $(tail -n 3 "$LOG" | tr '\n' ' ')"
  status=1
fi
exit $status
