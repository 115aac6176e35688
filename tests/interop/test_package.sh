#!/usr/bin/env bash
# tests/interop/test_package.sh: the installed tree and the build's
# packaging promises (docs/design-notes.md "ABI policy", README "Install").
#   - `cmake --install` into a temporary prefix writes headers, libwsx.so.0.1
#     (SONAME libwsx.so.0.1), wsx.pc (relocatable, Requires: libuv) and the
#     CMake package (find_package(wsx) -> wsx::wsx);
#   - every examples/*.c compiles against it with `pkg-config --cflags
#     --libs wsx` and links the SHARED library; echo_server and client
#     built with a find_package(wsx) CMake project talk on loopback;
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

# ---- find_package(wsx) ----
mkdir -p "$TMP/cm"
cat >"$TMP/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(wsx_consumer C)
find_package(wsx 0.$minor REQUIRED)
add_executable(echo_server "$WSX_ROOT/examples/echo_server.c")
add_executable(client "$WSX_ROOT/examples/client.c")
target_link_libraries(echo_server PRIVATE wsx::wsx)
target_link_libraries(client PRIVATE wsx::wsx)
CM
if cmake -S "$TMP/cm" -B "$TMP/cm/b" -DCMAKE_PREFIX_PATH="$PREFIX" \
     >"$TMP/cm.log" 2>&1 && cmake --build "$TMP/cm/b" >>"$TMP/cm.log" 2>&1 &&
   readelf -d "$TMP/cm/b/client" | grep -q "NEEDED.*\[$soname\]"; then
  ok cmake_find_package_builds_shared
else
  fail cmake_find_package_builds_shared "$(grep -iE 'error' "$TMP/cm.log" | head -3 | tr '\n' ' ')"
fi

# ---- run the installed echo_server + client on loopback ----
for kind in pkgconfig cmake; do
  if [ $kind = cmake ]; then dir=$TMP/cm/b; else dir=$TMP; fi
  [ -x "$dir/echo_server" ] && [ -x "$dir/client" ] || continue
  port=$(free_port)
  "$dir/echo_server" "$port" >"$TMP/srv.$kind.out" 2>&1 &
  pid=$!
  STARTED+=("$pid")
  out=""
  for _ in $(seq 50); do
    out=$(timeout 10 "$dir/client" "ws://127.0.0.1:$port/" 2>&1) && break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null
  if grep -q "Hello, world!" <<<"$out"; then
    ok "installed_${kind}_echo_roundtrip"
  else
    fail "installed_${kind}_echo_roundtrip" "client said: $(head -3 <<<"$out" | tr '\n' ' ')"
  fi
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
