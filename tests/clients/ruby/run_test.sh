#!/usr/bin/env bash
# Generates the Ruby client code from the protos and runs client_test.rb
# against the real servers (test `ruby_client`).
#
#   tests/clients/ruby/run_test.sh <build dir>
#
# Toolchain and libraries are Debian's (scripts/install-deps.sh): ruby,
# ruby-grpc-tools (grpc_tools_ruby_protoc), ruby-grpc, ruby-google-protobuf,
# ruby-googleapis-common-protos-types (google.api, google.rpc, google.type,
# which the generated code requires). The code is generated into
# <build>/gen-ruby, never committed, e.g.
# cstopa/membership/v1/membership_services_pb.rb. The
# CSTOPA_<SERVICE>_SERVER variables name the server binaries.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
build="$(cd "$1" && pwd)"
gen="$build/gen-ruby"

rm -rf "$gen"
mkdir -p "$gen"
cd "$root/proto"
grpc_tools_ruby_protoc -I. -I"$build/googleapis" -I/usr/include \
  --ruby_out="$gen" --grpc_out="$gen" $(find cstopa -name '*.proto' | sort)
exec ruby -I"$gen" "$here/client_test.rb" --verbose
