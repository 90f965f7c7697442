"""Decoupled side effects of account changes."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from accounts.services import paper_connection_on_user_created


def give_new_user_a_paper_connection(sender, instance, created, raw=False, **kwargs):
    """Every new user can trade on the built-in paper broker without a broker login."""
    if not created or raw:
        return
    if not settings.PAPER_BROKER_ENABLED or not getattr(settings, "PAPER_AUTO_PROVISION", True):
        return

    user_id = instance.pk
    transaction.on_commit(lambda: paper_connection_on_user_created(user_id))
