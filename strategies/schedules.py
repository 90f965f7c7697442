"""Periodic tasks of the signal path (installed by `manage.py setup_periodic_tasks`)."""

PERIODIC_TASKS = [
    {
        "name": "Re-enqueue unprocessed signals",
        "task": "strategies.sweep_signals",
        "every_seconds": 2,
    },
    {"name": "Strategy auto-flatten", "task": "strategies.auto_flatten", "every_seconds": 60},
]
