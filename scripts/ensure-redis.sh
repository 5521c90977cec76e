#!/usr/bin/env bash
# Make sure a Redis answers on 127.0.0.1:6379 for the tests; start one if not.
set -euo pipefail

answers() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]
  else
    exec 3<>/dev/tcp/127.0.0.1/6379 2>/dev/null && printf 'PING\r\n' >&3 && read -r -t 2 line <&3 \
      && [[ "$line" == +PONG* ]]
  fi
}

if answers; then exit 0; fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server not found; installing it from Debian's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
echo "starting redis-server on 127.0.0.1:6379" >&2
redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
  --dir /tmp --logfile /tmp/redis-tests.log
for _ in $(seq 1 50); do
  if answers; then exit 0; fi
  sleep 0.1
done
echo "Redis did not start; see /tmp/redis-tests.log" >&2
exit 1
