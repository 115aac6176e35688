#!/usr/bin/env bash
# scripts/install-deps.sh: installs everything wsx needs to build and test on
# Debian 12 (bookworm): the toolchain and libraries from apt, and the Node
# test peers from npm into the local folder .deps/node (never globally).
#
# Idempotent: what is already there is skipped, so a second run takes about a
# second. Needs root for apt-get (uses sudo when not root and sudo exists).
#
#   scripts/install-deps.sh          install what is missing
#   scripts/install-deps.sh --check  exit 0 iff a previous run completed for
#                                    this version of the script (fast)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
NODE_DIR="$ROOT/.deps/node"
MARKER="$ROOT/.deps/installed"
# The marker stores this script's checksum, so adding a dependency here makes
# the next `make test` install it.
STAMP=$(cksum <"${BASH_SOURCE[0]}" | cut -d' ' -f1)

APT_PACKAGES=(
  build-essential cmake pkg-config libssl-dev zlib1g-dev libuv1-dev
  clang libclang-rt-14-dev python3 python3-websockets tinyproxy chromium
  openssl libwebsockets-dev valgrind curl clang-format
  abigail-tools
)
NPM_PACKAGES=(ws@8 eventsource@2 playwright-core@1)

die() { echo "install-deps: error: $*" >&2; exit 1; }
say() { echo "install-deps: $*"; }

if [ "${1:-}" = "--check" ]; then
  [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$STAMP" ] &&
    pkg-config --exists libuv libssl zlib 2>/dev/null &&
    command -v cmake >/dev/null && command -v clang >/dev/null &&
    command -v abidiff >/dev/null
  exit $?
fi

# ---- apt ------------------------------------------------------------------
installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
# Node: any node already on PATH will do; otherwise Debian's.
if ! command -v node >/dev/null; then
  missing+=(nodejs npm)
elif ! command -v npm >/dev/null; then
  missing+=(npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null ||
    die "apt-get not found; install by hand: ${missing[*]}"
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null ||
      die "not root and no sudo; as root run: apt-get install ${missing[*]}"
    SUDO=(sudo)
  fi
  say "apt-get install ${missing[*]}"
  log=$(mktemp "${TMPDIR:-/tmp}/wsx-apt.XXXXXX")
  export DEBIAN_FRONTEND=noninteractive
  # Another apt may hold the lock (e.g. unattended upgrades): wait for it.
  APT=("${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=900 -q -y)
  if ! "${APT[@]}" update >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "apt-get update failed (log: $log)"
  fi
  if ! "${APT[@]}" install --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "apt-get install failed (log: $log)"
  fi
  rm -f "$log"
fi

# ---- npm (local folder) ------------------------------------------------------
need_npm=0
for spec in "${NPM_PACKAGES[@]}"; do
  name=${spec%@*}
  want=${spec##*@}
  pj="$NODE_DIR/node_modules/$name/package.json"
  if [ ! -f "$pj" ]; then
    need_npm=1
  else
    have=$(sed -n 's/^ *"version": *"\([0-9]*\)\..*/\1/p' "$pj" | head -n 1)
    [ "$have" = "$want" ] || need_npm=1
  fi
done
if [ $need_npm = 1 ]; then
  command -v npm >/dev/null || die "npm not found after apt-get"
  say "npm install ${NPM_PACKAGES[*]} into .deps/node"
  mkdir -p "$NODE_DIR"
  log=$(mktemp "${TMPDIR:-/tmp}/wsx-npm.XXXXXX")
  if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$NODE_DIR" \
      --no-audit --no-fund --loglevel=error "${NPM_PACKAGES[@]}" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "npm install failed (log: $log)"
  fi
  rm -f "$log"
fi

# ---- sanity ------------------------------------------------------------------
for tool in cc cmake pkg-config clang node; do
  command -v "$tool" >/dev/null || die "$tool still missing"
done
pkg-config --exists libuv libssl zlib || die "pkg-config cannot find libuv/libssl/zlib"

echo "$STAMP" >"$MARKER"
say "ok"
