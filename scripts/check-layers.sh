#!/usr/bin/env bash
# scripts/check-layers.sh: the import rule of docs/design-notes.md, checked
# over the #include lines. Part of `make test` (scripts/run-tests.sh runs it
# and counts its "ok ..." / "FAIL ...: why" lines).
#
#   bash scripts/check-layers.sh [ROOT]    check the tree at ROOT (default:
#                                           this repository), then check
#                                           that a planted violation fails
#
# The rule: a folder of src/ includes only headers of the folders listed for
# it below (its own folder and public wsx/ headers are always allowed);
# `driver` may use exactly one header of ext/, the framework interface.
# include/wsx/ includes only wsx/ headers; tools/, examples/ and bench/ use
# only the public headers (no src/ folder). Also: no include cycle between
# folders of src/ (guards any future change to the table).
#
# Inside src/uv/, the socket core (conn.c, loopctx.c and their header
# uv/core.h) knows nothing of servers, requests, clients, dialers, proxies,
# TLS or the driver: the local headers it reaches, directly or through
# other headers, are only those in CORE_HEADERS, and it calls no function
# of those roles (CORE_FORBID, over the code with comments stripped). It
# reaches them only through the phase and role tables of uv/phases.c.
set -uo pipefail

# folder -> allowed (folders or exact headers), most basic layer first.
declare -A ALLOW=(
  [common]=""
  [ext]="common"
  [driver]="common ext/framework.h"
  [es]="common"
  [uv]="common es driver/embed.h"
)
LAYERS="common ext driver es uv"

# The socket core: its files, the only local headers they may reach, and
# the role functions they may not call.
CORE_FILES="src/uv/conn.c src/uv/loopctx.c src/uv/core.h"
CORE_HEADERS="uv/core.h uv/stream.h uv/writer.h uv/uvbuf.h common/abi.h common/alloc.h common/util.h"
CORE_FORBID='(wsx_driver_|wsx_proxy_|wsx__proxy_|wsx__server_|wsx__request_|wsx__respond|wsx__dial_|wsx__client_|wsx__ws_|wsx__http_res|wsx__tls_|wsx_server_|wsx_request_|wsx_http_res_|wsx__sock_start_server|wsx__sock_schedule_keepalive|wsx__sock_free_pings)[A-Za-z0-9_]*[[:space:]]*\('

# local "..." includes of one file, one a line
includes_of() {
  sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"
}

# check_core ROOT: the socket core rule above; returns the failures.
check_core() {
  local root=$1 bad=0 f h inc seen todo calls
  for f in $CORE_FILES; do
    [ -f "$root/$f" ] || continue
    # every local header reachable from f (a header under src/ by path)
    seen=" " todo=$(includes_of "$root/$f")
    while [ -n "$todo" ]; do
      inc=${todo%%$'\n'*}
      [ "$inc" = "$todo" ] && todo="" || todo=${todo#*$'\n'}
      [[ $inc == */* ]] || continue
      [[ $seen == *" $inc "* ]] && continue
      seen="$seen$inc "
      [ "${inc%%/*}" = wsx ] && continue # public headers
      if [[ " $CORE_HEADERS " != *" $inc "* ]]; then
        echo "FAIL layers: $f reaches \"$inc\" (the socket core may use only: $CORE_HEADERS)"
        bad=$((bad + 1))
        continue
      fi
      h="$root/src/$inc"
      [ -f "$h" ] && todo="$todo"$'\n'"$(includes_of "$h")"
      todo=${todo#$'\n'}
    done
    calls=$(sed 's://.*$::' "$root/$f" | perl -0pe 's{/\*.*?\*/}{(my $c = $&) =~ tr/\n//cd; $c}gse' |
      grep -En "$CORE_FORBID" | head -5)
    if [ -n "$calls" ]; then
      while IFS= read -r h; do
        echo "FAIL layers: $f calls a role's function (use the phase/role tables of uv/phases.c): $h"
        bad=$((bad + 1))
      done <<<"$calls"
    fi
  done
  return $bad
}

# check ROOT: prints ok/FAIL lines; returns the number of failures.
check() {
  local root=$1 bad=0 f dir inc top allowed a ok
  NFILES=0
  declare -A EDGE=()
  local -a files
  mapfile -t files < <(cd "$root" && find src include tools examples bench \
    -name '*.[ch]' 2>/dev/null | sort)
  for f in "${files[@]}"; do
    case $f in
      src/*) dir=${f#src/}; dir=${dir%%/*} ;;
      include/*) dir=@public ;;
      *) dir=@app ;;
    esac
    while IFS= read -r inc; do
      [[ $inc == */* ]] || continue # same-folder or system-style local header
      top=${inc%%/*}
      [ "$top" = "$dir" ] && continue
      if [ "$top" = wsx ]; then
        continue # public headers: every layer may use them
      fi
      case $dir in
        @public)
          echo "FAIL layers: $f includes \"$inc\" (public headers include only wsx/)"
          bad=$((bad + 1)); continue ;;
        @app)
          if [[ " $LAYERS " == *" $top "* ]]; then
            echo "FAIL layers: $f includes \"$inc\" (tools, examples and bench use the public API only)"
            bad=$((bad + 1))
          fi
          continue ;;
      esac
      if [ -z "${ALLOW[$dir]+x}" ]; then
        echo "FAIL layers: $f is in src/$dir/, a folder with no rule in scripts/check-layers.sh"
        bad=$((bad + 1)); continue
      fi
      [[ " $LAYERS " == *" $top "* ]] || continue # not a src/ folder
      EDGE[$dir>$top]=1
      ok=0
      for a in ${ALLOW[$dir]}; do
        [ "$a" = "$top" ] || [ "$a" = "$inc" ] && ok=1
      done
      if [ $ok = 0 ]; then
        allowed=${ALLOW[$dir]:-nothing}
        echo "FAIL layers: $f includes \"$inc\" (src/$dir/ may use: $allowed)"
        bad=$((bad + 1))
      fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$root/$f")
  done
  # Cycle check between folders: repeatedly drop folders with no outgoing
  # edge to a remaining folder; whatever is left lies on a cycle.
  local left=" $LAYERS " changed=1 d e out
  while [ $changed = 1 ]; do
    changed=0
    for d in $left; do
      out=0
      for e in "${!EDGE[@]}"; do
        [[ $e == "$d>"* ]] && [[ $left == *" ${e#*>} "* ]] && out=1
      done
      if [ $out = 0 ]; then left=${left/ $d / }; changed=1; fi
    done
  done
  if [ -n "${left// /}" ]; then
    echo "FAIL layers: include cycle between folders of src/ (on or into it):$left"
    bad=$((bad + 1))
  fi
  NFILES=${#files[@]}
  return $bad
}

ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
check "$ROOT"
n=$?
if [ "$n" -eq 0 ]; then
  echo "ok layers: $NFILES files follow the import rule, no folder cycle"
fi
check_core "$ROOT"
n=$?
if [ "$n" -eq 0 ]; then
  echo "ok layers: the socket core ($CORE_FILES) reaches no role's header or function"
fi

# Self-test: the same check must catch a planted violation and a cycle.
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/src/driver" "$T/src/uv" "$T/src/common" "$T/src/ext"
printf '#include "uv/internal.h"\n' >"$T/src/driver/a.c"
printf '#include "driver/x.h"\n' >"$T/src/uv/b.c"
printf '#include "ext/ext_int.h"\n#include "ext/framework.h"\n' >"$T/src/driver/c.c"
# the socket core: a header that pulls in the server's, and a direct call
printf '#include "uv/stream.h"\n' >"$T/src/uv/stream.h"
printf '#include "uv/core.h"\n' >"$T/src/uv/loopctx.c"
printf '#include "uv/internal.h"\n' >"$T/src/uv/core.h"
printf '#include "uv/stream.h"\n/* wsx_driver_free(d) in a\n comment is fine */\nvoid f(void) { wsx_driver_free(d); }\n' >"$T/src/uv/conn.c"
out=$(check "$T"; check_core "$T")
if grep -q 'driver/a.c includes "uv/internal.h"' <<<"$out" &&
   grep -q 'driver/c.c includes "ext/ext_int.h"' <<<"$out" &&
   ! grep -q 'ext/framework.h"' <<<"$out" &&
   grep -q 'include cycle.*driver' <<<"$out" &&
   grep -q 'loopctx.c reaches "uv/internal.h"' <<<"$out" &&
   grep -q 'conn.c calls a role.*: 4:.*wsx_driver_free' <<<"$out" &&
   [ "$(grep -c 'conn.c calls' <<<"$out")" = 1 ]; then
  echo "ok layers: self-test (planted violations, a cycle and a socket core reaching a role are reported)"
else
  echo "FAIL layers: self-test: planted violations not reported as expected:"
  sed 's/^/  | /' <<<"$out"
fi
