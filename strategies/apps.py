"""The strategies app: webhook URLs, alert parsing, signals and their decision."""

from django.apps import AppConfig


class StrategiesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "strategies"
