#!/usr/bin/env bash
# scripts/make-test.sh: the recipe of `make test`. Runs scripts/run-tests.sh
# (arguments passed on) and exits with its status, so that "N passed, N
# failed" stays the last line of `make test` even when tests fail.
#
# GNU make prints "make: *** [Makefile:NN: test] Error 1" after a recipe
# fails, i.e. after the summary line. So when tests failed (status 1) and
# this script's parent is a make that catches SIGQUIT, the script sends it
# SIGQUIT and then exits 0: make, waiting for this script, sees no failed
# recipe and, on SIGQUIT, exits with status 1 without printing anything.
# Otherwise (run by hand, by a make that ignores SIGQUIT as a background job
# does, or another status) it simply exits with run-tests.sh's status.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

st=0
bash "$ROOT/scripts/run-tests.sh" "$@" || st=$?

# make_catches_quit PID: PID is a make whose SigCgt mask has SIGQUIT (3).
make_catches_quit() {
  local comm cgt
  comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
  case $comm in make | gmake) ;; *) return 1 ;; esac
  cgt=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null)
  [ -n "$cgt" ] && (((16#$cgt >> 2) & 1))
}

if [ "$st" = 1 ] && make_catches_quit "$PPID"; then
  kill -QUIT "$PPID" 2>/dev/null && {
    # make acts on the signal once this recipe is over; give the signal time
    # to arrive first.
    sleep 1
    exit 0
  }
fi
exit "$st"
