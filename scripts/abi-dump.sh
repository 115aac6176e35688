#!/usr/bin/env bash
# scripts/abi-dump.sh [BUILD]: writes abi/libwsx.abi, the ABI baseline that
# tests/interop/test_abi.sh compares libwsx.so against (abidiff, from
# Debian's abigail-tools).
#
# Update it deliberately, only when an ABI change is intended: while the
# version is 0.x that means a new minor version (bump WSX_VERSION_MINOR in
# include/wsx/common.h, which changes the SONAME), then `make build` and run
# this script on the new release's library, and commit the dump with the
# release. A patch release must pass the check against the old dump as is.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build}
mkdir -p "$ROOT/abi"
abidw --headers-dir "$ROOT/include/wsx" --no-corpus-path --no-show-locs \
  --no-comp-dir-path "$BUILD/libwsx.so" >"$ROOT/abi/libwsx.abi"
echo "abi-dump: wrote abi/libwsx.abi from $BUILD/libwsx.so"
