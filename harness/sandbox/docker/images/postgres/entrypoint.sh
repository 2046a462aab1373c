#!/bin/sh
# Initialise a cluster on first start (superuser POSTGRES_USER with POSTGRES_PASSWORD,
# database POSTGRES_DB), then run postgres as the postgres account, listening on all
# addresses with password (scram) authentication for TCP clients.
set -eu
case "${1:-postgres}" in
  -*) set -- postgres "$@" ;;
esac
if [ "${1:-postgres}" != postgres ]; then
  exec "$@"
fi
[ $# -gt 0 ] && shift
bin=/usr/lib/postgresql/bin
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "error: POSTGRES_PASSWORD must be set" >&2
    exit 1
  fi
  pwfile=$(mktemp /run/postgresql/pw.XXXXXX)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  chown postgres "$pwfile"
  as_postgres "$bin/initdb" -D "$PGDATA" -U "$user" --pwfile="$pwfile" \
    --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    quoted=$(printf '%s' "$db" | sed 's/"/""/g')
    echo "CREATE DATABASE \"$quoted\";" | as_postgres "$bin/postgres" --single -D "$PGDATA" -j postgres >/dev/null
  fi
  echo "harness-postgres: initialised $PGDATA (superuser $user, database $db)"
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups \
  "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' "$@"
