from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from notifications import realtime, rules

        # Every published live event is also offered to the notification rules.
        realtime.add_listener(rules.on_event)
