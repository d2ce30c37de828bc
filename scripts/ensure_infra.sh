#!/usr/bin/env bash
# Make sure the servers the test suite talks to are answering: RabbitMQ (with the management
# plugin, which nameko's rabbit_config fixture uses for its per-test vhosts) and PostgreSQL.
# Installs them from Debian's packages on a machine that has neither (needs root).
set -euo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 "${2:-90}"); do answers "$1" && return 0; sleep 1; done; echo "port $1 did not open" >&2; return 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v rabbitmq-server >/dev/null || ! command -v pg_ctlcluster >/dev/null; then
  echo "installing RabbitMQ and PostgreSQL from Debian's packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server postgresql >/dev/null
  fresh_postgres=1
fi

if ! answers 5672; then
  echo "starting RabbitMQ"
  as_root rabbitmq-server -detached
  wait_port 5672
fi
if ! answers 15672; then
  echo "enabling the RabbitMQ management plugin"
  as_root rabbitmq-plugins enable rabbitmq_management >/dev/null
  wait_port 15672
fi

if ! answers 5432; then
  echo "starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ "${fresh_postgres:-0}" = 1 ]; then
    # The tests connect as postgres over loopback without a password, as on the project's machines.
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_port 5432
fi
