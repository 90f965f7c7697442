"""Periodic tasks of broker connections (installed by `manage.py setup_periodic_tasks`)."""

PERIODIC_TASKS = [
    {
        "name": "Refresh broker balances",
        "task": "accounts.refresh_all_connections",
        "every_seconds": 300,
    },
]
