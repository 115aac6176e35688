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

# One package or a few per line, so that branches adding packages merge
# cleanly. make and git are here too, although the README has a new machine
# install them by hand first (make runs this script; git made the checkout).
APT_PACKAGES=(
  build-essential cmake pkg-config libssl-dev zlib1g-dev libuv1-dev
  clang libclang-rt-14-dev python3 python3-websockets tinyproxy chromium
  openssl libwebsockets-dev valgrind curl clang-format
  make git abigail-tools
  libwslay-dev
  libnghttp2-dev
  python3-h2
  nghttp2-client
  libhiredis-dev
  redis-server
  strace
)
# Exact versions: they must run on Debian 12's Node (18.19/18.20). The newest
# playwright-core 1.x (1.65) refuses Node < 20, 1.61.1 is the last that accepts
# Node 18 ("engines": node >= 18); ws 8.23.1 needs Node >= 10, eventsource
# 2.0.2 Node >= 12. Raising a pin: check `npm view NAME@VERSION engines`.
NPM_PACKAGES=(ws@8.23.1 eventsource@2.0.2 playwright-core@1.61.1)
NODE_MIN_MAJOR=18
# Upper bounds of the slow steps, in seconds; each says what it waits for.
APT_TIMEOUT=${APT_TIMEOUT:-1800}
NPM_TIMEOUT=${NPM_TIMEOUT:-600}

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
  log=$(mktemp "${TMPDIR:-/tmp}/wsx-apt.XXXXXX")
  export DEBIAN_FRONTEND=noninteractive
  # Another apt may hold the lock (e.g. unattended upgrades): wait for it, up
  # to 5 minutes; a stalled download gives up after 60 s without data. The
  # network steps (update, download) are also bounded as a whole; unpacking
  # is not, since killing dpkg half-way would break the system.
  APT=("${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300
       -o Acquire::http::Timeout=60 -o Acquire::https::Timeout=60 -q -y)
  say "apt-get update: waiting for the package lists from the Debian mirrors" \
    "(at most $((APT_TIMEOUT / 60)) min; log: $log)"
  if ! timeout "$APT_TIMEOUT" "${APT[@]}" update >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "apt-get update failed or timed out (log: $log)"
  fi
  say "apt-get install ${missing[*]}: waiting for the downloads" \
    "(at most $((APT_TIMEOUT / 60)) min)"
  if ! timeout "$APT_TIMEOUT" "${APT[@]}" install --download-only \
      --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "apt-get download failed or timed out (log: $log)"
  fi
  say "apt-get install: unpacking and setting up (a few minutes on a new" \
    "machine, longer on a busy one)"
  if ! "${APT[@]}" install --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "apt-get install failed (log: $log)"
  fi
  rm -f "$log"
fi

# ---- node ----------------------------------------------------------------------
command -v node >/dev/null || die "node not found after apt-get"
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt "$NODE_MIN_MAJOR" ]; then
  die "node $(node --version 2>/dev/null) is too old: the test peers need" \
    "Node >= $NODE_MIN_MAJOR (Debian 12's nodejs is 18)"
fi

# ---- npm (local folder) ------------------------------------------------------
need_npm=0
for spec in "${NPM_PACKAGES[@]}"; do
  name=${spec%@*}
  want=${spec##*@}
  pj="$NODE_DIR/node_modules/$name/package.json"
  have=""
  [ -f "$pj" ] && have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pj" | head -n 1)
  if [ "$have" != "$want" ]; then
    [ -n "$have" ] && say "$name is $have, want $want"
    need_npm=1
  fi
done
if [ $need_npm = 1 ]; then
  command -v npm >/dev/null || die "npm not found after apt-get"
  mkdir -p "$NODE_DIR"
  log=$(mktemp "${TMPDIR:-/tmp}/wsx-npm.XXXXXX")
  say "npm install ${NPM_PACKAGES[*]} into .deps/node: waiting for" \
    "the npm registry (at most $((NPM_TIMEOUT / 60)) min; log: $log)"
  # --fetch-timeout: one request gives up after 60 s; two retries each.
  # --save-exact: package.json keeps the pins as they are.
  if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout "$NPM_TIMEOUT" \
      npm install --prefix "$NODE_DIR" --save-exact \
      --fetch-timeout=60000 --fetch-retries=2 \
      --no-audit --no-fund --loglevel=error "${NPM_PACKAGES[@]}" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "npm install failed or timed out (log: $log)"
  fi
  # Each peer must load on this node, or the tests would fail later with a
  # less clear message.
  for spec in "${NPM_PACKAGES[@]}"; do
    NODE_PATH="$NODE_DIR/node_modules" node -e "require('${spec%@*}')" ||
      die "${spec%@*} does not load on node $(node --version)"
  done
  rm -f "$log"
fi

# ---- sanity ------------------------------------------------------------------
for tool in cc cmake pkg-config clang node; do
  command -v "$tool" >/dev/null || die "$tool still missing"
done
pkg-config --exists libuv libssl zlib || die "pkg-config cannot find libuv/libssl/zlib"

echo "$STAMP" >"$MARKER"
say "ok"
