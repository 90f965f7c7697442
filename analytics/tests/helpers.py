"""Trades on record for the analytics tests: written as the recorder and the broker stream do."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from accounts.models import BrokerAccount, BrokerConnection
from recorder.models import RecordedTrade, Recorder
from strategies.models import Strategy
from traders.models import Fill, Order, Trader


def strategy_with_recorder(user, name: str = "Breakout") -> Strategy:
    from strategies.services import strategy_create

    strategy = strategy_create(user=user, name=name)
    if not Recorder.objects.filter(strategy=strategy).exists():
        Recorder.objects.create(user=user, strategy=strategy)
    return strategy


def paper_trade(
    strategy: Strategy,
    *,
    net: str,
    exit_time: datetime,
    symbol: str = "MNQZ5",
    side: str = "long",
    minutes: int = 15,
    commission: str = "1.24",
    reason: str = "target",
) -> RecordedTrade:
    """A closed MNQ-style trade whose gross P&L is net + commission."""
    net_d, comm = Decimal(net), Decimal(commission)
    gross = net_d + comm
    points = gross / 2  # MNQ: $2 per point, one contract
    entry = Decimal("21000.00")
    exit_price = entry + points if side == "long" else entry - points
    return RecordedTrade.objects.create(
        recorder=strategy.recorder,
        symbol=symbol,
        side=side,
        quantity=1,
        entry_time=exit_time - timedelta(minutes=minutes),
        exit_time=exit_time,
        entry_price=entry,
        exit_price=exit_price,
        points=points,
        ticks=points * 4,
        pnl=gross,
        commission=comm,
        net_pnl=net_d,
        exit_reason=reason,
    )


def broker_account(user, name: str = "DEMO001", external_id: int = 1) -> BrokerAccount:
    connection, _ = BrokerConnection.objects.get_or_create(
        user=user, label=f"Paper {user.username}", defaults={"kind": "paper", "username": "x"}
    )
    return BrokerAccount.objects.create(connection=connection, external_id=external_id, name=name)


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
