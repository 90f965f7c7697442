"""Tasks a test worker imports (`celery worker -I notifications.tests.worker_tasks`): they
write rows through the real services inside the worker process, as the broker stream does."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="notifications.tests.record_fill")
def record_fill(order_id: int, price: str, quantity: int | None = None) -> int | None:
    from notifications.tests.helpers import record_fill as record
    from traders.models import Order

    order = Order.objects.select_related("broker_account__connection").get(pk=order_id)
    fill = record(order, price=price, quantity=quantity)
    return fill.pk if fill else None
