"""What traders tell the pages: live payloads of traders, orders, fills and positions, and the
trader's lines on the strategy timeline. Every part of the trading core publishes through here
(after commit, through ``justtrades.realtime``); pages apply the payloads without a reload.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from django.utils import timezone

from justtrades.realtime import emit
from justtrades.timeline import Event, timeline_write
from recorder.models import StrategyLog
from traders import pnl, risk
from traders.models import Fill, Order, Position, S, Trader

Kind = StrategyLog.Kind


def trader_payload(trader: Trader, *, as_of: float | None) -> dict[str, Any]:
    """The JSON a page needs to redraw one trader row (also the API's output). Its P&L is its
    account's for the trading day, worked out by ``traders.pnl`` as every page shows it.
    ``as_of`` is when the row was read (taken before the read; None: not known): a page keeps
    the latest read of each trader, whatever order the payloads of several processes arrive in."""
    today = risk.trading_day(timezone.now())
    figures = pnl.account_pnl(trader.broker_account)
    return {
        "id": trader.pk,
        "as_of": as_of,
        "strategy": {"id": trader.strategy_id, "name": trader.strategy.name},
        "broker_account": {
            "id": trader.broker_account_id,
            "name": trader.broker_account.name,
            "external_id": trader.broker_account.external_id,
        },
        "enabled": trader.enabled,
        "active": trader.enabled
        and not risk.is_disabled_for_day(disabled_until=trader.disabled_until, today=today),
        "multiplier": trader.multiplier,
        "max_contracts": trader.max_contracts,
        "daily_loss_limit": trader.daily_loss_limit,
        "daily_profit_target": trader.daily_profit_target,
        "take_profit_override": trader.take_profit_override,
        "take_profit_override_unit": trader.take_profit_override_unit,
        "stop_loss_override": trader.stop_loss_override,
        "stop_loss_override_unit": trader.stop_loss_override_unit,
        "session_start": trader.session_start,
        "session_end": trader.session_end,
        "session_timezone": trader.session_timezone,
        "session_days": trader.session_days,
        "disabled_until": trader.disabled_until,
        "disabled_reason": trader.disabled_reason,
        "risk_error": trader.risk_error,
        "drift": trader.drift,
        "drift_message": trader.drift_message,
        "positions": {k: v for k, v in (trader.expected_positions or {}).items() if v},
        "open_pnl": figures.open_pnl,
        "realized_pnl_today": figures.realized,
        "today_pnl": figures.today,
        "last_signal_id": trader.last_signal_id,
        "last_signal_at": trader.last_signal_at,
    }


def publish_trader(trader: Trader) -> None:
    """Tell the pages the trader as the database holds it when the event is sent (after
    commit), never a copy another process may have changed since it was read."""
    emit(trader.user_id, "trader", partial(_committed_trader_payload, trader.pk))


def _committed_trader_payload(trader_id: int) -> dict[str, Any] | None:
    as_of = time.time()
    trader = (
        Trader.objects.select_related("strategy", "broker_account").filter(pk=trader_id).first()
    )
    return None if trader is None else trader_payload(trader, as_of=as_of)


def order_payload(order: Order) -> dict[str, Any]:
    return {
        "id": order.pk,
        "trader_id": order.trader_id,
        "broker_account_id": order.broker_account_id,
        "signal_id": order.signal_id,
        "execution_id": order.execution_id,
        "cl_ord_id": order.cl_ord_id,
        "broker_order_id": order.broker_order_id,
        "role": order.role,
        "action": order.action,
        "symbol": order.symbol,
        "quantity": order.quantity,
        "order_type": order.order_type,
        "price": order.price,
        "stop_price": order.stop_price,
        "status": order.status,
        "filled_qty": order.filled_qty,
        "avg_fill_price": order.avg_fill_price,
        "reject_reason": order.reject_reason,
        "text": order.text,
        "created_at": order.created_at,
        "accepted_at": order.accepted_at,
    }


def publish_order(order: Order) -> None:
    emit(order.user_id, "order", order_payload(order))


def fill_payload(fill: Fill, account) -> dict[str, Any]:
    return {
        "id": fill.pk,
        "order_id": fill.order_id,
        "trader_id": fill.trader_id,
        "broker_account_id": account.pk,
        "account": account.name,
        "action": fill.action,
        "symbol": fill.symbol,
        "quantity": fill.quantity,
        "price": fill.price,
        "timestamp": fill.timestamp,
    }


def position_payload(position: Position, account, *, as_of: float) -> dict[str, Any]:
    return {
        "id": position.pk,
        "as_of": as_of,
        "broker_account_id": account.pk,
        "account": account.name,
        "symbol": position.symbol,
        "net_pos": position.net_pos,
        "net_price": position.net_price,
        "last_price": position.last_price,
        "open_pnl": pnl.position_open_pnl(position),
        "source": "broker",
    }


def publish_position(position: Position, account) -> None:
    """Tell the pages the position as committed when the event is sent (the stream, a REST
    refresh and a quote may each have read it before the other wrote)."""
    emit(position.user_id, "position", partial(_committed_position_payload, position.pk, account))


def _committed_position_payload(position_id: int, account) -> dict[str, Any] | None:
    as_of = time.time()
    position = Position.objects.filter(pk=position_id).first()
    return None if position is None else position_payload(position, account, as_of=as_of)


def trader_line(
    trader: Trader,
    kind: str,
    message: str,
    *,
    event: Event | None = None,
    signal=None,
    data: dict | None = None,
) -> StrategyLog:
    """One line of the trader's strategy timeline, named by its account."""
    return timeline_write(
        user=trader.user_id,
        strategy=trader.strategy_id,
        trader=trader.pk,
        signal=signal,
        kind=kind,
        message=message,
        event=event,
        data={"account": trader.broker_account.name, **(data or {})},
    )


def account_line(
    user_id: int, kind: str, message: str, *, event: Event | None = None, data=None
) -> StrategyLog:
    """A line that belongs to no strategy (Flatten All, a manual trade on an account)."""
    return timeline_write(user=user_id, kind=kind, message=message, event=event, data=data)


STATUS_WORDS = {
    S.PENDING_NEW: "accepted by the broker",
    S.WORKING: "working at the broker",
    S.FILLED: "filled",
    S.COMPLETED: "done",
    S.CANCELED: "cancelled",
    S.REJECTED: "rejected",
    S.EXPIRED: "expired",
    S.UNKNOWN: "sent, outcome not known yet",
}


def status_words(status: str) -> str:
    """A broker order status as a trader reads it in the log ("accepted by the broker")."""
    return STATUS_WORDS.get(status, status)
