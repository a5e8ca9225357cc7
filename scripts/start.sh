#!/usr/bin/env bash
# Builds and starts the whole suite on loopback with embedded SQLite stores,
# seeded, in the foreground. Ctrl-C stops everything it started.
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
cmake --build build -j "$(nproc)" --target membership_server cstopa_keyhash cstopa_python_stubs

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

rm -f run/membership.ports
build/services/membership/membership_server \
  --listen=127.0.0.1:50051 --admin_listen=127.0.0.1:9051 \
  --store="sqlite://$root/run/membership.db" \
  --access_log="$root/run/membership.access.log" \
  --port_file="$root/run/membership.ports" &
pids+=($!)

# Each server writes its port file once it serves; stop if one dies first.
for _ in $(seq 1 100); do
  [ -s run/membership.ports ] && break
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "membership_server did not start (see the messages above)" >&2
    exit 1
  fi
  sleep 0.1
done
[ -s run/membership.ports ] || { echo "membership_server did not start in 10 s" >&2; exit 1; }
key=$(cat run/dev-editor.key)
cat <<MSG

cstopa is running (Ctrl-C stops it):
  membership   gRPC 127.0.0.1:50051   metrics http://127.0.0.1:9051/metrics
               health http://127.0.0.1:9051/healthz
               access log run/membership.access.log

Try it with the bundled Python client (nothing more to install):
  /usr/bin/python3 tests/clients/python/cstopa_client.py get-state states/kz
  /usr/bin/python3 tests/clients/python/cstopa_client.py list-roles --as-of 2022-05-01
or, if you have grpcurl (not packaged in Debian; server reflection is on, so
it needs no proto files):
  grpcurl -plaintext -d '{"name":"states/kz"}' 127.0.0.1:50051 cstopa.membership.v1.MembershipService/GetState

Development editor key (for writes): $key
  /usr/bin/python3 tests/clients/python/cstopa_client.py --key $key create-person "demo-$(date +%s)" "Demo Person"
(IDs are never reused, so each try needs a new one; run/ keeps data between starts.)
MSG
wait
