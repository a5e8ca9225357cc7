#!/usr/bin/env bash
# The container rehearsal: builds the images of deploy/Dockerfile and runs
# what operators run, with podman, on loopback:
#   1. images: each image is non-root, has no compiler, starts with a
#      read-only root file system, answers /healthz and one real call, and
#      stops cleanly (exit 0) on SIGTERM within its drain time;
#   2. compose: deploy/compose.yaml (PostgreSQL, the four services, the
#      gateway) with podman-compose; the gateway's views answer;
#   3. kube: the dev overlay, and the prod overlay with two replicas of each
#      service on the PostgreSQL pod (tests/containers/k8s/prod), rendered
#      with `kubectl kustomize` and played with `podman kube play`; the
#      gateway's views answer, also while one replica of each service is
#      stopped and started again, with no failed view.
# Everything it starts (containers, pods, volumes, networks) is removed on
# exit, also when a step fails. Exits 0 when every step passed.
#
#   tests/containers/rehearse.sh [BUILD_DIR]     # default: build
#
# BUILD_DIR holds the generated Python stubs (target cstopa_python_stubs)
# the checks call the servers with. CSTOPA_REHEARSAL_STEPS (default
# "images compose kube") picks steps; CSTOPA_REHEARSAL_SKIP_BUILD=1 reuses
# the images of an earlier run.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
here="$root/tests/containers"
export CONTAINERS_CONF="$root/deploy/containers.conf"
export CSTOPA_PY_STUBS="$build/gen-python"
steps="${CSTOPA_REHEARSAL_STEPS:-images compose kube}"
tag=rehearsal
id="cstopa-rh$$"
work="$(mktemp -d "${TMPDIR:-/tmp}/cstopa-rehearsal.XXXXXX")"
py=/usr/bin/python3
t0=$(date +%s)

log() { echo "[rehearsal $(( $(date +%s) - t0 ))s] $*"; }
fail() { echo "[rehearsal] FAILED: $*" >&2; exit 1; }

for tool in podman podman-compose kubectl; do
  command -v "$tool" >/dev/null 2>&1 ||
    fail "$tool is not installed (scripts/install-deps.sh installs it)"
done
[ -f "$CSTOPA_PY_STUBS/cstopa/gateway/v1/gateway_pb2.py" ] ||
  fail "no Python stubs in $CSTOPA_PY_STUBS (build target cstopa_python_stubs)"

played=()
probe=""
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  log "cleaning up ($id)"
  [ -z "$probe" ] || kill "$probe" 2>/dev/null
  note_volumes
  for f in "${played[@]}"; do podman kube down "$f" >/dev/null 2>&1; done
  if [ -f "$work/compose.env" ]; then
    (cd "$root/deploy" && set -a && . "$work/compose.env" && set +a &&
      podman-compose -p "$id" -f compose.yaml down -v -t 5) >/dev/null 2>&1
  fi
  podman ps -aq --filter "name=^$id" | xargs -r podman rm -f -t 2 >/dev/null 2>&1
  podman pod ps -q --filter "name=^$id" | xargs -r podman pod rm -f >/dev/null 2>&1
  podman volume ls -q --filter "name=^$id" | xargs -r podman volume rm -f >/dev/null 2>&1
  podman network ls -q --filter "name=^$id" | xargs -r podman network rm -f >/dev/null 2>&1
  [ ! -s "$work/volumes" ] || sort -u "$work/volumes" | xargs -r podman volume rm -f >/dev/null 2>&1
  local left
  left="$(podman ps -aq --filter "name=^$id"; podman pod ps -q --filter "name=^$id";
          podman volume ls -q --filter "name=^$id"; podman network ls -q --filter "name=^$id")"
  if [ -n "$left" ]; then
    echo "[rehearsal] could not remove everything named $id*: $left" >&2
    rc=1
  fi
  rm -rf "$work"
  if [ $rc -eq 0 ]; then log "passed"; else echo "[rehearsal] FAILED (exit $rc)" >&2; fi
  exit $rc
}
trap cleanup EXIT

# Records the volumes of this run's containers (anonymous ones included) so
# that cleanup removes them too.
note_volumes() {
  podman ps -aq --filter "name=^$id" | xargs -r podman inspect \
    -f '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}}{{"\n"}}{{end}}{{end}}' \
    2>/dev/null | grep -v '^$' >>"$work/volumes" || true
}
trap 'exit 130' INT TERM

free_port() {
  "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_health NAME ADMIN_PORT SECONDS [CONTAINER]: until /healthz answers 200;
# fails early when CONTAINER (if given) is no longer running.
wait_health() {
  local name=$1 port=$2 secs=$3 ctr=${4:-} end=$(( $(date +%s) + $3 ))
  while :; do
    if "$py" - "$port" <<'PY' 2>/dev/null; then return 0; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=2)
PY
    if [ -n "$ctr" ] && [ "$(podman inspect -f '{{.State.Running}}' "$ctr" 2>/dev/null)" != true ]; then
      podman logs --tail 30 "$ctr" >&2 2>&1 || true
      fail "$name stopped before it was healthy"
    fi
    if [ "$(date +%s)" -ge "$end" ]; then
      [ -z "$ctr" ] || podman logs --tail 30 "$ctr" >&2 2>&1 || true
      fail "$name did not answer /healthz on 127.0.0.1:$port within $secs s"
    fi
    sleep 0.5
  done
}

# One real call of each service (a read of the seed; views_probe.py --call).
real_call() {
  local svc=$1 port=$2 out
  out="$("$py" "$here/views_probe.py" --target "127.0.0.1:$port" --call "$svc" 2>&1)" ||
    fail "$svc: the call failed: $out"
}

views() {  # views TARGET SECONDS MIN_VIEWS [STOP_FILE]
  "$py" "$here/views_probe.py" --target "$1" --seconds "$2" --min-views "$3" \
    ${4:+--stop-file "$4"}
}

services=(membership legislation events monitoring)

# ---------------------------------------------------------------------------
if [ "${CSTOPA_REHEARSAL_SKIP_BUILD:-0}" != 1 ]; then
  log "building the images (deploy/images.sh)"
  CSTOPA_IMAGE_TAG=$tag "$root/deploy/images.sh"
fi
for t in "${services[@]}" gateway postgres; do
  podman image exists "localhost/cstopa/$t:$tag" || fail "no image cstopa/$t:$tag"
done

# ---------------------------------------------------------------------------
if [[ " $steps " == *" images "* ]]; then
  log "step images: each image alone"
  for t in "${services[@]}" gateway postgres; do
    image="localhost/cstopa/$t:$tag"
    user="$(podman image inspect -f '{{.Config.User}}' "$image")"
    case "$user" in ""|0|0:*|root|root:*) fail "$image runs as root ($user)";; esac
    compilers="$(podman run --rm --network none --image-volume tmpfs \
      --entrypoint /bin/sh "$image" -c \
      'for c in cc c++ gcc g++ clang cpp ld as; do command -v $c; done; true')"
    [ -z "$compilers" ] || fail "$image holds a compiler or linker: $compilers"
  done
  declare -A gport
  for t in "${services[@]}" gateway; do
    g=$(free_port); a=$(free_port); gport[$t]=$g
    extra=()
    if [ "$t" = gateway ]; then
      for s in "${services[@]}"; do
        extra+=(-e "CSTOPA_${s^^}_TARGET=ipv4:127.0.0.1:${gport[$s]}")
      done
    fi
    podman run -d --name "$id-img-$t" --read-only --network host \
      -v "$id-img-$t:/var/lib/cstopa" -e CSTOPA_LISTEN="127.0.0.1:$g" -e CSTOPA_ADMIN_LISTEN="127.0.0.1:$a" \
      -e CSTOPA_LAME_DUCK_SECONDS=1 -e CSTOPA_DRAIN_SECONDS=10 \
      "${extra[@]}" "localhost/cstopa/$t:$tag" >/dev/null
    wait_health "$t" "$a" 60 "$id-img-$t"
    if [ "$t" = gateway ]; then
      views "127.0.0.1:$g" 3 3 >/dev/null || fail "the gateway's views failed"
    else
      real_call "$t" "$g"
    fi
    log "  $t: healthy, answered"
  done
  # SIGTERM: lame duck 1 s, then drain (10 s at most); exit status 0.
  for t in gateway "${services[@]}"; do
    start=$(date +%s%N)
    podman stop -t 20 "$id-img-$t" >/dev/null
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    code="$(podman inspect -f '{{.State.ExitCode}}' "$id-img-$t")"
    [ "$code" = 0 ] || { podman logs --tail 20 "$id-img-$t" >&2; fail "$t exited with $code on SIGTERM"; }
    [ "$ms" -le 11000 ] || fail "$t took $ms ms to stop (lame duck 1 s + drain 10 s)"
    podman logs "$id-img-$t" 2>&1 | grep -q '"stopped"' ||
      fail "$t did not log that it stopped"
    log "  $t: stopped on SIGTERM in $ms ms, exit 0"
    podman rm -v "$id-img-$t" >/dev/null
  done
  # PostgreSQL: makes its cluster, accepts the password, stops on its signal.
  pgp=$(free_port)
  podman run -d --name "$id-img-postgres" --read-only --network host \
    -v "$id-img-postgres:/var/lib/postgresql/data" \
    -e POSTGRES_PASSWORD=rehearsal "localhost/cstopa/postgres:$tag" \
    -c "port=$pgp" -c listen_addresses=127.0.0.1 >/dev/null
  end=$(( $(date +%s) + 60 ))
  until podman exec "$id-img-postgres" pg_isready -q -h 127.0.0.1 -p "$pgp" -U cstopa -d cstopa; do
    [ "$(date +%s)" -lt "$end" ] || { podman logs "$id-img-postgres" >&2; fail "postgres not ready in 60 s"; }
    sleep 1
  done
  podman exec -e PGPASSWORD=rehearsal "$id-img-postgres" \
    psql -h 127.0.0.1 -p "$pgp" -U cstopa -d cstopa -tAc 'SELECT 1' | grep -qx 1 ||
    fail "postgres refused the password"
  podman stop -t 30 "$id-img-postgres" >/dev/null
  code="$(podman inspect -f '{{.State.ExitCode}}' "$id-img-postgres")"
  [ "$code" = 0 ] || fail "postgres exited with $code on its stop signal"
  podman rm -v "$id-img-postgres" >/dev/null
  log "  postgres: ready, password accepted, stopped cleanly"
fi

# ---------------------------------------------------------------------------
if [[ " $steps " == *" compose "* ]]; then
  log "step compose: deploy/compose.yaml with podman-compose"
  cp "$here/k8s/prod/api_keys.txt" "$work/api_keys.txt"
  chmod 0644 "$work/api_keys.txt"
  {
    echo "CSTOPA_IMAGE_TAG=$tag"
    echo "CSTOPA_API_KEYS_PATH=$work/api_keys.txt"
    echo "CSTOPA_PAGE_TOKEN_SECRET=rehearsal-page-token"
    echo "CSTOPA_POSTGRES_PASSWORD=rehearsal-postgres"
    for s in gateway "${services[@]}"; do
      echo "CSTOPA_HOST_${s^^}_PORT=$(free_port)"
      echo "CSTOPA_HOST_${s^^}_ADMIN=$(free_port)"
    done
    echo "CSTOPA_HOST_GATEWAY_HTTP=$(free_port)"
  } >"$work/compose.env"
  set -a; . "$work/compose.env"; set +a
  (cd "$root/deploy" && podman-compose -p "$id" -f compose.yaml up -d) \
    >"$work/compose-up.log" 2>&1 || { cat "$work/compose-up.log" >&2; fail "podman-compose up failed"; }
  for s in "${services[@]}" gateway; do
    v="CSTOPA_HOST_${s^^}_ADMIN"
    wait_health "compose $s" "${!v}" 120
  done
  for s in "${services[@]}"; do
    v="CSTOPA_HOST_${s^^}_PORT"; real_call "$s" "${!v}"
  done
  views "127.0.0.1:$CSTOPA_HOST_GATEWAY_PORT" 5 10 ||
    fail "the gateway's views failed through compose"
  # The image serves HTTP/JSON (CSTOPA_HTTP_LISTEN) on the published port.
  http_state="$("$py" -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' \
    "http://127.0.0.1:$CSTOPA_HOST_GATEWAY_HTTP/v1/states/kz" 2>&1 || true)"
  [[ "$http_state" == *'"name":"states/kz"'* ]] ||
    fail "the gateway's HTTP/JSON failed through compose (got: ${http_state:0:300})"
  # The services really use PostgreSQL: each has its schema there.
  schemas="$(podman exec -e PGPASSWORD="$CSTOPA_POSTGRES_PASSWORD" "${id}_postgres_1" psql -h 127.0.0.1 -U cstopa -d cstopa -tAc \
    "SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace WHERE nspname IN ('membership','legislation','events','monitoring')" \
    2>&1 || true)"
  [ "$schemas" = "events,legislation,membership,monitoring" ] ||
    fail "PostgreSQL does not hold the four services' schemas (got: $schemas)"
  note_volumes
  (cd "$root/deploy" && podman-compose -p "$id" -f compose.yaml down -v -t 20) \
    >"$work/compose-down.log" 2>&1 || { cat "$work/compose-down.log" >&2; fail "podman-compose down failed"; }
  podman network ls -q --filter "name=^$id" | xargs -r podman network rm -f >/dev/null
  rm -f "$work/compose.env"
  log "  compose: PostgreSQL + four services + gateway answered (gRPC and HTTP/JSON), then removed"
fi

# ---------------------------------------------------------------------------
# play NAME OVERLAY: renders, adapts (kube_local.py) and plays an overlay;
# leaves the port map in $work/NAME.ports.json.
play() {
  local name=$1 overlay=$2
  kubectl kustomize "$overlay" >"$work/$name.rendered.yaml" ||
    fail "kubectl kustomize $overlay failed"
  "$py" "$here/kube_local.py" --prefix "$id-$name" --tag "$tag" \
    --ports "$work/$name.ports.json" <"$work/$name.rendered.yaml" \
    >"$work/$name.play.yaml"
  played+=("$work/$name.play.yaml")
  podman kube play "$work/$name.play.yaml" >"$work/$name.play.log" 2>&1 ||
    { cat "$work/$name.play.log" >&2; fail "podman kube play of $name failed"; }
}
ports_of() {  # ports_of NAME DEPLOYMENT FIELD -> one value per replica
  "$py" -c 'import json,sys; print(" ".join(str(r[sys.argv[3]]) for r in json.load(open(sys.argv[1]))[sys.argv[2]]))' \
    "$work/$1.ports.json" "$2" "$3"
}

if [[ " $steps " == *" kube "* ]]; then
  log "step kube: overlays/dev played with podman"
  play dev "$root/deploy/k8s/overlays/dev"
  for s in "${services[@]}" gateway; do
    wait_health "dev $s" "$(ports_of dev "$s" admin)" 90
  done
  views "127.0.0.1:$(ports_of dev gateway grpc)" 4 8 || fail "the gateway's views failed (dev)"
  note_volumes
  podman kube down "$work/dev.play.yaml" >/dev/null
  podman volume ls -q --filter "name=^$id-dev" | xargs -r podman volume rm -f >/dev/null
  log "  dev: one replica of each on SQLite volumes answered, then removed"

  log "step kube: the prod overlay, two replicas of each service on PostgreSQL"
  play prod "$here/k8s/prod"
  for s in "${services[@]}" gateway; do
    for a in $(ports_of prod "$s" admin); do wait_health "prod $s" "$a" 120; done
  done
  gw="127.0.0.1:$(ports_of prod gateway grpc)"
  views "$gw" 4 8 || fail "the gateway's views failed (prod)"
  # Views all along while the first replica of every service is stopped
  # (SIGTERM, lame duck, drain) and started again.
  "$py" "$here/views_probe.py" --target "$gw" --seconds 300 --min-views 20 \
    --stop-file "$work/stop-probe" >"$work/probe.log" 2>&1 &
  probe=$!
  sleep 2
  pods=()
  # podman names the pod of Deployment D "D-pod-0", its container "D-pod-0-C".
  for s in "${services[@]}"; do pods+=("$id-prod-$s-0-pod-0"); done
  podman pod stop -t 30 "${pods[@]}" >/dev/null || fail "podman pod stop failed"
  log "  stopped ${pods[*]}"
  sleep 3
  podman pod start "${pods[@]}" >/dev/null || fail "podman pod start failed"
  for s in "${services[@]}"; do
    wait_health "prod $s (restarted)" "$(ports_of prod "$s" admin | cut -d' ' -f1)" 120
  done
  log "  started them again"
  sleep 5
  touch "$work/stop-probe"
  if ! wait "$probe"; then
    cat "$work/probe.log" >&2
    fail "views failed while replicas were stopped and started"
  fi
  log "  $(tail -n 1 "$work/probe.log") while one replica of each service restarted"
  probe=""
  for s in "${services[@]}"; do
    c="$id-prod-$s-0-pod-0-$s"
    [ "$(podman inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" = true ] ||
      fail "$c is not running after its restart"
  done
  note_volumes
  podman kube down "$work/prod.play.yaml" >/dev/null
  log "  prod: removed"
fi
