"""Periodic tasks of the traders app (installed by `manage.py setup_periodic_tasks`)."""

PERIODIC_TASKS = [
    # Executions nobody works on (a lost message, a Redis that restarted empty, a killed
    # worker whose turn expired) are handed to a worker within seconds.
    {"name": "Traders: sweep executions", "task": "traders.sweep_executions", "every_seconds": 2},
    # Expected vs. mirrored positions (no broker request); drift is flagged, logged, notified.
    {"name": "Traders: reconcile positions", "task": "traders.reconcile", "every_seconds": 30},
]
