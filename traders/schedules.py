"""Periodic tasks of the traders app (installed by `manage.py setup_periodic_tasks`)."""

PERIODIC_TASKS = [
    # Daily loss limit / profit target between stream events (open P&L moves with the market).
    {"name": "Traders: daily limits", "task": "traders.check_risk", "every_seconds": 5},
    # Expected vs. broker positions; drift is flagged, shown, logged and notified.
    {"name": "Traders: reconcile positions", "task": "traders.reconcile", "every_seconds": 30},
]
