#!/usr/bin/env bash
# Benchmarks the services against a bare gRPC echo server in one run.
#
#   tests/bench/run_bench.sh [--duration S] [--warmup S] [--persons N]
#                            [--roles N] [--documents N] [--events N]
#                            [--writes N] [--channels N] [--outstanding N]
#                            [--search_persons N]
#                            [--services membership,legislation,events,gateway,search]
#                            [--stores sqlite,postgresql] [--strict] [BUILD_DIR]
#
# Builds nothing: BUILD_DIR (default: build/ at the top of the repository)
# must hold bench_echo_server, cstopa_loadgen, the servers and the data tools:
#   ninja -j2 -C build cstopa_loadgen bench_echo_server membership_server \
#     legislation_server legislation_bench_data events_server \
#     events_bench_data events_watch_bench
# and PATH must hold h2load and nghttp (nghttp2-client) and protoc.
#
# Starts the echo server and, per service, its server on a fresh store with a
# one-off editor key, fills the store, then runs the load generator (echo
# first and last, so each service's ratios come from echo runs beside it):
#   membership: creates --persons persons and --roles roles (a page of 50 is
#     full; cstopa_loadgen's set-up). The unary calls are driven by h2load,
#     not by cstopa_loadgen, which spends much of a two-core machine on
#     itself: echo came out at about half what the machine serves and every
#     ratio too kind (--channels and --outstanding apply to cstopa_loadgen
#     only). In order: echo (bench_echo_server, a 100-byte payload), GetState
#     (states/kz), ListPersons (page_size 50), ListRoles (page_size 50,
#     filter "role_type = ROLE_TYPE_MEMBER"), echo again; each ratio is to
#     the mean of the two echo runs. Each request is encoded once (protoc
#     --encode; echo.proto for echo), framed once as a gRPC message, and
#     sent with
#       h2load --warm-up-time=<warmup>ms -D <duration>ms -c 16 -m 32 -t 1 \
#         -H 'content-type: application/grpc' -H 'te: trailers' \
#         -d <framed request> http://127.0.0.1:<port>/<service>/<method>
#     e.g. .../cstopa.membership.v1.MembershipService/GetState; before each
#     run one sample call (h2load -n 1 -c 1 -v, then nghttp -v for the
#     trailers) must answer grpc-status 0, and the run fails on any request
#     that failed or was not 2xx (h2load counts HTTP statuses, not gRPC's).
#     h2load reports no percentiles: its rows carry mean_ms (the mean of
#     "time for request"), not p50_ms/p99_ms. Then GetState and ListPersons
#     one call at a time (cstopa_loadgen --channels=1 --outstanding=1) for
#     latency. Then the server again with its access log on
#     (--access_log=<file>, as scripts/start.sh runs it): echo,
#     GetStateLogged (GetState), echo, by h2load as above.
#     Targets: on SQLite GetState >= 0.7 of echo, GetStateLogged >= 0.6,
#     ListPersons >= 0.4; on PostgreSQL GetState >= 0.5, ListPersons >= 0.3.
#   legislation: --documents generated documents (legislation_bench_data);
#     GetDocument, SearchDocuments ("cybersecurity law", about 0.5% of the
#     documents match; page_size 10), under load (h2load, as membership's,
#     echo before and after) and then one call at a time for latency
#     (cstopa_loadgen); then SearchUncached, the same on a server started
#     with --search_cache_ms=0 --read_cache_mb=0, so every call ranks its
#     matches anew.
#     Targets: SearchDocuments >= 0.2 of echo (0.25 on PostgreSQL); p50 < 5 ms
#     one call at a time; GetDocument >= 0.3 of echo on PostgreSQL.
#   events: --events generated events (events_bench_data); GetEvent,
#     ListEvents (a time-range filter, page_size 50), under load (h2load, as
#     membership's, echo before and after); then events_watch_bench:
#     --writes writes and the delay until a watcher receives each (p50, p99).
#     Targets on PostgreSQL: GetEvent >= 0.3 of echo, ListEvents >= 0.25.
#   gateway: the four services, seeded, and gateway_server in front of them
#     (on SQLite whatever --stores says: the gateway owns no data);
#     GetStateProfile (states/kg, k = 5 backend calls in one round) and
#     GetAssemblyDashboard (k = 5), under load and one call at a time; then
#     each backend call of those views on its own, one at a time.
#     Targets: each view >= 0.6 of echo/(1+k) = 0.1 of echo, with identical
#     views in flight sharing a fan-out (the default) and without
#     (--coalesce=false: StateProfileAlone, DashboardAlone); its p50 one call
#     at a time <= 1.5 x the p50 of its slowest backend call, uncached and
#     cached (the default gateway); beside them the machine's floor, a bare
#     fan-out of four echo calls (bench_echo_server --fan_out_targets).
#   search: one search across the record on a large record: --documents
#     generated documents, --events generated events, --search_persons
#     persons created through the API (10,000), the four services seeded on
#     SQLite and the gateway in front of them without its cache (every call
#     searches). GatewaySearch ("cybersecurity", about 1% of the documents;
#     k = 4 backend calls in one round, fused by rank) under load, cached
#     (SearchCached, the default gateway) and not, and one call at a time; then each service's own Search one call at a time, and
#     a broad query ("security": every event) for scale.
#     Targets: GatewaySearch >= 0.6 of echo/(1+k) = 0.12 of echo; its p50
#     < 10 ms one call at a time.
# Prints JSON lines, a table per service with throughput as a ratio to echo,
# and PASS/FAIL against the targets.
#
# --stores runs the whole set once per store: `sqlite` (default) and/or
# `postgresql` (a throwaway server started with tests/postgres/pg_server.sh).
#
# Exits 0 whatever the numbers (it reports; it is not a test), 1 if something
# could not run. With --strict (the bench_smoke test) it also exits 1 unless
# every scenario ran, answered at least one call, and had zero errors.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

build="$root/build"
duration=5
warmup=1
persons=200
roles=
channels=4
outstanding=32
strict=0
stores=sqlite
services=membership,legislation,events,gateway,search
search_persons=10000
documents=100000
events=100000
writes=1000

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

need_value() {
  if [[ $# -lt 2 || -z "$2" ]]; then
    echo "run_bench.sh: $1 needs a value" >&2
    exit 2
  fi
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --stores) need_value "$@"; stores=$2; shift 2 ;;
    --stores=*) stores=${1#*=}; shift ;;
    --services) need_value "$@"; services=$2; shift 2 ;;
    --services=*) services=${1#*=}; shift ;;
    --documents) need_value "$@"; documents=$2; shift 2 ;;
    --documents=*) documents=${1#*=}; shift ;;
    --events) need_value "$@"; events=$2; shift 2 ;;
    --events=*) events=${1#*=}; shift ;;
    --search_persons) need_value "$@"; search_persons=$2; shift 2 ;;
    --search_persons=*) search_persons=${1#*=}; shift ;;
    --writes) need_value "$@"; writes=$2; shift 2 ;;
    --writes=*) writes=${1#*=}; shift ;;
    --duration) need_value "$@"; duration=$2; shift 2 ;;
    --duration=*) duration=${1#*=}; shift ;;
    --warmup) need_value "$@"; warmup=$2; shift 2 ;;
    --warmup=*) warmup=${1#*=}; shift ;;
    --persons) need_value "$@"; persons=$2; shift 2 ;;
    --persons=*) persons=${1#*=}; shift ;;
    --roles) need_value "$@"; roles=$2; shift 2 ;;
    --roles=*) roles=${1#*=}; shift ;;
    --channels) need_value "$@"; channels=$2; shift 2 ;;
    --channels=*) channels=${1#*=}; shift ;;
    --outstanding) need_value "$@"; outstanding=$2; shift 2 ;;
    --outstanding=*) outstanding=${1#*=}; shift ;;
    --strict) strict=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "run_bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
roles=${roles:-$persons}
for v in "$persons" "$roles" "$channels" "$outstanding" "$documents" "$events" "$writes" "$search_persons"; do
  if ! [[ "$v" =~ ^[0-9]+$ ]]; then
    echo "run_bench.sh: counts must be whole numbers, not '$v'" >&2
    exit 2
  fi
done

echo_bin="$build/tests/bench/bench_echo_server"
loadgen="$build/tests/bench/cstopa_loadgen"
IFS=, read -r -a service_list <<<"$services"
need=("$echo_bin" "$loadgen")
for svc in "${service_list[@]}"; do
  case "$svc" in
    membership) ;;
    legislation) need+=("$build/tests/bench/legislation_bench_data") ;;
    events) need+=("$build/tests/bench/events_bench_data"
                   "$build/tests/bench/events_watch_bench") ;;
    gateway) need+=("$build/gateway/gateway_server"
                    "$build/tests/bench/gateway_freshness_bench"
                    "$build/services/monitoring/monitoring_server"
                    "$build/services/membership/membership_server"
                    "$build/services/legislation/legislation_server"
                    "$build/services/events/events_server") ;;
    search) need+=("$build/gateway/gateway_server"
                   "$build/tests/bench/gateway_freshness_bench"
                   "$build/tests/bench/legislation_bench_data"
                   "$build/tests/bench/events_bench_data"
                   "$build/services/monitoring/monitoring_server"
                   "$build/services/membership/membership_server"
                   "$build/services/legislation/legislation_server"
                   "$build/services/events/events_server") ;;
    *) echo "run_bench.sh: unknown service $svc (membership, legislation, events, gateway, search)" >&2
       exit 2 ;;
  esac
  [[ $svc == gateway || $svc == search ]] ||
    need+=("$build/services/$svc/${svc}_server")
done
for b in "${need[@]}"; do
  if [[ ! -x "$b" ]]; then
    echo "run_bench.sh: $b is missing; build it first (see --help)" >&2
    exit 1
  fi
done
# The membership scenarios are driven by h2load (nghttp2-client), their
# requests encoded with protoc.
if [[ ",$services," == *,membership,* ]]; then
  for b in h2load nghttp protoc; do
    if ! command -v "$b" >/dev/null; then
      echo "run_bench.sh: $b is missing (scripts/install-deps.sh installs" \
        "nghttp2-client and protobuf-compiler)" >&2
      exit 1
    fi
  done
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cstopa-bench.XXXXXX")
pids=()

# Stops the processes this script started (by their PIDs) and removes $tmp.
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local pid i
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
  if [[ -n "${pg_dir:-}" ]]; then
    "$root/tests/postgres/pg_server.sh" stop "$pg_dir" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A one-off editor key; the server only sees its hash.
key=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077 && printf %s "$key" >"$tmp/key")
printf 'sha256:%s editor bench\n' \
  "$(printf %s "$key" | sha256sum | cut -d' ' -f1)" >"$tmp/keys.txt"

"$echo_bin" --listen=127.0.0.1:0 --port_file="$tmp/echo_port.json" \
  2>"$tmp/echo.log" &
pids+=($!)
echo_pid=$!

# Prints the gRPC port from port file $1 once process $2 has written it
# (at most 30 s); on failure shows log $3 and exits.
wait_port() {
  local file=$1 pid=$2 log=$3 i port
  for ((i = 0; i < 300; i++)); do
    if [[ -s "$file" ]]; then
      port=$(sed -n 's/.*"grpc_port":\([0-9][0-9]*\).*/\1/p' "$file")
      if [[ -n "$port" ]]; then
        echo "$port"
        return 0
      fi
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run_bench.sh: $(basename "$log" .log) server exited at start:" >&2
      tail -n 20 "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "run_bench.sh: no port in $file after 30 s:" >&2
  tail -n 20 "$log" >&2
  exit 1
}
echo_port=$(wait_port "$tmp/echo_port.json" "$echo_pid" "$tmp/echo.log")

# Starts service $1 on store URL $2 (its schema on PostgreSQL), with any
# further arguments as flags; sets server_pid and grpc_port.
start_server() {
  local svc=$1 url=$2
  shift 2
  rm -f "$tmp/$svc.ports"
  "$build/services/$svc/${svc}_server" --listen=127.0.0.1:0 --admin_listen= \
    --port_file="$tmp/$svc.ports" --store="$url" \
    --access_log=off --api_keys_file="$tmp/keys.txt" "$@" \
    2>"$tmp/$svc.log" &
  pids+=($!)
  server_pid=$!
  grpc_port=$(wait_port "$tmp/$svc.ports" "$server_pid" "$tmp/$svc.log")
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

# Starts the four services on their built-in seed, each on the SQLite file
# $tmp/$1-<service>.db; appends their ports to the caller's `ports` and
# their PIDs to its `backend_pids`.
start_backends() {
  local svc
  for svc in membership legislation events monitoring; do
    start_server "$svc" "sqlite:///$tmp/$1-$svc.db" --seed=builtin
    ports+=("$grpc_port")
    backend_pids+=("$server_pid")
  done
}

# Starts the gateway, with any further flags, in front of the services on
# the caller's ports $pm, $pl, $pe and $po; sets server_pid and grpc_port.
start_gateway() {
  rm -f "$tmp/gateway.ports"
  "$build/gateway/gateway_server" --listen=127.0.0.1:0 --admin_listen= \
    --http_listen=127.0.0.1:0 \
    --port_file="$tmp/gateway.ports" --access_log=off \
    --membership_target="ipv4:127.0.0.1:$pm" \
    --legislation_target="ipv4:127.0.0.1:$pl" \
    --events_target="ipv4:127.0.0.1:$pe" \
    --monitoring_target="ipv4:127.0.0.1:$po" "$@" 2>"$tmp/gateway.log" &
  pids+=($!)
  server_pid=$!
  grpc_port=$(wait_port "$tmp/gateway.ports" "$server_pid" "$tmp/gateway.log")
}

# Waits (bounded) until the gateway on $grpc_port follows every service's
# change stream, so that answers are cached from the first.
wait_streams() {
  "$build/tests/bench/gateway_freshness_bench" --updates=0 \
    --gateway="127.0.0.1:$grpc_port" --api_key_file="$tmp/key" || {
    echo "run_bench.sh: the gateway does not follow the change streams" >&2
    tail -n 20 "$tmp/gateway.log" >&2
    exit 1
  }
}

# Stops the servers whose PIDs are given (SIGTERM, then waits for each).
stop_backends() {
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

# Runs cstopa_loadgen against 127.0.0.1:$grpc_port with the extra arguments
# given; its report goes to $tmp/out.txt and is printed.
run_loadgen() {
  # In the background, so that a signal to this script runs the traps at
  # once (and stops the load generator too).
  "$loadgen" --echo_target="127.0.0.1:$echo_port" \
    --target="127.0.0.1:$grpc_port" \
    --channels="$channels" --outstanding="$outstanding" \
    --duration="$duration" --warmup="$warmup" "$@" >"$tmp/out.txt" &
  local loadgen_pid=$! rc=0
  pids=("$loadgen_pid" "${pids[@]}")
  wait "$loadgen_pid" || rc=$?
  cat "$tmp/out.txt"
  if [[ $rc -ne 0 ]]; then
    echo "run_bench.sh: cstopa_loadgen failed (exit $rc); server log:" >&2
    tail -n 20 "$tmp"/*.log >&2
    exit 1
  fi
}

# Prints PASS/FAIL lines for targets "scenario:min_ratio[:max_p50_ms]" from
# the JSON lines in $tmp/out.txt.
check_targets() {
  awk -v targets="$*" '
    /^\{/ {
      s = $0; sub(/.*"scenario":"/, "", s); sub(/".*/, "", s)
      r = $0; sub(/.*"ratio_to_echo":/, "", r); sub(/[,}].*/, "", r)
      # No p50_ms in the rows h2load drove (they have mean_ms).
      p = ""
      if (index($0, "\"p50_ms\":")) {
        p = $0; sub(/.*"p50_ms":/, "", p); sub(/[,}].*/, "", p)
      }
      ratio[s] = r; p50[s] = p
    }
    END {
      n = split(targets, list, " ")
      for (i = 1; i <= n; i++) {
        split(list[i], t, ":")
        s = t[1]; min = t[2] + 0
        if (!(s in ratio) || ratio[s] == "null") {
          printf "target %-16s ratio_to_echo   -   >= %.2f  FAIL (not measured)\n", s, min
          continue
        }
        printf "target %-16s ratio_to_echo %s >= %.2f  %s\n", s, ratio[s], min,
               (ratio[s] + 0 >= min ? "PASS" : "FAIL")
        if (t[3] != "" && p50[s] == "") {
          printf "target %-16s p50_ms   -   < %s  FAIL (not measured)\n", s, t[3]
        } else if (t[3] != "") {
          printf "target %-16s p50_ms %s < %s  %s\n", s, p50[s], t[3],
                 (p50[s] + 0 < t[3] + 0 ? "PASS" : "FAIL")
        }
      }
    }
  ' "$tmp/out.txt"
}

# PASS/FAIL for scenario $1's p50 in the last loadgen run below $2 ms.
check_p50() {
  awk -v s="$1" -v max="$2" '
    index($0, "{\"scenario\":\"" s "\"") == 1 && index($0, "\"p50_ms\":") {
      p = $0; sub(/.*"p50_ms":/, "", p); sub(/[,}].*/, "", p)
      printf "target %-16s p50_ms %s < %s (one call in flight)  %s\n", s, p,
             max, (p + 0 < max + 0 ? "PASS" : "FAIL")
    }
  ' "$tmp/out.txt"
}

# With --strict: every scenario of the last loadgen run must have run, with
# at least one call answered and zero errors.
check_strict() {
  [[ $strict -eq 1 ]] || return 0
  local ok=1 s line
  for s in "$@"; do
    line=$(grep "^{\"scenario\":\"$s\"" "$tmp/out.txt" || true)
    if [[ -z "$line" ]]; then
      echo "run_bench.sh: --strict: no result for $s" >&2
      ok=0
    elif grep -v '"errors":0,' <<<"$line" >/dev/null; then
      echo "run_bench.sh: --strict: $s had errors:" >&2
      grep -v '"errors":0,' <<<"$line" >&2
      ok=0
    elif grep '"ok_calls":0,' <<<"$line" >/dev/null; then
      # No error, and no answer either: nothing was measured.
      echo "run_bench.sh: --strict: $s answered no call:" >&2
      grep '"ok_calls":0,' <<<"$line" >&2
      ok=0
    fi
  done
  if [[ $ok -ne 1 ]]; then
    tail -n 20 "$tmp"/*.log >&2
    exit 1
  fi
  echo "strict: all scenarios ran, answered calls, with zero errors"
}

bench_membership() {
  local store=$1 url=$2 r="$tmp/membership"
  local m=/cstopa.membership.v1.MembershipService
  local echo_method=/cstopa.bench.v1.EchoService/Echo
  unary_requests "$r"
  start_server membership "$url"
  echo "-- membership_server on :$grpc_port ($store); creating $persons" \
    "persons and $roles roles"
  # The persons and roles: the load generator's set-up alone (no scenario).
  run_loadgen --scenarios= --persons="$persons" --roles="$roles" \
    --api_key_file="$tmp/key" >/dev/null
  echo "-- unary calls driven by h2load (16 connections x 32 streams," \
    "1 thread), echo before and after; access log off"
  : >"$tmp/unary.txt"
  run_unary echo "$echo_port" "$echo_method" "$r/echo.grpc"
  run_unary GetState "$grpc_port" "$m/GetState" "$r/get_state.grpc"
  run_unary ListPersons "$grpc_port" "$m/ListPersons" "$r/list_persons.grpc"
  run_unary ListRoles "$grpc_port" "$m/ListRoles" "$r/list_roles.grpc"
  run_unary echo "$echo_port" "$echo_method" "$r/echo.grpc"
  unary_report
  echo
  if [[ $store == postgresql ]]; then
    check_targets GetState:0.5 ListPersons:0.3
  else
    check_targets GetState:0.7 ListPersons:0.4
  fi
  check_strict echo GetState ListPersons ListRoles
  echo "-- latency, one call in flight (cstopa_loadgen)"
  run_loadgen --scenarios=GetState,ListPersons --channels=1 --outstanding=1
  echo
  check_strict GetState ListPersons
  stop_server
  # Again with the access log on, as scripts/start.sh runs the server: one
  # line written per call.
  local access_log="$tmp/membership.access.log"
  start_server membership "$url" --access_log="$access_log"
  echo "-- membership_server on :$grpc_port ($store), access log on" \
    "(--access_log=<file>); h2load as above"
  : >"$tmp/unary.txt"
  run_unary echo "$echo_port" "$echo_method" "$r/echo.grpc"
  run_unary GetStateLogged "$grpc_port" "$m/GetState" "$r/get_state.grpc"
  run_unary echo "$echo_port" "$echo_method" "$r/echo.grpc"
  unary_report
  echo
  if [[ $store == sqlite ]]; then
    check_targets GetStateLogged:0.6
  fi
  check_strict echo GetStateLogged
  stop_server
  # The pass measured nothing if the log was not written.
  if [[ ! -s "$access_log" ]]; then
    echo "run_bench.sh: --access_log=$access_log stayed empty" >&2
    tail -n 20 "$tmp/membership.log" >&2
    exit 1
  fi
  echo "access log: $(wc -l <"$access_log") lines"
  rm -f "$access_log"
}

bench_legislation() {
  local store=$1 url=$2 t0
  t0=$(date +%s.%N)
  mkdir -p "$tmp/legislation"
  "$build/tests/bench/legislation_bench_data" --store="$url" \
    --documents="$documents" --requests_dir="$tmp/legislation" >/dev/null
  local m=/cstopa.legislation.v1.LegislationService r="$tmp/legislation"
  local calls="GetDocument=$m/GetDocument@$r/GetDocument.bin,SearchDocuments=$m/SearchDocuments@$r/SearchDocuments.bin,SearchUncached=$m/SearchDocuments@$r/SearchDocuments.bin"
  local echo_method=/cstopa.bench.v1.EchoService/Echo
  local e="$tmp/membership/echo.grpc" f
  unary_requests "$tmp/membership"
  for f in GetDocument SearchDocuments; do frame "$r/$f.bin" "$r/$f.grpc"; done
  start_server legislation "$url"
  echo "-- legislation_server on :$grpc_port ($store); $documents documents" \
    "generated in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
  echo "-- unary calls driven by h2load (as membership's), echo before and after"
  : >"$tmp/unary.txt"
  run_unary echo "$echo_port" "$echo_method" "$e"
  run_unary GetDocument "$grpc_port" "$m/GetDocument" "$r/GetDocument.grpc"
  run_unary SearchDocuments "$grpc_port" "$m/SearchDocuments" \
    "$r/SearchDocuments.grpc"
  run_unary echo "$echo_port" "$echo_method" "$e"
  unary_report
  echo
  if [[ $store == postgresql ]]; then
    check_targets GetDocument:0.3 SearchDocuments:0.25
  else
    check_targets SearchDocuments:0.2
  fi
  check_strict echo GetDocument SearchDocuments
  echo "-- latency, one call in flight"
  run_loadgen --scenarios=GetDocument,SearchDocuments --custom="$calls" \
    --channels=1 --outstanding=1
  echo
  check_p50 SearchDocuments 5
  check_strict GetDocument SearchDocuments
  stop_server
  # The same without the ranking cache (--search_cache_ms=0): every search
  # ranks its matches anew, as distinct queries would.
  start_server legislation "$url" --search_cache_ms=0 --read_cache_mb=0
  echo "-- legislation_server on :$grpc_port, --search_cache_ms=0" \
    "--read_cache_mb=0"
  : >"$tmp/unary.txt"
  run_unary echo "$echo_port" "$echo_method" "$e"
  run_unary SearchUncached "$grpc_port" "$m/SearchDocuments" \
    "$r/SearchDocuments.grpc"
  run_unary echo "$echo_port" "$echo_method" "$e"
  unary_report
  echo
  check_strict echo SearchUncached
  run_loadgen --scenarios=SearchUncached --custom="$calls" \
    --channels=1 --outstanding=1
  echo
  check_p50 SearchUncached 5
  check_strict SearchUncached
  stop_server
}

bench_events() {
  local store=$1 url=$2 t0
  t0=$(date +%s.%N)
  mkdir -p "$tmp/events"
  "$build/tests/bench/events_bench_data" --store="$url" \
    --events="$events" --requests_dir="$tmp/events" >/dev/null
  start_server events "$url"
  echo "-- events_server on :$grpc_port ($store); $events events generated" \
    "in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
  local m=/cstopa.events.v1.EventsService r="$tmp/events"
  local echo_method=/cstopa.bench.v1.EchoService/Echo
  local e="$tmp/membership/echo.grpc" f
  unary_requests "$tmp/membership"
  for f in GetEvent ListEvents; do frame "$r/$f.bin" "$r/$f.grpc"; done
  echo "-- unary calls driven by h2load (as membership's), echo before and after"
  : >"$tmp/unary.txt"
  run_unary echo "$echo_port" "$echo_method" "$e"
  run_unary GetEvent "$grpc_port" "$m/GetEvent" "$r/GetEvent.grpc"
  run_unary ListEvents "$grpc_port" "$m/ListEvents" "$r/ListEvents.grpc"
  run_unary echo "$echo_port" "$echo_method" "$e"
  unary_report
  echo
  if [[ $store == postgresql ]]; then
    check_targets GetEvent:0.3 ListEvents:0.25
  fi
  check_strict echo GetEvent ListEvents
  echo "-- watch delay: $writes writes, one watcher"
  "$build/tests/bench/events_watch_bench" --target="127.0.0.1:$grpc_port" \
    --api_key_file="$tmp/key" --writes="$writes" >"$tmp/watch.txt" \
    2>"$tmp/watch.err" || {
    echo "run_bench.sh: events_watch_bench failed:" >&2
    cat "$tmp/watch.err" >&2
    tail -n 20 "$tmp/events.log" >&2
    exit 1
  }
  cat "$tmp/watch.txt"
  stop_server
}

# Serialized request $2 (protobuf text format) of message $1 into file $3
# (with the messages of tests/bench/echo.proto too once unary_requests has
# made $tmp/echo.binpb).
encode() {
  local sets="$build/cstopa.binpb"
  [[ -s "$tmp/echo.binpb" ]] && sets+=":$tmp/echo.binpb"
  printf '%s\n' "$2" | protoc --descriptor_set_in="$sets" \
    --encode="$1" >"$3"
}

# Writes $1 (a serialized request) as one gRPC message frame into $2, the
# body h2load sends.
frame() {
  /usr/bin/python3 -c 'import sys, struct
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(b"\0" + struct.pack(">I", len(d)) + d)' "$1" "$2"
}

# Runs h2load with the given arguments for the warm-up and duration of the
# other scenarios, and prints {"scenario":$1,"rps":N,"ok":M} from its summary
# (every answer must be 2xx, else the scenario fails).
run_h2load() {
  local name=$1
  shift
  # h2load takes whole durations with a unit.
  local warm_ms duration_ms
  warm_ms=$(awk -v s="$warmup" 'BEGIN { printf "%d", s * 1000 }')
  duration_ms=$(awk -v s="$duration" 'BEGIN { printf "%d", s * 1000 }')
  h2load --warm-up-time="${warm_ms}ms" -D "${duration_ms}ms" "$@" \
    >"$tmp/h2load.txt" 2>&1 || {
    echo "run_bench.sh: h2load failed for $name:" >&2
    cat "$tmp/h2load.txt" >&2
    exit 1
  }
  awk -v name="$name" '
    /^finished in/ { rps = $4 + 0 }
    /^status codes:/ { ok = $3 + 0; bad = $5 + $7 + $9 }
    /^requests:/ { failed = $10 + $12 }
    END {
      printf "{\"scenario\":\"%s\",\"rps\":%.0f,\"2xx\":%d,\"not_2xx\":%d,\"failed\":%d}\n",
             name, rps, ok, bad, failed
      if (ok == 0 || bad > 0 || failed > 0) exit 1
    }' "$tmp/h2load.txt" >>"$tmp/http.txt" || {
    echo "run_bench.sh: $name: answers that are not 2xx:" >&2
    cat "$tmp/h2load.txt" >&2
    exit 1
  }
}

# The h2load options of the membership scenarios (bench_http's gRPC side
# uses the same): 16 connections x 32 streams, one thread, so h2load spends
# one core and the server the other.
grpc_headers=(-H 'content-type: application/grpc' -H 'te: trailers')
h2load_unary=(-c 16 -m 32 -t 1 "${grpc_headers[@]}")

# The framed requests of the membership scenarios, into directory $1 (once
# per run): echo.grpc (an EchoRequest with a 100-byte payload, encoded with
# tests/bench/echo.proto, which build/cstopa.binpb does not hold),
# get_state.grpc, list_persons.grpc and list_roles.grpc (the load
# generator's defaults: states/kz, page_size 50, the members).
unary_requests() {
  local r=$1
  [[ -s "$r/list_roles.grpc" ]] && return 0
  mkdir -p "$r"
  protoc --proto_path="$here" --descriptor_set_out="$tmp/echo.binpb" \
    echo.proto
  encode cstopa.bench.v1.EchoRequest \
    "payload: '$(printf '%100s' '' | tr ' ' x)'" "$r/echo.bin"
  encode cstopa.membership.v1.GetStateRequest "name: 'states/kz'" \
    "$r/get_state.bin"
  encode cstopa.membership.v1.ListPersonsRequest "page_size: 50" \
    "$r/list_persons.bin"
  encode cstopa.membership.v1.ListRolesRequest \
    "page_size: 50 filter: 'role_type = ROLE_TYPE_MEMBER'" "$r/list_roles.bin"
  local f
  for f in echo get_state list_persons list_roles; do
    frame "$r/$f.bin" "$r/$f.grpc"
  done
}

# Scenario $1's one sample call: method $3 (a full path) on 127.0.0.1:$2
# with the framed request $4. h2load counts HTTP status codes, and gRPC
# answers its errors with HTTP 200, so this checks the gRPC status: exits 1
# unless the call is 2xx with grpc-status 0.
#
# `h2load -v` prints the fields of each answer's first HEADERS frame as
# "[stream_id=1] name: value": a trailers-only answer (how a gRPC server
# answers an error) shows its grpc-status there, but h2load 1.52 prints no
# trailers, where an OK answer carries its grpc-status. So when h2load's
# output has none, nghttp (nghttp2-client too) makes the same call: `-v`
# prints every frame received, trailers as "recv (stream_id=13) name: value".
check_grpc_status() {
  local name=$1 url="http://127.0.0.1:$2$3" body=$4 status msg
  if ! h2load -n 1 -c 1 -v "${grpc_headers[@]}" -d "$body" "$url" \
    >"$tmp/sample.txt" 2>&1 ||
    ! grep -q '^status codes: 1 2xx' "$tmp/sample.txt"; then
    echo "run_bench.sh: $name: the sample call to $url failed:" >&2
    cat "$tmp/sample.txt" >&2
    exit 1
  fi
  status=$(sed -n 's/^\[stream_id=[0-9]*\] grpc-status: *//p' \
    "$tmp/sample.txt" | tail -n 1)
  if [[ -z "$status" ]]; then
    nghttp -n -v "${grpc_headers[@]}" -d "$body" "$url" \
      >"$tmp/sample.txt" 2>&1 || {
      echo "run_bench.sh: $name: nghttp failed on $url:" >&2
      cat "$tmp/sample.txt" >&2
      exit 1
    }
    status=$(sed -n 's/^\[ *[0-9.]*\] recv (stream_id=[0-9]*) grpc-status: *//p' \
      "$tmp/sample.txt" | tail -n 1)
  fi
  status=${status%$'\r'}
  if [[ "$status" != 0 ]]; then
    msg=$(sed -n 's/.*[])] grpc-message: *//p' "$tmp/sample.txt" | tail -n 1)
    # grpc-message is percent-encoded.
    msg=$(printf '%b' "${msg//%/\\x}")
    echo "run_bench.sh: $name: grpc-status ${status:-missing} from $url:" \
      "${msg:-(no grpc-message)}" >&2
    tail -n 20 "$tmp"/*.log >&2
    exit 1
  fi
}

# Scenario $1, method $3 on 127.0.0.1:$2 with the framed request $4: one
# sample call (check_grpc_status), then h2load ($h2load_unary) for the
# warm-up and the duration (run_h2load: every answer 2xx). Appends
# "scenario rps 2xx errors mean_ms" to $tmp/unary.txt; mean_ms is the mean
# of h2load's "time for request" (it reports no percentiles).
run_unary() {
  local name=$1 port=$2 method=$3 body=$4
  check_grpc_status "$name" "$port" "$method" "$body"
  run_h2load "$name" "${h2load_unary[@]}" -d "$body" \
    "http://127.0.0.1:$port$method"
  awk -v name="$name" '
    function ms(v) {
      if (v ~ /us$/) return v / 1000
      if (v ~ /ms$/) return v + 0
      if (v ~ /s$/) return v * 1000
      return -1
    }
    /^finished in/ { rps = $4 + 0 }
    /^status codes:/ { ok = $3 + 0; bad = $5 + $7 + $9 }
    /^requests:/ { failed = $10 + $12 }
    /^time for request:/ { mean = ms($6) }
    END { printf "%s %.2f %d %d %.3f\n", name, rps, ok, bad + failed, mean }
  ' "$tmp/h2load.txt" >>"$tmp/unary.txt"
}

# The runs in $tmp/unary.txt as JSON lines in $tmp/out.txt (the shape the
# load generator prints, for check_targets and check_strict; mean_ms where
# it has p50_ms and p99_ms) and a table, each ratio to the mean of the echo
# runs.
unary_report() {
  awk -v seconds="$duration" '
    { name[NR] = $1; rps[NR] = $2; ok[NR] = $3; err[NR] = $4; mean[NR] = $5
      if ($1 == "echo") { echo_sum += $2; echo_runs++ } }
    END {
      base = echo_runs > 0 ? echo_sum / echo_runs : 0
      for (i = 1; i <= NR; i++) {
        ratio[i] = "null"
        if (base > 0) ratio[i] = sprintf("%.3f", rps[i] / base)
        printf "{\"scenario\":\"%s\",\"rps\":%.1f,\"mean_ms\":%.3f,\"errors\":%d,\"ok_calls\":%d,\"seconds\":%.3f,\"driver\":\"h2load\",\"connections\":16,\"streams\":32,\"ratio_to_echo\":%s}\n",
               name[i], rps[i], mean[i], err[i], ok[i], seconds, ratio[i]
      }
    }' "$tmp/unary.txt" >"$tmp/out.txt"
  cat "$tmp/out.txt"
  echo
  awk '
    { name[NR] = $1; rps[NR] = $2; err[NR] = $4; mean[NR] = $5
      if ($1 == "echo") { echo_sum += $2; echo_runs++ } }
    END {
      base = echo_runs > 0 ? echo_sum / echo_runs : 0
      printf "%-15s %10s %9s %7s %14s\n", "scenario", "rps", "mean_ms",
             "errors", "ratio_to_echo"
      for (i = 1; i <= NR; i++) {
        ratio = "-"
        if (base > 0) ratio = sprintf("%.3f", rps[i] / base)
        printf "%-15s %10.1f %9.3f %7d %14s\n", name[i], rps[i], mean[i],
               err[i], ratio
      }
      if (echo_runs > 0)
        printf "echo baseline: %.1f rps (mean of %d echo runs, h2load)\n",
               base, echo_runs
    }' "$tmp/unary.txt"
}

# HTTP/JSON on the gateway beside gRPC, the same calls, both driven by
# h2load in this run (HTTP/1.1 keep-alive, 64 connections; gRPC over
# HTTP/2, 16 connections x 32 streams): the cached state profile (the same
# work behind both), and GetState (over HTTP through the gateway, over gRPC
# to membership itself: the gateway's hop is in the HTTP figure).
bench_http() {
  local r=$1 pm=$2 http_port
  http_port=$(sed -n 's/.*"http_port":\([0-9]*\).*/\1/p' "$tmp/gateway.ports")
  encode cstopa.membership.v1.GetStateRequest "name: 'states/kz'" "$r/get_state.bin"
  frame "$r/state.bin" "$r/state.grpc"
  frame "$r/get_state.bin" "$r/get_state.grpc"
  local grpc=(-c 16 -m 32 -t 1 -H 'content-type: application/grpc'
              -H 'te: trailers')
  echo "-- HTTP/JSON (h2load --h1, 64 connections) beside gRPC (h2load, 16 x 32)"
  : >"$tmp/http.txt"
  run_h2load StateProfileGrpc "${grpc[@]}" -d "$r/state.grpc" \
    "http://127.0.0.1:$grpc_port/cstopa.gateway.v1.GatewayService/GetStateProfile"
  run_h2load StateProfileHttp --h1 -c 64 -t 1 \
    "http://127.0.0.1:$http_port/v1/states/kg/profile?asOf=2025-06-01"
  run_h2load GetStateGrpc "${grpc[@]}" -d "$r/get_state.grpc" \
    "http://127.0.0.1:$pm/cstopa.membership.v1.MembershipService/GetState"
  run_h2load GetStateHttp --h1 -c 64 -t 1 \
    "http://127.0.0.1:$http_port/v1/states/kz"
  cat "$tmp/http.txt"
  awk '
    /^\{/ {
      s = $0; sub(/.*"scenario":"/, "", s); sub(/".*/, "", s)
      r = $0; sub(/.*"rps":/, "", r); sub(/[,}].*/, "", r)
      rps[s] = r + 0
    }
    END {
      ratio = rps["StateProfileHttp"] / rps["StateProfileGrpc"]
      printf "target StateProfile HTTP/gRPC %.2f >= 0.7  %s\n", ratio,
             (ratio >= 0.7 ? "PASS" : "FAIL")
      printf "GetState HTTP through the gateway / gRPC to membership %.2f\n",
             rps["GetStateHttp"] / rps["GetStateGrpc"]
    }' "$tmp/http.txt"
}

# GetState over HTTP through a gateway that caches nothing
# (--view_cache=false): every GET forwarded to membership. Compared with
# GetStateGrpc of bench_http's run.
bench_http_uncached() {
  local http_port
  http_port=$(sed -n 's/.*"http_port":\([0-9]*\).*/\1/p' "$tmp/gateway.ports")
  echo "-- HTTP/JSON GetState, --view_cache=false (every GET forwarded)"
  run_h2load GetStateHttpUncached --h1 -c 64 -t 1 \
    "http://127.0.0.1:$http_port/v1/states/kz"
  tail -n 1 "$tmp/http.txt"
  awk '
    /^\{/ {
      s = $0; sub(/.*"scenario":"/, "", s); sub(/".*/, "", s)
      r = $0; sub(/.*"rps":/, "", r); sub(/[,}].*/, "", r)
      rps[s] = r + 0
    }
    END {
      printf "GetState HTTP through the gateway, uncached / gRPC to membership %.2f\n",
             rps["GetStateHttpUncached"] / rps["GetStateGrpc"]
    }' "$tmp/http.txt"
}

bench_gateway() {
  local store=$1 pid ports=() backend_pids=() r="$tmp/gateway"
  if [[ $store != sqlite ]]; then
    echo "-- gateway: measured in the sqlite run only (it owns no data)"
    return 0
  fi
  mkdir -p "$r"
  # The services on their built-in seed (the views' facts), SQLite.
  start_backends gw
  local pm=${ports[0]} pl=${ports[1]} pe=${ports[2]} po=${ports[3]}
  local fresh_updates=$((writes < 200 ? writes : 200))
  start_gateway
  local day='as_of { year: 2025 month: 6 day: 1 }'
  encode cstopa.gateway.v1.GetStateProfileRequest \
    "name: 'states/kg/profile' $day" "$r/state.bin"
  encode cstopa.gateway.v1.GetAssemblyDashboardRequest \
    "name: 'dashboard' $day" "$r/dashboard.bin"
  # The views' backend calls, as the gateway makes them.
  encode cstopa.membership.v1.SummarizeStateRequest \
    "name: 'states/kg' $day" "$r/m_state.bin"
  encode cstopa.membership.v1.SummarizeMembershipRequest "$day" \
    "$r/m_all.bin"
  encode cstopa.legislation.v1.SummarizeStateLegislationRequest \
    "state: 'states/kg'" "$r/l_state.bin"
  encode cstopa.legislation.v1.SummarizeLegislationRequest "" "$r/l_all.bin"
  encode cstopa.events.v1.ListEventsRequest \
    "page_size: 10 filter: 'state = \"states/kg\" AND start_time < 2025-06-02T00:00:00Z'" \
    "$r/e_state.bin"
  encode cstopa.events.v1.ListEventsRequest \
    "page_size: 5 filter: 'start_time < 2025-06-02T00:00:00Z'" "$r/e_latest.bin"
  encode cstopa.monitoring.v1.ListMissionsRequest \
    "page_size: 200 filter: 'state = \"states/kg\"'" "$r/o_missions.bin"
  encode cstopa.monitoring.v1.ListOperationsRequest \
    "page_size: 200 filter: 'contingent_state = \"states/kg\"'" \
    "$r/o_operations.bin"
  encode cstopa.monitoring.v1.SummarizeMissionsRequest "" "$r/o_all.bin"
  local g=/cstopa.gateway.v1.GatewayService
  # The default gateway: views are cached (kept true by the services'
  # change streams), so a repeated view makes no backend call.
  local cached="StateProfileCached=$g/GetStateProfile@$r/state.bin,DashboardCached=$g/GetAssemblyDashboard@$r/dashboard.bin"
  wait_streams
  echo "-- gateway_server on :$grpc_port in front of the four services" \
    "(seeded SQLite), views cached"
  run_loadgen --scenarios=echo,StateProfileCached,DashboardCached,echo \
    --custom="$cached"
  echo
  check_targets StateProfileCached:0.5 DashboardCached:0.5
  check_strict echo StateProfileCached DashboardCached
  echo "-- latency, one call in flight, views cached (the default gateway)"
  run_loadgen --scenarios=StateProfileCached,DashboardCached \
    --custom="$cached" --channels=1 --outstanding=1
  check_strict StateProfileCached DashboardCached
  cp "$tmp/out.txt" "$tmp/views_cached.txt"
  bench_http "$r" "$pm"
  echo "-- freshness: a write, then the first view that shows it (cache on)"
  "$build/tests/bench/gateway_freshness_bench" \
    --gateway="127.0.0.1:$grpc_port" --membership="127.0.0.1:$pm" \
    --api_key_file="$tmp/key" --updates="$fresh_updates" \
    >"$tmp/fresh.txt" 2>"$tmp/fresh.err" || {
    echo "run_bench.sh: gateway_freshness_bench failed:" >&2
    cat "$tmp/fresh.err" >&2
    tail -n 20 "$tmp/gateway.log" >&2
    exit 1
  }
  cat "$tmp/fresh.txt"
  awk '{ p = $0; sub(/.*"p99_ms":/, "", p); sub(/[,}].*/, "", p)
         printf "target gateway_freshness p99_ms %.3f < 100  %s\n", p,
                (p + 0 < 100 ? "PASS" : "FAIL") }' "$tmp/fresh.txt"
  # Without the cache: every view is built from the backends; identical
  # views in flight together still share one fan-out.
  stop_server
  start_gateway --view_cache=false
  local views="GetStateProfile=$g/GetStateProfile@$r/state.bin,GetAssemblyDashboard=$g/GetAssemblyDashboard@$r/dashboard.bin"
  echo "-- gateway_server on :$grpc_port, --view_cache=false"
  bench_http_uncached
  run_loadgen --scenarios=echo,GetStateProfile,GetAssemblyDashboard,echo \
    --custom="$views"
  echo
  check_targets GetStateProfile:0.1 GetAssemblyDashboard:0.1
  check_strict echo GetStateProfile GetAssemblyDashboard
  # The same without sharing identical views in flight: every call its own
  # fan-out (what distinct views under load cost).
  stop_server
  start_gateway --view_cache=false --coalesce=false
  echo "-- gateway_server on :$grpc_port, --view_cache=false --coalesce=false"
  local alone="StateProfileAlone=$g/GetStateProfile@$r/state.bin,DashboardAlone=$g/GetAssemblyDashboard@$r/dashboard.bin"
  run_loadgen --scenarios=echo,StateProfileAlone,DashboardAlone,echo \
    --custom="$alone"
  echo
  check_targets StateProfileAlone:0.1 DashboardAlone:0.1
  check_strict echo StateProfileAlone DashboardAlone
  echo "-- latency, one call in flight: the views, then each backend call"
  run_loadgen --scenarios=GetStateProfile,GetAssemblyDashboard \
    --custom="$views" --channels=1 --outstanding=1
  check_strict GetStateProfile GetAssemblyDashboard
  cp "$tmp/out.txt" "$tmp/views.txt"
  local m=/cstopa.membership.v1.MembershipService
  local l=/cstopa.legislation.v1.LegislationService
  local e=/cstopa.events.v1.EventsService
  local o=/cstopa.monitoring.v1.MonitoringService
  : >"$tmp/backends.txt"
  local gateway_port=$grpc_port
  grpc_port=$pm
  run_loadgen --scenarios=SummarizeState,SummarizeMembership \
    --custom="SummarizeState=$m/SummarizeState@$r/m_state.bin,SummarizeMembership=$m/SummarizeMembership@$r/m_all.bin" \
    --channels=1 --outstanding=1
  cat "$tmp/out.txt" >>"$tmp/backends.txt"
  grpc_port=$pl
  run_loadgen --scenarios=SummarizeStateLegislation,SummarizeLegislation \
    --custom="SummarizeStateLegislation=$l/SummarizeStateLegislation@$r/l_state.bin,SummarizeLegislation=$l/SummarizeLegislation@$r/l_all.bin" \
    --channels=1 --outstanding=1
  cat "$tmp/out.txt" >>"$tmp/backends.txt"
  grpc_port=$pe
  run_loadgen --scenarios=ListEventsOfState,ListEventsLatest \
    --custom="ListEventsOfState=$e/ListEvents@$r/e_state.bin,ListEventsLatest=$e/ListEvents@$r/e_latest.bin" \
    --channels=1 --outstanding=1
  cat "$tmp/out.txt" >>"$tmp/backends.txt"
  grpc_port=$po
  run_loadgen --scenarios=ListMissions,ListOperations,SummarizeMissions \
    --custom="ListMissions=$o/ListMissions@$r/o_missions.bin,ListOperations=$o/ListOperations@$r/o_operations.bin,SummarizeMissions=$o/SummarizeMissions@$r/o_all.bin" \
    --channels=1 --outstanding=1
  cat "$tmp/out.txt" >>"$tmp/backends.txt"
  # The floor of this machine: a bare callback fan-out (bench_echo_server
  # --fan_out_targets) to four echo servers, one call in flight, beside echo
  # itself: what any gateway's view of four backends pays before it does
  # any work of its own (two hops, six processes on the cores).
  local fan_targets=() fan_pids=() i fan_port
  for i in 1 2 3 4; do
    "$echo_bin" --listen=127.0.0.1:0 --port_file="$tmp/fan$i.json" \
      2>"$tmp/fan$i.log" &
    fan_pids+=($!)
    pids+=($!)
    fan_targets+=("127.0.0.1:$(wait_port "$tmp/fan$i.json" "$!" "$tmp/fan$i.log")")
  done
  "$echo_bin" --listen=127.0.0.1:0 --port_file="$tmp/fan.json" \
    --fan_out_targets="$(IFS=,; echo "${fan_targets[*]}")" 2>"$tmp/fan.log" &
  fan_pids+=($!)
  pids+=($!)
  fan_port=$(wait_port "$tmp/fan.json" "$!" "$tmp/fan.log")
  # An EchoRequest with a 100-byte payload, as the echo scenario sends.
  { printf '\x0a\x64'; printf 'x%.0s' {1..100}; } >"$r/echo_req.bin"
  grpc_port=$fan_port
  run_loadgen --scenarios=echo,FanOutEcho4 \
    --custom="FanOutEcho4=/cstopa.bench.v1.EchoService/Echo@$r/echo_req.bin" \
    --channels=1 --outstanding=1
  awk '/^\{/ {
      s = $0; sub(/.*"scenario":"/, "", s); sub(/".*/, "", s)
      p = $0; sub(/.*"p50_ms":/, "", p); sub(/[,}].*/, "", p)
      p50[s] = p + 0
    }
    END {
      if (p50["echo"] > 0)
        printf "floor: a bare fan-out of 4 echo calls, one in flight, p50 %.3f ms = %.1f x echo alone (%.3f ms)\n",
               p50["FanOutEcho4"], p50["FanOutEcho4"] / p50["echo"], p50["echo"]
    }' "$tmp/out.txt"
  kill "${fan_pids[@]}" 2>/dev/null || true
  wait "${fan_pids[@]}" 2>/dev/null || true
  grpc_port=$gateway_port
  echo
  # Each view's p50 against 1.5 x its slowest backend call's p50.
  cat "$tmp/views.txt" "$tmp/views_cached.txt" "$tmp/backends.txt" | awk '
    /^\{/ {
      s = $0; sub(/.*"scenario":"/, "", s); sub(/".*/, "", s)
      p = $0; sub(/.*"p50_ms":/, "", p); sub(/[,}].*/, "", p)
      p50[s] = p + 0
    }
    END {
      state = "SummarizeState,SummarizeStateLegislation,ListEventsOfState,ListMissions,ListOperations"
      dashboard = "SummarizeMembership,SummarizeLegislation,SummarizeMissions,ListEventsLatest"
      split("GetStateProfile:" state " GetAssemblyDashboard:" dashboard \
            " StateProfileCached:" state " DashboardCached:" dashboard, views, " ")
      for (i in views) {
        split(views[i], vb, ":"); n = split(vb[2], calls, ",")
        slowest = 0; which = ""
        for (j = 1; j <= n; j++) if (p50[calls[j]] > slowest) { slowest = p50[calls[j]]; which = calls[j] }
        printf "target %-20s p50_ms %.3f <= 1.5 x %.3f (%s)  %s\n", vb[1],
               p50[vb[1]], slowest, which,
               (p50[vb[1]] <= 1.5 * slowest ? "PASS" : "FAIL")
      }
    }'
  stop_server
  stop_backends "${backend_pids[@]}"
}

# One search across a large record: see the header.
bench_search() {
  local store=$1 t0 ports=() backend_pids=() r="$tmp/search"
  if [[ $store != sqlite ]]; then
    echo "-- search: measured in the sqlite run only"
    return 0
  fi
  mkdir -p "$r"
  t0=$(date +%s.%N)
  "$build/tests/bench/legislation_bench_data" \
    --store="sqlite:///$tmp/sr-legislation.db" --documents="$documents" \
    --requests_dir="$r" >/dev/null
  "$build/tests/bench/events_bench_data" --store="sqlite:///$tmp/sr-events.db" \
    --events="$events" --requests_dir="$r" >/dev/null
  start_backends sr
  local pm=${ports[0]} pl=${ports[1]} pe=${ports[2]} po=${ports[3]}
  # The persons, through the API (the load generator's set-up), then a
  # pass of echo alone to have them made before anything is measured.
  grpc_port=$pm
  run_loadgen --scenarios=echo --persons="$search_persons" --roles=0 \
    --api_key_file="$tmp/key" --duration=0.2 --warmup=0 >/dev/null
  echo "-- search: $documents documents, $events events and" \
    "$search_persons persons made in" \
    "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
  local q="query: 'cybersecurity' page_size: 10"
  encode cstopa.gateway.v1.SearchRequest "$q" "$r/g.bin"
  encode cstopa.gateway.v1.SearchRequest \
    "query: 'security' page_size: 10" "$r/g_broad.bin"
  local g=/cstopa.gateway.v1.GatewayService
  local calls="GatewaySearch=$g/Search@$r/g.bin,GatewaySearchBroad=$g/Search@$r/g_broad.bin,SearchCached=$g/Search@$r/g.bin"
  # The default gateway: answers are cached like views (kept true by the
  # change streams), so a repeated search makes no backend call.
  start_gateway
  wait_streams
  echo "-- gateway_server on :$grpc_port, searches cached (the default)"
  run_loadgen --scenarios=echo,SearchCached,echo --custom="$calls"
  echo
  check_targets SearchCached:0.12
  check_strict echo SearchCached
  stop_server
  start_gateway --view_cache=false --coalesce=false
  echo "-- gateway_server on :$grpc_port, --view_cache=false --coalesce=false"
  run_loadgen --scenarios=echo,GatewaySearch,echo --custom="$calls"
  echo
  check_targets GatewaySearch:0.12
  check_strict echo GatewaySearch
  echo "-- latency, one call in flight: the gateway, then each service"
  run_loadgen --scenarios=GatewaySearch,GatewaySearchBroad --custom="$calls" \
    --channels=1 --outstanding=1
  echo
  check_p50 GatewaySearch 10
  check_strict GatewaySearch GatewaySearchBroad
  local gateway_port=$grpc_port i=0 pkg
  for pkg in membership legislation events monitoring; do
    encode "cstopa.$pkg.v1.SearchRequest" "$q" "$r/$pkg.bin"
    grpc_port=${ports[$i]}
    i=$((i + 1))
    local name="Search${pkg^}"
    run_loadgen --scenarios="$name" \
      --custom="$name=/cstopa.$pkg.v1.${pkg^}Service/Search@$r/$pkg.bin" \
      --channels=1 --outstanding=1
    check_strict "$name"
  done
  grpc_port=$gateway_port
  stop_server
  stop_backends "${backend_pids[@]}"
}

# Every service's scenarios on store $1.
run_store() {
  local store=$1 url
  case "$store" in
    sqlite) ;;
    postgresql)
      pg_dir=$(mktemp -u /tmp/cstopa-bench-pg-XXXXXX)
      "$root/tests/postgres/pg_server.sh" start "$pg_dir" >/dev/null
      url=$(cat "$pg_dir/url") ;;
    *) echo "run_bench.sh: unknown store $store (sqlite, postgresql)" >&2; exit 2 ;;
  esac
  echo "cstopa benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs," \
    "$channels connections x $outstanding calls in flight," \
    "${warmup}s warm-up + ${duration}s per scenario; echo server on :$echo_port"
  local svc
  for svc in "${service_list[@]}"; do
    echo
    [[ $store == sqlite ]] && url="sqlite:///$tmp/$svc.db"
    "bench_$svc" "$store" "$url"
  done
  if [[ -n "${pg_dir:-}" ]]; then
    "$root/tests/postgres/pg_server.sh" stop "$pg_dir" >/dev/null || true
    pg_dir=
  fi
}

IFS=, read -r -a store_list <<<"$stores"
for store in "${store_list[@]}"; do
  echo
  echo "== store: $store"
  run_store "$store"
done
