#!/bin/sh
# Entry point of the cstopa/postgres image (deploy/Dockerfile): on the first
# start makes the cluster in $PGDATA with user $POSTGRES_USER (password
# $POSTGRES_PASSWORD, or the file named by $POSTGRES_PASSWORD_FILE) and
# database $POSTGRES_DB, then runs postgres in the foreground (PID 1).
# Password authentication (scram-sha-256) for every TCP connection.
set -eu
: "${PGDATA:?}" "${POSTGRES_USER:?}" "${POSTGRES_DB:?}"
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres-entrypoint: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE" >&2
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA"
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
    >/dev/null
  rm -f "$pwfile"
  printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' \
    >>"$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    echo "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\"" |
      postgres --single -D "$PGDATA" -c unix_socket_directories=/tmp postgres \
      >/dev/null
  fi
  echo "postgres-entrypoint: made the cluster in $PGDATA"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' \
  -c unix_socket_directories=/tmp "$@"
