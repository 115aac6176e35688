#!/usr/bin/env bash
# scripts/fresh-check.sh: the README's quick start on a freshly bootstrapped
# Debian 12, as a new user would run it (`make fresh-check`; root only).
#
#  1. debootstraps Debian 12 (bookworm) minbase plus ca-certificates and git
#     into a temporary folder (installs debootstrap on this machine first if
#     it is missing);
#  2. gives it this machine's apt sources, resolv.conf and local CA
#     certificates (/usr/local/share/ca-certificates), and a standard Debian
#     /etc/hosts (localhost is 127.0.0.1 and ::1);
#  3. mounts /proc, /sys, /dev, /dev/pts and a fresh /dev/shm (Chromium needs
#     it), clones this checkout's HEAD commit (committed work only) into
#     /root/wsx;
#  4. runs the README's commands exactly: `apt-get install make git`,
#     `make test`, then `make demo` until / and /clock answer over curl;
#  5. prints make test's "N passed, N failed" line and every FAIL line,
#     unmounts and removes the folder (also on error or Ctrl-C).
#
# Exit status 0 iff make test passed and the demo answered.
# Takes 30-60 minutes on a 2-core machine: one run on a busy one took 47
# (debootstrap 5, apt and npm 19, make test's builds and tests 23). The
# chroot shares this machine's network: the tests use loopback ports and the
# demo port 8080, so nothing else should be listening on them meanwhile. Environment:
#   FRESH_MIRROR=url   Debian mirror for debootstrap (default: this machine's)
#   FRESH_DIR=dir      parent of the temporary folder (default /var/tmp)
#   FRESH_KEEP=1       keep the folder (still unmounted) for inspection
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { echo "fresh-check: $*"; }
die() { echo "fresh-check: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, mount, chroot)"
command -v git >/dev/null || die "git not found"
COMMIT=$(git -C "$ROOT" rev-parse HEAD) || die "$ROOT is not a git checkout"
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]; then
  say "note: uncommitted changes are not checked (HEAD is $COMMIT)"
fi

# The mirror: the first Debian URI of this machine's apt sources.
mirror() {
  local f u
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
           /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    u=$(sed -n -E 's/^deb +(\[[^]]*\] +)?(https?:[^ ]*\/debian\/?) .*/\2/p;
                   s/^URIs: *(https?:[^ ]*\/debian\/?)$/\1/p' "$f" | head -n 1)
    [ -n "$u" ] && { echo "$u"; return; }
  done
  return 1
}
MIRROR=${FRESH_MIRROR:-$(mirror)} || {
  echo "fresh-check: no Debian mirror in this machine's apt sources;" \
    "set FRESH_MIRROR=<URL of a Debian mirror>" >&2
  exit 2
}

if ! command -v debootstrap >/dev/null; then
  say "apt-get install debootstrap (waiting up to 10 minutes)"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get -o DPkg::Lock::Timeout=300 -q -y update >/dev/null ||
    die "apt-get update failed"
  timeout 600 apt-get -o DPkg::Lock::Timeout=300 -q -y install \
    --no-install-recommends debootstrap >/dev/null ||
    die "apt-get install debootstrap failed"
fi

DIR=$(mktemp -d "${FRESH_DIR:-/var/tmp}/wsx-fresh.XXXXXX")
R=$DIR/root
MOUNTS=()
BG="" # the step running in the background, if any

# Processes whose root is inside the chroot (a demo or test left running).
chroot_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && echo "${p#/proc/}"
  done
  return 0
}

cleanup() {
  local rc=$? i pids m
  trap - EXIT INT TERM
  set +e # clean up as much as possible whatever fails
  # A step still running (debootstrap runs outside the chroot): `timeout`
  # passes the signal on to it.
  [ -n "$BG" ] && kill "$BG" 2>/dev/null && wait "$BG" 2>/dev/null
  pids=$(chroot_pids)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
    sleep 1
    # shellcheck disable=SC2086
    kill -9 $(chroot_pids) 2>/dev/null || true
  fi
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" ||
      echo "fresh-check: could not unmount ${MOUNTS[i]}" >&2
  done
  # Anything else mounted below the folder (debootstrap mounts /proc and
  # /sys while it works), innermost first.
  for m in $(awk -v d="$DIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" ||
      echo "fresh-check: could not unmount $m" >&2
  done
  if [ "${FRESH_KEEP:-0}" = 1 ]; then
    say "kept $DIR"
  elif ! grep -q " $DIR/" /proc/mounts; then
    rm -rf --one-file-system "$DIR"
  else
    echo "fresh-check: $DIR still has mounts; not removed" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mnt() { # mnt TARGET mount-args...: mounts and remembers it for cleanup
  local t=$1
  shift
  mkdir -p "$t"
  mount "$@" "$t"
  MOUNTS+=("$t")
}

start=$SECONDS
elapsed() { echo "$(((SECONDS - start) / 60))m$(((SECONDS - start) % 60))s"; }

# ---- 1. debootstrap -----------------------------------------------------------
say "debootstrap bookworm minbase from $MIRROR into $R (a few minutes)"
timeout 1800 debootstrap --variant=minbase --include=ca-certificates,git \
  bookworm "$R" "$MIRROR" >"$DIR/debootstrap.log" 2>&1 &
BG=$!
if ! wait "$BG"; then
  tail -n 20 "$DIR/debootstrap.log" >&2
  [ -f "$R/debootstrap/debootstrap.log" ] && tail -n 20 "$R/debootstrap/debootstrap.log" >&2
  die "debootstrap failed"
fi
BG=""

# ---- 2. configuration a real machine has ------------------------------------------
rm -f "$R"/etc/apt/sources.list "$R"/etc/apt/sources.list.d/*
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
         /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && cp "$f" "$R$f"
done
cp -L /etc/resolv.conf "$R/etc/resolv.conf"
cat >"$R/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
echo wsx-fresh >"$R/etc/hostname"
if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
  mkdir -p "$R/usr/local/share/ca-certificates"
  cp -r /usr/local/share/ca-certificates/. "$R/usr/local/share/ca-certificates/"
fi

mnt "$R/proc" -t proc proc
mnt "$R/sys" -t sysfs sysfs
mnt "$R/dev" --bind /dev
mnt "$R/dev/pts" --bind /dev/pts
mnt "$R/dev/shm" -t tmpfs -o mode=1777 shm

# Runs a command line in the chroot with a clean login-like environment.
# In the background plus `wait`: bash runs the INT/TERM traps (and so the
# cleanup) only once a foreground command ends, but interrupts a wait. A
# background command starts with SIGINT and SIGQUIT ignored; a user's
# terminal does not do that, so they get their default back.
in_chroot() {
  env --default-signal=INT,QUIT -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb \
    LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    chroot "$R" /bin/bash -c "$1" &
  BG=$!
  wait "$BG"
  local st=$?
  BG=""
  return $st
}

in_chroot 'update-ca-certificates >/dev/null' || die "update-ca-certificates failed"

# ---- 3. the repository ------------------------------------------------------------
say "cloning $ROOT at $COMMIT into /root/wsx"
git clone -q --no-hardlinks "$ROOT" "$R/root/wsx"
git -C "$R/root/wsx" checkout -q --detach "$COMMIT"

# ---- 4. the README, as a new user runs it -------------------------------------
LOG=$DIR/make-test.log
say "[$(elapsed)] apt-get install make git"
in_chroot 'export DEBIAN_FRONTEND=noninteractive;
  timeout 900 apt-get -q update >/dev/null &&
  timeout 900 apt-get -q -y install make git >/dev/null' ||
  die "apt-get install make git failed in the chroot"

say "[$(elapsed)] make test (most of the run time; log $LOG)"
set +e
in_chroot 'cd /root/wsx && make test' >"$LOG" 2>&1
test_rc=$?
set -e
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOG" | tail -n 1)
last=$(tail -n 1 "$LOG")
say "[$(elapsed)] make test exited $test_rc"
echo "---- every FAIL line of make test:"
grep -E '^FAIL ' "$LOG" || echo "(none)"
echo "---- last 5 lines of make test:"
tail -n 5 "$LOG"
echo "----"
ok=1
[ "$test_rc" -eq 0 ] || ok=0
[ -n "$summary" ] || { say "no 'N passed, N failed' line"; ok=0; }
[ "$last" = "$summary" ] || { say "'N passed, N failed' is not the last line"; ok=0; }

say "[$(elapsed)] make demo, then curl / and /clock"
if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
  say "something on this machine already listens on 127.0.0.1:8080 (the chroot" \
    "shares its network): the demo cannot be checked"
  ok=0
fi
DEMO_LOG=$DIR/make-demo.log
env --default-signal=INT,QUIT -i HOME=/root USER=root LOGNAME=root \
  SHELL=/bin/bash TERM=dumb LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  chroot "$R" /bin/bash -c 'cd /root/wsx && exec make demo' >"$DEMO_LOG" 2>&1 &
demo_pid=$!
demo_ok=0
for _ in $(seq 120); do
  if in_chroot 'curl -fsS -o /dev/null --max-time 5 http://localhost:8080/' 2>/dev/null; then
    demo_ok=1
    break
  fi
  kill -0 "$demo_pid" 2>/dev/null || break
  sleep 1
done
if [ $demo_ok = 1 ]; then
  say "GET http://localhost:8080/ answered 200"
  clock=$(in_chroot "curl -sS -N --max-time 3 -H 'Accept: text/event-stream' \
    http://localhost:8080/clock" 2>&1 || true)
  if grep -q '^data:' <<<"$clock"; then
    say "GET /clock streams: $(grep -m 1 '^data:' <<<"$clock")"
  else
    say "GET /clock sent no event: $(head -c 300 <<<"$clock")"
    demo_ok=0
  fi
  if in_chroot 'curl -fsS -o /dev/null --max-time 5 "http://[::1]:8080/"' 2>/dev/null &&
     in_chroot 'curl -fsS -o /dev/null --max-time 5 http://127.0.0.1:8080/' 2>/dev/null; then
    say "the demo answers on both 127.0.0.1 and ::1"
  else
    say "the demo does not answer on both 127.0.0.1 and ::1"
    demo_ok=0
  fi
else
  say "the demo did not answer on http://localhost:8080/"
fi
echo "---- make demo printed:"
cat "$DEMO_LOG"
echo "----"
kill "$demo_pid" 2>/dev/null || true
# shellcheck disable=SC2046
kill $(chroot_pids) 2>/dev/null || true
wait "$demo_pid" 2>/dev/null || true
[ $demo_ok = 1 ] || ok=0

say "[$(elapsed)] done"
echo "$summary"
if [ $ok = 1 ]; then
  say "PASS: a fresh Debian 12 passes the README's quick start"
  exit 0
fi
say "FAILED (logs were in $DIR, removed unless FRESH_KEEP=1)"
exit 1
