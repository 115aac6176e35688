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
set -uo pipefail

# folder -> allowed (folders or exact headers), most basic layer first.
declare -A ALLOW=(
  [common]=""
  [ext]="common"
  [driver]="common ext/framework.h"
  [es]="common"
  [uv]="common es"
)
LAYERS="common ext driver es uv"

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

# Self-test: the same check must catch a planted violation and a cycle.
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/src/driver" "$T/src/uv" "$T/src/common" "$T/src/ext"
printf '#include "uv/internal.h"\n' >"$T/src/driver/a.c"
printf '#include "driver/x.h"\n' >"$T/src/uv/b.c"
printf '#include "ext/ext_int.h"\n#include "ext/framework.h"\n' >"$T/src/driver/c.c"
out=$(check "$T")
if grep -q 'driver/a.c includes "uv/internal.h"' <<<"$out" &&
   grep -q 'driver/c.c includes "ext/ext_int.h"' <<<"$out" &&
   ! grep -q 'ext/framework.h"' <<<"$out" &&
   grep -q 'include cycle.*driver' <<<"$out"; then
  echo "ok layers: self-test (planted violations and a cycle are reported)"
else
  echo "FAIL layers: self-test: planted violations not reported as expected:"
  sed 's/^/  | /' <<<"$out"
fi
