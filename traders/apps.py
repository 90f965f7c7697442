"""The traders app: the trading core, from decision to broker."""

from django.apps import AppConfig


class TradersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "traders"
