"""Trades on record for the analytics tests, written as the recorder and the broker stream do.

Single rows come from the factories (``RecordedTradeFactory``, ``BrokerAccountFactory``); what
is here builds more than a row: a strategy through its service (with its recorder), a broker
round trip (two orders and their fills, consistent with each other)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from recorder.models import Recorder
from strategies.models import Strategy
from traders.models import Fill, Order, Trader


def strategy_with_recorder(user, name: str = "Breakout") -> Strategy:
    from strategies.services import strategy_create

    strategy = strategy_create(user=user, name=name)
    if not Recorder.objects.filter(strategy=strategy).exists():
        Recorder.objects.create(user=user, strategy=strategy)
    return strategy


def live_round_trip(
    *,
    trader: Trader,
    entry: str,
    exit: str,
    at: datetime,
    qty: int = 1,
    side: str = "long",
    symbol: str = "MNQZ5",
    fill_id: int,
) -> tuple[Fill, Fill]:
    """Two broker fills (open, close) of `trader`'s account, with their orders."""
    user, account = trader.user, trader.broker_account
    open_action, close_action = ("Buy", "Sell") if side == "long" else ("Sell", "Buy")
    fills = []
    for i, (action, price, when) in enumerate(
        [(open_action, entry, at - timedelta(minutes=5)), (close_action, exit, at)]
    ):
        order = Order.objects.create(
            user=user, trader=trader, broker_account=account, action=action, symbol=symbol,
            quantity=qty, status="Filled", cl_ord_id=f"t-{fill_id}-{i}",
        )  # fmt: skip
        fills.append(
            Fill.objects.create(
                user=user,
                order=order,
                broker_account=account,
                broker_fill_id=fill_id + i,
                action=action,
                symbol=symbol,
                quantity=qty,
                price=Decimal(price),
                timestamp=when,
            )  # fmt: skip
        )
    return fills[0], fills[1]
