#!/usr/bin/env bash
# Install the Debian packages the local runtime needs (PostgreSQL and MariaDB server
# binaries, and bubblewrap, which sandboxes each candidate app), and Node.js + npm (for
# the Claude Code CLI), when they are missing.
# As root it installs them; otherwise it says exactly what to install. Servers are never
# started here: the harness starts its own.
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null || missing+=(postgresql)
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || command -v mysqld >/dev/null || [ -x /usr/sbin/mysqld ] || missing+=(mariadb-server)
command -v bwrap >/dev/null || missing+=(bubblewrap)
# Node.js and npm install the Claude Code CLI that MODEL=claude-code: runs.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  echo "(or point HARNESS_POSTGRES_URL / HARNESS_MYSQL_URL at servers you run; without" >&2
  echo " bubblewrap the local runtime runs candidates unsandboxed, and says so)" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Keep Debian's maintainer scripts from starting system-wide servers we do not use.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[ "$created_policy" -eq 1 ] && rm -f "$policy"
exit 0
