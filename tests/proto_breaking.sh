#!/usr/bin/env bash
# Holds API v1 to the API as last released: runs `buf breaking` on the
# descriptor set the build makes of the working protos (build/cstopa.binpb,
# every proto/cstopa/** file) against the released image,
# proto/released/v1.binpb (see README.md, "Cutting a release").
#
#   tests/proto_breaking.sh build/cstopa.binpb
#
# Rules: buf's FILE category. v1 is consumed through generated code (C++,
# Python, Go, Ruby, Node), so what must not change is not only the wire and
# JSON encoding (WIRE_JSON) but every name generated code is made of: a
# message, field, enum value, service or method renamed, moved to another
# file or package, removed, renumbered or retyped breaks a client's build or
# its behaviour. Additions (fields, messages, enum values, methods, files)
# and annotations (google.api.http, resource, field_behavior) are not
# breaking under FILE. Removing a field, enum value or method is breaking
# even with `reserved` (generated code that uses it stops compiling): in v1
# it is deprecated instead (`deprecated = true`), and removed in v2.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
released="${CSTOPA_RELEASED_IMAGE:-$root/proto/released/v1.binpb}"
"$root/tools/node_modules/.bin/buf" breaking "$1" \
  --against "$released" --path cstopa --config '{
  "version": "v2",
  "breaking": {"use": ["FILE"]}
}'
echo "buf breaking (FILE) against $(basename "$released"): nothing breaks"
