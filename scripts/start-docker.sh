#!/usr/bin/env bash
# Make sure a Docker engine answers, for the docker runtime and its tests (.ci/run).
# Idempotent: does nothing when `docker info` already answers. Otherwise, as root, it
# installs docker.io (and debootstrap, for `harness images build --offline`) when
# missing and starts dockerd in the background, logging to /var/log/dockerd.log.
set -euo pipefail

answers() { timeout 10 docker info >/dev/null 2>&1; }

if command -v docker >/dev/null && answers; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "no Docker engine answers; as root run: $0 (or start dockerd yourself)" >&2
  exit 1
fi
missing=()
command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" iptables >/dev/null
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "starting dockerd (log: /var/log/dockerd.log)" >&2
  nohup "$(command -v dockerd || echo /usr/sbin/dockerd)" >/var/log/dockerd.log 2>&1 &
fi
for _ in $(seq 60); do
  if answers; then
    exit 0
  fi
  sleep 1
done
echo "dockerd did not answer within 60s; see /var/log/dockerd.log:" >&2
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
