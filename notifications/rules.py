"""Which live events become DMs and pushes.

`on_event` is registered with `realtime.add_listener` and runs in whatever process published
(a trading worker, a web process): it only filters cheaply and enqueues `evaluate_event` on the
notifications queue, so trading never waits for a notification. The task re-reads the rows the
event names (the database is the truth; the event payload is only a hint) and decides:

| event | condition | kind |
|---|---|---|
| `fill` (traders.Fill) | order role take_profit / stop_loss | target_hit / stop_hit (with P&L) |
| `fill` | the fill takes the account's contract from flat | position_opened |
| `fill` | the fill brings it back to flat (or reverses it) | position_closed (with P&L) |
| `order` | status Rejected / Failed / Error, or a reject reason | order_failed |
| `log` (StrategyLog) | kind error from a trader | order_failed (one per signal and trader) |
| `log` | kind risk mentioning a loss | loss_limit (one per trader per day) |
| `log` | kind drift | drift (one per trader per day) |
| `log` | kind entry / exit / target / stop from a recorder | paper position_opened / _closed / target_hit / stop_hit |
| `trader` | disabled for the day because of a loss / drift flag set | loss_limit / drift |
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from notifications import messages as msg
from notifications.pnl import round_trips, signed_quantity
from notifications.services import notification_notify
from notifications.summary import user_zone

logger = logging.getLogger(__name__)

FAILED_ORDER_STATUSES = {"rejected", "failed", "error"}
# Fills older than this are history (a first sync, a re-sync after an outage): shown on the
# pages, not sent to the phone hours late.
FILL_NOTIFY_MAX_AGE = timedelta(minutes=15)
LOG_KINDS = {"entry", "exit", "target", "stop", "risk", "drift", "error"}


def _obj_id(data: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = data.get(name)
        if isinstance(value, dict):
            value = value.get("id")
        try:
            if value is not None and str(value).isdigit():
                return int(value)
        except (TypeError, ValueError):
            continue
    return None


def worth_evaluating(event_type: str, data: dict[str, Any]) -> bool:
    """A cheap look at the payload so most events never leave the publishing process."""
    if event_type == "fill":
        return True
    if event_type == "order":
        status = str(data.get("status") or "").lower()
        return (not status) or status in FAILED_ORDER_STATUSES or bool(data.get("reject_reason"))
    if event_type == "log":
        kind = str(data.get("kind") or "").lower()
        if kind in PAPER_KINDS and data.get("trader_id"):
            return False  # a trader's entries and exits are told from its fills instead
        return (not kind) or kind in LOG_KINDS
    if event_type == "trader":
        keys = {"drift", "disabled_until", "disabled_reason"}
        if not keys & set(data):
            return True
        return bool(data.get("drift") or data.get("disabled_until") or data.get("disabled_reason"))
    return False


def on_event(user_id: int, event_type: str, data: dict[str, Any]) -> None:
    """The realtime listener: enqueue the evaluation of events that may notify."""
    if not worth_evaluating(event_type, data):
        return
    from notifications.tasks import evaluate_event

    # retry=False: with Redis down, publishing must not stall the trading path.
    try:
        evaluate_event.apply_async((user_id, event_type, data), retry=False)
    except Exception as exc:  # noqa: BLE001 - a notification is never worth failing a trade
        logger.warning(
            "notification rules not run for %s event of user %s: %s", event_type, user_id, exc
        )


def evaluate_event(user_id: int, event_type: str, data: dict[str, Any]) -> list:
    """Turn one event into notifications (returns those created now)."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return []
    handler = {"fill": _on_fill, "order": _on_order, "log": _on_log, "trader": _on_trader}.get(
        event_type
    )
    return handler(user, data) if handler else []


# --- fills --------------------------------------------------------------------------------
def _fill_labels(fill) -> tuple[str, str]:
    trader = fill.trader if fill.trader_id else None
    if trader is None and fill.order_id and fill.order.trader_id:
        trader = fill.order.trader
    strategy = trader.strategy.name if trader is not None else ""
    return fill.broker_account.name, strategy


def _on_fill(user, data: dict[str, Any]) -> list:
    from traders.models import Fill

    fill_id = _obj_id(data, "id", "fill_id", "fill")
    if fill_id is None:
        return []
    fill = (
        Fill.objects.select_related("order__trader__strategy", "trader__strategy", "broker_account")
        .filter(user=user, pk=fill_id)
        .first()
    )
    if fill is None or fill.timestamp < timezone.now() - FILL_NOTIFY_MAX_AGE:
        return []
    history = list(
        Fill.objects.filter(broker_account_id=fill.broker_account_id, symbol=fill.symbol)
        .filter(timestamp__lte=fill.timestamp)
        .order_by("timestamp", "id")
    )
    history = [f for f in history if (f.timestamp, f.id) <= (fill.timestamp, fill.id)]
    after = sum(signed_quantity(f.action, f.quantity) for f in history)
    before = after - signed_quantity(fill.action, fill.quantity)
    trips = round_trips(history)
    closed = next((t for t in trips if t.closing_fill_id == fill.id), None)
    account, strategy = _fill_labels(fill)
    role = fill.order.role if fill.order_id else ""
    where = f"{account} · {strategy}" if strategy else account
    created: list = []

    if role in ("take_profit", "stop_loss") and closed is None and after != 0:
        return []  # a partial fill of the exit: told when the position is flat
    if role in ("take_profit", "stop_loss"):
        kind = "target_hit" if role == "take_profit" else "stop_hit"
        pnl = closed.pnl if closed else None
        title = ("🎯 Target hit" if kind == "target_hit" else "🛑 Stop hit") + f" · {fill.symbol}"
        message = msg.Message(
            title=f"{title} {msg.money(pnl)}" if pnl is not None else title,
            description=f"{where}: {fill.action.lower()} {fill.quantity} @ {msg.price(fill.price)}",
            fields=_closed_fields(closed, fill),
            color=msg.pnl_color(pnl),
            path="/control-center/",
            timestamp=fill.timestamp,
        )
        key = f"{kind}:order:{fill.order_id}" if fill.order_id else f"{kind}:fill:{fill.id}"
        return notification_notify(user=user, kind=kind, dedupe_key=key, message=message)

    if closed is not None:
        pnl = closed.pnl
        message = msg.Message(
            title=f"{'✅' if (pnl or 0) >= 0 else '🔻'} Closed {closed.side} {fill.symbol} "
            f"{msg.money(pnl)}",
            description=f"{where}: {fill.action.lower()} {fill.quantity} @ {msg.price(fill.price)}",
            fields=_closed_fields(closed, fill),
            color=msg.pnl_color(pnl),
            path="/control-center/",
            timestamp=fill.timestamp,
        )
        created += notification_notify(
            user=user,
            kind="position_closed",
            dedupe_key=f"position_closed:fill:{fill.id}",
            message=message,
        )
    if after != 0 and (before == 0 or (before > 0) != (after > 0)):
        side = "long" if after > 0 else "short"
        message = msg.Message(
            title=f"{'🟢' if side == 'long' else '🔴'} Opened {side} {abs(after)} {fill.symbol}",
            description=f"{where}: {fill.action.lower()} {fill.quantity} @ {msg.price(fill.price)}",
            fields=[
                ("Symbol", fill.symbol),
                ("Side", side.title()),
                ("Qty", str(abs(after))),
                ("Price", msg.price(fill.price)),
                ("Account", account),
            ]
            + ([("Strategy", strategy)] if strategy else []),
            color=msg.GREEN if side == "long" else msg.RED,
            path="/control-center/",
            timestamp=fill.timestamp,
        )
        created += notification_notify(
            user=user,
            kind="position_opened",
            dedupe_key=f"position_opened:fill:{fill.id}",
            message=message,
        )
    return created


def _closed_fields(trip, fill) -> list[tuple[str, str]]:
    if trip is None:
        return [
            ("Symbol", fill.symbol),
            ("Qty", str(fill.quantity)),
            ("Price", msg.price(fill.price)),
        ]
    entry = trip.entry_price.quantize(Decimal("0.01")) if trip.entry_price is not None else None
    exit_ = trip.exit_price.quantize(Decimal("0.01")) if trip.exit_price is not None else None
    return [
        ("Symbol", fill.symbol),
        ("Side", trip.side.title()),
        ("Qty", str(trip.quantity)),
        ("Entry", msg.price(entry)),
        ("Exit", msg.price(exit_)),
        ("P&L", msg.money(trip.pnl)),
    ]


# --- orders -------------------------------------------------------------------------------
def _on_order(user, data: dict[str, Any]) -> list:
    from traders.models import Order

    order_id = _obj_id(data, "id", "order_id", "order")
    order = (
        Order.objects.select_related("trader__strategy", "broker_account")
        .filter(user=user, pk=order_id)
        .first()
        if order_id
        else None
    )
    if order is None:
        return []
    if order.status.lower() not in FAILED_ORDER_STATUSES and not order.reject_reason:
        return []
    reason = order.text or order.reject_reason or order.status
    return _order_failed(
        user,
        signal_id=order.signal_id,
        trader_id=order.trader_id,
        fallback=f"order:{order.pk}",
        strategy=order.trader.strategy.name if order.trader_id else "",
        account=order.broker_account.name,
        summary=f"{order.action} {order.quantity} {order.symbol} {order.order_type}",
        reason=f"{order.reject_reason}: {order.text}"
        if order.reject_reason and order.text
        else reason,
    )


def _order_failed(user, *, signal_id, trader_id, fallback, strategy, account, summary, reason):
    key = (
        f"order_failed:signal:{signal_id}:trader:{trader_id}"
        if signal_id and trader_id
        else f"order_failed:{fallback}"
    )
    fields = [("Account", account or "—")]
    if strategy:
        fields.append(("Strategy", strategy))
    message = msg.Message(
        title="⚠️ Order failed",
        description=f"{summary}\n{reason}"[:1000] if summary else reason[:1000],
        fields=fields,
        color=msg.RED,
        path="/control-center/",
    )
    return notification_notify(user=user, kind="order_failed", dedupe_key=key, message=message)


# --- strategy log (traders' errors, risk, drift; recorders' paper trades) -----------------
PAPER_KINDS = {
    "entry": "position_opened",
    "exit": "position_closed",
    "target": "target_hit",
    "stop": "stop_hit",
}


def _local_day(user) -> str:
    return timezone.now().astimezone(user_zone(user)).date().isoformat()


def _on_log(user, data: dict[str, Any]) -> list:
    from recorder.models import StrategyLog

    log_id = _obj_id(data, "id", "log_id")
    log = (
        StrategyLog.objects.select_related("strategy", "trader__broker_account")
        .filter(user=user, pk=log_id)
        .first()
        if log_id
        else None
    )
    if log is None:
        return []
    extra = log.data if isinstance(log.data, dict) else {}
    strategy = log.strategy.name if log.strategy_id else ""
    account = log.trader.broker_account.name if log.trader_id else ""
    if log.kind == "error" and log.trader_id:
        return _order_failed(
            user,
            signal_id=log.signal_id,
            trader_id=log.trader_id,
            fallback=f"log:{log.pk}",
            strategy=strategy,
            account=account,
            summary="",
            reason=log.message,
        )
    if log.kind == "risk" and log.trader_id and "loss" in log.message.lower():
        day = extra.get("disabled_until") or log.trader.disabled_until or _local_day(user)
        return _loss_limit(user, trader=log.trader, strategy=strategy, reason=log.message, day=day)
    if log.kind == "drift":
        target = log.trader_id or f"strategy{log.strategy_id}"
        return _drift(
            user,
            key=f"drift:{target}:{_local_day(user)}",
            strategy=strategy,
            account=account,
            reason=log.message,
        )
    if log.kind in PAPER_KINDS and not log.trader_id:
        from notifications.selectors import notification_preference_get

        if not notification_preference_get(user=user).include_paper:
            return []
        kind = PAPER_KINDS[log.kind]
        pnl = extra.get("net_pnl", extra.get("pnl"))
        pnl_text = (
            f" {msg.money(pnl)}" if pnl not in (None, "") and kind != "position_opened" else ""
        )
        icon = {
            "position_opened": "🟢",
            "position_closed": "🏁",
            "target_hit": "🎯",
            "stop_hit": "🛑",
        }[kind]
        label = msg.KINDS[kind][1].replace(" (with P&L)", "")
        fields = [
            (name.title(), str(extra[key]))
            for key, name in (
                ("symbol", "symbol"),
                ("side", "side"),
                ("quantity", "qty"),
                ("price", "price"),
            )
            if extra.get(key) not in (None, "")
        ]
        message = msg.Message(
            title=f"📝 Paper · {icon} {label}{pnl_text}",
            description=f"{strategy}: {log.message}" if strategy else log.message,
            fields=fields,
            color=msg.pnl_color(pnl) if pnl_text else msg.BLUE,
            path=f"/recorders/{log.strategy.recorder.pk}/" if _has_recorder(log) else "/recorders/",
            timestamp=log.created_at,
        )
        return notification_notify(
            user=user, kind=kind, dedupe_key=f"paper:{log.pk}", message=message
        )
    return []


def _has_recorder(log) -> bool:
    try:
        return bool(log.strategy_id and log.strategy.recorder)
    except Exception:  # noqa: BLE001 - RelatedObjectDoesNotExist: a strategy without recorder
        return False


def _loss_limit(user, *, trader, strategy: str, reason: str, day) -> list:
    message = msg.Message(
        title="⛔ Daily loss limit reached",
        description=reason[:1000],
        fields=[
            ("Account", trader.broker_account.name),
            ("Strategy", strategy or "—"),
            ("Limit", msg.money(trader.daily_loss_limit, signed=False)),
        ],
        color=msg.RED,
        path="/traders/",
    )
    return notification_notify(
        user=user, kind="loss_limit", dedupe_key=f"loss_limit:{trader.pk}:{day}", message=message
    )


def _drift(user, *, key: str, strategy: str, account: str, reason: str) -> list:
    fields = [("Account", account or "—")]
    if strategy:
        fields.append(("Strategy", strategy))
    message = msg.Message(
        title="🧭 Position drift detected",
        description=reason[:1000],
        fields=fields,
        color=msg.YELLOW,
        path="/control-center/",
    )
    return notification_notify(user=user, kind="drift", dedupe_key=key, message=message)


def _on_trader(user, data: dict[str, Any]) -> list:
    from traders.models import Trader

    trader_id = _obj_id(data, "id", "trader_id", "trader")
    trader = (
        Trader.objects.select_related("strategy", "broker_account")
        .filter(user=user, pk=trader_id)
        .first()
        if trader_id
        else None
    )
    if trader is None:
        return []
    created: list = []
    if trader.disabled_until and "loss" in trader.disabled_reason.lower():
        # Keyed by the day it tripped, so a trader still marked disabled later is not re-told.
        created += _loss_limit(
            user,
            trader=trader,
            strategy=trader.strategy.name,
            reason=trader.disabled_reason,
            day=trader.disabled_until,
        )
    if trader.drift:
        created += _drift(
            user,
            key=f"drift:{trader.pk}:{_local_day(user)}",
            strategy=trader.strategy.name,
            account=trader.broker_account.name,
            reason=getattr(trader, "drift_message", "")
            or "The broker's position differs from what the strategy expects. Check the "
            "Control Center.",
        )
    return created
