#!/usr/bin/env bash
# Benchmarks membership_server against a bare gRPC echo server in one run.
#
#   tests/bench/run_bench.sh [--duration S] [--warmup S] [--persons N]
#                            [--roles N] [--channels N] [--outstanding N]
#                            [--stores sqlite,postgresql] [--strict] [BUILD_DIR]
#
# Builds nothing: BUILD_DIR (default: build/ at the top of the repository)
# must hold bench_echo_server, cstopa_loadgen and membership_server, e.g.
#   ninja -j2 -C build cstopa_loadgen bench_echo_server membership_server
#
# Starts both servers on free ports with a fresh SQLite store and a one-off
# editor key, creates --persons persons and --roles roles (so that a page of
# 50 is full), then runs the load generator: echo, GetState, ListPersons
# (page_size 50), ListRoles (filter `role_type = ROLE_TYPE_MEMBER`, page_size
# 50), echo again. Prints JSON lines, a table with each scenario's throughput
# as a ratio to echo (the mean of the two echo runs), and PASS/FAIL against the
# targets: GetState >= 0.6, ListPersons >= 0.3 of echo.
#
# --stores runs the whole set once per store, each with its own echo runs:
# `sqlite` (default) and/or `postgresql` (a throwaway server started with
# tests/postgres/pg_server.sh; target GetState >= 0.3 of echo).
#
# Exits 0 whatever the numbers (it reports; it is not a test), 1 if something
# could not run. With --strict (the bench_smoke test) it also exits 1 unless
# every scenario ran with zero errors.
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
for v in "$persons" "$roles" "$channels" "$outstanding"; do
  if ! [[ "$v" =~ ^[0-9]+$ ]]; then
    echo "run_bench.sh: counts must be whole numbers, not '$v'" >&2
    exit 2
  fi
done

echo_bin="$build/tests/bench/bench_echo_server"
loadgen="$build/tests/bench/cstopa_loadgen"
server_bin="$build/services/membership/membership_server"
for b in "$echo_bin" "$loadgen" "$server_bin"; do
  if [[ ! -x "$b" ]]; then
    echo "run_bench.sh: $b is missing; build it first:" >&2
    echo "  ninja -j2 -C $build cstopa_loadgen bench_echo_server membership_server" >&2
    exit 1
  fi
done

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

# One full set of scenarios against membership_server on store $1.
run_store() {
local store=$1 url
case "$store" in
  sqlite) url="sqlite:///$tmp/bench.db" ;;
  postgresql)
    pg_dir=$(mktemp -u /tmp/cstopa-bench-pg-XXXXXX)
    "$root/tests/postgres/pg_server.sh" start "$pg_dir" >/dev/null
    url=$(cat "$pg_dir/url") ;;
  *) echo "run_bench.sh: unknown store $store (sqlite, postgresql)" >&2; exit 2 ;;
esac
rm -f "$tmp/ports.json" "$tmp/out.txt"
"$server_bin" --listen=127.0.0.1:0 --admin_listen= \
  --port_file="$tmp/ports.json" --store="$url" \
  --access_log=off --api_keys_file="$tmp/keys.txt" \
  2>"$tmp/membership.log" &
pids+=($!)
server_pid=$!
grpc_port=$(wait_port "$tmp/ports.json" "$server_pid" "$tmp/membership.log")

echo "cstopa benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs," \
  "$channels connections x $outstanding calls in flight," \
  "${warmup}s warm-up + ${duration}s per scenario"
echo "  echo server on :$echo_port, membership_server on :$grpc_port" \
  "($store, access log off); creating $persons persons and $roles roles"

# In the background, so that a signal to this script runs the traps at once
# (and stops the load generator too).
"$loadgen" --echo_target="127.0.0.1:$echo_port" \
  --target="127.0.0.1:$grpc_port" \
  --scenarios=echo,GetState,ListPersons,ListRoles,echo \
  --channels="$channels" --outstanding="$outstanding" \
  --duration="$duration" --warmup="$warmup" \
  --persons="$persons" --roles="$roles" --api_key_file="$tmp/key" \
  >"$tmp/out.txt" &
loadgen_pid=$!
pids=("$loadgen_pid" "${pids[@]}")
rc=0
wait "$loadgen_pid" || rc=$?
cat "$tmp/out.txt"
if [[ $rc -ne 0 ]]; then
  echo "run_bench.sh: cstopa_loadgen failed (exit $rc); membership log:" >&2
  tail -n 20 "$tmp/membership.log" >&2
  exit 1
fi

# Targets, from the JSON lines.
echo
awk '
  /^\{/ {
    s = $0; sub(/.*"scenario":"/, "", s); sub(/".*/, "", s)
    r = $0; sub(/.*"ratio_to_echo":/, "", r); sub(/[,}].*/, "", r)
    ratio[s] = r
  }
  function check(s, min) {
    if (!(s in ratio) || ratio[s] == "null") {
      printf "target %-12s ratio_to_echo   -   >= %.2f  FAIL (not measured)\n", s, min
    } else {
      printf "target %-12s ratio_to_echo %s >= %.2f  %s\n", s, ratio[s], min,
             (ratio[s] + 0 >= min ? "PASS" : "FAIL")
    }
  }
  END {
    if (store == "postgresql") { check("GetState", 0.3) }
    else { check("GetState", 0.6); check("ListPersons", 0.3) }
  }
' store="$store" "$tmp/out.txt"

if [[ $strict -eq 1 ]]; then
  ok=1
  for s in echo GetState ListPersons ListRoles; do
    line=$(grep "^{\"scenario\":\"$s\"" "$tmp/out.txt" || true)
    if [[ -z "$line" ]]; then
      echo "run_bench.sh: --strict: no result for $s" >&2
      ok=0
    elif grep -v '"errors":0,' <<<"$line" >/dev/null; then
      echo "run_bench.sh: --strict: $s had errors:" >&2
      grep -v '"errors":0,' <<<"$line" >&2
      ok=0
    fi
  done
  if [[ $ok -ne 1 ]]; then
    tail -n 20 "$tmp/membership.log" >&2
    exit 1
  fi
  echo "strict: all scenarios ran with zero errors"
fi
kill -TERM "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
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
