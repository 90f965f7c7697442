"""Rows the notification tests need, written the way the trading code writes them."""

from __future__ import annotations

import itertools
import random
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from accounts.models import BrokerAccount, BrokerConnection
from strategies.models import Strategy
from traders.models import Order, Trader

# Per-process base so rows written by a worker process never clash with the test's own.
_ids = itertools.count(random.randint(10**6, 10**9))


def make_account(user, name: str = "DEMO-1") -> BrokerAccount:
    connection, _ = BrokerConnection.objects.get_or_create(
        user=user, label=f"Paper {user.username}", defaults={"username": user.username}
    )
    return BrokerAccount.objects.create(connection=connection, external_id=next(_ids), name=name)


def make_trader(user, *, account=None, strategy_name: str = "NQ Breakout", **fields) -> Trader:
    account = account or make_account(user)
    strategy, _ = Strategy.objects.get_or_create(user=user, name=strategy_name)
    return Trader.objects.create(
        user=user, strategy=strategy, broker_account=account, enabled=True, **fields
    )


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
    from traders.services import fill_record

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
