"""What every send re-checks, in the transaction that claims the order.

A switch, a Flatten, a tripped limit or an expired signal must stop an order that was planned
a moment (or a 429 back-off) earlier: the rows are re-read here, under the same transaction as
the claim, so a stop is a stop. Exits are never refused (flat means flat); entries are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from accounts.models import BrokerConnection
from strategies.models import Signal
from traders import risk
from traders.models import Execution, Order, OrderStatus, Trader

S = OrderStatus


@dataclass(frozen=True)
class Refusal:
    status: str  # Skipped | Denied | Failed
    reason: str


def connection_refusal(connection_id: int) -> Refusal | None:
    """Automation paused for the login (a CAPTCHA) or the connection archived: nothing goes."""
    row = (
        BrokerConnection.objects.filter(pk=connection_id)
        .values_list("paused_reason", "archived_at")
        .first()
    )
    if row is None:
        return Refusal(S.FAILED, "the broker connection is gone")
    paused, archived = row
    if paused:
        return Refusal(S.FAILED, f"trading is paused for this login: {paused}")
    if archived is not None:
        return Refusal(S.FAILED, "the broker connection is archived")
    return None


def entry_refusal(
    *, trader: Trader | None, execution: Execution, now: datetime, check_enabled: bool = True
) -> Refusal | None:
    """Why an order that opens or adds may not go now (None: it may)."""
    if trader is None:
        return None
    if check_enabled and execution.kind == Execution.Kind.SIGNAL:
        if not trader.enabled:
            return Refusal(S.SKIPPED, "the trader is switched off")
        if not trader.strategy.enabled:
            return Refusal(S.SKIPPED, "the strategy is switched off")
    today = risk.trading_day(now)
    if risk.is_disabled_for_day(disabled_until=trader.disabled_until, today=today):
        return Refusal(S.DENIED, trader.disabled_reason or "the trader is stopped for the day")
    outside = risk.session_check(
        now=now,
        start=trader.session_start,
        end=trader.session_end,
        days=trader.session_days,
        timezone=trader.session_timezone,
    )
    if outside:
        return Refusal(S.DENIED, f"the trader's session: {outside}")
    if trader.pnl_date == today:
        hit = risk.daily_limit_hit(
            pnl=trader.today_pnl,
            loss_limit=trader.daily_loss_limit,
            profit_target=trader.daily_profit_target,
        )
        if hit:
            return Refusal(
                S.DENIED,
                f"the daily {'loss limit' if hit == 'loss' else 'profit target'} is reached",
            )
    if execution.signal_id:
        stale = signal_too_old(execution.signal_id, trader.strategy.max_signal_age_seconds, now)
        if stale:
            return Refusal(S.SKIPPED, stale)
    return None


def signal_too_old(signal_id: int, max_age: int | None, now: datetime) -> str:
    """An entry placed this long after its alert is no longer what the strategy meant."""
    if not max_age:
        return ""
    received = Signal.objects.filter(pk=signal_id).values_list("received_at", flat=True).first()
    if received is None:
        return ""
    age = (now - received).total_seconds()
    if age <= max_age:
        return ""
    return f"the alert is {age:.0f} s old, past the strategy's max age of {max_age} s"


def order_refusal(*, order: Order, execution: Execution | None, now: datetime) -> Refusal | None:
    """The checks for one order about to be claimed: fresh rows, this transaction."""
    refusal = connection_refusal(order.broker_account.connection_id)
    if refusal is not None:
        return refusal
    opens = order.role in (Order.Role.ENTRY, Order.Role.MANUAL)
    if not opens or execution is None:
        return None
    trader = (
        Trader.objects.select_related("strategy").filter(pk=order.trader_id).first()
        if order.trader_id
        else None
    )
    return entry_refusal(trader=trader, execution=execution, now=now)
