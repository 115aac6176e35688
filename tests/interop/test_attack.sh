#!/usr/bin/env bash
# The short attack suite (issue 16): every case of tests/attack/attack.py
# with small counts against `wsx echo`, plain and over TLS, with the release
# CLI and (when built) the ASan+UBSan one; checks bounds and close codes,
# not timings. `make attack` runs the full sizes and the timing targets.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
PY=${WSX_PYTHON:-python3}
ATTACK="$WSX_ROOT/tests/attack/attack.py"
st=0
if [ ! -x "$WSX_BIN" ]; then
  fail attack "$WSX_BIN not built"
  exit 1
fi
"$PY" "$ATTACK" --wsx "$WSX_BIN" --short --tls || st=1
if [ -n "${WSX_ASAN_BIN:-}" ] && [ -x "$WSX_ASAN_BIN" ]; then
  # The ASan CLI: its own names (asan_...), plain TCP, no RSS bounds (ASan
  # quarantines freed memory).
  "$PY" "$ATTACK" --wsx "$WSX_ASAN_BIN" --short --no-rss-checks | sed 's/^\(ok\|FAIL\) attack_/\1 attack_asan_/' ||
    st=1
else
  echo "skip attack_asan: no ASan CLI (WSX_ASAN_BIN)"
fi
exit $st
