"""The notifications app: Discord DMs, web push, summaries; wired to every live event."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from justtrades import realtime
        from notifications import rules

        # Every published live event is also offered to the notification rules.
        realtime.add_listener(rules.on_event)
