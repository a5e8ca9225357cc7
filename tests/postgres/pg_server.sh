#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests.
#
#   pg_server.sh start <dir>          new cluster in <dir>, prints its URL
#   pg_server.sh stop <dir>           stops it and removes <dir>
#   pg_server.sh restart-stop <dir>   stops it, keeping data and port
#   pg_server.sh restart-start <dir>  starts it again on the same port
#   pg_server.sh status <dir>         exit 0 while it runs
#
# The cluster trusts every local connection (initdb -A trust) and runs with
# fsync=off: for tests only. It listens on 127.0.0.1 at a free port; the URL
# (postgresql://postgres@127.0.0.1:PORT/cstopa_test, database created) is
# written to <dir>/url. When run as root the server runs as the `postgres`
# OS user (PostgreSQL refuses to run as root), so <dir> must be reachable by
# that user: /tmp/... is. Every step is bounded in time.
#
# PG_BIN overrides the directory of the server binaries (default: the newest
# /usr/lib/postgresql/*/bin).
set -euo pipefail

die() {
  echo "pg_server.sh: $*" >&2
  exit 1
}

usage() {
  echo "usage: pg_server.sh start|stop|restart-stop|restart-start|status <dir>" >&2
  exit 2
}

[[ $# -eq 2 ]] || usage
cmd=$1
dir=$2
[[ -n "$dir" ]] || usage
case "$dir" in
  /*) ;;
  *) dir="$(pwd)/$dir" ;;
esac
dir="${dir%/}"
[[ -n "$dir" && "$dir" != "/" ]] || die "refusing to use / as the cluster dir"

if [[ -z "${PG_BIN:-}" ]]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
[[ -n "${PG_BIN:-}" && -x "$PG_BIN/pg_ctl" ]] ||
  die "PostgreSQL server binaries not found (set PG_BIN; on Debian: apt-get install postgresql)"

data="$dir/data"
log="$dir/postgres.log"
marker="$dir/.cstopa_pg_server"

# Runs a command as the OS user that owns the cluster.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_ctl_() { as_pg timeout 60 "$PG_BIN/pg_ctl" "$@"; }

running() {
  [[ -f "$data/PG_VERSION" ]] && pg_ctl_ -D "$data" status >/dev/null 2>&1
}

free_port() {
  local py
  for py in /usr/bin/python3 python3; do
    if command -v "$py" >/dev/null 2>&1; then
      "$py" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' && return 0
    fi
  done
  # No Python: a port in a high range that nothing listens on.
  local p
  for p in $(shuf -i 20000-40000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# Starts the cluster on port $1; returns non-zero (log tail on stderr) if
# the server does not come up within 30 s.
start_server() {
  local port=$1 sockopt
  # Unix socket paths are limited to ~107 bytes; use TCP only if too long.
  if [[ ${#dir} -le 80 ]]; then sockopt="-k $dir"; else sockopt="-k ''"; fi
  if ! pg_ctl_ -D "$data" -l "$log" -w -t 30 start -o \
      "-c listen_addresses=127.0.0.1 -p $port $sockopt -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      >/dev/null; then
    echo "pg_server.sh: server did not start on port $port; log:" >&2
    tail -n 20 "$log" >&2 2>/dev/null || true
    return 1
  fi
}

url_of() { echo "postgresql://postgres@127.0.0.1:$1/cstopa_test"; }

cmd_start() {
  if running && [[ -f "$dir/url" ]]; then
    cat "$dir/url"
    return 0
  fi
  if [[ -e "$dir" && ! -f "$marker" ]] && [[ -n "$(ls -A "$dir" 2>/dev/null)" ]]; then
    die "$dir exists and is not empty (and not made by this script)"
  fi
  mkdir -p "$dir"
  touch "$marker"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' OS user"
    chown postgres: "$dir" "$marker"
    runuser -u postgres -- test -w "$dir" ||
      die "the postgres OS user cannot write $dir (a parent directory is not searchable by it?); use a directory under /tmp"
  fi
  if [[ ! -f "$data/PG_VERSION" ]]; then
    rm -rf "$data"
    as_pg timeout 120 "$PG_BIN/initdb" -D "$data" -A trust -U postgres \
      --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  local port="" attempt
  # A stopped cluster of ours keeps its port if it can.
  if [[ -f "$dir/port" ]] && start_server "$(cat "$dir/port")" 2>/dev/null; then
    port=$(cat "$dir/port")
  fi
  for attempt in 1 2 3; do
    [[ -z "$port" ]] || break
    port=$(free_port) || die "no free TCP port found"
    start_server "$port" || port=""
  done
  [[ -n "$port" ]] || die "could not start the server (see $log)"
  echo "$port" >"$dir/port"
  # The test database, over TCP so it works without a Unix socket.
  local psql=(as_pg timeout 30 "$PG_BIN/psql" -X -q -At -h 127.0.0.1
              -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
  local have
  have=$(PGCONNECT_TIMEOUT=10 "${psql[@]}" \
    -c "SELECT 1 FROM pg_database WHERE datname = 'cstopa_test'") ||
    { pg_ctl_ -D "$data" stop -m immediate >/dev/null 2>&1 || true
      die "the server on port $port does not answer"; }
  if [[ "$have" != "1" ]] &&
      ! PGCONNECT_TIMEOUT=10 "${psql[@]}" -c "CREATE DATABASE cstopa_test" \
        >/dev/null; then
    pg_ctl_ -D "$data" stop -m immediate >/dev/null 2>&1 || true
    die "could not create database cstopa_test"
  fi
  url_of "$port" >"$dir/url"
  cat "$dir/url"
}

stop_server() {
  if running; then
    pg_ctl_ -D "$data" -w -t 30 stop -m fast >/dev/null ||
      pg_ctl_ -D "$data" -w -t 30 stop -m immediate >/dev/null ||
      die "could not stop the server in $dir"
  fi
}

cmd_stop() {
  [[ -e "$dir" ]] || return 0
  [[ -f "$marker" ]] || die "$dir was not made by this script; not removing it"
  stop_server
  rm -rf "$dir"
}

cmd_restart_stop() {
  [[ -f "$data/PG_VERSION" ]] || die "no cluster in $dir"
  stop_server
}

cmd_restart_start() {
  [[ -f "$data/PG_VERSION" && -f "$dir/port" ]] || die "no cluster in $dir"
  if running; then
    cat "$dir/url"
    return 0
  fi
  local port
  port=$(cat "$dir/port")
  # The port may be briefly taken by someone else: retry for a few seconds.
  local i
  for i in 1 2 3 4 5; do
    if start_server "$port"; then
      cat "$dir/url"
      return 0
    fi
    sleep 1
  done
  die "could not restart the server on port $port"
}

case "$cmd" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart-stop) cmd_restart_stop ;;
  restart-start) cmd_restart_start ;;
  status) running ;;
  *) usage ;;
esac
