#!/usr/bin/env bash
# Generates the Go client code from the protos and runs client_test.go
# against the real servers (test `go_client`).
#
#   tests/clients/go/run_test.sh <build dir>
#
# Toolchain and libraries are Debian's (scripts/install-deps.sh): golang-go,
# protoc-gen-go, protoc-gen-go-grpc, golang-google-grpc-dev,
# golang-google-protobuf-dev, golang-google-genproto-dev (google.api,
# google.rpc, google.type). Go builds offline in GOPATH mode from
# /usr/share/gocode, where those packages put their sources; nothing is
# downloaded (GOPROXY=off). The code is generated into <build>/gen-go/src,
# never committed: each cstopa proto becomes the Go package
# cstopa.org/api/<its directory>, e.g. cstopa.org/api/cstopa/membership/v1.
# The CSTOPA_<SERVICE>_SERVER variables name the server binaries.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
build="$(cd "$1" && pwd)"
gen="$build/gen-go"

rm -rf "$gen/src/cstopa.org"
mkdir -p "$gen/src"
cd "$root/proto"
protos=($(find cstopa -name '*.proto' | sort))
opts=()
for p in "${protos[@]}"; do
  dir="$(dirname "$p")"                      # cstopa/membership/v1
  pkg="$(basename "$(dirname "$dir")")$(basename "$dir")"  # membershipv1
  opts+=("M$p=cstopa.org/api/$dir;$pkg")
done
go_opt="$(IFS=,; echo "${opts[*]}")"
protoc -I. -I"$build/googleapis" -I/usr/include \
  --go_out="$gen/src" --go_opt="$go_opt" \
  --go-grpc_out="$gen/src" --go-grpc_opt="$go_opt" \
  "${protos[@]}"

export GO111MODULE=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local
export GOPATH="$gen:/usr/share/gocode"
export GOCACHE="$build/go-cache"
cd "$here"
exec go test -count=1 -v .
