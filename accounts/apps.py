"""The accounts app: users, broker connections and the broker clients."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from accounts.models import User
        from accounts.signals import give_new_user_a_paper_connection

        post_save.connect(
            give_new_user_a_paper_connection, sender=User, dispatch_uid="paper_connection"
        )
