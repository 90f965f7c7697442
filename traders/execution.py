"""Placing a trader's orders at its broker: one signal, one trader, exactly one set of orders.

The plan is written first: one ``Order`` row per leg (flatten, entry + take profit + stop loss,
exit) with a client order id derived from (signal, trader, leg), unique in the database. Only
then is the broker called, leg by leg, each leg claimed by a conditional UPDATE
(``Planned`` → ``Sending``). A task that runs again finds the rows and resumes from them instead
of planning again; a leg left in ``Sending`` by a killed worker is resolved by asking the broker
for its client order id before anything is sent a second time.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.brokers.base import (
    AuthenticationFailed,
    Broker,
    BrokerError,
    BrokerUnavailable,
    CaptchaRequired,
    OrderRejected,
    RateLimited,
    get_broker,
)
from accounts.brokers.symbols import UnknownSymbol, resolve_symbol
from justtrades.api import ApplicationError
from recorder.models import StrategyLog
from strategies.models import Signal, Strategy
from strategies.parsing import Intent
from traders import planning, risk
from traders.models import Order, Trader
from traders.services import deferred_events, emit, order_payload, publish_trader, trader_log

logger = logging.getLogger(__name__)

# A leg still "Sending" after this long, seen by a task that is not a redelivery, is presumed
# abandoned (the broker client's own retries end well before).
SENDING_STALE_AFTER = timedelta(seconds=30)
MAX_ATTEMPTS = 6
FINAL_ORDER_STATUSES = {
    "Filled",
    "Canceled",
    "Rejected",
    "Expired",
    "Completed",
    "Failed",
    "Skipped",
}

_ORDER_TYPES = {"market": "Market", "limit": "Limit", "stop": "Stop", "stop_limit": "StopLimit"}


class RetryLater(Exception):
    """Temporary: the broker did not answer, or another worker holds the leg."""

    def __init__(self, message: str, countdown: float = 2.0):
        super().__init__(message)
        self.countdown = countdown


# --- broker clients, one per connection per process ----------------------------------------------

_brokers: dict[tuple[int, Any], Broker] = {}
_brokers_lock = threading.Lock()


def broker_for(connection) -> Broker:
    """The broker client of a connection, reused by every task of this process (its HTTP session
    and cached access token stay warm). Rebuilt when the connection is edited."""
    key = (connection.pk, connection.updated_at)
    broker = _brokers.get(key)
    if broker is None:
        with _brokers_lock:
            broker = _brokers.get(key)
            if broker is None:
                for old in [k for k in _brokers if k[0] == connection.pk]:
                    _brokers.pop(old, None)
                broker = _brokers[key] = get_broker(connection)
    return broker


# --- client order ids -----------------------------------------------------------------------------


def cl_ord_id_for(*, signal: Signal, trader: Trader, leg: str) -> str:
    """Deterministic per (signal, trader, leg); the digest keeps ids unique across databases that
    reuse primary keys against the same broker (a reset demo, the test suite)."""
    digest = hashlib.sha256(
        f"{signal.pk}|{signal.received_at.isoformat()}|{trader.pk}|{trader.created_at.isoformat()}".encode()
    ).hexdigest()[:8]
    return f"jt{signal.pk}-{trader.pk}-{leg}-{digest}"


# --- exits ---------------------------------------------------------------------------------------


def _exit(value, unit: str) -> planning.Exit | None:
    if value is None:
        return None
    value = Decimal(value)
    if value <= 0:
        return None
    return planning.Exit(value=value, unit=unit or "ticks")


def exits_for(*, trader: Trader, strategy: Strategy, intent: Intent | None):
    """Take profit, stop loss and trailing stop of an entry: the trader's override first, then the
    alert's own, then the strategy's."""

    def from_alert(spec, strategy_unit):
        if spec is None:
            return None
        return _exit(spec.value, spec.unit or strategy_unit)

    tp = (
        _exit(trader.take_profit_override, trader.take_profit_override_unit)
        or (intent and from_alert(intent.take_profit, strategy.take_profit_unit))
        or _exit(strategy.take_profit, strategy.take_profit_unit)
    )
    sl = (
        _exit(trader.stop_loss_override, trader.stop_loss_override_unit)
        or (intent and from_alert(intent.stop_loss, strategy.stop_loss_unit))
        or _exit(strategy.stop_loss, strategy.stop_loss_unit)
    )
    trail = (intent and from_alert(intent.trailing_stop, strategy.trailing_stop_unit)) or _exit(
        strategy.trailing_stop, strategy.trailing_stop_unit
    )
    return tp or None, sl or None, trail or None


# --- planning a signal for one trader -------------------------------------------------------------


@dataclass
class Outcome:
    status: str  # "placed" | "skipped" | "failed" | "nothing"
    message: str = ""


def _position(broker: Broker, account_id: int, symbol: str) -> int:
    for p in broker.positions(account_id):
        if p.symbol == symbol:
            return p.net_pos
    return 0


def _entry_blocked(trader: Trader, now) -> str:
    today = risk.trading_day(now)
    if risk.is_disabled_for_day(disabled_until=trader.disabled_until, today=today):
        return trader.disabled_reason or "the trader is disabled for the rest of the day"
    if not risk.in_session(
        now=now,
        start=trader.session_start,
        end=trader.session_end,
        days=trader.session_days,
        timezone=trader.session_timezone,
    ):
        return "outside the trader's allowed session"
    if trader.pnl_date == today:
        hit = risk.daily_limit_hit(
            pnl=trader.today_pnl,
            loss_limit=trader.daily_loss_limit,
            profit_target=trader.daily_profit_target,
        )
        if hit:
            return f"the daily {'loss limit' if hit == 'loss' else 'profit target'} is reached"
    return ""


def _reference_price(*, broker: Broker, intent: Intent, signal: Signal, symbol: str, side: int):
    for value in (intent.limit_price, intent.stop_price, intent.price, signal.price):
        if value is not None:
            return Decimal(value)
    quote = broker.quote(symbol)
    price = (quote.ask if side > 0 else quote.bid) or quote.last or quote.mid
    if price is None:
        raise BrokerError(f"No price for {symbol} to compute the bracket from.")
    return price


def _plan_signal(*, trader: Trader, signal: Signal, broker: Broker) -> list[Order]:
    """Decide and write the legs for this (signal, trader); [] when there is nothing to send."""
    strategy = trader.strategy
    intent = Intent.from_dict(signal.intent or {})
    symbol_text = signal.contract or intent.symbol or signal.symbol or strategy.default_symbol
    try:
        contract = resolve_symbol(symbol_text)
    except UnknownSymbol as exc:
        trader_log(
            trader,
            StrategyLog.Kind.ERROR,
            f"Cannot trade {symbol_text!r}: {exc}",
            signal_id=signal.pk,
        )
        return []
    symbol = contract.name
    account_id = trader.broker_account.external_id
    now = timezone.now()

    if intent.action == "cancel":
        cancelled = _cancel_working(trader=trader, broker=broker, symbol=symbol)
        trader_log(
            trader,
            StrategyLog.Kind.ORDER,
            f"Cancel: {cancelled} working order(s) of {symbol} cancelled.",
            signal_id=signal.pk,
        )
        return []

    current = _position(broker, account_id, symbol)
    quantity = planning.scaled_quantity(
        alert_quantity=intent.quantity,
        strategy_quantity=strategy.quantity,
        from_alert=strategy.sizing == Strategy.Sizing.SIGNAL,
        multiplier=trader.multiplier,
        max_contracts=trader.max_contracts,
    )
    target, why = planning.target_position(
        intent=intent,
        current=current,
        quantity=quantity,
        multiplier=trader.multiplier,
        max_contracts=trader.max_contracts,
        close_only=strategy.opposite_signal == Strategy.OppositeSignal.CLOSE_ONLY,
        from_alert=strategy.sizing == Strategy.Sizing.SIGNAL,
    )
    if target is None:
        trader_log(trader, StrategyLog.Kind.INFO, f"Nothing to do: {why}.", signal_id=signal.pk)
        return []
    blocked = _entry_blocked(trader, now)
    if blocked:
        increases = abs(target) > abs(current) or (
            target and current and (target > 0) != (current > 0)
        )
        if increases:
            if current and target and (target > 0) != (current > 0):
                target, why = 0, f"entry blocked ({blocked}); closing only"
            else:
                trader_log(
                    trader,
                    StrategyLog.Kind.FILTERED,
                    f"Entry skipped: {blocked}.",
                    signal_id=signal.pk,
                )
                return []
    plan = planning.plan_orders(current=current, target=target)
    if not plan.legs:
        _set_expected(trader, symbol, target, signal=signal)
        trader_log(
            trader,
            StrategyLog.Kind.INFO,
            f"Already at {target:+d} {symbol}: no order.",
            signal_id=signal.pk,
        )
        return []

    order_type = _ORDER_TYPES.get(intent.order_type or "market", "Market")
    rows: list[tuple[Order, list[Order]]] = []
    for leg in plan.legs:
        tag = {"flatten": "flat", "entry": "in", "exit": "out"}[leg.role]
        cl = cl_ord_id_for(signal=signal, trader=trader, leg=tag)
        base = dict(
            user_id=trader.user_id,
            trader=trader,
            broker_account_id=trader.broker_account_id,
            signal=signal,
            symbol=symbol,
            status="Planned",
        )
        if leg.role == "flatten":
            if _has_working_exits(trader, symbol):
                # Brackets are working: liquidate cancels them and closes in one call.
                rows.append(
                    (
                        Order(
                            cl_ord_id=cl,
                            role=Order.Role.FLATTEN,
                            action="",
                            quantity=abs(current),
                            order_type="Liquidate",
                            **base,
                        ),
                        [],
                    )
                )
            else:
                # Nothing of ours is working: a plain closing order, idempotent by its id.
                rows.append(
                    (
                        Order(
                            cl_ord_id=cl,
                            role=Order.Role.EXIT,
                            action="Sell" if current > 0 else "Buy",
                            quantity=abs(current),
                            order_type="Market",
                            **base,
                        ),
                        [],
                    )
                )
            continue
        parent = Order(
            cl_ord_id=cl,
            role=Order.Role.ENTRY if leg.role == "entry" else Order.Role.EXIT,
            action=leg.action,
            quantity=leg.qty,
            order_type=order_type if leg.role == "entry" else "Market",
            price=intent.limit_price
            if leg.role == "entry" and order_type in ("Limit", "StopLimit")
            else None,
            stop_price=intent.stop_price
            if leg.role == "entry" and order_type in ("Stop", "StopLimit")
            else None,
            **base,
        )
        children: list[Order] = []
        if leg.with_bracket:
            tp, sl, trail = exits_for(trader=trader, strategy=strategy, intent=intent)
            if tp or sl or trail:
                side = 1 if leg.action == "Buy" else -1
                entry = _reference_price(
                    broker=broker, intent=intent, signal=signal, symbol=symbol, side=side
                )
                prices = planning.bracket_prices(
                    side=side,
                    entry=entry,
                    tick_size=contract.tick_size,
                    point_value=contract.point_value,
                    take_profit=tp,
                    stop_loss=sl,
                    trailing_stop=trail,
                )
                other = "Sell" if leg.action == "Buy" else "Buy"
                if prices.take_profit is not None:
                    children.append(
                        Order(
                            cl_ord_id=f"{cl}-tp",
                            role=Order.Role.TAKE_PROFIT,
                            action=other,
                            quantity=leg.qty,
                            order_type="Limit",
                            price=prices.take_profit,
                            **base,
                        )
                    )
                if prices.trailing_stop is not None and prices.stop_loss is None:
                    children.append(
                        Order(
                            cl_ord_id=f"{cl}-sl",
                            role=Order.Role.STOP_LOSS,
                            action=other,
                            quantity=leg.qty,
                            order_type="TrailingStop",
                            stop_price=prices.trailing_stop,
                            **base,
                        )
                    )
                elif prices.stop_loss is not None:
                    children.append(
                        Order(
                            cl_ord_id=f"{cl}-sl",
                            role=Order.Role.STOP_LOSS,
                            action=other,
                            quantity=leg.qty,
                            order_type="Stop",
                            stop_price=prices.stop_loss,
                            **base,
                        )
                    )
        rows.append((parent, children))
    # The first leg is written already claimed ("Sending"): this run sends it right away.
    first = rows[0][0]
    first.status, first.sent_at = "Sending", timezone.now()
    try:
        with transaction.atomic():
            parents = []
            for parent, children in rows:
                parent.save(force_insert=True)
                parent._fresh = True
                parent._children = children
                parents.append(parent)
                for child in children:
                    child.parent = parent
                if children:
                    Order.objects.bulk_create(children)
            _set_expected(trader, symbol, target, signal=signal)
    except IntegrityError:
        # Another run of this same (signal, trader) wrote the plan first: it owns the sending.
        return []
    # One log line per leg; the first says why (written after the send, off the critical path).
    parents[
        0
    ]._intro = (
        f"Signal #{signal.pk} ({intent.describe()}): {current:+d} → {target:+d} {symbol} ({why})"
    )
    return parents


STATUS_WORDS = {
    "PendingNew": "accepted by the broker",
    "Working": "working at the broker",
    "Filled": "filled",
    "Completed": "filled",
    "Canceled": "canceled",
    "Rejected": "rejected",
    "Expired": "expired",
}


def status_words(status: str) -> str:
    """A broker order status as a trader reads it in the log ("accepted by the broker")."""
    return STATUS_WORDS.get(status, status)


def _with_intro(order: Order, message: str) -> str:
    intro = getattr(order, "_intro", "")
    return f"{intro} — {message}" if intro else message


def _has_working_exits(trader: Trader, symbol: str) -> bool:
    return Order.objects.filter(
        trader=trader,
        symbol=symbol,
        role__in=[Order.Role.TAKE_PROFIT, Order.Role.STOP_LOSS],
        status__in=["Working", "Suspended", "PendingNew", "PendingReplace", "Planned", "Sending"],
    ).exists()


def _set_expected(trader: Trader, symbol: str, target: int, *, signal: Signal | None = None):
    expected = dict(trader.expected_positions or {})
    expected[symbol] = target
    trader.expected_positions = expected
    fields = {"expected_positions": expected}
    if signal is not None:
        trader.last_signal_id = signal.pk
        trader.last_signal_at = signal.received_at
        fields.update(last_signal_id=signal.pk, last_signal_at=signal.received_at)
    Trader.objects.filter(pk=trader.pk).update(**fields)


def _cancel_working(*, trader: Trader, broker: Broker, symbol: str) -> int:
    working = Order.objects.filter(
        trader=trader,
        symbol=symbol,
        broker_order_id__isnull=False,
        status__in=["Working", "PendingNew", "Suspended", "PendingReplace"],
    )
    count = 0
    for order in working:
        try:
            broker.cancel(order.broker_order_id)
            count += 1
            Order.objects.filter(pk=order.pk).update(status="Canceled")
        except OrderRejected:
            pass  # already final at the broker; the stream brings its true state
    return count


# --- sending ------------------------------------------------------------------------------------


def _claim(order: Order, *, redelivered: bool) -> bool:
    now = timezone.now()
    stale = Q(status="Sending") & (
        Q(sent_at__lt=now - SENDING_STALE_AFTER) | Q(sent_at__isnull=True)
    )
    if redelivered:
        stale = Q(status="Sending")
    claimed = (
        Order.objects.filter(pk=order.pk)
        .filter(Q(status="Planned") | stale)
        .update(status="Sending", sent_at=now)
    )
    if claimed:
        order.sent_at = now
    return bool(claimed)


def _record_placed(order: Order, children: list[Order], placed, *, trader: Trader | None) -> None:
    now = timezone.now()
    order.broker_order_id = placed.order_id
    order.status = placed.status or "PendingNew"
    order.accepted_at = now
    if order.status == "Filled":
        order.filled_qty = order.quantity
    Order.objects.filter(pk=order.pk).update(
        broker_order_id=order.broker_order_id,
        status=order.status,
        accepted_at=now,
        filled_qty=order.filled_qty,
    )
    ids = {
        Order.Role.TAKE_PROFIT: placed.take_profit_order_id,
        Order.Role.STOP_LOSS: placed.stop_loss_order_id,
    }
    for child in children:
        child.broker_order_id = ids.get(child.role)
        child.status = "Working" if child.broker_order_id else "Failed"
        child.accepted_at = now
    if children:
        Order.objects.bulk_update(children, ["broker_order_id", "status", "accepted_at"])
    # One event for the entry and its bracket: pages redraw the group, and each event costs the
    # worker a round trip to the channel layer.
    payload = order_payload(order)
    payload["brackets"] = [order_payload(c) for c in children]
    emit(order.user_id, "order", payload)
    if trader is not None:
        exits = " · ".join(
            f"{'TP' if c.role == Order.Role.TAKE_PROFIT else 'SL'} "
            f"{(c.price if c.role == Order.Role.TAKE_PROFIT else c.stop_price).normalize():f}"
            for c in children
        )
        kind = {
            Order.Role.ENTRY: StrategyLog.Kind.ENTRY,
            Order.Role.EXIT: StrategyLog.Kind.EXIT,
            Order.Role.MANUAL: StrategyLog.Kind.ORDER,
        }.get(order.role, StrategyLog.Kind.ORDER)
        trader_log(
            trader,
            kind,
            _with_intro(
                order,
                f"{order.action} {order.quantity} {order.symbol} {order.order_type} on "
                f"{trader.broker_account.name}: {status_words(order.status)} "
                f"(order {order.broker_order_id})" + (f" · {exits}" if exits else ""),
            ),
            signal_id=order.signal_id,
            data={
                "order_id": order.pk,
                "broker_order_id": order.broker_order_id,
                "cl_ord_id": order.cl_ord_id,
            },
        )


def _record_failure(
    order: Order,
    children: list[Order],
    *,
    status: str,
    reason: str,
    text: str,
    trader: Trader | None,
    message: str,
) -> None:
    order.status, order.reject_reason, order.text = status, reason[:60], text
    Order.objects.filter(pk=order.pk).update(status=status, reject_reason=reason[:60], text=text)
    for child in children:
        child.status = "Canceled"
        Order.objects.filter(pk=child.pk).update(
            status="Canceled", text="Not sent: the entry was not placed."
        )
    emit(order.user_id, "order", order_payload(order))
    if trader is not None:
        trader_log(
            trader,
            StrategyLog.Kind.ERROR,
            _with_intro(order, message),
            signal_id=order.signal_id,
            data={
                "order_id": order.pk,
                "reason": reason,
                "text": text,
                "cl_ord_id": order.cl_ord_id,
            },
        )


def _send_leg(
    *,
    broker: Broker,
    account_id: int,
    order: Order,
    children: list[Order],
    later: list[Order],
    trader: Trader | None,
    redelivered: bool,
    final: bool,
) -> str:
    """Send one leg; returns "ok" or "failed" (raises RetryLater for temporary trouble)."""
    fresh_first = getattr(order, "_fresh", False) and order.status == "Sending"
    was_sending = order.status == "Sending" and not fresh_first
    if not fresh_first and not _claim(order, redelivered=redelivered):
        fresh = Order.objects.filter(pk=order.pk).values_list("status", flat=True).first()
        if fresh and fresh not in ("Planned", "Sending"):
            return "ok" if fresh not in ("Rejected", "Failed") else "failed"
        raise RetryLater("another worker is sending this order", countdown=3)
    if was_sending:
        # A previous run was cut short mid-call: what did the broker receive?
        if order.role == Order.Role.FLATTEN:
            for nxt in later:
                if nxt.cl_ord_id and broker.order_by_cl_ord_id(nxt.cl_ord_id):
                    Order.objects.filter(pk=order.pk).update(status="Completed")
                    order.status = "Completed"
                    return "ok"
        else:
            existing = broker.order_by_cl_ord_id(order.cl_ord_id)
            if existing is not None:
                _record_existing(order, children, existing, broker=broker, trader=trader)
                return "ok"
    try:
        if order.role == Order.Role.FLATTEN:
            broker.flatten(account_id, order.symbol)
            order.status = "Completed"
            order.accepted_at = timezone.now()
            Order.objects.filter(pk=order.pk).update(
                status="Completed", accepted_at=order.accepted_at
            )
            emit(order.user_id, "order", order_payload(order))
            if trader is not None:
                trader_log(
                    trader,
                    StrategyLog.Kind.EXIT,
                    _with_intro(
                        order,
                        f"Flatten {order.symbol} on {trader.broker_account.name} "
                        f"(was {order.quantity} contract(s)).",
                    ),
                    signal_id=order.signal_id,
                    data={"order_id": order.pk},
                )
            return "ok"
        tp = next((c for c in children if c.role == Order.Role.TAKE_PROFIT), None)
        sl = next((c for c in children if c.role == Order.Role.STOP_LOSS), None)
        common = dict(
            account_id=account_id,
            symbol=order.symbol,
            action=order.action,
            qty=order.quantity,
            order_type=order.order_type,
            price=order.price,
            stop_price=order.stop_price,
            cl_ord_id=order.cl_ord_id,
            text=f"JustTrades {order.get_role_display()}"[:64],
        )
        if children:
            placed = broker.place_bracket(
                take_profit=tp.price if tp else None,
                stop_loss=sl.stop_price if sl and sl.order_type == "Stop" else None,
                trailing_stop=sl.stop_price if sl and sl.order_type == "TrailingStop" else None,
                **common,
            )
        else:
            placed = broker.place_order(**common)
    except OrderRejected as exc:
        _record_failure(
            order,
            children,
            status="Rejected",
            reason=exc.reason,
            text=exc.text,
            trader=trader,
            message=f"Broker rejected {order.action} {order.quantity} {order.symbol}: "
            f"{exc.reason}" + (f" — {exc.text}" if exc.text else ""),
        )
        return "failed"
    except (CaptchaRequired, AuthenticationFailed) as exc:
        _record_failure(
            order,
            children,
            status="Failed",
            reason=type(exc).__name__,
            text=str(exc),
            trader=trader,
            message=f"Order not placed on "
            f"{trader.broker_account.name if trader else 'the account'}: {exc}",
        )
        return "failed"
    except (BrokerUnavailable, RateLimited) as exc:
        existing = None
        if order.role != Order.Role.FLATTEN:
            try:
                existing = broker.order_by_cl_ord_id(order.cl_ord_id)
            except BrokerError:
                existing = None
        if existing is not None:
            _record_existing(order, children, existing, broker=broker, trader=trader)
            return "ok"
        if final:
            _record_failure(
                order,
                children,
                status="Failed",
                reason=type(exc).__name__,
                text=str(exc),
                trader=trader,
                message=f"Order not placed after {MAX_ATTEMPTS} attempts: {exc}",
            )
            return "failed"
        Order.objects.filter(pk=order.pk).update(status="Planned")
        countdown = getattr(exc, "retry_after", None) or 2.0
        raise RetryLater(str(exc), countdown=min(float(countdown), 60.0)) from exc
    except (BrokerError, ValueError) as exc:
        _record_failure(
            order,
            children,
            status="Failed",
            reason=type(exc).__name__,
            text=str(exc),
            trader=trader,
            message=f"Order not placed: {exc}",
        )
        return "failed"
    _record_placed(order, children, placed, trader=trader)
    return "ok"


def _record_existing(order, children, existing, *, broker: Broker, trader) -> None:
    """The broker already has this order (a previous run placed it): adopt it, and its bracket."""
    from accounts.brokers.base import PlacedOrder

    tp_id = sl_id = None
    for child in children:
        found = broker.order_by_cl_ord_id(child.cl_ord_id) if child.cl_ord_id else None
        if found is not None:
            if child.role == Order.Role.TAKE_PROFIT:
                tp_id = found.id
            else:
                sl_id = found.id
    placed = PlacedOrder(
        order_id=existing.id,
        cl_ord_id=existing.cl_ord_id,
        status=existing.status,
        take_profit_order_id=tp_id,
        stop_loss_order_id=sl_id,
        duplicate=True,
    )
    _record_placed(order, children, placed, trader=trader)


def run_legs(
    *,
    trader: Trader | None,
    account,
    legs: list[Order],
    redelivered: bool = False,
    final: bool = False,
) -> str:
    """Send the planned legs in order (stopping at the first failure)."""
    broker = broker_for(account.connection)
    children_of: dict[int, list[Order]] = {}
    if all(hasattr(leg, "_children") for leg in legs):
        children_of = {leg.pk: leg._children for leg in legs}  # just planned: no query
    else:
        for child in Order.objects.filter(parent__in=[leg.pk for leg in legs]).order_by("id"):
            children_of.setdefault(child.parent_id, []).append(child)
    outcome = "ok"
    for i, order in enumerate(legs):
        if order.status not in ("Planned", "Sending"):
            if order.status in ("Rejected", "Failed"):
                outcome = "failed"
                break
            continue
        result = _send_leg(
            broker=broker,
            account_id=account.external_id,
            order=order,
            children=children_of.get(order.pk, []),
            later=legs[i + 1 :],
            trader=trader,
            redelivered=redelivered,
            final=final,
        )
        if result == "failed":
            outcome = "failed"
            rest = [leg.pk for leg in legs[i + 1 :] if leg.status == "Planned"]
            if rest:
                Order.objects.filter(Q(pk__in=rest) | Q(parent__in=rest)).update(
                    status="Skipped", text="Not sent: an earlier order of this signal failed."
                )
            break
        if order.role == Order.Role.EXIT and trader is not None and i == len(legs) - 1:
            keep = abs(int((trader.expected_positions or {}).get(order.symbol, 0)))
            _trim_brackets(trader=trader, broker=broker, symbol=order.symbol, keep=keep)
    if outcome == "failed" and trader is not None:
        _resync_expected(trader=trader, broker=broker, symbol=legs[0].symbol)
    return outcome


def _trim_brackets(*, trader: Trader, broker: Broker, symbol: str, keep: int) -> None:
    """After a partial exit, shrink the working take profit / stop loss orders (newest entry
    first) so together they never cover more than the ``keep`` contracts still held; a bracket
    left bigger than the position would open a new one in the other direction when it fires."""
    working = list(
        Order.objects.filter(
            trader=trader,
            symbol=symbol,
            role__in=[Order.Role.TAKE_PROFIT, Order.Role.STOP_LOSS],
            status__in=["Working", "Suspended", "PendingNew", "PendingReplace"],
            broker_order_id__isnull=False,
        ).order_by("-parent_id", "id")
    )
    by_entry: dict[int, list[Order]] = {}
    for child in working:
        by_entry.setdefault(child.parent_id, []).append(child)
    remaining = keep
    for kids in by_entry.values():
        size = max(k.quantity for k in kids)
        new_size = min(size, remaining)
        remaining -= new_size
        if new_size == size:
            continue
        for kid in kids:
            try:
                if new_size == 0:
                    broker.cancel(kid.broker_order_id)
                    kid.status = "Canceled"
                else:
                    broker.modify(kid.broker_order_id, qty=new_size)
                    kid.quantity = new_size
            except OrderRejected:
                continue  # already final at the broker: the stream brings its true state
            except BrokerError as exc:
                trader_log(
                    trader,
                    StrategyLog.Kind.ERROR,
                    f"Could not resize the {kid.get_role_display().lower()} "
                    f"{kid.broker_order_id} to {new_size}: {exc}",
                )
                continue
            kid.save(update_fields=["status", "quantity", "updated_at"])


def _resync_expected(*, trader: Trader, broker: Broker, symbol: str) -> None:
    try:
        held = _position(broker, trader.broker_account.external_id, symbol)
    except BrokerError:
        return
    _set_expected(trader, symbol, held)
    publish_trader(trader)


def trader_execute_signal(
    *, trader_id: int, signal_id: int, redelivered: bool = False, final: bool = False
) -> str:
    """Place (or finish placing) the orders of one signal for one trader. Safe to run again."""
    with deferred_events():
        return _execute(
            trader_id=trader_id, signal_id=signal_id, redelivered=redelivered, final=final
        )


def _execute(*, trader_id: int, signal_id: int, redelivered: bool, final: bool) -> str:
    try:
        trader = Trader.objects.select_related("strategy", "broker_account__connection").get(
            pk=trader_id
        )
        signal = Signal.objects.get(pk=signal_id)
    except (Trader.DoesNotExist, Signal.DoesNotExist):
        return "gone"
    legs = list(
        Order.objects.filter(
            signal_id=signal_id, trader_id=trader_id, parent__isnull=True
        ).order_by("id")
    )
    if not legs:
        if not trader.enabled:
            return "disabled"
        broker = broker_for(trader.broker_account.connection)
        try:
            legs = _plan_signal(trader=trader, signal=signal, broker=broker)
        except (BrokerUnavailable, RateLimited) as exc:
            if final:
                trader_log(
                    trader,
                    StrategyLog.Kind.ERROR,
                    f"Signal #{signal.pk} not executed: the broker did not answer ({exc}).",
                    signal_id=signal.pk,
                )
                return "failed"
            raise RetryLater(str(exc), countdown=getattr(exc, "retry_after", None) or 2.0) from exc
        except BrokerError as exc:
            trader_log(
                trader,
                StrategyLog.Kind.ERROR,
                f"Signal #{signal.pk} not executed: {exc}",
                signal_id=signal.pk,
            )
            return "failed"
        if not legs:
            publish_trader(trader)
            return "nothing"
    result = run_legs(
        trader=trader,
        account=trader.broker_account,
        legs=legs,
        redelivered=redelivered,
        final=final,
    )
    publish_trader(trader)
    return result


# --- manual actions (control center, risk, operators) --------------------------------------------


def trader_flatten(*, trader: Trader, reason: str = "manual") -> list[str]:
    """Cancel working orders and close every position the trader holds (its expected contracts,
    and the account's open positions in the strategy's product). Returns the contracts closed."""
    broker = broker_for(trader.broker_account.connection)
    account_id = trader.broker_account.external_id
    symbols = {s for s, q in (trader.expected_positions or {}).items() if q}
    try:
        root = resolve_symbol(trader.strategy.default_symbol).root
    except UnknownSymbol:
        root = None
    for p in broker.positions(account_id):
        if p.net_pos and (
            p.symbol in (trader.expected_positions or {}) or (root and p.symbol[:-2] == root)
        ):
            symbols.add(p.symbol)
    closed = []
    for symbol in sorted(symbols):
        broker.flatten(account_id, symbol)
        order = Order.objects.create(
            user_id=trader.user_id,
            trader=trader,
            broker_account_id=trader.broker_account_id,
            role=Order.Role.FLATTEN,
            action="",
            symbol=symbol,
            quantity=1,
            order_type="Liquidate",
            status="Completed",
            accepted_at=timezone.now(),
            text=f"Flatten ({reason})",
        )
        emit(order.user_id, "order", order_payload(order))
        closed.append(symbol)
    expected = {s: 0 for s in (trader.expected_positions or {})}
    Trader.objects.filter(pk=trader.pk).update(expected_positions=expected)
    trader.expected_positions = expected
    Order.objects.filter(
        trader=trader, status__in=["Working", "Suspended", "PendingNew"], symbol__in=symbols
    ).update(status="Canceled")
    return closed


def trader_close(*, trader: Trader) -> list[str]:
    """The control center's Close button for one trader."""
    try:
        closed = trader_flatten(trader=trader, reason="closed by hand")
    except BrokerError as exc:
        trader_log(trader, StrategyLog.Kind.ERROR, f"Close failed: {exc}")
        raise ApplicationError(f"Close failed: {exc}", status_code=409) from exc
    trader_log(
        trader,
        StrategyLog.Kind.EXIT,
        f"Closed by hand: {', '.join(closed) if closed else 'nothing was open'}.",
    )
    publish_trader(trader)
    return closed


def flatten_all(*, user, disable_traders: bool = False) -> dict[str, Any]:
    """Cancel every working order and close every position on all of the user's active broker
    accounts. Accounts that fail are reported, the others are still flattened."""
    from accounts.models import BrokerAccount

    accounts = BrokerAccount.objects.filter(connection__user=user, active=True).select_related(
        "connection"
    )
    done, errors = [], []
    for account in accounts:
        try:
            broker = broker_for(account.connection)
            open_before = [p.symbol for p in broker.positions(account.external_id) if p.net_pos]
            broker.flatten(account.external_id, None)
        except BrokerError as exc:
            errors.append({"account": account.name, "error": str(exc)})
            continue
        done.append({"account": account.name, "closed": open_before})
        Order.objects.filter(
            broker_account=account, status__in=["Working", "Suspended", "PendingNew"]
        ).update(status="Canceled")
    traders = Trader.objects.filter(user=user).select_related("strategy", "broker_account")
    flattened_accounts = {d["account"] for d in done}
    for trader in traders:
        if trader.broker_account.name not in flattened_accounts:
            continue
        fields = {"expected_positions": {s: 0 for s in (trader.expected_positions or {})}}
        if disable_traders and trader.enabled:
            fields["enabled"] = False
        Trader.objects.filter(pk=trader.pk).update(**fields)
        for k, v in fields.items():
            setattr(trader, k, v)
        publish_trader(trader)
    summary = (
        ", ".join(f"{d['account']}: {', '.join(d['closed']) or 'flat'}" for d in done)
        or "no account"
    )
    log_kwargs = dict(
        user_id=user.pk, kind=StrategyLog.Kind.EXIT if not errors else StrategyLog.Kind.ERROR
    )
    from traders.services import log_line

    log_line(
        message=f"Flatten All: {summary}"
        + (
            f"; failed on {', '.join(e['account'] + ' (' + e['error'] + ')' for e in errors)}"
            if errors
            else ""
        )
        + ("; traders switched off" if disable_traders else "")
        + ".",
        data={"done": done, "errors": errors},
        **log_kwargs,
    )
    return {"flattened": done, "errors": errors}


def manual_trade(
    *,
    user,
    action: str,
    quantity: int = 0,
    strategy: Strategy | None = None,
    symbol: str | None = None,
    broker_account=None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """A trade by hand from the control center.

    * with ``strategy``: on every trader of the strategy (buy/sell on the enabled ones, with the
      trader's multiplier, max contracts and the strategy's brackets; close on all of them);
    * with ``symbol`` and ``broker_account``: one market order (or a flatten) on that account.

    ``request_id`` (the button press) makes a double click or a resend place nothing twice.
    """
    action = action.lower()
    if action not in ("buy", "sell", "close"):
        raise ApplicationError("Action must be buy, sell or close.")
    if action != "close" and not (1 <= int(quantity or 0) <= 1000):
        raise ApplicationError("Quantity must be between 1 and 1000.")
    request_id = (request_id or uuid.uuid4().hex)[:20]
    results: list[dict[str, Any]] = []
    if strategy is not None:
        if strategy.user_id != user.pk:
            raise ApplicationError("Strategy not found.", status_code=404)
        traders = Trader.objects.filter(strategy=strategy).select_related(
            "strategy", "broker_account__connection"
        )
        if action != "close":
            traders = traders.filter(enabled=True)
        if not traders:
            raise ApplicationError(
                f"{strategy.name} has no {'enabled ' if action != 'close' else ''}"
                "trader to trade on."
            )
        for trader in traders:
            try:
                if action == "close":
                    closed = trader_close(trader=trader)
                    results.append({"trader_id": trader.pk, "status": "closed", "closed": closed})
                else:
                    status = _manual_trader_order(
                        trader=trader, action=action, quantity=int(quantity), request_id=request_id
                    )
                    results.append({"trader_id": trader.pk, "status": status})
            except (ApplicationError, BrokerError) as exc:
                results.append(
                    {
                        "trader_id": trader.pk,
                        "status": "failed",
                        "error": getattr(exc, "message", str(exc)),
                    }
                )
        return {"results": results}
    if not symbol or broker_account is None:
        raise ApplicationError("Give a strategy, or a ticker and an account.")
    if broker_account.connection.user_id != user.pk:
        raise ApplicationError("Broker account not found.", status_code=404)
    try:
        contract = resolve_symbol(symbol)
    except UnknownSymbol as exc:
        raise ApplicationError(str(exc)) from exc
    broker = broker_for(broker_account.connection)
    if action == "close":
        try:
            broker.flatten(broker_account.external_id, contract.name)
        except BrokerError as exc:
            raise ApplicationError(f"Close failed: {exc}", status_code=409) from exc
        Trader.objects.none()
        log_line_manual(user, f"Closed {contract.name} on {broker_account.name} by hand.")
        return {"results": [{"account": broker_account.name, "status": "closed"}]}
    order = Order.objects.filter(cl_ord_id=f"jtm{request_id}-a{broker_account.pk}").first()
    if order is None:
        try:
            order = Order.objects.create(
                user_id=user.pk,
                broker_account=broker_account,
                role=Order.Role.MANUAL,
                cl_ord_id=f"jtm{request_id}-a{broker_account.pk}",
                action="Buy" if action == "buy" else "Sell",
                symbol=contract.name,
                quantity=int(quantity),
                order_type="Market",
                status="Planned",
            )
        except IntegrityError:
            order = Order.objects.get(cl_ord_id=f"jtm{request_id}-a{broker_account.pk}")
    outcome = run_legs(trader=None, account=broker_account, legs=[order])
    order.refresh_from_db()
    if outcome == "failed":
        log_line_manual(
            user,
            f"Manual {order.action} {order.quantity} {order.symbol} on "
            f"{broker_account.name} failed: {order.reject_reason} {order.text}",
            kind=StrategyLog.Kind.ERROR,
        )
        raise ApplicationError(
            f"Order not placed: {order.reject_reason}" + (f" — {order.text}" if order.text else ""),
            extra={"order_id": order.pk},
        )
    log_line_manual(
        user,
        f"Manual {order.action} {order.quantity} {order.symbol} on "
        f"{broker_account.name}: {status_words(order.status)} (order {order.broker_order_id}).",
    )
    return {
        "results": [{"account": broker_account.name, "status": order.status, "order_id": order.pk}]
    }


def log_line_manual(user, message: str, kind: str = StrategyLog.Kind.ORDER) -> None:
    from traders.services import log_line

    log_line(user_id=user.pk, kind=kind, message=message)


def _manual_trader_order(*, trader: Trader, action: str, quantity: int, request_id: str) -> str:
    """A manual buy/sell on one trader: the same path as a signal (reversal rules, brackets)."""
    broker = broker_for(trader.broker_account.connection)
    contract = resolve_symbol(trader.strategy.default_symbol)
    account_id = trader.broker_account.external_id
    prefix = f"jtm{request_id}-{trader.pk}"
    legs = list(
        Order.objects.filter(cl_ord_id__startswith=prefix, parent__isnull=True).order_by("id")
    )
    if not legs:
        blocked = _entry_blocked(trader, timezone.now())
        if blocked:
            raise ApplicationError(f"Not placed: {blocked}.")
        current = _position(broker, account_id, contract.name)
        side = 1 if action == "buy" else -1
        qty = min(quantity * trader.multiplier, trader.max_contracts)
        intent = Intent(action=action, kind="delta", side=side, quantity=quantity)
        target, _why = planning.target_position(
            intent=intent,
            current=current,
            quantity=qty,
            multiplier=trader.multiplier,
            max_contracts=trader.max_contracts,
            close_only=trader.strategy.opposite_signal == Strategy.OppositeSignal.CLOSE_ONLY,
            from_alert=False,
        )
        plan = planning.plan_orders(current=current, target=target or current)
        if not plan.legs:
            return "nothing"
        base = dict(
            user_id=trader.user_id,
            trader=trader,
            broker_account_id=trader.broker_account_id,
            symbol=contract.name,
            status="Planned",
        )
        with transaction.atomic():
            for n, leg in enumerate(plan.legs):
                cl = f"{prefix}-{n}"
                if leg.role == "flatten":
                    legs.append(
                        Order.objects.create(
                            cl_ord_id=cl,
                            role=Order.Role.FLATTEN,
                            action="",
                            quantity=abs(current),
                            order_type="Liquidate",
                            **base,
                        )
                    )
                else:
                    legs.append(
                        Order.objects.create(
                            cl_ord_id=cl,
                            role=Order.Role.MANUAL,
                            action=leg.action,
                            quantity=leg.qty,
                            order_type="Market",
                            **base,
                        )
                    )
            _set_expected(trader, contract.name, target)
    outcome = run_legs(trader=trader, account=trader.broker_account, legs=legs)
    publish_trader(trader)
    if outcome == "failed":
        failed = Order.objects.filter(
            pk__in=[leg.pk for leg in legs], status__in=["Rejected", "Failed"]
        ).first()
        raise ApplicationError(
            f"Order not placed: {failed.reject_reason if failed else 'failed'}"
            + (f" — {failed.text}" if failed and failed.text else "")
        )
    return "placed"
