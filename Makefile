# wsx: a thin front over CMake (see CMakeLists.txt and README.md).
#
#   make            build/libwsx.a, build/libwsx.so, build/wsx (Release, -O2 -g)
#   make test       deps if missing, normal + ASan/UBSan builds, every test,
#                   every fuzz target briefly, interop scripts; ends with
#                   "N passed, N failed"
#   make asan       everything in build-asan/ with ASan + UBSan
#   make conformance  the wire conformance cases (all 517) on every cell of
#                   {TCP, TLS} x {release, ASan+UBSan} x {whole, split
#                   writes}, both roles (scripts/conformance.py; SEED=N)
#   make attack     floods against `wsx echo` (tests/attack/attack.py, issue
#                   16's targets), release and ASan builds, plain and TLS;
#                   not part of `make test` (its short version is:
#                   tests/interop/test_attack.sh); several minutes
#   make fuzz       fuzz targets for FUZZ_SECONDS (default 300) each
#   make bench      Release build, then bench/run.sh and every bench program
#                   (BENCH_SHORT=1 make bench: the quick mode, see bench/run.sh)
#   make soak       10,000 connections echoing at a bounded rate for
#                   SOAK_SECONDS (600), server RSS start/peak/end and a
#                   verdict (bench/soak.sh; not part of `make test`)
#   make demo       the demo server: build/wsx serve on localhost (127.0.0.1
#                   and ::1) port DEMO_PORT (8080), until Ctrl-C
#   make install    PREFIX=/usr/local (DESTDIR honoured)
#   make format     clang-format -i over the C sources
#   make clean
#   make fresh-check  (root) the README's quick start on a debootstrapped
#                   Debian 12 in a chroot: make test, make demo, curl;
#                   30-60 minutes (scripts/fresh-check.sh)

PREFIX     ?= /usr/local
JOBS       ?= 2
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CMAKE      ?= cmake
ASAN_CC    ?= gcc
FUZZ_CC    ?= clang
# Non-empty: keep compiling past errors (the test runner uses this so one
# broken test file does not hide the results of all the others).
KEEP_GOING ?=
DEMO_PORT  ?= 8080

KG := $(if $(KEEP_GOING),-- -k,)
SAN_FLAGS := -O1 -g
# The project's own builds: warnings are errors, -O2 -g. A plain `cmake`
# build (a packager's) gets neither forced (WSX_WERROR defaults to OFF).
REL_FLAGS := -O2 -g -DNDEBUG
OWN_FLAGS := -DWSX_WERROR=ON

MAKEFLAGS += --no-print-directory
export BUILD ASAN_BUILD FUZZ_BUILD

.PHONY: attack all build asan fuzz-build test fuzz bench soak demo format clean install \
        deps deps-check fresh-check conformance

all: build

build:
	@test -f $(BUILD)/Makefile || \
	  $(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release \
	    -DCMAKE_C_FLAGS_RELEASE="$(REL_FLAGS)" $(OWN_FLAGS)
	$(CMAKE) --build $(BUILD) -j $(JOBS) $(KG)

asan:
	@test -f $(ASAN_BUILD)/Makefile || \
	  CC=$(ASAN_CC) $(CMAKE) -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	    -DCMAKE_C_FLAGS_DEBUG="$(SAN_FLAGS)" -DWSX_SANITIZE=ON $(OWN_FLAGS)
	$(CMAKE) --build $(ASAN_BUILD) -j $(JOBS) $(KG)

# libFuzzer targets; needs clang.
attack: build asan
	st=0; \
	python3 tests/attack/attack.py --wsx $(BUILD)/wsx --tls || st=1; \
	python3 tests/attack/attack.py --wsx $(ASAN_BUILD)/wsx --tls \
	  --no-rss-checks || st=1; \
	exit $$st

fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null || \
	  { echo "error: $(FUZZ_CC) not found; fuzz targets need clang" >&2; exit 1; }
	@test -f $(FUZZ_BUILD)/Makefile || \
	  CC=$(FUZZ_CC) $(CMAKE) -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	    -DCMAKE_C_FLAGS_DEBUG="$(SAN_FLAGS)" -DWSX_FUZZ=ON $(OWN_FLAGS)
	$(CMAKE) --build $(FUZZ_BUILD) -j $(JOBS) $(KG)

deps:
	bash scripts/install-deps.sh

# Installs the dependencies only when a cheap check says they are missing.
deps-check:
	@bash scripts/install-deps.sh --check || bash scripts/install-deps.sh

# A simple command (no shell in between): scripts/make-test.sh's parent is
# this make, which it ends quietly on failure so "N passed, N failed" stays
# the last line (the exit status stays non-zero; see the script).
test: deps-check
	@bash scripts/make-test.sh

# Sanitizer settings as in scripts/run-tests.sh; the caller's come last.
conformance: deps-check
	@$(MAKE) build
	@$(MAKE) asan
	@ASAN_OPTIONS="exitcode=23:detect_leaks=1:abort_on_error=0:$${ASAN_OPTIONS:-}" \
	  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=24:$${UBSAN_OPTIONS:-}" \
	  WSX_BIN="$(abspath $(BUILD))/wsx" WSX_ASAN_BIN="$(abspath $(ASAN_BUILD))/wsx" \
	  python3 scripts/conformance.py

fuzz: fuzz-build
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-300} bash scripts/run-fuzz.sh $(FUZZ_BUILD)

# bench/run.sh (when present) is the curated benchmark; then every
# bench/bench-*.sh script, then the bench programs run.sh does not mention
# by name.
bench: deps-check
	@$(MAKE) build
	@set -e; export WSX_ROOT="$(CURDIR)" WSX_BUILD="$(abspath $(BUILD))" \
	  WSX_BIN="$(abspath $(BUILD))/wsx" \
	  NODE_PATH="$(CURDIR)/.deps/node/node_modules"; \
	if [ -f bench/run.sh ]; then echo "== bench/run.sh"; bash bench/run.sh; fi; \
	for s in bench/bench-*.sh; do \
	  [ -f "$$s" ] || continue; echo "== $$s"; bash "$$s"; \
	done; \
	while IFS="$$(printf '\t')" read -r name path; do \
	  [ -n "$$name" ] || continue; \
	  if [ -f bench/run.sh ] && grep -qw "$$name" bench/run.sh; then continue; fi; \
	  echo "== $$name"; "$$path"; \
	done < $(BUILD)/wsx-benches.list

# The soak (issue 20; not in `make test`): 10,000 connections echoing at a
# bounded rate for SOAK_SECONDS (600); RSS start/peak/end and a verdict.
soak: deps-check
	@$(MAKE) build
	@WSX_BUILD="$(abspath $(BUILD))" WSX_BIN="$(abspath $(BUILD))/wsx" \
	  bash bench/soak.sh

demo: deps-check
	@$(MAKE) build
	@echo "== $(BUILD)/wsx serve --port $(DEMO_PORT): open the URL below; Ctrl-C stops it"
	@exec $(BUILD)/wsx serve --port $(DEMO_PORT)

# Installs headers, libwsx.a, libwsx.so.0.1, wsx.pc, the CMake package
# (lib/cmake/wsx: find_package(wsx) -> wsx::wsx) and the CLI.
install:
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_C_FLAGS_RELEASE="$(REL_FLAGS)" -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	$(CMAKE) --build $(BUILD) -j $(JOBS)
	$(CMAKE) --install $(BUILD)

FORMAT_DIRS := include src tests tools fuzz bench examples
# tools/demo_page.c is generated (tools/demo/embed.cmake): not formatted.
format:
	@find $(FORMAT_DIRS) -name '*.[ch]' -type f ! -name demo_page.c \
	  2>/dev/null | xargs -r clang-format -i

# Not part of `make test`: needs root, the network and half an hour.
fresh-check:
	@bash scripts/fresh-check.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-portable build-tsan
