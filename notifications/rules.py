"""Which live events become DMs and pushes, decided on structured data, never on the text.

`on_event` is registered with `realtime.add_listener` and runs in whatever process published
(a trading worker, a web process): it only filters cheaply and enqueues `evaluate_event` on the
notifications queue, so trading never waits for a notification. The task re-reads the rows the
event names (the database is the truth; the event payload is only a hint) and decides. Every
notification is keyed so that one fact is told once, whichever event tells it first.

| event | what decides | kind | one per |
|---|---|---|---|
| `fill` (traders.Fill) | the order's role take_profit / stop_loss | target_hit / stop_hit (P&L) | order |
| `fill` | the fill takes the account's contract from flat | position_opened | fill |
| `fill` | the fill brings it back to flat (or reverses it) | position_closed (P&L) | fill |
| `order` | status Rejected / Failed / Error, or a reject reason | order_failed | order |
| `log` (timeline line) | `data["event"]`, see `LOG_EVENTS` below | one kind per event | see there |
| `log` | a recorder's paper entry / exit / target / stop | paper position_* / *_hit | line |

Timeline lines are written by `justtrades.timeline.timeline_write(event=Event.X, data={...})`;
the fields each rule reads are the ones its emitter documents (`ALERT_REJECTED {reason,
signal_id}`, `DAILY_LOSS_LIMIT {limit, pnl, account}` …).

One file for one idea, the table of which event becomes which notification: one handler per
kind, read side by side.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import BrokerConnection
from justtrades.queue import enqueue
from justtrades.timeline import Event
from notifications import messages as msg
from notifications.selectors import notification_preference_get
from notifications.services import notification_notify
from notifications.summary import user_zone
from recorder.models import StrategyLog
from traders.models import Fill, Order
from traders.trades import round_trips, signed_quantity

logger = logging.getLogger(__name__)

FAILED_ORDER_STATUSES = {"rejected", "failed", "error"}
# Fills older than this are history (a first sync, a re-sync after an outage): shown on the
# pages, not sent to the phone hours late.
FILL_NOTIFY_MAX_AGE = timedelta(minutes=15)
# The same rejection of the same strategy's alerts within this window is one fact (a
# misconfigured alert firing every bar is told once, not once a minute).
ALERT_REJECTED_WINDOW = timedelta(minutes=10)
# A recorder's paper entries and exits (its timeline kinds) → the kind they are told as.
PAPER_KINDS = {
    "entry": "position_opened",
    "exit": "position_closed",
    "target": "target_hit",
    "stop": "stop_hit",
}


def _obj_id(data: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = data.get(name)
        if isinstance(value, dict):
            value = value.get("id")
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and value > 0:
            return value
        if isinstance(value, str) and value.isdigit() and 0 < int(value) < 2**63:
            return int(value)
    return None


def _line_event(data: dict[str, Any]) -> str:
    inner = data.get("data")
    return str(inner.get("event") or "") if isinstance(inner, dict) else ""


def _is_paper_line(data: dict[str, Any]) -> bool:
    event = _line_event(data)
    if event and event != Event.RECORDED:
        return False
    return str(data.get("kind") or "") in PAPER_KINDS and not data.get("trader_id")


def worth_evaluating(event_type: str, data: dict[str, Any]) -> bool:
    """A cheap look at the payload so most events never leave the publishing process."""
    if event_type == "fill":
        return True
    if event_type == "order":
        status = str(data.get("status") or "").lower()
        return (not status) or status in FAILED_ORDER_STATUSES or bool(data.get("reject_reason"))
    if event_type == "log":
        # A trader's entries and exits are told from its fills; only named events and a
        # recorder's paper trades go further.
        return _line_event(data) in LOG_EVENTS or _is_paper_line(data)
    return False


def on_event(user_id: int, event_type: str, data: dict[str, Any]) -> None:
    """The realtime listener: enqueue the evaluation of events that may notify."""
    if not worth_evaluating(event_type, data):
        return
    # By name (the task module imports this one); retry=False: with Redis down, publishing
    # must not stall the trading path.
    try:
        enqueue("notifications.tasks.evaluate_event", user_id, event_type, data)
    except Exception as exc:  # noqa: BLE001 - a notification is never worth failing a trade
        logger.warning(
            "notification rules not run for %s event of user %s: %s", event_type, user_id, exc
        )


def evaluate_event(user_id: int, event_type: str, data: dict[str, Any]) -> list:
    """Turn one event into notifications (returns those created now)."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None or not isinstance(data, dict):
        return []
    handler = {"fill": _on_fill, "order": _on_order, "log": _on_log}.get(event_type)
    return handler(user, data) if handler else []


# --- fills --------------------------------------------------------------------------------
def _fill_labels(fill) -> tuple[str, str]:
    trader = fill.trader if fill.trader_id else None
    if trader is None and fill.order_id and fill.order.trader_id:
        trader = fill.order.trader
    strategy = trader.strategy.name if trader is not None else ""
    return fill.broker_account.name, strategy


def _on_fill(user, data: dict[str, Any]) -> list:

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
    reason = order.reject_reason or order.status
    return _order_failed(
        user,
        key=f"order_failed:order:{order.pk}",
        strategy=order.trader.strategy.name if order.trader_id else "",
        account=order.broker_account.name,
        summary=f"{order.action} {order.quantity} {order.symbol} {order.order_type}",
        reason=f"{reason}: {order.text}" if order.text and order.text != reason else reason,
    )


def _order_failed(user, *, key, strategy, account, summary, reason) -> list:
    fields = [("Account", account or "—")]
    if strategy:
        fields.append(("Strategy", strategy))
    message = msg.Message(
        title="⚠️ Order failed",
        description=f"{summary}\n{reason}"[:1000] if summary else str(reason)[:1000],
        fields=fields,
        color=msg.RED,
        path="/control-center/",
    )
    return notification_notify(user=user, kind="order_failed", dedupe_key=key, message=message)


# --- timeline lines --------------------------------------------------------------------------
class Line:
    """One timeline line with what the rules need of it, read once."""

    def __init__(self, log):
        self.log = log
        self.data = log.data if isinstance(log.data, dict) else {}
        self.strategy = log.strategy.name if log.strategy_id else ""
        self.account = log.trader.broker_account.name if log.trader_id else ""

    def get(self, name: str, default: Any = "") -> Any:
        value = self.data.get(name)
        return default if value in (None, "") else value

    def where(self) -> list[tuple[str, str]]:
        fields = []
        account = self.get("account") or self.account
        if account:
            fields.append(("Account", str(account)))
        if self.strategy:
            fields.append(("Strategy", self.strategy))
        return fields


def _local_day(user) -> str:
    return timezone.now().astimezone(user_zone(user)).date().isoformat()


def _money_or_dash(value, *, signed: bool = True) -> str:
    try:
        return msg.money(value, signed=signed)
    except (InvalidOperation, ValueError, TypeError):
        return str(value) if value not in (None, "") else "—"


def _tell(user, kind: str, key: str, message: msg.Message) -> list:
    return notification_notify(user=user, kind=kind, dedupe_key=key, message=message)


def _alert_rejected(user, line: Line) -> list:
    reason = str(line.get("reason", "The alert could not be read."))
    window = int(line.log.created_at.timestamp() // ALERT_REJECTED_WINDOW.total_seconds())
    digest = hashlib.sha1(reason.encode(), usedforsecurity=False).hexdigest()[:12]
    signal_id = line.get("signal_id") or line.log.signal_id
    fields = line.where() + ([("Signal", f"#{signal_id}")] if signal_id else [])
    return _tell(
        user,
        "alert_rejected",
        f"alert_rejected:{line.log.strategy_id}:{digest}:{window}",
        msg.Message(
            title=f"🚫 Alert rejected{' · ' + line.strategy if line.strategy else ''}",
            description=f"{reason}\nTradingView was told why; fix the alert's message or URL.",
            fields=fields,
            color=msg.RED,
            path=f"/strategies/{line.log.strategy_id}/signals/" if line.log.strategy_id else "/",
            timestamp=line.log.created_at,
        ),
    )


def _not_sent(user, line: Line, *, key: str, title: str, description: str) -> list:
    """A signal nothing was sent for (too old, or superseded): one "signal dropped" kind."""
    signal_id = line.get("signal_id") or line.log.signal_id
    return _tell(
        user,
        "signal_dropped",
        f"signal_dropped:{key}",
        msg.Message(
            title=f"{title}{' · ' + line.strategy if line.strategy else ''}",
            description=description,
            fields=line.where() + ([("Signal", f"#{signal_id}")] if signal_id else []),
            color=msg.YELLOW,
            path="/control-center/",
            timestamp=line.log.created_at,
        ),
    )


def _signal_dropped(user, line: Line) -> list:
    age = line.get("age_seconds")
    signal_id = line.get("signal_id") or line.log.signal_id
    late = f" (it arrived {age}s after it was sent)" if age != "" else ""
    return _not_sent(
        user,
        line,
        key=str(signal_id or f"log{line.log.pk}"),
        title="⏱️ Signal dropped",
        description=f"{line.get('reason', 'Too old to trade')}{late}. No order was sent.",
    )


def _execution_superseded(user, line: Line) -> list:
    """A signal's execution came back after a later signal of its account ran."""
    return _not_sent(
        user,
        line,
        key=f"superseded:{line.get('execution_id') or line.log.pk}",
        title="⏭️ Signal skipped",
        description=f"{line.log.message}\nNo order was sent for it.",
    )


def _order_failed_line(user, line: Line) -> list:
    order_id = _obj_id(line.data, "order_id")
    if order_id:
        key = f"order_failed:order:{order_id}"
    elif line.log.signal_id and line.log.trader_id:
        key = f"order_failed:signal:{line.log.signal_id}:trader:{line.log.trader_id}"
    else:
        key = f"order_failed:log:{line.log.pk}"
    reason, text = str(line.get("reason")), str(line.get("text"))
    told = f"{reason}: {text}" if reason and text and text != reason else (reason or text)
    return _order_failed(
        user,
        key=key,
        strategy=line.strategy,
        account=str(line.get("account") or line.account),
        summary="",
        reason=told or line.log.message,
    )


def _exit_filled(user, line: Line) -> list:
    """TARGET_FILLED / STOP_FILLED: told once per exit order, with the P&L when the fill that
    closed the position is on record (the same key as the fill rule, whichever comes first)."""

    kind = "target_hit" if line.get("event") == Event.TARGET_FILLED else "stop_hit"
    order_id = _obj_id(line.data, "order_id")
    if order_id:
        fill = (
            Fill.objects.filter(user=user, order_id=order_id).order_by("-timestamp", "-id").first()
        )
        if fill is not None:
            told = _on_fill(user, {"id": fill.pk})
            if told:
                return told
    icon, label = ("🎯", "Target hit") if kind == "target_hit" else ("🛑", "Stop hit")
    price, qty = line.get("price"), line.get("qty")
    return _tell(
        user,
        kind,
        f"{kind}:order:{order_id}" if order_id else f"{kind}:log:{line.log.pk}",
        msg.Message(
            title=f"{icon} {label}{' · ' + line.strategy if line.strategy else ''}",
            description=line.log.message,
            fields=line.where()
            + ([("Qty", str(qty))] if qty != "" else [])
            + ([("Price", msg.price(price))] if price != "" else []),
            color=msg.GREEN if kind == "target_hit" else msg.RED,
            path="/control-center/",
            timestamp=line.log.created_at,
        ),
    )


def _protection_lost(user, line: Line) -> list:
    return _tell(
        user,
        "protection_lost",
        f"protection_lost:log:{line.log.pk}",
        msg.Message(
            title=f"🛡️ Stop lost{' · ' + line.strategy if line.strategy else ''}",
            description=f"{line.log.message}\nCheck the position in the Control Center.",
            fields=line.where(),
            color=msg.RED,
            path="/control-center/",
            timestamp=line.log.created_at,
        ),
    )


def _daily_limit(user, line: Line) -> list:
    loss = line.get("event") == Event.DAILY_LOSS_LIMIT
    kind = "daily_loss_limit" if loss else "daily_profit_target"
    amount = line.get("limit") if loss else line.get("target")
    who = line.log.trader_id or line.get("account") or line.log.strategy_id
    title = "⛔ Daily loss limit reached" if loss else "🏆 Daily profit target reached"
    what = "limit" if loss else "target"
    return _tell(
        user,
        kind,
        f"{kind}:{who}:{_local_day(user)}",
        msg.Message(
            title=title,
            description=f"Today's P&L {_money_or_dash(line.get('pnl'))} reached the {what} of "
            f"{_money_or_dash(amount, signed=False)}: no new entries today.",
            fields=line.where()
            + [
                ("Limit" if loss else "Target", _money_or_dash(amount, signed=False)),
                ("P&L", _money_or_dash(line.get("pnl"))),
            ],
            color=msg.RED if loss else msg.GREEN,
            path="/traders/",
            timestamp=line.log.created_at,
        ),
    )


def _connection(user, connection_id):

    if not connection_id:
        return None
    return BrokerConnection.objects.filter(user=user, pk=connection_id).first()


def _trading_paused(user, line: Line) -> list:
    connection_id = _obj_id(line.data, "connection_id")
    connection = _connection(user, connection_id)
    label = connection.label if connection else "your broker login"
    since = connection.paused_at.isoformat() if connection and connection.paused_at else ""
    return _tell(
        user,
        "trading_paused",
        f"trading_paused:{connection_id}:{since or _local_day(user)}",
        msg.Message(
            title=f"⏸️ Trading paused · {label}",
            description=f"{line.get('reason', 'The broker asked for a CAPTCHA')}. No order is "
            "sent until you log in once at trader.tradovate.com (solve the CAPTCHA) and resume "
            "in Account Management.",
            fields=[("Connection", label)],
            color=msg.RED,
            path="/broker-accounts/",
            timestamp=line.log.created_at,
        ),
    )


def _connection_failed(user, line: Line) -> list:
    login = line.get("event") == Event.BROKER_LOGIN_FAILED
    kind = "broker_login_failed" if login else "account_refresh_failed"
    connection = _connection(user, _obj_id(line.data, "connection_id"))
    label = connection.label if connection else "a broker connection"
    return _tell(
        user,
        kind,
        f"{kind}:log:{line.log.pk}",  # the emitter writes a line only when it is news
        msg.Message(
            title=f"{'🔑 Broker login failed' if login else '🔄 Account refresh failed'} · {label}",
            description=str(line.get("error", line.log.message)),
            fields=[("Connection", label), ("Why", str(line.get("code", "—")))],
            color=msg.RED if login else msg.YELLOW,
            path=f"/broker-accounts/{connection.pk}/edit/" if connection else "/broker-accounts/",
            timestamp=line.log.created_at,
        ),
    )


def _recorder_unreadable(user, line: Line) -> list:
    recorder_id = _obj_id(line.data, "recorder_id")
    return _tell(
        user,
        "recorder_account_unreadable",
        f"recorder_account_unreadable:{recorder_id}:{_local_day(user)}",
        msg.Message(
            title=f"📼 Recorder cannot read its account{' · ' + line.strategy if line.strategy else ''}",
            description=str(line.get("error", line.log.message)),
            fields=line.where(),
            color=msg.YELLOW,
            path=f"/recorders/{recorder_id}/" if recorder_id else "/recorders/",
            timestamp=line.log.created_at,
        ),
    )


def _mismatch_text(item: Any) -> str:
    if isinstance(item, dict):
        symbol = item.get("symbol") or item.get("contract") or "?"
        broker = item.get("broker", item.get("broker_net"))
        expected = item.get("expected", item.get("expected_net"))
        if broker is not None or expected is not None:
            return f"{symbol}: broker {broker}, expected {expected}"
        return ", ".join(f"{k} {v}" for k, v in item.items())
    return str(item)


def _drift(user, line: Line) -> list:
    mismatches = line.get("mismatches", [])
    if not isinstance(mismatches, list):
        mismatches = [mismatches]
    text = "\n".join(_mismatch_text(m) for m in mismatches[:10]) or line.log.message
    target = line.log.trader_id or f"strategy{line.log.strategy_id}"
    return _tell(
        user,
        "drift",
        f"drift:{target}:{_local_day(user)}",
        msg.Message(
            title="🧭 Position drift detected",
            description=f"{text}\nThe broker's position differs from what the strategy expects.",
            fields=line.where(),
            color=msg.YELLOW,
            path="/control-center/",
            timestamp=line.log.created_at,
        ),
    )


LOG_EVENTS = {
    Event.ALERT_REJECTED: _alert_rejected,
    Event.SIGNAL_DROPPED: _signal_dropped,
    Event.EXECUTION_SUPERSEDED: _execution_superseded,
    Event.ORDER_FAILED: _order_failed_line,
    Event.TARGET_FILLED: _exit_filled,
    Event.STOP_FILLED: _exit_filled,
    Event.PROTECTION_LOST: _protection_lost,
    Event.PROTECTION_REPLACED: _protection_lost,
    Event.DAILY_LOSS_LIMIT: _daily_limit,
    Event.DAILY_PROFIT_TARGET: _daily_limit,
    Event.TRADING_PAUSED: _trading_paused,
    Event.BROKER_LOGIN_FAILED: _connection_failed,
    Event.ACCOUNT_REFRESH_FAILED: _connection_failed,
    Event.RECORDER_ACCOUNT_UNREADABLE: _recorder_unreadable,
    Event.DRIFT: _drift,
}


def _on_log(user, data: dict[str, Any]) -> list:

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
    line = Line(log)
    handler = LOG_EVENTS.get(line.get("event"))
    if handler is not None:
        return handler(user, line)
    if _is_paper_line({"kind": log.kind, "trader_id": log.trader_id, "data": line.data}):
        return _paper(user, line)
    return []


def _paper(user, line: Line) -> list:
    log, extra = line.log, line.data
    if not notification_preference_get(user=user).include_paper:
        return []
    kind = PAPER_KINDS[log.kind]
    pnl = extra.get("net_pnl", extra.get("pnl"))
    pnl_text = f" {msg.money(pnl)}" if pnl not in (None, "") and kind != "position_opened" else ""
    icon = {
        "position_opened": "🟢",
        "position_closed": "🏁",
        "target_hit": "🎯",
        "stop_hit": "🛑",
    }[kind]
    label = msg.KINDS[kind].label.replace(" (with P&L)", "")
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
        title=f"📝 Recorded · {icon} {label}{pnl_text}",
        description=f"{line.strategy}: {log.message}" if line.strategy else log.message,
        fields=fields,
        color=msg.pnl_color(pnl) if pnl_text else msg.BLUE,
        path=f"/recorders/{log.strategy.recorder.pk}/" if _has_recorder(log) else "/recorders/",
        timestamp=log.created_at,
    )
    return _tell(user, kind, f"paper:{log.pk}", message)


def _has_recorder(log) -> bool:
    try:
        return bool(log.strategy_id and log.strategy.recorder)
    except Exception:  # noqa: BLE001 - RelatedObjectDoesNotExist: a strategy without recorder
        return False
