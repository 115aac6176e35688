#!/usr/bin/env bash
# What a fresh Debian 12 user runs into (issue 17), checked on any machine:
#  1. the npm test peers installed in .deps/node are exactly the versions
#     scripts/install-deps.sh pins, and each one's "engines" accepts Node 18
#     (Debian 12's nodejs), so a pin cannot drift to a release that refuses it;
#  2. a failed require() is reported with node's own error (lib.sh
#     need_node_module), not as "not installed";
#  3. `make test` ends with the "N passed, N failed" line and exits non-zero
#     when tests fail (the Makefile's recipe and scripts/make-test.sh, run
#     with stub test and deps scripts in a temporary tree).
set -u
. "$(dirname "$0")/lib.sh"

FAILED=0
check() { # check NAME CONDITION-STATUS DETAIL
  if [ "$2" = 0 ]; then ok "$1"; else fail "$1" "$3"; FAILED=1; fi
}

# ---- 1. pinned peers --------------------------------------------------------
DEPS=$WSX_ROOT/scripts/install-deps.sh
pins=$(sed -n 's/^NPM_PACKAGES=(\(.*\))$/\1/p' "$DEPS")
[ -n "$pins" ]
check npm_pins_found $? "no NPM_PACKAGES=(...) line in $DEPS"
for spec in $pins; do
  name=${spec%@*}
  want=${spec##*@}
  [[ $want =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]
  check "npm_pin_exact_$name" $? "'$spec' is not an exact version"
  pj=$WSX_ROOT/.deps/node/node_modules/$name/package.json
  if [ ! -f "$pj" ]; then
    fail "npm_installed_$name" "$pj missing (scripts/install-deps.sh)"
    FAILED=1
    continue
  fi
  # engines.node must admit 18.19.0 (bookworm's nodejs is 18.19 or later).
  out=$(python3 - "$pj" "$want" <<'PY'
import json, re, sys
pj = json.load(open(sys.argv[1]))
if pj.get("version") != sys.argv[2]:
    print("installed %s, pinned %s" % (pj.get("version"), sys.argv[2]))
    sys.exit(1)
eng = (pj.get("engines") or {}).get("node", "")
for part in eng.split():
    m = re.fullmatch(r">=?\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", part)
    if m and tuple(int(x or 0) for x in m.groups()) > (18, 19, 0):
        print("engines.node '%s' refuses Node 18.19" % eng)
        sys.exit(1)
print("ok")
PY
)
  [ "$out" = ok ]
  check "npm_${name}_pinned_and_runs_on_node18" $? "$out"
done

# ---- 2. require() errors are reported as they are -------------------------------
if command -v node >/dev/null; then
  saved=$NODE_PATH
  NODE_PATH=$TMP/empty
  need_node_module ws
  st=$?
  NODE_PATH=$saved
  [ $st = 1 ] && grep -q "Cannot find module 'ws'" <<<"$NODE_ERR"
  check need_node_module_reports_missing $? "status $st: $NODE_ERR"
  mkdir -p "$TMP/nm/broken"
  echo 'throw new Error("needs Node.js 99 or higher")' >"$TMP/nm/broken/index.js"
  NODE_PATH=$TMP/nm need_node_module broken
  st=$?
  [ $st = 1 ] && grep -q "needs Node.js 99 or higher" <<<"$NODE_ERR" &&
    ! grep -q "not installed" <<<"$NODE_ERR"
  check need_node_module_reports_real_error $? "status $st: $NODE_ERR"
  need_node_module ws
  check need_node_module_loads_ws $? "$NODE_ERR"
else
  fail need_node_module "node not found"
  FAILED=1
fi

# ---- 3. make test's last line -------------------------------------------------
if command -v make >/dev/null; then
  T=$TMP/mk
  mkdir -p "$T/scripts"
  cp "$WSX_ROOT/Makefile" "$T/"
  cp "$WSX_ROOT/scripts/make-test.sh" "$T/scripts/"
  printf '#!/bin/bash\nexit 0\n' >"$T/scripts/install-deps.sh"
  cat >"$T/scripts/run-tests.sh" <<'SH'
#!/bin/bash
echo "ok one"
[ "${STUB_FAILED:-0}" = 0 ] || echo "FAIL two: stub"
echo "1 passed, ${STUB_FAILED:-0} failed"
[ "${STUB_FAILED:-0}" = 0 ]
SH
  for nf in 0 1; do
    # As from a terminal: a background job (this suite may be one) starts
    # with SIGQUIT ignored, and make-test.sh then leaves make's trailer.
    out=$(cd "$T" && STUB_FAILED=$nf timeout 60 env --default-signal=QUIT make test 2>&1)
    st=$?
    last=$(tail -n 1 <<<"$out")
    st_ok=0
    if [ $nf = 0 ]; then [ $st = 0 ] && st_ok=1; else [ $st != 0 ] && st_ok=1; fi
    if [ "$last" = "1 passed, $nf failed" ] && [ $st_ok = 1 ]; then
      ok "make_test_last_line_${nf}_failed"
    else
      fail "make_test_last_line_${nf}_failed" "status $st, last line '$last'"
      FAILED=1
    fi
  done
else
  fail make_test_last_line "make not found"
  FAILED=1
fi

exit $FAILED
