#!/usr/bin/env bash
# The threaded tests under ThreadSanitizer: a separate TSan build
# ($WSX_BUILD/../build-tsan, or TSAN_BUILD) of the library and of the test
# programs that run loops on several threads (server groups, topics), run
# here. A data race makes TSan print a report and the program exit
# non-zero: that is a FAIL.
set -u
. "$(dirname "$0")/lib.sh"

TSAN_BUILD=${TSAN_BUILD:-$WSX_ROOT/build-tsan}
PROGS="unit.test_uv_group unit.test_uv_pubsub"
if ! echo 'int main(void){return 0;}' | cc -fsanitize=thread -x c - -o "$TMP/t" 2>/dev/null; then
  echo "skip tsan: the C compiler cannot build with -fsanitize=thread"
  exit 0
fi
if [ ! -f "$TSAN_BUILD/CMakeCache.txt" ]; then
  cmake -S "$WSX_ROOT" -B "$TSAN_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
    -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
    -DWSX_TESTS_SHARED=OFF >"$TMP/cfg.log" 2>&1 ||
    { fail tsan_build "cmake: $(tail -n 3 "$TMP/cfg.log" | tr '\n' ' ')"; exit 1; }
fi
# shellcheck disable=SC2086
if ! cmake --build "$TSAN_BUILD" -j "${JOBS:-2}" --target $PROGS >"$TMP/build.log" 2>&1; then
  fail tsan_build "$(grep -m3 'error' "$TMP/build.log" | tr '\n' ' ')"
  exit 1
fi
for p in $PROGS; do
  bin=$TSAN_BUILD/tests/unit/${p#unit.}
  out=$(TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" timeout 300 "$bin" 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && ! grep -q 'WARNING: ThreadSanitizer' <<<"$out"; then
    ok "tsan_${p#unit.} ($(grep -c '^ok ' <<<"$out") tests race-free)"
  else
    fail "tsan_${p#unit.}" "status $rc: $(grep -m5 'WARNING\|SUMMARY\|^FAIL' <<<"$out" | tr '\n' ' ')"
  fi
done
