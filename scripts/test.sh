#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, runs the unit tests
# under AddressSanitizer and UBSan, fuzzes every parser of untrusted input for
# a while (clang, libFuzzer), then runs every test (unit, integration, proto
# lint, Python client, benchmark smoke run) on the regular build, then
# rehearses the containers (images, compose, Kubernetes overlays, with
# podman). Exits non-zero on any failure.
#
#   ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)

scripts/install-deps.sh

# ccache hits across fresh clones need paths relative to the checkout.
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=true

echo "== sanitizer build (ASan + UBSan) of the unit tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCSTOPA_SANITIZE=ON -DCSTOPA_UNIT_ONLY=ON >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -L unit --output-on-failure -j "$jobs"

echo "== fuzz targets (clang + libFuzzer + ASan), ${CSTOPA_FUZZ_SECONDS:-20} s each"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCSTOPA_FUZZ=ON -DCSTOPA_UNIT_ONLY=ON \
  -DCSTOPA_FUZZ_SECONDS="${CSTOPA_FUZZ_SECONDS:-20}" >/dev/null
cmake --build build-fuzz -j "$jobs" --target filter_fuzz page_token_fuzz search_query_fuzz \
  request_decoding_fuzz view_bytes_fuzz
ctest --test-dir build-fuzz -L fuzz --output-on-failure -j "$jobs"

echo "== regular build: every test"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

# Builds the images of deploy/Dockerfile with podman and runs them alone,
# with deploy/compose.yaml and as the dev and prod Kubernetes overlays
# (tests/containers/rehearse.sh; cost in deploy/README.md).
echo "== containers: images, compose and the Kubernetes overlays, rehearsed"
tests/containers/rehearse.sh build
