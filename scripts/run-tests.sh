#!/usr/bin/env bash
# scripts/run-tests.sh: the engine behind `make test`.
#
# Builds the normal and the ASan+UBSan trees (and the fuzz tree), runs every
# test program of both, the driver-only "portable" tree's tests (no libuv or
# OpenSSL, SIMD paths off, the /dev/urandom random source: see
# CMakeLists.txt WSX_TRANSPORT, WSX_SIMD, WSX_RANDOM_SOURCE), every fuzz
# target for FUZZ_SECONDS on a copy of its seed corpus, every interop script
# in tests/interop/ and the conformance matrix on the fast cases
# (scripts/conformance.py), then prints
# "N passed, N failed" as its very last line. Exits non-zero if anything
# failed or nothing ran.
#
# Counting: each "ok ..." line a program prints is a pass, each "FAIL ..." a
# failure. A program that times out, crashes, trips a sanitizer or exits
# non-zero without a FAIL line is one more failure under its own name; so is
# a program that did not build or printed no result at all. A build that
# fails is one failure (and its programs then count as not built).
#
# Also runs scripts/check-layers.sh (the include rule between the layers).
#
# Options: --no-build --no-normal --no-asan --no-fuzz --no-interop
#          --no-portable
# Test programs run from the repository root with WSX_ROOT, WSX_BUILD and
# WSX_BIN (that build's CLI) set. Environment:
#   TESTS=regex      only programs/scripts whose label matches (grep -E)
#   TEST_TIMEOUT=s   per program (default 300)
#   FUZZ_SECONDS=s   per fuzz target (default 10)
#   VERBOSE=1        echo every program's full output
#   VALGRIND=1       also run the normal build's tests under valgrind (slow)
#   BUILD, ASAN_BUILD, FUZZ_BUILD, PORTABLE_BUILD   build dirs (build,
#                    build-asan, build-fuzz, build-portable)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
abs() { case $1 in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }

BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
PORTABLE_BUILD=${PORTABLE_BUILD:-build-portable}
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
export FUZZ_SECONDS=${FUZZ_SECONDS:-10}
VERBOSE=${VERBOSE:-0}
VALGRIND=${VALGRIND:-0}
TESTS=${TESTS:-}

do_build=1 do_normal=1 do_asan=1 do_fuzz=1 do_interop=1 do_portable=1
for arg in "$@"; do
  case $arg in
    --no-build) do_build=0 ;;
    --no-normal) do_normal=0 ;;
    --no-asan) do_asan=0 ;;
    --no-fuzz) do_fuzz=0 ;;
    --no-interop) do_interop=0 ;;
    --no-portable) do_portable=0 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-tests.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

# Sanitizers: distinct exit codes, so a sanitizer report is never mistaken
# for the harness's own "some test failed" exit status 1. The caller's
# settings come last and win.
export ASAN_OPTIONS="exitcode=23:detect_leaks=1:abort_on_error=0:strict_string_checks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=24:${UBSAN_OPTIONS:-}"
# Leaks inside system libraries, if any ever need silencing, go in this file.
if [ -f tests/lsan.supp ]; then
  export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:${LSAN_OPTIONS:-}"
fi
# Programs run from the repository root and may use these to find things.
export WSX_ROOT="$ROOT"

LOGDIR="$(abs "$BUILD")/test-logs"
mkdir -p "$LOGDIR"
START=$SECONDS
passed=0
failed=0
failures=()

fail_one() { # label reason
  echo "FAIL $1: $2"
  failed=$((failed + 1))
  failures+=("$1")
}

selected() { [ -z "$TESTS" ] || grep -qE -- "$TESTS" <<<"$1"; }

# build <label> <make target>: a failed build is one failure; its error lines
# are shown and the full log kept.
build() {
  local label=$1 target=$2 log="$LOGDIR/build-$1.log"
  echo "== build $label (make $target)"
  if make --no-print-directory "$target" KEEP_GOING=1 >"$log" 2>&1; then
    return 0
  fi
  grep -E ': (fatal )?error:|: undefined reference|CMake Error|Error [0-9]+|error: ' \
    "$log" | grep -v '^make.*Error [0-9]' | head -40 | sed 's/^/  | /'
  echo "  (full build log: $log)"
  fail_one "build:$label" "build failed"
  return 1
}

# The driver-only, no-SIMD, portable-random tree (cheap: no transport, no
# CLI, no examples). Configured here, not through a Makefile target.
build_portable() {
  local log="$LOGDIR/build-portable.log"
  echo "== build portable ($PORTABLE_BUILD: WSX_TRANSPORT=OFF WSX_SIMD=OFF WSX_RANDOM_SOURCE=urandom WSX_PAGES=OFF)"
  if { [ -f "$PORTABLE_BUILD/Makefile" ] ||
       cmake -S . -B "$PORTABLE_BUILD" -DCMAKE_BUILD_TYPE=Release \
         -DCMAKE_C_FLAGS_RELEASE="-O2 -g -DNDEBUG" -DWSX_WERROR=ON \
         -DWSX_TRANSPORT=OFF -DWSX_SIMD=OFF -DWSX_RANDOM_SOURCE=urandom \
         -DWSX_PAGES=OFF; } \
       >"$log" 2>&1 &&
     cmake --build "$PORTABLE_BUILD" -j "${JOBS:-2}" -- -k >>"$log" 2>&1; then
    return 0
  fi
  grep -E ': (fatal )?error:|: undefined reference|CMake Error|error: ' \
    "$log" | head -40 | sed 's/^/  | /'
  echo "  (full build log: $log)"
  fail_one "build:portable" "build failed"
  return 1
}

# Removes the binaries a list names, so that a test whose build fails now is
# reported as not built instead of running its stale binary.
forget_binaries() { # listfile
  [ -f "$1" ] || return 0
  local name path
  while IFS=$'\t' read -r name path; do
    [ -n "$path" ] && rm -f -- "$path"
  done <"$1"
}

# run <label> <cmd...>: runs one program/script and counts its result lines.
run() {
  local label=$1; shift
  local base="$LOGDIR/${label//\//_}"
  local t0=$SECONDS st nok nfail
  timeout -k 10 "$TEST_TIMEOUT" "$@" >"$base.out" 2>"$base.err" </dev/null
  st=$?
  nok=$(grep -c '^ok ' "$base.out")
  nfail=$(grep -c '^FAIL ' "$base.out")
  if [ "$VERBOSE" = 1 ]; then
    cat "$base.out"; sed 's/^/  stderr| /' "$base.err"
  else
    grep -E '^(FAIL |  \| )' "$base.out"
  fi
  passed=$((passed + nok))
  failed=$((failed + nfail))
  [ "$nfail" -gt 0 ] && failures+=("$label")
  local why=""
  case $st in
    0) [ $((nok + nfail)) -eq 0 ] && why="printed no ok/FAIL line" ;;
    1) [ "$nfail" -eq 0 ] && why="exited with status 1 without a FAIL line" ;;
    124|137) why="timed out after ${TEST_TIMEOUT}s" ;;
    23) why="AddressSanitizer/LeakSanitizer error" ;;
    25) why="valgrind error" ;;
    24) why="UndefinedBehaviorSanitizer error" ;;
    *) if [ "$st" -gt 128 ]; then why="killed by signal $((st - 128))"
       else why="exited with status $st"; fi ;;
  esac
  if [ -n "$why" ]; then
    if [ "$VERBOSE" != 1 ]; then
      tail -n 30 "$base.err" | sed 's/^/  stderr| /'
      [ "$nok" -eq 0 ] && tail -n 10 "$base.out" | sed 's/^/  stdout| /'
    fi
    fail_one "$label" "$why"
    nfail=$((nfail + 1))
  fi
  printf '== %-44s %4d passed, %d failed (%ds)\n' "$label" "$nok" "$nfail" \
    $((SECONDS - t0))
}

# run_list <tag> <build dir> [wrapper...]: every test program of one build.
run_list() {
  local tag=$1 dir=$2 name path
  shift 2
  local list="$dir/wsx-tests.list"
  export WSX_BUILD; WSX_BUILD=$(abs "$dir"); export WSX_BIN="$WSX_BUILD/wsx"
  if [ ! -f "$list" ]; then
    fail_one "$tag" "no test list ($list): configure failed?"
    return
  fi
  while IFS=$'\t' read -r name path; do
    [ -n "$name" ] || continue
    selected "$tag:$name" || continue
    if [ ! -x "$path" ]; then
      fail_one "$tag:$name" "not built (see the build errors above)"
      continue
    fi
    run "$tag:$name" "$@" "$path"
  done <"$list"
}

pick_python() {
  local p
  for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import websockets' 2>/dev/null; then
      echo "$p"; return
    fi
  done
  echo python3
}

run_interop() {
  local f name runner
  export WSX_BUILD; WSX_BUILD=$(abs "$BUILD"); export WSX_BIN="$WSX_BUILD/wsx"
  # scripts/conformance.py (the matrix): the ASan+UBSan CLI for its
  # sanitizer cells, which --no-asan leaves out.
  export WSX_ASAN_BIN; WSX_ASAN_BIN=$(abs "$ASAN_BUILD")/wsx
  export CONFORMANCE_BUILDS; CONFORMANCE_BUILDS=$([ $do_asan = 1 ] && echo release,asan || echo release)
  export NODE_PATH="$ROOT/.deps/node/node_modules${NODE_PATH:+:$NODE_PATH}"
  export PATH="$ROOT/.deps/node/node_modules/.bin:$PATH"
  export WSX_PYTHON; WSX_PYTHON=$(pick_python)
  shopt -s nullglob
  for f in tests/interop/test_*.sh tests/interop/test_*.py tests/interop/test_*.js; do
    name=interop:$(basename "$f")
    selected "$name" || continue
    if [ ! -x "$f" ]; then
      echo "== $name skipped (not executable)"
      continue
    fi
    case $f in
      *.sh) runner=bash ;;
      *.py) runner=$WSX_PYTHON ;;
      *.js) runner=node ;;
    esac
    run "$name" "$runner" "$ROOT/$f"
  done
  shopt -u nullglob
  # The conformance matrix on the fast cases (1.* to 8.*, 10.*): one
  # ok/FAIL line per cell and role; `make conformance` runs all cases.
  if selected interop:conformance; then
    CONFORMANCE_CASES=1.,2.,3.,4.,5.,6.,7.,8.,10. \
      TEST_TIMEOUT=$((TEST_TIMEOUT > 1500 ? TEST_TIMEOUT : 1500)) \
      run interop:conformance "$WSX_PYTHON" "$ROOT/scripts/conformance.py"
  fi
}

# ---- builds ----------------------------------------------------------------
if [ $do_build = 1 ]; then
  [ $do_normal = 1 ] || [ $do_interop = 1 ] && {
    forget_binaries "$BUILD/wsx-tests.list"; build normal build; }
  [ $do_asan = 1 ] && { forget_binaries "$ASAN_BUILD/wsx-tests.list"; build asan asan; }
  [ $do_fuzz = 1 ] && { forget_binaries "$FUZZ_BUILD/wsx-fuzzers.list"; build fuzz fuzz-build; }
  [ $do_portable = 1 ] && { forget_binaries "$PORTABLE_BUILD/wsx-tests.list"; build_portable; }
fi

# ---- runs ------------------------------------------------------------------
# The import rule between the layers (docs/design-notes.md), over #include
# lines: no build needed.
if selected layers; then
  echo "== layers (scripts/check-layers.sh)"
  run layers bash "$ROOT/scripts/check-layers.sh"
fi
[ $do_normal = 1 ] && { echo "== tests ($BUILD)"; run_list normal "$BUILD"; }
if [ $do_normal = 1 ] && [ "$VALGRIND" = 1 ]; then
  echo "== tests under valgrind ($BUILD)"
  run_list valgrind "$BUILD" valgrind -q --error-exitcode=25 --leak-check=full \
    --errors-for-leak-kinds=definite --track-fds=no
fi
[ $do_asan = 1 ] && { echo "== tests, ASan+UBSan ($ASAN_BUILD)"; run_list asan "$ASAN_BUILD"; }
if [ $do_portable = 1 ]; then
  echo "== tests, driver-only portable build ($PORTABLE_BUILD)"
  WSX_RANDOM_EXPECT=urandom run_list portable "$PORTABLE_BUILD"
fi
if [ $do_fuzz = 1 ] && selected fuzz; then
  echo "== fuzz targets, ${FUZZ_SECONDS}s each ($FUZZ_BUILD)"
  if [ -f "$FUZZ_BUILD/wsx-fuzzers.list" ]; then
    # run-fuzz.sh prints one ok/FAIL line per target and bounds each itself.
    TEST_TIMEOUT=$(( ($(wc -l <"$FUZZ_BUILD/wsx-fuzzers.list") + 1) * (FUZZ_SECONDS + 90) )) \
      run fuzz bash "$ROOT/scripts/run-fuzz.sh" "$FUZZ_BUILD"
  else
    fail_one fuzz "no fuzzer list ($FUZZ_BUILD/wsx-fuzzers.list): configure failed?"
  fi
fi
[ $do_interop = 1 ] && { echo "== interop (tests/interop)"; run_interop; }

# ---- summary ---------------------------------------------------------------
echo
echo "== logs in $LOGDIR; $((SECONDS - START))s in all"
if [ ${#failures[@]} -gt 0 ]; then
  echo "== failed: $(printf '%s\n' "${failures[@]}" | sort -u | tr '\n' ' ')"
fi
if [ $((passed + failed)) -eq 0 ]; then
  echo "== no test ran"
  echo "0 passed, 0 failed"
  exit 1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
