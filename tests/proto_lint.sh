#!/usr/bin/env bash
# Lints every cstopa proto with buf (STANDARD rules, less the two that AIP
# standard methods contradict: Get/Create/Update return the resource itself,
# so responses are neither uniquely nor "…Response"-named). Zero findings.
#
#   tests/proto_lint.sh build/cstopa.binpb
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/node_modules/.bin/buf" lint "$1" --path cstopa --config '{
  "version": "v2",
  "lint": {
    "use": ["STANDARD", "COMMENTS"],
    "except": ["RPC_RESPONSE_STANDARD_NAME", "RPC_REQUEST_RESPONSE_UNIQUE"]
  }
}'
echo "buf lint: no findings"
