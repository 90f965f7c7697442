"""Periodic tasks of the notifications app (installed by `manage.py setup_periodic_tasks`)."""

PERIODIC_TASKS = [
    # Each user's summary goes out at their own local time: check every minute who is due.
    {
        "name": "Daily summaries (users whose time has come)",
        "task": "notifications.tasks.send_daily_summaries",
        "every_seconds": 60,
    },
    # The opt-in weekly summary: on each user's weekday at their local time.
    {
        "name": "Weekly summaries (users whose day and time have come)",
        "task": "notifications.tasks.send_weekly_summaries",
        "every_seconds": 300,
    },
    {
        "name": "Re-enqueue notifications whose delivery was lost",
        "task": "notifications.tasks.requeue_stale_notifications",
        "every_seconds": 300,
    },
]
