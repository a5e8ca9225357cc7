#!/usr/bin/env bash
# Installs what building, running and testing cstopa need, and only what is
# missing: Debian packages with apt-get, npm packages (buf) with npm into
# tools/node_modules. Safe to run again; quick when everything is present.
# Runs as root (or through sudo when available).
#
#   scripts/install-deps.sh               # everything (build, run, test)
#   scripts/install-deps.sh --build-only  # only the Debian packages that
#       building the servers needs (deploy/Dockerfile's build stage): no
#       test tools, no npm, no container engine
set -euo pipefail
cd "$(dirname "$0")/.."

build_only=false
case "${1:-}" in
  --build-only) build_only=true ;;
  "") ;;
  *) echo "usage: $0 [--build-only]" >&2; exit 2 ;;
esac

build_packages=(
  # toolchain
  g++ cmake ninja-build pkg-config ccache ca-certificates unzip python3
  python3-protobuf
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libprotoc-dev
  libabsl-dev libssl-dev libsqlite3-dev libgtest-dev libgmock-dev
  libbenchmark-dev libpq-dev
  # full-text search: ICU (words, case folding, transliteration) and
  # Snowball's stemmers (services/common/text)
  libicu-dev libstemmer-dev
  # the servers' allocator (cmake/allocator.cmake)
  libjemalloc-dev
  # HTTP: libevent's evhttp (gateway HTTP/JSON, admin endpoints), zlib
  # (gzip), CLI11 and libcurl (the `cstopa` command)
  libevent-dev zlib1g-dev libcli11-dev libcurl4-openssl-dev
  # google/{rpc,api,type} protos (extracted at build time; see cmake/proto.cmake)
  grpc-proto libgoogle-common-protos-java golang-google-genproto-dev
)
packages=(
  "${build_packages[@]}"
  # toolchain of the sanitizer and fuzz builds, and git
  clang libclang-rt-14-dev git
  # PostgreSQL server binaries for the throwaway test server (tests/postgres)
  postgresql-15
  # tools and clients used by the tests and the benchmark
  sqlite3 nghttp2-client python3-grpcio python3-protobuf openssl
  # the Popolo export checked against Popolo's JSON schemas (draft 3), URIs
  # and times included (tests/popolo)
  python3-jsonschema python3-rfc3987
  # Go and Ruby clients generated from the protos (tests/clients/{go,ruby});
  # Go builds offline from the sources these put in /usr/share/gocode
  golang-go protoc-gen-go protoc-gen-go-grpc golang-google-grpc-dev
  golang-google-protobuf-dev
  # github.com/golang/protobuf 1.5 (on google.golang.org/protobuf; replaces
  # 1.3, whose codec cannot decode protoc-gen-go's messages in grpc-go)
  golang-github-golang-protobuf-1-5-dev
  ruby ruby-grpc ruby-grpc-tools ruby-google-protobuf
  ruby-googleapis-common-protos-types
  # time zones of events (events_server reads /usr/share/zoneinfo)
  tzdata
  # the browser the web pages are tested in (tests/web, with puppeteer-core)
  chromium
  # container images, compose and manifests played locally (deploy/,
  # tests/containers): podman with runc (crun fails on hybrid cgroups), and
  # the CNI plugin that lets compose's containers find each other by name,
  # and catatonit (the pause process of pods that `podman kube play` makes)
  podman runc debootstrap podman-compose
  golang-github-containernetworking-plugin-dnsname catatonit
)
if $build_only; then packages=("${build_packages[@]}"); fi

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js may come from Debian or elsewhere; only install it when absent.
if ! $build_only && { ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; }; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi
if $build_only; then exit 0; fi

# buf (proto lint), kubernetes-models and js-yaml (manifest validation),
# @grpc/grpc-js and @grpc/proto-loader (Node client tests),
# @apidevtools/swagger-parser (OpenAPI document validation),
# puppeteer-core and axe-core (the web pages in chromium, tests/web),
# versions pinned in tools/package.json. (`npm ci` trips over
# the optional per-platform packages in the lock file, hence `install`.)
if [ ! -x tools/node_modules/.bin/buf ] || [ ! -d tools/node_modules/kubernetes-models ] \
   || [ ! -d tools/node_modules/js-yaml ] || [ ! -d tools/node_modules/@grpc/grpc-js ] \
   || [ ! -d tools/node_modules/@grpc/proto-loader ] \
   || [ ! -d tools/node_modules/@apidevtools/swagger-parser ] \
   || [ ! -d tools/node_modules/puppeteer-core ] || [ ! -d tools/node_modules/axe-core ]; then
  echo "install-deps: installing npm packages into tools/node_modules"
  (cd tools && npm install --no-save --no-audit --no-fund --loglevel=error)
fi
