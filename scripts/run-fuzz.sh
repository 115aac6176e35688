#!/usr/bin/env bash
# scripts/run-fuzz.sh [FUZZ_BUILD_DIR]: runs every libFuzzer target listed in
# <dir>/wsx-fuzzers.list (default build-fuzz) for FUZZ_SECONDS (default 10)
# each, on a temporary copy of its seed corpus fuzz/corpus/<name without
# fuzz_>/ so the tree is never modified. fuzz/<target>.dict is used if present.
#
# Prints "ok <target> ..." or "FAIL <target>: ..." per target (a crash, leak,
# timeout or sanitizer report is a failure; its reproducer is kept in
# <dir>/fuzz-artifacts/<target>/), then "N passed, N failed".
# FUZZ_TARGETS=regex limits the targets run.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
DIR=${1:-${FUZZ_BUILD:-build-fuzz}}
SECS=${FUZZ_SECONDS:-10}
LIST="$DIR/wsx-fuzzers.list"
if [ ! -f "$LIST" ]; then
  echo "FAIL fuzz: $LIST missing (run: make fuzz-build)"
  exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsx-fuzz.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0

while IFS=$'\t' read -r name bin; do
  [ -n "$name" ] || continue
  if [ -n "${FUZZ_TARGETS:-}" ] && ! grep -qE -- "$FUZZ_TARGETS" <<<"$name"; then
    continue
  fi
  if [ ! -x "$bin" ]; then
    echo "FAIL $name: not built"
    failed=$((failed + 1))
    continue
  fi
  work="$TMP/$name"
  mkdir -p "$work/corpus" "$work/artifacts"
  seed="fuzz/corpus/${name#fuzz_}"
  nseed=0
  if [ -d "$seed" ]; then
    cp -R "$seed/." "$work/corpus/"
    nseed=$(find "$work/corpus" -type f | wc -l)
  fi
  dict=()
  [ -f "fuzz/$name.dict" ] && dict=(-dict="fuzz/$name.dict")
  log="$DIR/fuzz-$name.log"
  # libFuzzer stops itself after max_total_time; the outer timeout only
  # catches a hang libFuzzer's own per-input -timeout does not.
  timeout -k 10 $((SECS + 120)) "$bin" -max_total_time="$SECS" -timeout=20 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "${dict[@]}" "$work/corpus" \
    >"$log" 2>&1 </dev/null
  st=$?
  arts=$(find "$work/artifacts" -type f | wc -l)
  if [ $st -eq 0 ] && [ "$arts" -eq 0 ]; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "ok $name (${runs:-?} runs in ${SECS}s, $nseed seeds)"
    passed=$((passed + 1))
  else
    keep="$DIR/fuzz-artifacts/$name"
    mkdir -p "$keep"
    [ "$arts" -gt 0 ] && cp "$work/artifacts/"* "$keep/"
    echo "FAIL $name: libFuzzer exit status $st, $arts artifact(s) in $keep, log $log"
    grep -E 'ERROR|SUMMARY|runtime error|^ *#[0-9]+ ' "$log" | head -n 25 | sed 's/^/  | /'
    failed=$((failed + 1))
  fi
done <"$LIST"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
