#!/usr/bin/env bash
# Installs what building, running and testing cstopa need, and only what is
# missing: Debian packages with apt-get, npm packages (buf) with npm into
# tools/node_modules. Safe to run again; quick when everything is present.
# Runs as root (or through sudo when available).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # toolchain
  g++ clang libclang-rt-14-dev cmake ninja-build pkg-config ccache git
  ca-certificates unzip python3
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libprotoc-dev
  libabsl-dev libssl-dev libsqlite3-dev libgtest-dev libgmock-dev
  libbenchmark-dev libpq-dev
  # PostgreSQL server binaries for the throwaway test server (tests/postgres)
  postgresql-15
  # google/{rpc,api,type} protos (extracted at build time; see cmake/proto.cmake)
  grpc-proto libgoogle-common-protos-java golang-google-genproto-dev
  # tools and clients used by the tests and the benchmark
  sqlite3 nghttp2-client python3-grpcio python3-protobuf openssl
  # time zones of events (events_server reads /usr/share/zoneinfo)
  tzdata
)

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js may come from Debian or elsewhere; only install it when absent.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

# buf (proto lint), kubernetes-models and js-yaml (manifest validation),
# @grpc/grpc-js and @grpc/proto-loader (Node client tests),
# versions pinned in tools/package.json. (`npm ci` trips over
# the optional per-platform packages in the lock file, hence `install`.)
if [ ! -x tools/node_modules/.bin/buf ] || [ ! -d tools/node_modules/kubernetes-models ] \
   || [ ! -d tools/node_modules/js-yaml ] || [ ! -d tools/node_modules/@grpc/grpc-js ] \
   || [ ! -d tools/node_modules/@grpc/proto-loader ]; then
  echo "install-deps: installing npm packages into tools/node_modules"
  (cd tools && npm install --no-save --no-audit --no-fund --loglevel=error)
fi
