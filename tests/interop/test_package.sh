#!/usr/bin/env bash
# tests/interop/test_package.sh: the installed tree and the build's
# packaging promises (docs/design-notes.md "ABI policy", README "Install").
#   - `cmake --install` into a temporary prefix writes headers, libwsx.so.0.1
#     (SONAME libwsx.so.0.1), wsx.pc (relocatable, Requires: libuv) and the
#     CMake package (find_package(wsx) -> wsx::wsx);
#   - every examples/*.c (the README's examples) compiles against it with
#     `pkg-config --cflags --libs wsx` AND with a find_package(wsx) CMake
#     project, each links the SHARED library, and both sets run on
#     loopback: echo_server with client and ping, deflate_server and
#     driver_tcp with client, eventsource_server with eventsource_client;
#   - plain `cmake` keeps a packager's CMAKE_C_FLAGS_RELEASE and -Werror off;
#   - the normal build's public-API tests link libwsx.so.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BUILD_DIR=${WSX_BUILD:-$WSX_ROOT/build}
PREFIX=$TMP/prefix

# ---- install ----
if cmake --install "$BUILD_DIR" --prefix "$PREFIX" >"$TMP/install.log" 2>&1; then
  ok install
else
  fail install "cmake --install failed: $(tail -3 "$TMP/install.log")"
  exit 1
fi
LIBDIR=$(dirname "$(find "$PREFIX" -name 'libwsx.so.*.*.*' | head -1)")
soname=$(readelf -d "$LIBDIR"/libwsx.so 2>/dev/null | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
major=$(sed -n 's/^#define WSX_VERSION_MAJOR //p' "$WSX_ROOT/include/wsx/common.h")
minor=$(sed -n 's/^#define WSX_VERSION_MINOR //p' "$WSX_ROOT/include/wsx/common.h")
if [ "$major" = 0 ] && [ "$soname" = "libwsx.so.0.$minor" ]; then
  ok soname_0x_has_minor
else
  fail soname_0x_has_minor "SONAME '$soname' (version $major.$minor)"
fi

# ---- pkg-config ----
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig"
pc="$LIBDIR/pkgconfig/wsx.pc"
if grep -q '^Requires: *libuv' "$pc" && ! grep -q '^Requires:.*ssl' "$pc" &&
   grep -q '^Requires.private:.*libssl.*zlib' "$pc"; then
  ok pc_requires
else
  fail pc_requires "$(grep Requires "$pc" | tr '\n' ' ')"
fi
cflags=$(pkg-config --cflags wsx) libs=$(pkg-config --libs wsx)
if [ "$(cd "$(pkg-config --variable=includedir wsx)" && pwd -P)" = "$(cd "$PREFIX/include" && pwd -P)" ]; then
  ok pc_prefix_is_install_prefix
else
  fail pc_prefix_is_install_prefix "includedir $(pkg-config --variable=includedir wsx)"
fi
nfail=0
for src in "$WSX_ROOT"/examples/*.c; do
  name=$(basename "$src" .c)
  # shellcheck disable=SC2086
  if ! cc -std=c11 -D_GNU_SOURCE -o "$TMP/$name" "$src" $cflags $libs \
      -Wl,-rpath,"$LIBDIR" 2>"$TMP/$name.err"; then
    fail "pkgconfig_example_$name" "$(head -5 "$TMP/$name.err" | tr '\n' ' ')"
    nfail=$((nfail + 1))
  elif ! readelf -d "$TMP/$name" | grep -q "NEEDED.*\[$soname\]"; then
    fail "pkgconfig_example_$name" "not linked to the shared $soname"
    nfail=$((nfail + 1))
  fi
done
[ $nfail = 0 ] && ok pkgconfig_every_example_builds_shared

# ---- find_package(wsx): every example ----
mkdir -p "$TMP/cm"
{
  echo 'cmake_minimum_required(VERSION 3.16)'
  echo 'project(wsx_consumer C)'
  echo "find_package(wsx 0.$minor REQUIRED)"
  for src in "$WSX_ROOT"/examples/*.c; do
    name=$(basename "$src" .c)
    echo "add_executable($name \"$src\")"
    echo "target_link_libraries($name PRIVATE wsx::wsx)"
  done
} >"$TMP/cm/CMakeLists.txt"
nex=$(ls "$WSX_ROOT"/examples/*.c | wc -l)
if cmake -S "$TMP/cm" -B "$TMP/cm/b" -DCMAKE_PREFIX_PATH="$PREFIX" \
     >"$TMP/cm.log" 2>&1 && cmake --build "$TMP/cm/b" >>"$TMP/cm.log" 2>&1; then
  nfail=0
  for src in "$WSX_ROOT"/examples/*.c; do
    name=$(basename "$src" .c)
    if ! readelf -d "$TMP/cm/b/$name" 2>/dev/null | grep -q "NEEDED.*\[$soname\]"; then
      fail "cmake_example_$name" "not built, or not linked to the shared $soname"
      nfail=$((nfail + 1))
    fi
  done
  [ $nfail = 0 ] && ok "cmake_find_package_every_example_builds_shared ($nex examples)"
else
  fail cmake_find_package_every_example_builds_shared "$(grep -iE 'error' "$TMP/cm.log" | head -3 | tr '\n' ' ')"
fi

# ---- run the installed examples on loopback, both builds ----
# serve KIND DIR SERVER: starts DIR/SERVER on a free port, waits for its
# "listening on" line; sets PORT and SPID (0 = did not come up).
serve() {
  local kind=$1 dir=$2 srv=$3
  PORT=$(free_port)
  SPID=0
  [ -x "$dir/$srv" ] || return 1
  "$dir/$srv" "$PORT" >"$TMP/$srv.$kind.out" 2>&1 &
  SPID=$!
  STARTED+=("$SPID")
  wait_for "$TMP/$srv.$kind.out" "listening on" 10 "$SPID" && return 0
  kill "$SPID" 2>/dev/null
  SPID=0
  return 1
}
# pair KIND DIR SERVER CLIENT EXPECT CLIENT_ARGS...: the client against the
# server must print EXPECT; ok/FAIL installed_KIND_SERVER_CLIENT.
pair() {
  local kind=$1 dir=$2 srv=$3 cli=$4 expect=$5 out="" name
  shift 5
  name="installed_${kind}_${srv}_${cli}"
  if [ ! -x "$dir/$cli" ] || ! serve "$kind" "$dir" "$srv"; then
    fail "$name" "$srv or $cli not built, or $srv did not start: $(head -3 "$TMP/$srv.$kind.out" 2>/dev/null | tr '\n' ' ')"
    return
  fi
  out=$(timeout 10 "$dir/$cli" "${@//PORT/$PORT}" 2>&1)
  kill "$SPID" 2>/dev/null
  wait "$SPID" 2>/dev/null
  if grep -q -- "$expect" <<<"$out"; then
    ok "$name"
  else
    fail "$name" "expected '$expect'; $cli said: $(head -3 <<<"$out" | tr '\n' ' ')"
  fi
}
for kind in pkgconfig cmake; do
  if [ $kind = cmake ]; then dir=$TMP/cm/b; else dir=$TMP; fi
  pair $kind "$dir" echo_server client "message Hello, world!" "ws://127.0.0.1:PORT/"
  pair $kind "$dir" echo_server ping "pong received" "ws://127.0.0.1:PORT/"
  pair $kind "$dir" deflate_server client "message Hello, world!" "ws://127.0.0.1:PORT/"
  pair $kind "$dir" driver_tcp client "message Hello, world!" "ws://127.0.0.1:PORT/"
  pair $kind "$dir" eventsource_server eventsource_client "message message 3 event 3" \
    "http://127.0.0.1:PORT/events" 3
done

# ---- a packager's plain cmake: flags kept, no -Werror ----
if cmake -S "$WSX_ROOT" -B "$TMP/plain" -DCMAKE_BUILD_TYPE=Release \
     -DCMAKE_C_FLAGS_RELEASE="-O1 -DPACKAGER" >"$TMP/plain.log" 2>&1 &&
   grep -q '^CMAKE_C_FLAGS_RELEASE:STRING=-O1 -DPACKAGER$' "$TMP/plain/CMakeCache.txt" &&
   grep -q '^WSX_WERROR:BOOL=OFF$' "$TMP/plain/CMakeCache.txt"; then
  ok plain_cmake_keeps_packager_flags
else
  fail plain_cmake_keeps_packager_flags "$(grep -E 'FLAGS_RELEASE:|WSX_WERROR:' "$TMP/plain/CMakeCache.txt" 2>/dev/null | tr '\n' ' ')"
fi

# ---- the normal build's tests exercise the shared library ----
list="$BUILD_DIR/wsx-tests-shared.list"
n=0
if [ -f "$list" ]; then
  while read -r t; do
    [ -n "$t" ] || continue
    bin="$BUILD_DIR/tests/${t#*.}"
    case $t in unit.*) bin="$BUILD_DIR/tests/unit/${t#unit.}" ;;
               conformance.*) bin="$BUILD_DIR/tests/conformance/${t#conformance.}" ;; esac
    readelf -d "$bin" 2>/dev/null | grep -q "NEEDED.*\[$soname\]" && n=$((n + 1))
  done <"$list"
fi
if [ "$n" -ge 10 ]; then
  ok "tests_link_shared_library ($n programs)"
else
  fail tests_link_shared_library "only $n test programs link $soname"
fi
