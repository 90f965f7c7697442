"""Keep cached figures honest when a trade is edited or deleted in place (admin fixes)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from analytics.selectors import trades_changed
from recorder.models import RecordedTrade, Recorder
from traders.models import Fill


def _recorded_trade_changed(sender, instance, **kwargs):

    user_id = Recorder.objects.filter(pk=instance.recorder_id).values_list("user_id", flat=True)
    for uid in user_id:
        # After commit: a reader in between would otherwise cache the old figures as new.
        transaction.on_commit(lambda uid=uid: trades_changed(user_id=uid))


def _fill_changed(sender, instance, **kwargs):
    user_id = instance.user_id
    transaction.on_commit(lambda: trades_changed(user_id=user_id))


def connect() -> None:

    for signal in (post_save, post_delete):
        signal.connect(
            _recorded_trade_changed, sender=RecordedTrade, dispatch_uid=f"analytics-rt-{signal}"
        )
        signal.connect(_fill_changed, sender=Fill, dispatch_uid=f"analytics-fill-{signal}")
