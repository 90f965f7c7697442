"""Periodic tasks of the recorders (installed by `manage.py setup_periodic_tasks`)."""

PERIODIC_TASKS = [
    # Each account recorder has its own interval (default 60 s); this only finds the due ones.
    {"name": "Poll account recorders", "task": "recorder.poll_due", "every_seconds": 10},
]
