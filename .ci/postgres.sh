#!/usr/bin/env bash
# Installs (if needed) and starts PostgreSQL from Debian's packages on loopback,
# with a "cairn" superuser, and prints the admin URI the store tests use:
#   export CAIRN_TEST_POSTGRES_URL=$(bash .ci/postgres.sh)
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
  pg_createcluster "$ver" main >&2
fi
cluster=$(pg_lsclusters -h | head -1 | awk '{print $1" "$2}')
if ! pg_lsclusters -h | head -1 | grep -q online; then
  pg_ctlcluster $cluster start >&2
fi
port=$(pg_lsclusters -h | head -1 | awk '{print $3}')
for _ in $(seq 1 50); do
  su postgres -c "psql -p $port -qAtc 'select 1'" >/dev/null 2>&1 && break
  sleep 0.2
done
su postgres -c "psql -p $port -qAt" >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cairn') THEN
    CREATE ROLE cairn LOGIN SUPERUSER PASSWORD 'cairn';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE cairn OWNER cairn' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'cairn')\gexec
SQL
echo "postgres://cairn:cairn@127.0.0.1:$port/cairn?sslmode=disable"
