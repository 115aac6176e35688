#!/usr/bin/env bash
# tests/interop/test_abi.sh: libwsx.so of this build against the release's
# ABI baseline abi/libwsx.abi (libabigail's abidiff). Any change to an
# exported function or to a type the public headers expose fails; update
# the baseline only with a new minor version (scripts/abi-dump.sh says how).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BUILD_DIR=${WSX_BUILD:-$WSX_ROOT/build}
if ! command -v abidiff >/dev/null; then
  fail abi_baseline "abidiff not found (apt-get install abigail-tools)"
  exit 1
fi
base=$WSX_ROOT/abi/libwsx.abi
ver=$(sed -n 's/^#define WSX_VERSION_STR "\(.*\)"/\1/p' "$WSX_ROOT/include/wsx/common.h")
if ! grep -q "soname='libwsx.so.${ver%.*}'" "$base"; then
  fail abi_baseline "abi/libwsx.abi is not the dump of libwsx.so.${ver%.*}"
  exit 1
fi
abidiff --headers-dir2 "$WSX_ROOT/include/wsx" "$base" "$BUILD_DIR/libwsx.so" \
  >"$TMP/abidiff.out" 2>&1
st=$?
if [ $st = 0 ]; then
  ok abi_matches_baseline
else
  sed 's/^/  | /' "$TMP/abidiff.out" | head -40
  fail abi_matches_baseline "abidiff exit $st against abi/libwsx.abi (see above; scripts/abi-dump.sh)"
fi
