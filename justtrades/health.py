"""Liveness of every component, for /healthz and operators.

The worker proves it is alive by running the `justtrades.heartbeat` task that beat sends every
few seconds; beat proves it ticks by stamping the cache whenever it publishes a task.
"""

from __future__ import annotations

import time

from celery.signals import beat_init, before_task_publish
from django.core.cache import cache
from django.db import connection

WORKER_KEY = "health:worker_heartbeat"
BEAT_KEY = "health:beat_tick"
WORKER_STALE_AFTER = 60
BEAT_STALE_AFTER = 60

_in_beat = False


@beat_init.connect
def _mark_beat_process(**kwargs) -> None:
    global _in_beat
    _in_beat = True


@before_task_publish.connect
def _stamp_beat_tick(**kwargs) -> None:
    if _in_beat:
        try:
            cache.set(BEAT_KEY, time.time(), timeout=None)
        except Exception:  # noqa: BLE001 - health reporting must never break scheduling
            pass


def record_worker_heartbeat() -> None:
    cache.set(WORKER_KEY, time.time(), timeout=None)


def _age(stamp) -> float | None:
    return None if stamp is None else round(time.time() - float(stamp), 1)


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": str(exc)[:200]}


def check_redis() -> tuple[dict, dict, dict]:
    """Redis itself, then the worker and beat stamps that live in it."""
    try:
        cache.set("health:ping", 1, timeout=10)
        stamps = cache.get_many([WORKER_KEY, BEAT_KEY])
    except Exception as exc:  # noqa: BLE001
        down = {"ok": False, "error": f"redis unreachable: {str(exc)[:160]}"}
        return (
            down,
            {"ok": False, "error": "unknown (redis down)"},
            {
                "ok": False,
                "error": "unknown (redis down)",
            },
        )
    worker_age = _age(stamps.get(WORKER_KEY))
    beat_age = _age(stamps.get(BEAT_KEY))
    worker = {"ok": worker_age is not None and worker_age < WORKER_STALE_AFTER, "age_s": worker_age}
    beat = {"ok": beat_age is not None and beat_age < BEAT_STALE_AFTER, "age_s": beat_age}
    return {"ok": True}, worker, beat


def system_health() -> dict:
    database = check_database()
    redis, worker, beat = check_redis()
    components = {"database": database, "redis": redis, "worker": worker, "beat": beat}
    return {"ok": all(c["ok"] for c in components.values()), "components": components}
