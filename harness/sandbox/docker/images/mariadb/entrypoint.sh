#!/bin/sh
# Initialise a data directory on first start (root password, optional database and
# user from the MYSQL_* / MARIADB_* variables), then run mariadbd as the mysql account.
# The accounts are created by an init file the server runs before it accepts clients.
set -eu
case "${1:-mariadbd}" in
  -*) set -- mariadbd "$@" ;;
esac
case "${1:-mariadbd}" in
  mariadbd|mysqld) [ $# -gt 0 ] && shift ;;
  *) exec "$@" ;;
esac
datadir=/var/lib/mysql
root_password="${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}"
database="${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}"
user="${MARIADB_USER:-${MYSQL_USER:-}}"
password="${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}"
mkdir -p "$datadir" /run/mysqld
chown mysql:mysql "$datadir" /run/mysqld
sql_string() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"; }
sql_name() { printf '`%s`' "$(printf '%s' "$1" | sed 's/`/``/g')"; }
init=""
if [ ! -d "$datadir/mysql" ]; then
  if [ -z "$root_password" ]; then
    echo "error: MYSQL_ROOT_PASSWORD must be set" >&2
    exit 1
  fi
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
    --auth-root-authentication-method=normal --skip-name-resolve >/dev/null
  init=/run/mysqld/init.sql
  {
    pw=$(sql_string "$root_password")
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $pw;"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY $pw;"
    echo "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "$database" ]; then
      echo "CREATE DATABASE IF NOT EXISTS $(sql_name "$database");"
    fi
    if [ -n "$user" ] && [ "$user" != root ]; then
      echo "CREATE USER $(sql_string "$user")@'%' IDENTIFIED BY $(sql_string "$password");"
      if [ -n "$database" ]; then
        echo "GRANT ALL PRIVILEGES ON $(sql_name "$database").* TO $(sql_string "$user")@'%';"
      fi
    fi
    echo "FLUSH PRIVILEGES;"
  } > "$init"
  chown mysql "$init"
  chmod 600 "$init"
  echo "harness-mariadb: initialised $datadir"
fi
exec setpriv --reuid=mysql --regid=mysql --init-groups \
  mariadbd --datadir="$datadir" --bind-address=0.0.0.0 --socket=/run/mysqld/mysqld.sock \
  ${init:+--init-file="$init"} "$@"
