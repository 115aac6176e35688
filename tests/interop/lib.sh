# tests/interop/lib.sh: shared helpers for the interop scripts (sourced).
# Env from scripts/run-tests.sh: WSX_BIN, WSX_BUILD, WSX_ROOT, NODE_PATH.

: "${WSX_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${WSX_BIN:=$WSX_ROOT/build/wsx}"
export NODE_PATH="${NODE_PATH:-$WSX_ROOT/.deps/node/node_modules}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsx-interop.XXXXXX")
STARTED=()

ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }

cleanup() {
  local p
  for p in "${STARTED[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${STARTED[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# need_node_module MODULE: 0 iff node is on PATH and require(MODULE) works;
# otherwise 1 with the real reason in NODE_ERR (node's own error message:
# "Cannot find module ...", a version it refuses, a syntax error ...).
need_node_module() {
  local out
  NODE_ERR=""
  if ! command -v node >/dev/null; then
    NODE_ERR="node not found on PATH (scripts/install-deps.sh installs it)"
    return 1
  fi
  if out=$(node -e "require('$1')" 2>&1); then
    return 0
  fi
  # The first lines that name the error, without the stack trace.
  NODE_ERR="require('$1') failed with node $(node --version): $(
    grep -v '^ *at \|^ *$\|^node:internal\|^ *\^' <<<"$out" | head -n 4 |
      tr '\n' ' ' | head -c 400) (NODE_PATH=$NODE_PATH; scripts/install-deps.sh)"
  return 1
}

# A port that was free a moment ago (loopback only).
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})' 2>/dev/null ||
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for FILE TEXT SECONDS PID: waits until FILE contains TEXT.
wait_for() {
  local i
  for i in $(seq $(($3 * 10))); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null && return 1
    sleep 0.1
  done
  return 1
}

# start_wsx_echo: starts `wsx echo` on a free loopback port; sets ECHO_PORT,
# ECHO_PID and ECHO_LOG. Returns 1 (with the reason in ECHO_ERR) on failure.
start_wsx_echo() {
  ECHO_LOG=$TMP/echo.log
  ECHO_ERR=""
  if [ ! -x "$WSX_BIN" ]; then
    ECHO_ERR="$WSX_BIN not built"
    return 1
  fi
  local try
  for try in 1 2 3; do
    ECHO_PORT=$(free_port)
    "$WSX_BIN" echo --port "$ECHO_PORT" --host 127.0.0.1 >"$ECHO_LOG" 2>&1 &
    ECHO_PID=$!
    STARTED+=("$ECHO_PID")
    wait_for "$ECHO_LOG" "listening on" 10 "$ECHO_PID" && return 0
    kill "$ECHO_PID" 2>/dev/null
  done
  ECHO_ERR="wsx echo did not start: $(tail -n 3 "$ECHO_LOG" | tr '\n' ' ')"
  return 1
}
