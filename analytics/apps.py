"""The analytics app: the dashboard's statistics over recorded and broker trades."""

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "analytics"

    def ready(self) -> None:
        from analytics import signals

        signals.connect()
