"""Trader services: the writes of the traders app.

* CRUD of traders: ``trader_create``, ``trader_update``, ``trader_delete``, ``trader_toggle``;
* execution of signals: ``traders_execute_signal`` (fan-out, one task per enabled trader), the
  per-trader work lives in ``traders.execution``;
* risk: ``trader_apply_pnl`` / ``traders_check_risk`` (daily loss limit, profit target);
* the broker mirror: ``order_apply_broker_state``, ``fill_record``, ``position_record``,
  ``connection_resync`` (used by ``manage.py broker_stream`` and the reconcile job);
* ``traders_reconcile`` (expected vs. broker position, drift flagged).
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from justtrades.api import ApplicationError
from notifications.realtime import publish
from recorder.models import StrategyLog
from traders import risk
from traders.models import Fill, Order, Position, Trader

logger = logging.getLogger(__name__)

EXIT_UNIT_CHOICES = ("ticks", "points", "percent")


# --- live events and log -------------------------------------------------------------------------

_deferred = threading.local()


@contextmanager
def deferred_events():
    """Hold the live events of a block and send them at its end: an order placement sends its
    order to the broker first and tells the browser after, off the critical path."""
    outer = getattr(_deferred, "events", None)
    if outer is not None:
        yield
        return
    _deferred.events = []
    try:
        yield
    finally:
        events, _deferred.events = _deferred.events, None
        for user_id, event_type, data in events:
            publish(user_id, event_type, data)


def emit(user_id: int, event_type: str, data: dict[str, Any]) -> None:
    """``notifications.realtime.publish``, or held until the end of ``deferred_events``."""
    events = getattr(_deferred, "events", None)
    if events is not None:
        events.append((user_id, event_type, data))
    else:
        publish(user_id, event_type, data)


def trader_payload(trader: Trader) -> dict[str, Any]:
    """The JSON a page needs to redraw one trader row (also the API's output)."""
    today = risk.trading_day(timezone.now())
    return {
        "id": trader.pk,
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
        "drift": trader.drift,
        "drift_message": trader.drift_message,
        "positions": {k: v for k, v in (trader.expected_positions or {}).items() if v},
        "open_pnl": trader.open_pnl,
        "realized_pnl_today": trader.realized_pnl_today,
        "today_pnl": trader.today_pnl if trader.pnl_date == today else Decimal("0.00"),
        "last_signal_id": trader.last_signal_id,
        "last_signal_at": trader.last_signal_at,
    }


def publish_trader(trader: Trader) -> None:
    emit(trader.user_id, "trader", trader_payload(trader))


def order_payload(order: Order) -> dict[str, Any]:
    return {
        "id": order.pk,
        "trader_id": order.trader_id,
        "broker_account_id": order.broker_account_id,
        "signal_id": order.signal_id,
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


def log_line(
    *,
    user_id: int,
    kind: str,
    message: str,
    strategy_id: int | None = None,
    trader_id: int | None = None,
    signal_id: int | None = None,
    data: dict | None = None,
) -> StrategyLog:
    """One line of the strategy's timeline (the AutoTrader log), published live.

    The row and event are those of ``recorder.services.strategy_log``; the event goes through
    ``emit`` so that an order placement can hold it until the order is at the broker.
    """
    from recorder.services import log_event_data

    entry = StrategyLog.objects.create(
        user_id=user_id,
        strategy_id=strategy_id,
        trader_id=trader_id,
        signal_id=signal_id,
        kind=kind,
        message=message[:2000],
        data=data or {},
    )
    emit(user_id, "log", log_event_data(entry))
    return entry


def trader_log(trader: Trader, kind: str, message: str, *, signal_id=None, data=None):
    return log_line(
        user_id=trader.user_id,
        kind=kind,
        message=message,
        strategy_id=trader.strategy_id,
        trader_id=trader.pk,
        signal_id=signal_id,
        data={"account": trader.broker_account.name, **(data or {})},
    )


# --- CRUD ----------------------------------------------------------------------------------------


def _validate(fields: dict[str, Any]) -> None:
    if "multiplier" in fields and not (1 <= int(fields["multiplier"]) <= 1000):
        raise ApplicationError("The multiplier must be between 1 and 1000.")
    if "max_contracts" in fields and not (1 <= int(fields["max_contracts"]) <= 10_000):
        raise ApplicationError("Max contracts must be between 1 and 10000.")
    for name in (
        "daily_loss_limit",
        "daily_profit_target",
        "take_profit_override",
        "stop_loss_override",
    ):
        value = fields.get(name)
        if value is not None and Decimal(value) <= 0:
            raise ApplicationError(
                f"{name.replace('_', ' ').capitalize()} must be positive (leave it empty for none)."
            )
    for name in ("take_profit_override_unit", "stop_loss_override_unit"):
        if name in fields and fields[name] not in EXIT_UNIT_CHOICES:
            raise ApplicationError(
                f"{name.replace('_', ' ')} must be one of {', '.join(EXIT_UNIT_CHOICES)}."
            )
    if "session_timezone" in fields:
        try:
            ZoneInfo(fields["session_timezone"])
        except Exception as exc:  # noqa: BLE001
            raise ApplicationError(f"Unknown time zone {fields['session_timezone']!r}.") from exc
    days = fields.get("session_days")
    if days is not None and (
        not isinstance(days, list) or any(not isinstance(d, int) or not 0 <= d <= 6 for d in days)
    ):
        raise ApplicationError("Session days are numbers from 0 (Monday) to 6 (Sunday).")
    start, end = fields.get("session_start"), fields.get("session_end")
    if (start is None) != (end is None) and ("session_start" in fields or "session_end" in fields):
        raise ApplicationError("Give both the session start and end, or neither.")
    if isinstance(start, time) and isinstance(end, time) and start == end:
        raise ApplicationError("The session start and end must differ.")


TRADER_FIELDS = (
    "enabled",
    "multiplier",
    "max_contracts",
    "daily_loss_limit",
    "daily_profit_target",
    "take_profit_override",
    "take_profit_override_unit",
    "stop_loss_override",
    "stop_loss_override_unit",
    "session_start",
    "session_end",
    "session_timezone",
    "session_days",
)


@transaction.atomic
def trader_create(*, user, strategy, broker_account, **fields: Any) -> Trader:
    """Link ``strategy`` to ``broker_account`` (both must be the user's)."""
    if strategy.user_id != user.pk:
        raise ApplicationError("Strategy not found.", status_code=404)
    if broker_account.connection.user_id != user.pk:
        raise ApplicationError("Broker account not found.", status_code=404)
    unknown = set(fields) - set(TRADER_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    _validate(fields)
    if Trader.objects.filter(strategy=strategy, broker_account=broker_account).exists():
        raise ApplicationError(
            f"{strategy.name} already trades on {broker_account.name}.", status_code=409
        )
    try:
        with transaction.atomic():
            trader = Trader.objects.create(
                user=user, strategy=strategy, broker_account=broker_account, **fields
            )
    except IntegrityError as exc:
        raise ApplicationError(
            f"{strategy.name} already trades on {broker_account.name}.", status_code=409
        ) from exc
    trader_log(
        trader,
        StrategyLog.Kind.INFO,
        f"Trader created on {broker_account.name} ({'on' if trader.enabled else 'off'}).",
    )
    publish_trader(trader)
    return trader


@transaction.atomic
def trader_update(*, trader: Trader, strategy=None, broker_account=None, **fields: Any) -> Trader:
    unknown = set(fields) - set(TRADER_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    merged = {name: getattr(trader, name) for name in TRADER_FIELDS}
    merged.update(fields)
    _validate(merged)
    changed = [name for name, value in fields.items() if getattr(trader, name) != value]
    if strategy is not None and strategy.pk != trader.strategy_id:
        if strategy.user_id != trader.user_id:
            raise ApplicationError("Strategy not found.", status_code=404)
        trader.strategy = strategy
        changed.append("strategy")
    if broker_account is not None and broker_account.pk != trader.broker_account_id:
        if broker_account.connection.user_id != trader.user_id:
            raise ApplicationError("Broker account not found.", status_code=404)
        if any(trader.expected_positions.values()):
            raise ApplicationError(
                "Close this trader's position before moving it to another account."
            )
        trader.broker_account = broker_account
        changed.append("broker_account")
    for name, value in fields.items():
        setattr(trader, name, value)
    if fields.get("enabled") and trader.disabled_until:
        # Switching a trader on by hand overrides a limit that disabled it for the day.
        trader.disabled_until = None
        trader.disabled_reason = ""
        changed += ["disabled_until", "disabled_reason"]
    if not changed:
        return trader
    try:
        with transaction.atomic():
            trader.save(update_fields=sorted(set(changed)) + ["updated_at"])
    except IntegrityError as exc:
        raise ApplicationError(
            "That strategy already trades on that account.", status_code=409
        ) from exc
    trader_log(trader, StrategyLog.Kind.INFO, f"Trader settings changed: {', '.join(changed)}.")
    publish_trader(trader)
    return trader


@transaction.atomic
def trader_delete(*, trader: Trader) -> None:
    if trader.enabled and any(trader.expected_positions.values()):
        raise ApplicationError(
            "This trader holds a position: close it (or switch the trader off) before deleting."
        )
    user_id, pk = trader.user_id, trader.pk
    trader.delete()
    emit(user_id, "trader", {"id": pk, "deleted": True})


@transaction.atomic
def trader_toggle(*, trader: Trader, enabled: bool | None = None) -> Trader:
    """Switch a trader on or off (flip when ``enabled`` is None)."""
    new = (not trader.enabled) if enabled is None else bool(enabled)
    fields = ["enabled", "updated_at"]
    trader.enabled = new
    if new and trader.disabled_until:
        trader.disabled_until = None
        trader.disabled_reason = ""
        fields += ["disabled_until", "disabled_reason"]
    trader.save(update_fields=fields)
    trader_log(trader, StrategyLog.Kind.INFO, f"Trader switched {'on' if new else 'off'}.")
    publish_trader(trader)
    return trader


# --- execution entry point (called by the signal processor) -------------------------------------


def traders_execute_signal(*, signal) -> None:
    """Fan a processed signal out to every enabled trader of its strategy: one Celery task per
    trader, enqueued after the surrounding transaction commits, run concurrently by the workers.
    A redelivered or repeated call is harmless: each task places its orders once."""
    from traders.tasks import execute_signal_for_trader

    trader_ids = list(
        Trader.objects.filter(strategy_id=signal.strategy_id, enabled=True).values_list(
            "id", flat=True
        )
    )
    if not trader_ids:
        return
    signal_id = signal.pk

    def enqueue():
        for trader_id in trader_ids:
            execute_signal_for_trader.apply_async((trader_id, signal_id), retry=False)

    transaction.on_commit(enqueue)


# --- P&L and risk --------------------------------------------------------------------------------


def trader_apply_pnl(
    *, trader: Trader, realized: Decimal, open_pnl: Decimal, enforce: bool = True
) -> Trader:
    """Store the day's P&L of the trader's account and enforce the daily limits."""
    today = risk.trading_day(timezone.now())
    realized = Decimal(realized).quantize(Decimal("0.01"))
    open_pnl = Decimal(open_pnl).quantize(Decimal("0.01"))
    changed = (
        trader.pnl_date != today
        or trader.realized_pnl_today != realized
        or trader.open_pnl != open_pnl
    )
    if changed:
        trader.pnl_date = today
        trader.realized_pnl_today = realized
        trader.open_pnl = open_pnl
        trader.pnl_updated_at = timezone.now()
        Trader.objects.filter(pk=trader.pk).update(
            pnl_date=today,
            realized_pnl_today=realized,
            open_pnl=open_pnl,
            pnl_updated_at=trader.pnl_updated_at,
        )
        publish_trader(trader)
    if enforce:
        trader_enforce_daily_limits(trader=trader)
    return trader


def trader_enforce_daily_limits(*, trader: Trader) -> bool:
    """Daily loss limit / profit target reached ⇒ flatten the trader, disable it for the trading
    day, log it and tell the user. Returns True when it tripped now."""
    today = risk.trading_day(timezone.now())
    if not trader.enabled or risk.is_disabled_for_day(
        disabled_until=trader.disabled_until, today=today
    ):
        return False
    if trader.pnl_date != today:
        return False
    hit = risk.daily_limit_hit(
        pnl=trader.today_pnl,
        loss_limit=trader.daily_loss_limit,
        profit_target=trader.daily_profit_target,
    )
    if hit is None:
        return False
    # Claim the trip once even if the stream and the beat job see it at the same moment.
    claimed = (
        Trader.objects.filter(pk=trader.pk, enabled=True)
        .exclude(disabled_until__gte=today)
        .update(disabled_until=today)
    )
    if not claimed:
        return False
    if hit == "loss":
        reason = (
            f"Daily loss limit of ${trader.daily_loss_limit:,.2f} reached "
            f"(today's P&L ${trader.today_pnl:,.2f})"
        )
    else:
        reason = (
            f"Daily profit target of ${trader.daily_profit_target:,.2f} reached "
            f"(today's P&L ${trader.today_pnl:,.2f})"
        )
    trader.disabled_until = today
    trader.disabled_reason = reason[:200]
    Trader.objects.filter(pk=trader.pk).update(disabled_reason=trader.disabled_reason)
    from traders.execution import trader_flatten

    flattened = trader_flatten(trader=trader, reason="daily_limit")
    trader_log(
        trader,
        StrategyLog.Kind.RISK,
        f"{reason}: positions flattened{' (' + ', '.join(flattened) + ')' if flattened else ''} "
        "and trader disabled for the rest of the trading day.",
        data={"limit": hit, "pnl": str(trader.today_pnl), "disabled_until": str(today)},
    )
    publish_trader(trader)
    return True


def open_pnl_by_account(*, broker, account_ids: set[int]) -> dict[int, Decimal]:
    """Open P&L of each account, from one positions call for the whole login and one quote per
    contract held: (last − average price) × $ per point × net position."""
    from accounts.brokers.symbols import contract_from_name

    held = [p for p in broker.positions() if p.net_pos and p.account_id in account_ids]
    marks: dict[str, Decimal | None] = {}
    for symbol in {p.symbol for p in held}:
        quote = broker.quote(symbol)
        marks[symbol] = quote.last if quote.last is not None else quote.mid
    result: dict[int, Decimal] = {}
    for p in held:
        mark = marks.get(p.symbol)
        if mark is None or p.net_price is None:
            continue
        value = (mark - p.net_price) * contract_from_name(p.symbol).point_value * p.net_pos
        result[p.account_id] = result.get(p.account_id, Decimal(0)) + value
    return result


def traders_check_risk() -> int:
    """Beat job: refresh the P&L of every active trader and enforce the daily limits.

    Per broker login: one positions call and one quote per contract held give every account's
    open P&L; the realized P&L comes from the stream's cash events. Only accounts whose trader
    has a loss limit or profit target (and holds a position or has traded today) also get an
    authoritative cash snapshot. A login with 100 accounts thus costs a handful of requests,
    far below the broker's hourly budget. Returns the number of traders that tripped now."""
    from traders.execution import broker_for

    today = risk.trading_day(timezone.now())
    traders = (
        Trader.objects.filter(enabled=True)
        .exclude(disabled_until__gte=today)
        .select_related("strategy", "broker_account__connection")
    )
    by_connection: dict[int, dict[int, list[Trader]]] = {}
    for trader in traders:
        accounts = by_connection.setdefault(trader.broker_account.connection_id, {})
        accounts.setdefault(trader.broker_account.external_id, []).append(trader)
    tripped = 0
    for accounts in by_connection.values():
        connection = next(iter(accounts.values()))[0].broker_account.connection
        try:
            broker = broker_for(connection)
            open_by_account = open_pnl_by_account(broker=broker, account_ids=set(accounts))
        except Exception as exc:  # noqa: BLE001 - one broker down must not stop the others
            logger.warning("P&L of connection %s not refreshed: %s", connection.pk, exc)
            continue
        for account_id, group in accounts.items():
            open_pnl = open_by_account.get(account_id, Decimal(0))
            first = group[0]
            realized = first.realized_pnl_today if first.pnl_date == today else Decimal(0)
            limited = any(t.daily_loss_limit or t.daily_profit_target for t in group)
            active = open_pnl or any(any((t.expected_positions or {}).values()) for t in group)
            if limited and (active or first.pnl_date != today or realized):
                try:
                    cash = broker.cash(account_id)
                    realized, open_pnl = cash.realized_pnl, cash.open_pnl
                except Exception as exc:  # noqa: BLE001
                    logger.warning("cash snapshot of account %s failed: %s", account_id, exc)
            for trader in group:
                before = trader.disabled_until
                trader_apply_pnl(trader=trader, realized=realized, open_pnl=open_pnl)
                tripped += int(trader.disabled_until != before)
    return tripped


# --- the broker mirror (stream and re-sync) ------------------------------------------------------


def _signed(action: str, qty: int) -> int:
    return qty if action == "Buy" else -qty


def order_apply_broker_state(*, order: Order, broker_order) -> bool:
    """Update our order from the broker's view of it (status, fill state, rejection text)."""
    fields = []
    if (
        broker_order.status
        and broker_order.status != order.status
        and not (order.status == "Completed" and order.role == Order.Role.FLATTEN)
    ):
        order.status = broker_order.status
        fields.append("status")
    if order.broker_order_id is None and broker_order.id:
        order.broker_order_id = broker_order.id
        fields.append("broker_order_id")
    if broker_order.reject_reason and not order.reject_reason:
        order.reject_reason = broker_order.reject_reason[:60]
        order.text = broker_order.text or order.text
        fields += ["reject_reason", "text"]
    if fields:
        order.save(update_fields=fields + ["updated_at"])
    moved = False
    if broker_order.filled_qty and broker_order.filled_qty > order.filled_qty:
        moved = order_apply_filled(
            order=order,
            filled_qty=broker_order.filled_qty,
            avg_price=broker_order.avg_price,
            publish_event=False,
        )
    if fields or moved:
        emit(order.user_id, "order", order_payload(order))
    return bool(fields or moved)


def order_apply_filled(*, order: Order, filled_qty: int, avg_price, publish_event=True) -> bool:
    """Record that ``filled_qty`` of the order is filled (from a fill event or a re-sync; only an
    increase counts). When a take profit / stop loss fills, the trader's expected position moves
    with it: the bracket closed the trade, that is not a drift."""
    updated = Order.objects.filter(pk=order.pk, filled_qty__lt=filled_qty).update(
        filled_qty=filled_qty, avg_fill_price=avg_price
    )
    if not updated:
        return False
    newly_filled = filled_qty - order.filled_qty
    order.filled_qty, order.avg_fill_price = filled_qty, avg_price
    if order.trader_id and order.role in (Order.Role.TAKE_PROFIT, Order.Role.STOP_LOSS):
        _move_expected(order.trader_id, order.symbol, _signed(order.action, newly_filled))
        trader = Trader.objects.select_related("strategy", "broker_account").get(pk=order.trader_id)
        kind = (
            StrategyLog.Kind.TARGET
            if order.role == Order.Role.TAKE_PROFIT
            else StrategyLog.Kind.STOP
        )
        trader_log(
            trader,
            kind,
            f"{order.get_role_display()} filled: {order.action} {newly_filled} {order.symbol}"
            + (f" @ {Decimal(avg_price).normalize():f}" if avg_price is not None else ""),
            signal_id=order.signal_id,
            data={"order_id": order.pk},
        )
        publish_trader(trader)
    if publish_event:
        emit(order.user_id, "order", order_payload(order))
    return True


@transaction.atomic
def _move_expected(trader_id: int, symbol: str, delta: int) -> None:
    trader = Trader.objects.select_for_update().get(pk=trader_id)
    expected = dict(trader.expected_positions or {})
    current = int(expected.get(symbol, 0))
    new = current + delta
    # A bracket never crosses zero: it closes what the entry opened.
    if current and (new > 0) != (current > 0):
        new = 0
    expected[symbol] = new
    trader.expected_positions = expected
    trader.save(update_fields=["expected_positions", "updated_at"])


def order_record_unknown(*, account, broker_order) -> Order:
    """An order we did not place (another platform, the broker's liquidation): mirrored so the
    control center shows everything that touched the account."""
    order, _ = Order.objects.get_or_create(
        broker_account=account,
        broker_order_id=broker_order.id,
        defaults=dict(
            user_id=account.connection.user_id,
            role=Order.Role.MANUAL,
            action=broker_order.action,
            symbol=broker_order.symbol,
            quantity=max(1, broker_order.qty or broker_order.filled_qty or 1),
            order_type=broker_order.order_type or "Market",
            price=broker_order.price,
            stop_price=broker_order.stop_price,
            status=broker_order.status,
            filled_qty=broker_order.filled_qty or 0,
            avg_fill_price=broker_order.avg_price,
            text=(broker_order.text or "")[:500],
        ),
    )
    return order


def fill_record(*, account, broker_fill) -> Fill | None:
    """Store one broker fill once (unique per account and broker fill id)."""
    order = (
        Order.objects.filter(broker_account=account, broker_order_id=broker_fill.order_id)
        .only("id", "trader_id")
        .first()
    )
    try:
        with transaction.atomic():
            fill = Fill.objects.create(
                user_id=account.connection.user_id,
                order=order,
                trader_id=order.trader_id if order else None,
                broker_account=account,
                broker_fill_id=broker_fill.id,
                action=broker_fill.action,
                symbol=broker_fill.symbol,
                quantity=broker_fill.qty,
                price=broker_fill.price,
                timestamp=broker_fill.timestamp or timezone.now(),
            )
    except IntegrityError:
        return None
    if order is not None:
        agg = Fill.objects.filter(order=order).aggregate(
            q=Sum("quantity"), v=Sum(F("quantity") * F("price"))
        )
        if agg["q"]:
            full = Order.objects.get(pk=order.pk)
            order_apply_filled(
                order=full,
                filled_qty=agg["q"],
                avg_price=(agg["v"] / agg["q"]).quantize(Decimal("0.000001")),
            )
    emit(
        fill.user_id,
        "fill",
        {
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
        },
    )
    return fill


def position_record(*, account, broker_position, last_price: Decimal | None = None) -> Position:
    """Upsert the account's position in one contract from the broker's view."""
    from accounts.brokers.symbols import contract_from_name

    defaults = {
        "user_id": account.connection.user_id,
        "net_pos": broker_position.net_pos,
        "net_price": broker_position.net_price if broker_position.net_pos else None,
        "contract_id": broker_position.contract_id,
    }
    if last_price is not None and broker_position.net_pos and broker_position.net_price:
        try:
            point_value = contract_from_name(broker_position.symbol).point_value
            defaults["open_pnl"] = (
                (last_price - broker_position.net_price) * point_value * broker_position.net_pos
            ).quantize(Decimal("0.01"))
        except ValueError:
            pass
    elif not broker_position.net_pos:
        defaults["open_pnl"] = Decimal(0)
    position, created = Position.objects.get_or_create(
        broker_account=account, symbol=broker_position.symbol, defaults=defaults
    )
    if not created:
        changed = [k for k, v in defaults.items() if getattr(position, k) != v]
        if not changed:
            return position
        for k in changed:
            setattr(position, k, defaults[k])
        position.save(update_fields=changed + ["updated_at"])
    emit(
        position.user_id,
        "position",
        {
            "id": position.pk,
            "broker_account_id": account.pk,
            "account": account.name,
            "symbol": position.symbol,
            "net_pos": position.net_pos,
            "net_price": position.net_price,
            "open_pnl": position.open_pnl,
            "source": "broker",
        },
    )
    return position


def connection_resync(*, connection, broker=None) -> dict[str, int]:
    """Re-read orders, fills and positions of every account of a connection from the broker and
    bring the mirror up to date (after a stream reconnect, and by the reconcile job)."""
    from traders.execution import broker_for

    broker = broker or broker_for(connection)
    accounts = {a.external_id: a for a in connection.accounts.all()}
    counts = {"orders": 0, "fills": 0, "positions": 0}
    open_statuses = ["Filled", "Canceled", "Rejected", "Expired", "Completed"]
    mirrored = Order.objects.filter(broker_account__connection=connection)
    known = {
        o.broker_order_id: o
        for o in mirrored.filter(broker_order_id__isnull=False).exclude(status__in=open_statuses)
    }
    settled = set(
        mirrored.filter(status__in=open_statuses, broker_order_id__isnull=False).values_list(
            "broker_order_id", flat=True
        )
    )
    for bo in broker.orders():
        account = accounts.get(bo.account_id)
        if account is None or bo.id in settled:
            continue
        order = known.get(bo.id)
        if order is None and bo.cl_ord_id:
            # Ours, placed a moment ago: its broker id may not be stored yet.
            order = Order.objects.filter(cl_ord_id=bo.cl_ord_id).first()
        if order is None:
            order_record_unknown(account=account, broker_order=bo)
            counts["orders"] += 1
            continue
        counts["orders"] += int(order_apply_broker_state(order=order, broker_order=bo))
    seen_fills = set(
        Fill.objects.filter(broker_account__connection=connection).values_list(
            "broker_account__external_id", "broker_fill_id"
        )
    )
    for bf in broker.fills():
        account = accounts.get(bf.account_id) if bf.account_id else None
        if account is None and len(accounts) == 1:
            account = next(iter(accounts.values()))
        if account is None or (account.external_id, bf.id) in seen_fills:
            continue
        if fill_record(account=account, broker_fill=bf):
            counts["fills"] += 1
    for bp in broker.positions():
        account = accounts.get(bp.account_id)
        if account is not None:
            position_record(account=account, broker_position=bp)
            counts["positions"] += 1
    return counts


# --- reconciliation -------------------------------------------------------------------------------


def traders_reconcile() -> int:
    """Beat job: compare each trader's expected position with what its broker account holds.

    Traders sharing one account are summed per contract. A mismatch flags drift on the traders
    (shown on My Trader and the control center, logged, notified); a match clears it. Traders with
    an order in flight are skipped this round. Returns the number of traders newly drifting.
    """
    from traders.execution import broker_for

    traders = list(
        Trader.objects.filter(enabled=True).select_related("strategy", "broker_account__connection")
    ) + list(
        Trader.objects.filter(enabled=False, drift=True).select_related(
            "strategy", "broker_account__connection"
        )
    )
    # A trader with an order in flight is not judged this round (a stuck one no longer counts
    # after two minutes: its drift is then real and worth showing).
    busy = set(
        Order.objects.filter(
            status__in=["Planned", "Sending"],
            created_at__gte=timezone.now() - timedelta(minutes=2),
        ).values_list("trader_id", flat=True)
    )
    by_connection: dict[int, list[Trader]] = {}
    for trader in traders:
        by_connection.setdefault(trader.broker_account.connection_id, []).append(trader)
    newly = 0
    for group in by_connection.values():
        connection = group[0].broker_account.connection
        try:
            broker = broker_for(connection)
            connection_resync(connection=connection, broker=broker)
            held = {(p.account_id, p.symbol): p.net_pos for p in broker.positions()}
        except Exception as exc:  # noqa: BLE001 - one broker down must not stop the others
            logger.warning("reconcile of connection %s failed: %s", connection.pk, exc)
            continue
        fresh = {t.pk: t for t in Trader.objects.filter(pk__in=[t.pk for t in group])}
        expected: dict[tuple[int, str], int] = {}
        for trader in group:
            trader.expected_positions = fresh[trader.pk].expected_positions
            for symbol, qty in (trader.expected_positions or {}).items():
                key = (trader.broker_account.external_id, symbol)
                expected[key] = expected.get(key, 0) + int(qty)
        for trader in group:
            if trader.pk in busy:
                continue
            symbols = {s for s in (trader.expected_positions or {})}
            mismatches = []
            for symbol in sorted(symbols):
                key = (trader.broker_account.external_id, symbol)
                want, have = expected.get(key, 0), held.get(key, 0)
                if want != have:
                    mismatches.append(f"expected {want:+d} {symbol}, broker holds {have:+d}")
            message = "; ".join(mismatches)[:300]
            if mismatches and not trader.drift:
                Trader.objects.filter(pk=trader.pk).update(drift=True, drift_message=message)
                trader.drift, trader.drift_message = True, message
                trader_log(
                    trader,
                    StrategyLog.Kind.DRIFT,
                    f"Position drift on {trader.broker_account.name}: {message}.",
                    data={"mismatches": mismatches},
                )
                publish_trader(trader)
                newly += 1
            elif not mismatches and trader.drift:
                Trader.objects.filter(pk=trader.pk).update(drift=False, drift_message="")
                trader.drift, trader.drift_message = False, ""
                trader_log(trader, StrategyLog.Kind.INFO, "Position back in line with the broker.")
                publish_trader(trader)
    return newly


def trader_accept_broker_position(*, trader: Trader) -> Trader:
    """Resolve drift by taking the broker's position as the expected one (a manual fix)."""
    from traders.execution import broker_for

    held = {
        p.symbol: p.net_pos
        for p in broker_for(trader.broker_account.connection).positions(
            trader.broker_account.external_id
        )
    }
    expected = {s: held.get(s, 0) for s in (trader.expected_positions or {})}
    Trader.objects.filter(pk=trader.pk).update(
        expected_positions=expected, drift=False, drift_message=""
    )
    trader.expected_positions, trader.drift, trader.drift_message = expected, False, ""
    trader_log(trader, StrategyLog.Kind.INFO, "Expected position reset to the broker's.")
    publish_trader(trader)
    return trader
