"""The project's own app: shared templates, health, the live-event and timeline layers."""

from django.apps import AppConfig


class JustTradesConfig(AppConfig):
    name = "justtrades"
    verbose_name = "Just.Trades core"

    def ready(self) -> None:
        from justtrades import (
            health,  # noqa: F401  (connects the beat tick recorder)
            schema,  # noqa: F401  (registers the OpenAPI extensions)
        )
