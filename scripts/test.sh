#!/usr/bin/env bash
# The whole test suite. Embedded default: SQLite and a bundled Redis started for the run.
# With DATABASE_URL / REDIS_URL set, the suite runs against those instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev
export JT_TESTING=1
started_redis=""
if [ -z "${REDIS_URL:-}" ]; then
  testredis="$PWD/var/test-redis"
  REDIS_SAVE="" scripts/redis.sh start "$testredis"
  started_redis=1
  export REDIS_URL="unix://$testredis/redis.sock"
  trap 'scripts/redis.sh stop "$testredis"' EXIT
fi
echo "==> database: ${DATABASE_URL:-sqlite (var/)}   redis: $REDIS_URL"
.venv/bin/python -m pytest "$@"
