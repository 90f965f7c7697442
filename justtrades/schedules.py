"""Periodic tasks, declared in code and installed into django-celery-beat by
`manage.py setup_periodic_tasks` (idempotent, run by `make run` after migrations).

Each app may declare `PERIODIC_TASKS` in its own `schedules.py`; this module collects them.
An entry: {"name": ..., "task": ..., "every_seconds": N} or {"name", "task", "crontab": "m h dom mon dow"}.
"""

from importlib import import_module

PERIODIC_TASKS = [
    {"name": "Worker heartbeat", "task": "justtrades.heartbeat", "every_seconds": 5},
]

APPS_WITH_SCHEDULES = [
    "accounts",
    "strategies",
    "recorder",
    "traders",
    "notifications",
    "analytics",
]


def all_periodic_tasks() -> list[dict]:
    tasks = list(PERIODIC_TASKS)
    for app in APPS_WITH_SCHEDULES:
        try:
            module = import_module(f"{app}.schedules")
        except ModuleNotFoundError:
            continue
        tasks.extend(getattr(module, "PERIODIC_TASKS", []))
    return tasks
