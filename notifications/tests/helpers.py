"""Orders and fills written the way the trading code writes them (rows of their own come from
``notifications.tests.factories``)."""

from __future__ import annotations

import itertools
import random
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from traders.models import Order, Trader

# Per-process base so rows written by a worker process never clash with the test's own.
_ids = itertools.count(random.randint(10**6, 10**9))


def make_order(
    trader: Trader,
    *,
    role: str = "entry",
    action: str = "Buy",
    quantity: int = 1,
    symbol: str = "MNQZ5",
    status: str = "Working",
    **fields,
) -> Order:
    return Order.objects.create(
        user=trader.user,
        trader=trader,
        broker_account=trader.broker_account,
        role=role,
        action=action,
        symbol=symbol,
        quantity=quantity,
        status=status,
        broker_order_id=next(_ids),
        **fields,
    )


def record_fill(
    order: Order,
    *,
    price: str,
    quantity: int | None = None,
    at: datetime | None = None,
    action: str | None = None,
):
    """A broker fill stored through the traders' own service (which publishes the event)."""
    from accounts.brokers.base import BrokerFill
    from traders.mirror import fill_record

    return fill_record(
        account=order.broker_account,
        broker_fill=BrokerFill(
            id=next(_ids),
            order_id=order.broker_order_id,
            account_id=order.broker_account.external_id,
            contract_id=1,
            symbol=order.symbol,
            action=action or order.action,
            qty=quantity or order.quantity,
            price=Decimal(price),
            timestamp=at or timezone.now(),
        ),
    )
