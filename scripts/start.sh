#!/usr/bin/env bash
# Builds and starts the whole suite on loopback with embedded SQLite stores,
# seeded, and the gateway in front of it, in the foreground. Ctrl-C stops
# everything it started.
#
#   ./scripts/start.sh
#
# Data lives in run/ (delete it to start from the seed again). A development
# editor key is created on first start in run/dev-editor.key.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/install-deps.sh
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=true
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# name gRPC-port admin-port, for every service of the suite.
services=(
  "membership 50051 9051"
  "legislation 50052 9052"
  "events 50053 9053"
  "monitoring 50054 9054"
)
targets=()
for s in "${services[@]}"; do targets+=("${s%% *}_server"); done
cmake --build build -j "$(nproc)" --target "${targets[@]}" gateway_server \
  cstopa cstopa_keyhash

mkdir -p run
if [ ! -s run/dev-editor.key ]; then
  build/services/common/cstopa_keyhash --role editor --label dev-editor \
    > run/dev-editor.keygen
  sed -n 's/^key: //p' run/dev-editor.keygen > run/dev-editor.key
  grep '^sha256:' run/dev-editor.keygen > run/api_keys.txt
  rm run/dev-editor.keygen
  chmod 600 run/dev-editor.key run/api_keys.txt
fi
if [ ! -s run/page_token.secret ]; then
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > run/page_token.secret
fi
export CSTOPA_API_KEYS_FILE="$root/run/api_keys.txt"
export CSTOPA_PAGE_TOKEN_SECRET="$(cat run/page_token.secret)"

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

for s in "${services[@]}"; do
  read -r name port admin <<<"$s"
  rm -f "run/$name.ports"
  "build/services/$name/${name}_server" \
    --listen="127.0.0.1:$port" --admin_listen="127.0.0.1:$admin" \
    --store="sqlite://$root/run/$name.db" \
    --access_log="$root/run/$name.access.log" \
    --port_file="$root/run/$name.ports" &
  pids+=($!)
done

# Each server writes its port file once it serves; stop if one dies first.
i=0
for s in "${services[@]}"; do
  name=${s%% *}
  for _ in $(seq 1 150); do
    [ -s "run/$name.ports" ] && break
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "${name}_server did not start (see the messages above)" >&2
      exit 1
    fi
    sleep 0.1
  done
  [ -s "run/$name.ports" ] || { echo "${name}_server did not start in 15 s" >&2; exit 1; }
  i=$((i + 1))
done

# The gateway, in front of the four (its defaults are the ports above).
rm -f run/gateway.ports
build/gateway/gateway_server --listen=127.0.0.1:50050 \
  --admin_listen=127.0.0.1:9050 --http_listen=127.0.0.1:8080 \
  --access_log="$root/run/gateway.access.log" \
  --port_file="$root/run/gateway.ports" &
pids+=($!)
for _ in $(seq 1 150); do
  [ -s run/gateway.ports ] && break
  if ! kill -0 "${pids[-1]}" 2>/dev/null; then
    echo "gateway_server did not start (see the messages above)" >&2
    exit 1
  fi
  sleep 0.1
done
[ -s run/gateway.ports ] || { echo "gateway_server did not start in 15 s" >&2; exit 1; }
key=$(cat run/dev-editor.key)
cat <<MSG

cstopa is running (Ctrl-C stops it):
  gateway      HTTP/JSON http://127.0.0.1:8080   (OpenAPI: http://127.0.0.1:8080/v1/openapi.json)
  Web pages:   http://127.0.0.1:8080/
MSG
for s in "gateway 50050 9050" "${services[@]}"; do
  read -r name port admin <<<"$s"
  printf '  %-12s gRPC 127.0.0.1:%s   metrics http://127.0.0.1:%s/metrics\n' \
    "$name" "$port" "$admin"
done
cat <<MSG
  Each also serves health at http://127.0.0.1:<admin>/healthz and writes its
  access log to run/<name>.access.log; stores are run/<name>.db.

Try it with the cstopa command (build/cli/cstopa; --help on every command,
--json for scripts, --gateway or CSTOPA_GATEWAY for another address):
  cstopa=build/cli/cstopa
  \$cstopa states
  \$cstopa state kg --as-of 2022-05-01     # one call: parliament, seats and their history, posts, treaties, events, missions
  \$cstopa person viktor-rogalev
  \$cstopa dashboard
  \$cstopa search Rogalev                   # the whole record: persons, documents, events, missions...
  \$cstopa search Рогалев                   # either script finds the same person
  \$cstopa search Казахстане                # any form, either script: Kazakhstan's records
  \$cstopa documents --filter 'kind = DOCUMENT_KIND_STATEMENT'
  \$cstopa watch events                     # a live stream of changes; Ctrl-C ends it
  \$cstopa call monitoring.v1.MonitoringService.SummarizeMissions '{}'
  \$cstopa --key $key call membership.v1.MembershipService.CreatePerson \\
      '{"personId": "demo-'\$(date +%s)'", "person": {"displayName": [{"languageCode": "en", "text": "Demo Person"}]}}'
(IDs are never reused, so each try needs a new one; run/ keeps data between starts.)

Or with curl, from any language (every RPC at its google.api.http route):
  curl http://127.0.0.1:8080/v1/states/kz
  curl 'http://127.0.0.1:8080/v1/states/kg/profile?asOf=2022-05-01'
  curl 'http://127.0.0.1:8080/v1/search?query=Kyrgyz'                     # one search across the record
  curl -G 'http://127.0.0.1:8080/v1/search' --data-urlencode 'query=Рогалев'   # Cyrillic finds the Latin spelling
  curl 'http://127.0.0.1:8080/v1/documents:search?query=outer%20space'
  curl -N http://127.0.0.1:8080/v1/events:watch          # Server-Sent Events
  curl -X POST -H "authorization: Bearer $key" -d '{"displayName": [{"languageCode": "en", "text": "Demo"}]}' \\
      "http://127.0.0.1:8080/v1/persons?personId=demo-\$(date +%s)"
gRPC clients, e.g. grpcurl (server reflection is on):
  grpcurl -plaintext -d '{"name":"states/kz"}' 127.0.0.1:50051 cstopa.membership.v1.MembershipService/GetState

Development editor key (for writes): $key
MSG
wait
