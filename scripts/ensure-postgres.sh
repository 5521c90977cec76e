#!/usr/bin/env bash
# Make sure a PostgreSQL answers on 127.0.0.1:5432 with trust auth for the tests (user postgres,
# database test); start Debian's cluster if not, installing PostgreSQL first if it is missing.
set -euo pipefail

PGUSER_TESTS="${PGUSER_TESTS:-postgres}"

answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p 5432
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}

trusted() {
  psql -h 127.0.0.1 -p 5432 -U "$PGUSER_TESTS" -d postgres -w -tAc 'SELECT 1' >/dev/null 2>&1
}

if ! answers; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "PostgreSQL not found; installing it from Debian's packages" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  echo "starting PostgreSQL $version on 127.0.0.1:5432" >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 100); do
    if answers; then break; fi
    sleep 0.1
  done
  answers || { echo "PostgreSQL did not start; see /var/log/postgresql/" >&2; exit 1; }
fi

if ! trusted; then
  # A fresh Debian cluster asks local TCP clients for a password: the tests connect without one.
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  echo "allowing trust auth from 127.0.0.1 in $hba (test machines only)" >&2
  sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  sleep 0.5
  trusted || { echo "PostgreSQL still refuses user $PGUSER_TESTS without a password" >&2; exit 1; }
fi

if [ "$(psql -h 127.0.0.1 -U "$PGUSER_TESTS" -d postgres -w -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'test'")" != "1" ]; then
  psql -h 127.0.0.1 -U "$PGUSER_TESTS" -d postgres -w -qc 'CREATE DATABASE test'
fi
