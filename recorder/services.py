"""Recorder services (the paper track record).

Writes only. Every change a user can see is published after commit as a live event
(``recorder``, ``position``, ``log``).

Callers elsewhere:
- ``strategies`` calls :func:`recorder_create` for a new strategy and
  :func:`recorder_record_signal` for each processed signal;
- ``traders`` writes the strategy timeline with :func:`strategy_log`;
- ``manage.py recorder_quotes`` feeds quotes to :func:`recorder_apply_quote`;
- beat / ``manage.py poll_recorders`` call :func:`recorder_poll_account`.

One file for one idea, the recorder's writes: booking decisions, quotes and polls all go through
the same load–apply–save of a paper position.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.brokers import sessions
from accounts.brokers.base import BrokerError
from accounts.brokers.factory import broker_for
from accounts.brokers.symbols import UnknownSymbol, contract_from_name, resolve_symbol
from justtrades.api import ApplicationError
from justtrades.realtime import publish
from justtrades.timeline import Event, timeline_write
from recorder.ledger import (
    PRICE_PLACES,
    Basis,
    Instrument,
    Position,
    Quote,
    Reason,
    Result,
    WorkingEntry,
    market_fill,
)
from recorder.marketdata import current_quote
from recorder.models import RecordedFill, RecordedPosition, RecordedTrade, Recorder, StrategyLog
from recorder.selectors import recorded_open_pnl, recorder_stats
from strategies.exits import exit_rules_for
from strategies.models import Signal
from strategies.outcome import strategy_position_after_exit
from strategies.parsing import Intent

logger = logging.getLogger(__name__)

# Signals already applied to a position, remembered so a retried task never fills twice.
REMEMBERED_SIGNALS = 200
# The quote process writes a position's excursions / last price at most this often.
QUOTE_SAVE_INTERVAL = timedelta(seconds=1)

UPDATABLE_FIELDS = (
    "source",
    "broker_account",
    "fill_mode",
    "commission_per_side",
    "poll_interval_seconds",
    "symbols",
)


def _jsonable(data: Any) -> Any:
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _money(value: Decimal) -> str:
    sign = "-" if value < 0 else "+"
    return f"{sign}${abs(value):,.2f}"


def _price(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value.quantize(PRICE_PLACES).normalize():f}"


# --- the strategy timeline ---------------------------------------------------------------------


# --- recorder life cycle -----------------------------------------------------------------------


def recorder_event_data(recorder: Recorder, *, deleted: bool = False) -> dict[str, Any]:

    data: dict[str, Any] = {
        "id": recorder.pk,
        "strategy_id": recorder.strategy_id,
        "running": recorder.running,
        "source": recorder.source,
        "deleted": deleted,
    }
    if not deleted:
        data["stats"] = recorder_stats(recorders=[recorder]).get(recorder.pk, {})
        data["last_error"] = recorder.last_error
    return data


def _publish_recorder(recorder: Recorder, *, deleted: bool = False) -> None:
    publish(recorder.user_id, "recorder", recorder_event_data(recorder, deleted=deleted))


def _clean_symbols(text: str) -> str:
    names = [s.strip() for s in (text or "").replace(";", ",").split(",") if s.strip()]
    for name in names:
        try:
            resolve_symbol(name)
        except UnknownSymbol as exc:
            raise ApplicationError(str(exc), extra={"field": "symbols"}) from None
    return ", ".join(names)


def _validate(recorder: Recorder) -> None:
    if recorder.source not in Recorder.Source.values:
        raise ApplicationError(f"Unknown source {recorder.source!r}.", extra={"field": "source"})
    if recorder.fill_mode not in Recorder.FillMode.values:
        raise ApplicationError(
            f"Unknown fill mode {recorder.fill_mode!r}.", extra={"field": "fill_mode"}
        )
    try:
        commission = Decimal(recorder.commission_per_side)
    except (InvalidOperation, TypeError, ValueError):
        raise ApplicationError(
            "Commission must be a number.", extra={"field": "commission_per_side"}
        ) from None
    if commission < 0 or commission >= 1000:
        raise ApplicationError(
            "Commission per contract per side must be between $0 and $999.99.",
            extra={"field": "commission_per_side"},
        )
    if not 5 <= int(recorder.poll_interval_seconds) <= 86_400:
        raise ApplicationError(
            "Poll interval must be between 5 seconds and one day.",
            extra={"field": "poll_interval_seconds"},
        )
    if recorder.broker_account_id is not None:
        account = recorder.broker_account
        if account.connection.user_id != recorder.user_id:
            raise ApplicationError("Broker account not found.", extra={"field": "broker_account"})
    if recorder.source == Recorder.Source.ACCOUNT and recorder.broker_account_id is None:
        raise ApplicationError(
            "A recorder that follows an account needs a broker account.",
            extra={"field": "broker_account"},
        )
    recorder.symbols = _clean_symbols(recorder.symbols)


def _recorder_line(recorder: Recorder, kind: str, message: str, *, signal=None, **data) -> None:
    """One line of the recorder on its strategy's timeline (tagged with the recorder's id)."""
    timeline_write(
        user=recorder.user_id,
        strategy=recorder.strategy_id,
        signal=signal,
        kind=kind,
        message=message,
        data={"recorder_id": recorder.pk, **data},
    )


@transaction.atomic
def recorder_create(
    *,
    strategy,
    source: str = Recorder.Source.SIGNALS,
    broker_account=None,
    fill_mode: str = Recorder.FillMode.MARKET,
    commission_per_side: Decimal = Decimal("0"),
    poll_interval_seconds: int = 60,
    symbols: str = "",
    running: bool = True,
) -> Recorder:
    """The recorder of ``strategy``, running by default. One per strategy: when the strategy
    already has one, it is returned unchanged (so calling this twice is safe)."""
    existing = Recorder.objects.filter(strategy=strategy).first()
    if existing is not None:
        return existing
    now = timezone.now()
    recorder = Recorder(
        user_id=strategy.user_id,
        strategy=strategy,
        source=source,
        broker_account=broker_account,
        fill_mode=fill_mode,
        commission_per_side=commission_per_side,
        poll_interval_seconds=poll_interval_seconds,
        symbols=symbols,
        running=running,
        started_at=now if running else None,
    )
    _validate(recorder)
    recorder.save()
    _recorder_line(
        recorder,
        StrategyLog.Kind.INFO,
        f"Recorder created ({'running' if running else 'stopped'}, "
        f"{recorder.get_source_display().lower()}).",
    )
    _publish_recorder(recorder)
    return recorder


@transaction.atomic
def recorder_update(*, recorder: Recorder, **changes: Any) -> Recorder:
    """Change a recorder's settings (see ``UPDATABLE_FIELDS``)."""
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise ApplicationError(f"Cannot change {', '.join(sorted(unknown))}.")
    recorder = Recorder.objects.select_for_update().get(pk=recorder.pk)
    new_source = changes.get("source", recorder.source)
    if new_source != recorder.source and recorder.positions.exclude(net_pos=0).exists():
        raise ApplicationError(
            "The recorder has an open position: flatten it before changing its source.",
            extra={"field": "source"},
        )
    window_moves = new_source != recorder.source or (
        "broker_account" in changes
        and getattr(changes["broker_account"], "pk", None) != recorder.broker_account_id
    )
    for name, value in changes.items():
        setattr(recorder, name, value)
    _validate(recorder)
    if window_moves and recorder.running:
        # A different account (or source) is a new recording window.
        recorder.started_at = timezone.now()
    recorder.save()
    _publish_recorder(recorder)
    return recorder


@transaction.atomic
def recorder_start(*, recorder: Recorder) -> Recorder:
    """Start recording (a no-op when running). A new recording window starts now."""
    recorder = Recorder.objects.select_for_update().get(pk=recorder.pk)
    if recorder.running:
        return recorder
    recorder.running = True
    recorder.started_at = timezone.now()
    recorder.stopped_at = None
    recorder.last_error = ""
    recorder.save(update_fields=["running", "started_at", "stopped_at", "last_error", "updated_at"])
    _recorder_line(recorder, StrategyLog.Kind.INFO, "Recorder started.")
    _publish_recorder(recorder)
    return recorder


@transaction.atomic
def recorder_stop(*, recorder: Recorder) -> Recorder:
    """Stop recording: signals, quotes and account fills are ignored until it starts again.
    An open paper position is kept as it is (flatten it first to close it)."""
    recorder = Recorder.objects.select_for_update().get(pk=recorder.pk)
    if not recorder.running:
        return recorder
    recorder.running = False
    recorder.stopped_at = timezone.now()
    recorder.save(update_fields=["running", "stopped_at", "updated_at"])
    _recorder_line(recorder, StrategyLog.Kind.INFO, "Recorder stopped.")
    _publish_recorder(recorder)
    return recorder


@transaction.atomic
def recorder_delete(*, recorder: Recorder) -> None:
    """Delete a recorder and its whole track record."""
    recorder_id, user_id, strategy_id = recorder.pk, recorder.user_id, recorder.strategy_id
    recorder.delete()
    publish(user_id, "recorder", {"id": recorder_id, "strategy_id": strategy_id, "deleted": True})


# --- positions ---------------------------------------------------------------------------------


def _instrument(symbol: str, state: dict | None = None) -> Instrument:
    state = state or {}
    if state.get("tick_size") and state.get("point_value"):
        return Instrument(symbol, Decimal(state["tick_size"]), Decimal(state["point_value"]))
    return Instrument.from_contract(contract_from_name(symbol))


def _basis(recorder: Recorder) -> str:
    bid_ask = (Recorder.FillMode.NEXT_QUOTE, Recorder.FillMode.MARKET)
    return Basis.BID_ASK if recorder.fill_mode in bid_ask else Basis.TRADE


def _paper_rules(recorder: Recorder) -> tuple[int, bool]:
    """(slippage ticks, partial fills) of a recorder that fills as the paper broker does."""
    if recorder.fill_mode != Recorder.FillMode.MARKET or recorder.source != Recorder.Source.SIGNALS:
        return 0, False
    return int(settings.PAPER_SLIPPAGE_TICKS), bool(settings.PAPER_PARTIAL_FILLS)


def _load(
    row: RecordedPosition, recorder: Recorder, instrument: Instrument | None = None
) -> Position:
    position = Position.from_state(
        instrument=instrument or _instrument(row.symbol, row.state),
        net_pos=row.net_pos,
        opened_at=row.opened_at,
        state=row.state or {},
        commission_per_side=recorder.commission_per_side,
    )
    position.basis = _basis(recorder)
    position.partial_fills = _paper_rules(recorder)[1]
    return position


def _save(row: RecordedPosition, position: Position, *, signal_id: int | None = None) -> None:
    remembered = list((row.state or {}).get("signals", []))
    if signal_id is not None:
        remembered = (remembered + [signal_id])[-REMEMBERED_SIGNALS:]
    extra = {k: v for k, v in (row.state or {}).items() if k in ("drift",)}
    row.state = {**position.to_state(), **extra, "signals": remembered}
    row.net_pos = position.net_pos
    avg = position.avg_price
    row.avg_price = Decimal(0) if avg is None else avg.quantize(PRICE_PLACES)
    row.opened_at = position.opened_at
    row.last_price = position.last_price
    row.open_pnl = position.open_pnl()
    row.save(
        update_fields=[
            "state",
            "net_pos",
            "avg_price",
            "opened_at",
            "last_price",
            "open_pnl",
            "updated_at",
        ]
    )


def _position_row(recorder: Recorder, symbol: str) -> RecordedPosition:
    try:
        row, _ = RecordedPosition.objects.get_or_create(recorder=recorder, symbol=symbol)
    except IntegrityError:  # created concurrently
        row = RecordedPosition.objects.get(recorder=recorder, symbol=symbol)
    return row


def position_event_data(row: RecordedPosition, recorder: Recorder) -> dict[str, Any]:
    levels = (row.state or {}).get("levels")
    try:
        position = _load(row, recorder)
        levels = {k: (None if v is None else str(v)) for k, v in position.levels().items()}
    except (UnknownSymbol, ValueError, InvalidOperation):
        pass
    return {
        "recorder_id": recorder.pk,
        "strategy_id": recorder.strategy_id,
        "id": row.pk,
        "symbol": row.symbol,
        "net_pos": row.net_pos,
        "side": "long" if row.net_pos > 0 else "short" if row.net_pos < 0 else "flat",
        "avg_price": row.avg_price if row.net_pos else None,
        "opened_at": row.opened_at,
        "last_price": row.last_price,
        "open_pnl": recorded_open_pnl(row),
        "levels": levels or {},
        "source": "recorder",
    }


def _store_trades(recorder: Recorder, trades, *, signal=None) -> list[RecordedTrade]:
    stored = []
    for t in trades:
        stored.append(
            RecordedTrade.objects.create(
                recorder=recorder,
                symbol=t.symbol,
                side=t.side,
                quantity=t.quantity,
                entry_time=t.entry_time,
                exit_time=t.exit_time,
                entry_price=t.entry_price,
                exit_price=t.exit_price,
                points=t.points,
                ticks=t.ticks,
                pnl=t.pnl,
                commission=t.commission,
                net_pnl=t.net_pnl,
                mae=t.mae,
                mfe=t.mfe,
                exit_reason=t.exit_reason,
                signal=signal,
            )
        )
    return stored


EXIT_LOG_KIND = {
    Reason.TARGET: StrategyLog.Kind.TARGET,
    Reason.STOP: StrategyLog.Kind.STOP,
    Reason.TRAILING: StrategyLog.Kind.STOP,
    Reason.BREAK_EVEN: StrategyLog.Kind.STOP,
}


def _log_result(
    recorder: Recorder, result: Result, stored: list[RecordedTrade], *, signal=None, how: str = ""
) -> None:
    trades = iter(stored)
    prefix = "Account" if recorder.source == Recorder.Source.ACCOUNT else "Recorded"
    for action in result.actions:
        where = f"{action.quantity} {action.symbol} @ {_price(action.price)}"
        if action.kind in ("entry", "add"):
            message = f"{prefix} {action.kind}: {action.side} {where}"
            if how:
                message += f" ({how})"
            if action.kind == "add":
                message += f"; now {action.side} {abs(action.net_pos)}"
            timeline_write(
                user=recorder.user_id,
                strategy=recorder.strategy_id,
                signal=signal,
                kind=StrategyLog.Kind.ENTRY if action.kind == "entry" else StrategyLog.Kind.ADD,
                message=message,
                data={
                    "recorder_id": recorder.pk,
                    "action": "Buy" if action.side == "long" else "Sell",
                    "side": action.side,
                    "quantity": action.quantity,
                    "price": action.price,
                    "net_pos": action.net_pos,
                },
            )
            continue
        trade = next(trades, None)
        label = (
            RecordedTrade.ExitReason(action.reason).label
            if action.reason in RecordedTrade.ExitReason.values
            else action.reason
        )
        message = f"{prefix} exit ({label.lower()}): {action.side} {where}"
        data = {
            "recorder_id": recorder.pk,
            "action": "Sell" if action.side == "long" else "Buy",
            "reason": action.reason,
            "quantity": action.quantity,
            "price": action.price,
            "net_pos": action.net_pos,
        }
        if trade is not None:
            message += f", P&L {_money(trade.pnl)} (net {_money(trade.net_pnl)})"
            data.update(trade_id=trade.pk, pnl=trade.pnl, net_pnl=trade.net_pnl)
        timeline_write(
            user=recorder.user_id,
            strategy=recorder.strategy_id,
            signal=signal,
            kind=EXIT_LOG_KIND.get(action.reason, StrategyLog.Kind.EXIT),
            message=message,
            data=data,
        )


def _publish_position(row: RecordedPosition, recorder: Recorder, *, trades: bool) -> None:
    publish(recorder.user_id, "position", position_event_data(row, recorder))
    if trades:
        _publish_recorder(recorder)


def _record_error(recorder: Recorder, message: str, *, signal=None, data=None) -> None:
    logger.warning("recorder %s: %s", recorder.pk, message)
    Recorder.objects.filter(pk=recorder.pk).update(last_error=message[:1000])
    recorder.last_error = message
    _recorder_line(recorder, StrategyLog.Kind.ERROR, message, signal=signal, **(data or {}))


# --- the signals source ------------------------------------------------------------------------


def _contract_for(signal, intent, strategy):
    text = signal.contract or intent.symbol or signal.symbol or strategy.default_symbol
    return resolve_symbol(text, at=signal.received_at)


def _fill_price(
    recorder: Recorder, *, signal, intent, instrument: Instrument, quantity: int
) -> tuple[list[tuple[int, Decimal]], datetime, str, Quote | None]:
    """([(contracts, price)], time, how, the paper market's quote) of a virtual market fill of
    ``quantity`` contracts (signed), per the recorder's fill mode. The paper market: the
    user's own paper book at the touch plus the paper slippage (in lots of the book's size
    with partial fills), as the paper broker fills the same order; without one, the alert's
    price is the market."""
    buy = quantity > 0
    alert_price = intent.price if intent.price is not None else signal.price
    if recorder.fill_mode == Recorder.FillMode.ALERT_PRICE and alert_price:
        price = instrument.round_to_tick(Decimal(alert_price))
        return [(abs(quantity), price)], signal.received_at or timezone.now(), "alert price", None

    if recorder.fill_mode == Recorder.FillMode.MARKET:
        slippage, partial = _paper_rules(recorder)
        quote = None
        try:
            quote = current_quote(recorder, instrument.symbol)
            touch = quote.price_to_open(buy, Basis.BID_ASK)
            at, how = quote.at, "paper market"
            size = (quote.ask_size if buy else quote.bid_size) if partial else 0
        except BrokerError as exc:
            if not alert_price:
                raise
            touch, size = instrument.round_to_tick(Decimal(alert_price)), 0
            logger.info("recorder %s: no paper market for %s: %s", recorder.pk, instrument, exc)
            at, how = signal.received_at or timezone.now(), "alert price: no paper market"
        if touch is None:
            raise BrokerError(f"The quote of {instrument.symbol} has no price yet.")
        pieces = market_fill(
            quantity=quantity,
            touch=touch,
            instrument=instrument,
            slippage_ticks=slippage,
            size=size,
        )
        if slippage:
            how += f", {slippage} tick{'s' if slippage != 1 else ''} slippage"
        return pieces, at, how, quote
    quote = current_quote(recorder, instrument.symbol)
    basis = _basis(recorder)
    price = quote.price_to_open(buy, basis)
    if price is None:
        raise BrokerError(f"The quote of {instrument.symbol} has no price yet.")
    how = "next bid/ask" if basis == Basis.BID_ASK else "next trade"
    if recorder.fill_mode == Recorder.FillMode.ALERT_PRICE:
        how = "no alert price: next trade"
    return [(abs(quantity), price)], quote.at, how, None


def recorder_follow_decisions(*, strategy_id: int) -> int:
    """Book every decided signal of the strategy not yet on its record, in the order they were
    decided, whichever worker gets here first (the recorder's row lock orders them). Returns
    how many were booked. A stopped recorder passes over them: it records nothing it missed."""
    booked = 0
    with transaction.atomic():
        recorder = (
            Recorder.objects.select_for_update()
            .select_related("strategy")
            .filter(strategy_id=strategy_id)
            .first()
        )
        waiting = Signal.objects.filter(
            strategy_id=strategy_id,
            status__in=[Signal.Status.EXECUTING, Signal.Status.PROCESSED],
            recorded_at__isnull=True,
            target_position__isnull=False,
        ).order_by("processed_at", "id")
        for signal in waiting:
            if recorder is not None:
                recorder_record_signal(signal=signal, recorder=recorder)
                booked += 1
            Signal.objects.filter(pk=signal.pk).update(recorded_at=timezone.now())
    return booked


def recorder_record_signal(*, signal, recorder: Recorder | None = None) -> None:
    """Book a decided signal on its strategy's running recorder, if any: the position moves to
    the target the strategy's rules decided (``signal.target_position``), never a second
    decision. A target in a new front month first closes the months before it (the roll).

    Never raises for a bad signal or a missing quote: the failure is written to the strategy's
    log (and the recorder's ``last_error``). Recording the same signal twice changes nothing.
    """
    recorder = recorder or (
        Recorder.objects.select_related("strategy").filter(strategy_id=signal.strategy_id).first()
    )
    if recorder is None or not recorder.running or recorder.source != Recorder.Source.SIGNALS:
        return
    if signal.target_position is None or not signal.contract:
        return
    strategy = recorder.strategy
    try:
        intent = Intent.from_dict(signal.intent or {})
        contract = resolve_symbol(signal.contract)
    except (KeyError, TypeError, ValueError, InvalidOperation, UnknownSymbol) as exc:
        _record_error(recorder, f"Recorder could not read the signal: {exc}", signal=signal)
        return
    if intent.action == "cancel":  # working entries go, the position stays (as at the broker)
        row = recorder.positions.filter(symbol=contract.name).first()
        if row is not None:
            _cancel_working_entries(recorder, row, signal=signal)
        return
    closed = _paper_market_closed(recorder, contract.root)
    if closed:
        _recorder_line(
            recorder,
            StrategyLog.Kind.FILTERED,
            f"Recorder: {contract.name} is not trading: {closed}; the paper market "
            "fills nothing now, so the signal is not recorded.",
            signal=signal,
            reason="session_closed",
            session=closed,
        )
        return
    _roll_old_months(recorder, contract, signal)
    instrument = Instrument.from_contract(contract)
    row = _position_row(recorder, contract.name)
    if signal.pk in (row.state or {}).get("signals", []):
        return
    resting = _resting_entry_type(recorder, intent)
    plan = _record_plan(signal, _load(row, recorder, instrument), resting, intent.cancel_orders)
    if plan.nothing:
        return
    pieces, at, how, market, arrival = None, timezone.now(), "", None, None
    try:
        if plan.market:
            pieces, at, how, market = _fill_price(
                recorder, signal=signal, intent=intent, instrument=instrument, quantity=plan.market
            )
        if resting:
            arrival = market or current_quote(recorder, instrument.symbol)
    except BrokerError as exc:
        _record_error(
            recorder,
            f"Recorder: no price for {contract.name}, signal not recorded: {exc}",
            signal=signal,
        )
        return

    with transaction.atomic():
        row = RecordedPosition.objects.select_for_update().get(pk=row.pk)
        if signal.pk in (row.state or {}).get("signals", []):
            return
        position = _load(row, recorder, instrument)
        result = Result()
        if market is not None and (position.net_pos or position.working):
            # The alert moved the paper market before the orders went: what rests there (a
            # target, a stop, a working entry) matched that move first, as at the paper broker.
            result.extend(position.on_quote(market))
        planned, plan = plan, _record_plan(signal, position, resting, intent.cancel_orders)
        cancelled = position.cancel_working() if plan.cancel else []
        if plan.target != 0:
            position.exits = exit_rules_for(strategy, intent)
        if plan.market:
            if pieces is None or plan.market != planned.market:
                # An exit fired between the price and the fill: the rest at the same touch.
                touch = pieces[0][1] if pieces else _touch(recorder, instrument, plan.market)
                pieces = market_fill(quantity=plan.market, touch=touch, instrument=instrument)
            result.extend(
                position.fill(
                    quantity=plan.market, at=at, reason=_signal_reason(signal), lots=pieces
                )
            )
        refusal, placed = "", None
        if plan.entry and arrival is not None:
            placed = _working_entry(intent, resting, plan.entry, arrival, position, signal)
            filled, refusal = position.place_entry(placed, arrival)
            result.extend(filled)
            if filled.changed:
                how, placed = "limit marketable on arrival: the touch", None
            elif refusal:
                placed = None
        _save(row, position, signal_id=signal.pk)
        stored = _store_trades(recorder, result.trades, signal=signal)
        _log_working(recorder, signal, cancelled=cancelled, placed=placed, refusal=refusal)
        _log_result(recorder, result, stored, signal=signal, how=how)
        if recorder.last_error:
            Recorder.objects.filter(pk=recorder.pk).update(last_error="")
            recorder.last_error = ""
        _publish_position(row, recorder, trades=bool(stored))


RESTING_ENTRY_TYPES = ("limit", "stop", "stop_limit")


def _resting_entry_type(recorder: Recorder, intent: Intent) -> str:
    """The type of an entry that works until the market reaches it ("" for a market entry);
    in the alert-price mode every fill is at the alert's price, limit and stop included."""
    if recorder.fill_mode == Recorder.FillMode.ALERT_PRICE:
        return ""
    return intent.order_type if intent.order_type in RESTING_ENTRY_TYPES else ""


@dataclass(frozen=True)
class _RecordPlan:
    """What a signal does to one recorded position: the target, whether the working entries
    are cancelled, the contracts filled at the market now and those of a new working entry."""

    target: int
    cancel: bool
    market: int
    entry: int

    @property
    def nothing(self) -> bool:
        return not (self.cancel or self.market or self.entry)


def _record_plan(signal, position: Position, resting: str, cancel_orders: bool) -> _RecordPlan:
    """As the broker does it: working entries count in what is held; an exit, a flatten, a
    reversal or a cancel cancels them (a liquidation cancels the contract's working orders);
    a limit or stop entry's opening contracts work, a reversal's closing part fills at once."""
    held = position.net_pos + position.working_quantity
    target = _recorded_target(signal, held)
    cancel = bool(position.working) and (
        cancel_orders or target == 0 or _sign(target) != _sign(held)
    )
    if cancel:
        held = position.net_pos
    opening = bool(resting) and target != 0 and (target - held) * _sign(target) > 0
    if not opening:
        return _RecordPlan(target, cancel, target - held, 0)
    net = position.net_pos
    closing = -net if net and _sign(net) != _sign(target) else 0
    return _RecordPlan(target, cancel, closing, target - held - closing)


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _signal_reason(signal) -> str:
    return Reason.SESSION_END if getattr(signal, "origin", "") == "auto_flatten" else Reason.SIGNAL


def _touch(recorder: Recorder, instrument: Instrument, quantity: int) -> Decimal:
    """The price a market order of ``quantity`` would meet now (a rare re-read under the lock:
    the position changed between the unlocked plan and the fill)."""
    price = current_quote(recorder, instrument.symbol).price_to_open(quantity > 0, _basis(recorder))
    if price is None:
        raise BrokerError(f"The quote of {instrument.symbol} has no price yet.")
    return price


def _working_entry(intent, resting: str, quantity: int, arrival: Quote, position, signal):
    rnd = position.instrument.round_to_tick
    return WorkingEntry(
        quantity=quantity,
        order_type=resting,
        placed_at=arrival.at,
        limit=None if intent.limit_price is None else rnd(Decimal(intent.limit_price)),
        stop=None if intent.stop_price is None else rnd(Decimal(intent.stop_price)),
        exits=position.exits,
        signal_id=signal.pk,
    )


def _log_working(recorder: Recorder, signal, *, cancelled, placed, refusal: str) -> None:
    """The working entries a signal cancelled, placed or had refused, on the strategy's log."""
    lines = [
        (StrategyLog.Kind.ORDER, f"Recorded: working {e.describe()} cancelled.", "cancelled")
        for e in cancelled
    ]
    if placed is not None:
        lines.append(
            (
                StrategyLog.Kind.ORDER,
                f"Recorded: {placed.describe()} working; it fills when the market reaches it.",
                "working",
            )
        )
    if refusal:
        lines.append((StrategyLog.Kind.FILTERED, f"Recorded: {refusal}.", "refused"))
    for kind, message, state in lines:
        _recorder_line(recorder, kind, message, signal=signal, working_entry=state)


def _recorded_target(signal, recorded: int) -> int:
    """The paper position after the signal: the strategy's target when the record holds what
    the strategy held before it; a record that missed signals (it was stopped) books only this
    signal's change, never fills it did not see."""
    before = signal.from_position
    if before is None or recorded == before or signal.target_position == 0:
        return signal.target_position
    return recorded + (signal.target_position - before)


def _exchange_now() -> datetime:
    return timezone.now()


def _paper_market_closed(recorder: Recorder, root: str) -> str:
    """Why the paper market fills nothing now ("" when it trades): CME Globex is closed and
    the paper broker enforces the session, as an exchange does."""
    if recorder.fill_mode != Recorder.FillMode.MARKET or not settings.PAPER_ENFORCE_SESSIONS:
        return ""
    state = sessions.session_state(root, _exchange_now())
    if state.open:
        return ""
    reopens = f" (it reopens at {sessions.local(state.opens_at)})" if state.opens_at else ""
    return f"{state.reason}{reopens}"


def _roll_old_months(recorder: Recorder, contract, signal) -> None:
    """Positions of the same product in other contract months close at their last price."""
    for row in recorder.positions.in_the_market().exclude(symbol=contract.name):
        if _root_of(row.symbol) != contract.root:
            continue
        recorder_flatten_row(recorder=recorder, row=row, reason=Reason.SIGNAL, signal=signal)


# --- quotes: exits and open P&L ----------------------------------------------------------------


def _quote_changes_state(before: dict, position: Position, row: RecordedPosition) -> bool:
    """Whether a quote that closed nothing is still worth a write."""
    after = position.to_state()
    for old, new, lot in zip(before.get("lots", []), after["lots"], position.lots, strict=False):
        if old.get("break_even_armed") != new["break_even_armed"]:
            return True
        if lot.exits.trailing_stop and old.get("best_price") != new["best_price"]:
            return True
        if old.get("mae") != new["mae"] or old.get("mfe") != new["mfe"]:
            return True  # the state is re-read for every quote: an unsaved extreme would be lost
    if before.get("last_price") == after["last_price"]:
        return False
    return timezone.now() - row.updated_at >= QUOTE_SAVE_INTERVAL


def recorder_apply_quote(
    *, symbol: str, quote: Quote, recorder_ids: set[int] | None = None
) -> list[RecordedTrade]:
    """Apply one quote of ``symbol`` to every open position of a running recorder (of
    ``recorder_ids`` when given: the recorders that read the market this quote came from).

    Fires targets, stops, trailing and break-even exits; keeps open P&L and MAE/MFE. The
    decision is made on an unlocked read and redone under a row lock before anything is
    written, so a signal arriving meanwhile is never overwritten.
    """
    stored_all: list[RecordedTrade] = []
    rows = (
        RecordedPosition.objects.filter(symbol=symbol, recorder__running=True)
        .in_the_market()
        .select_related("recorder")
    )
    if recorder_ids is not None:
        rows = rows.filter(recorder_id__in=recorder_ids)
    for row in rows:
        recorder = row.recorder
        position = _load(row, recorder)
        if position.opened_at and quote.at < position.opened_at:
            continue  # a quote from before the entry says nothing about it
        before = position.to_state()
        result = position.on_quote(quote)
        if not result.changed and not _quote_changes_state(before, position, row):
            continue
        with transaction.atomic():
            locked = (
                RecordedPosition.objects.select_for_update()
                .select_related("recorder")
                .filter(pk=row.pk, recorder__running=True)
                .in_the_market()
                .first()
            )
            if locked is None:
                continue
            position = _load(locked, locked.recorder)
            if position.opened_at and quote.at < position.opened_at:
                continue
            result = position.on_quote(quote)
            _save(locked, position)
            stored = _store_trades(locked.recorder, result.trades)
            _log_result(locked.recorder, result, stored)
            _publish_position(locked, locked.recorder, trades=bool(stored))
            if stored and locked.recorder.source == Recorder.Source.SIGNALS:
                _strategy_follows_exit(locked)
            stored_all.extend(stored)
    return stored_all


def _strategy_follows_exit(row: RecordedPosition) -> None:
    root = _root_of(row.symbol)
    if root is None:
        return
    signals = (row.state or {}).get("signals") or [None]
    held = sum(
        r.net_pos + _load(r, row.recorder).working_quantity
        for r in row.recorder.positions.in_the_market()
        if _root_of(r.symbol) == root
    )
    strategy_position_after_exit(
        strategy_id=row.recorder.strategy_id, root=root, last_signal_id=signals[-1], net_pos=held
    )


def recorder_flatten(
    *,
    recorder: Recorder,
    reason: str = Reason.FLATTEN,
    at: datetime | None = None,
    prices: dict[str, Decimal] | None = None,
) -> list[RecordedTrade]:
    """Close every open paper position of ``recorder`` at the market (the current quote, or
    the last price seen when no quote can be had)."""
    stored_all: list[RecordedTrade] = []
    for row in recorder.positions.in_the_market():
        stored_all.extend(
            recorder_flatten_row(
                recorder=recorder,
                row=row,
                reason=reason,
                at=at,
                price=(prices or {}).get(row.symbol),
            )
        )
    return stored_all


def recorder_flatten_row(
    *,
    recorder: Recorder,
    row: RecordedPosition,
    reason: str = Reason.FLATTEN,
    at: datetime | None = None,
    price: Decimal | None = None,
    signal=None,
) -> list[RecordedTrade]:
    """Close one paper position at the market (the quote, else its last price); in the paper
    market mode as a market order there (the touch plus the paper slippage). Its working
    entries are cancelled first, as a liquidation cancels them."""
    _cancel_working_entries(recorder, row, signal=signal)
    if row.net_pos == 0:
        return []
    size = 0
    quoted = False
    if price is None:
        try:
            q = current_quote(recorder, row.symbol)
            price = q.price_to_close(row.net_pos > 0, _basis(recorder))
            size = q.size_to_close(row.net_pos > 0)
            quoted = price is not None
        except BrokerError as exc:
            logger.info("no quote to flatten %s: %s", row.symbol, exc)
    price = price if price is not None else row.last_price
    if price is None:
        _record_error(recorder, f"Recorder: no price to flatten {row.symbol}.")
        return []
    with transaction.atomic():
        locked = RecordedPosition.objects.select_for_update().get(pk=row.pk)
        if locked.net_pos == 0:
            return []
        position = _load(locked, recorder)
        slippage, partial = _paper_rules(recorder)
        pieces = market_fill(
            quantity=-locked.net_pos,
            touch=Decimal(price),
            instrument=position.instrument,
            slippage_ticks=slippage if quoted else 0,
            size=size if (partial and quoted) else 0,
        )
        result = position.flatten(at=at or timezone.now(), reason=reason, lots=pieces)
        _save(locked, position)
        stored = _store_trades(recorder, result.trades, signal=signal)
        _log_result(recorder, result, stored, signal=signal)
        _publish_position(locked, recorder, trades=bool(stored))
    return stored


def _cancel_working_entries(recorder: Recorder, row: RecordedPosition, *, signal=None) -> None:
    """Cancel the row's working entries (a flatten, a cancel alert), each told on the log."""
    with transaction.atomic():
        locked = RecordedPosition.objects.select_for_update().get(pk=row.pk)
        position = _load(locked, recorder)
        cancelled = position.cancel_working()
        if cancelled:
            _save(locked, position)
            _log_working(recorder, signal, cancelled=cancelled, placed=None, refusal="")
            _publish_position(locked, recorder, trades=False)


# --- the demo-account source -------------------------------------------------------------------


@dataclass
class PollResult:
    fills: int = 0
    trades: list[RecordedTrade] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    error: str = ""


def _followed_roots(recorder: Recorder) -> set[str]:
    names = [s.strip() for s in recorder.symbols.split(",") if s.strip()] or [
        recorder.strategy.default_symbol
    ]
    roots = set()
    for name in names:
        try:
            roots.add(resolve_symbol(name).root)
        except UnknownSymbol:
            continue
    return roots


def _root_of(symbol: str) -> str | None:
    try:
        return contract_from_name(symbol).root
    except UnknownSymbol:
        return None


ORDER_TYPE_REASON = {
    "Limit": Reason.TARGET,
    "MIT": Reason.TARGET,
    "Stop": Reason.STOP,
    "StopLimit": Reason.STOP,
    "TrailingStop": Reason.TRAILING,
    "TrailingStopLimit": Reason.TRAILING,
}


def recorder_poll_account(*, recorder: Recorder, broker=None) -> PollResult:
    """Read the followed account's fills and record those attributed to the strategy.

    A fill is attributed when it is on the followed account, in a followed product (the
    recorder's symbols, else the strategy's default symbol), and at or after the start of the
    recording window. Each broker fill is recorded once. Afterwards the recorded position is
    compared with the account's own and any difference is logged as drift.
    """
    result = PollResult()
    recorder = Recorder.objects.select_related("strategy", "broker_account__connection").get(
        pk=recorder.pk
    )
    if not recorder.running or recorder.source != Recorder.Source.ACCOUNT:
        return result
    account = recorder.broker_account
    if account is None:
        _record_error(recorder, "Recorder follows no broker account.")
        result.error = recorder.last_error
        return result
    try:
        broker = broker or broker_for(account.connection)
        fills = broker.fills(account.external_id)
        orders = {o.id: o for o in broker.orders(account.external_id)} if fills else {}
        broker_positions = broker.positions(account.external_id)
    except BrokerError as exc:
        _record_error(
            recorder,
            f"Recorder could not read account {account.name}: {exc}",
            data={"event": Event.RECORDER_ACCOUNT_UNREADABLE, "error": str(exc)},
        )
        result.error = str(exc)
        Recorder.objects.filter(pk=recorder.pk).update(last_polled_at=timezone.now())
        return result

    roots = _followed_roots(recorder)
    window = recorder.started_at or recorder.created_at
    known = set(recorder.fills.values_list("broker_fill_id", flat=True))
    new = [
        f
        for f in fills
        if f.id not in known
        and (f.account_id in (None, account.external_id))
        and _root_of(f.symbol) in roots
        and (f.timestamp is None or f.timestamp >= window)
    ]
    new.sort(key=lambda f: (f.timestamp or timezone.now(), f.id))
    touched: dict[int, RecordedPosition] = {}
    for f in new:
        with transaction.atomic():
            row = _position_row(recorder, f.symbol)
            row = RecordedPosition.objects.select_for_update().get(pk=row.pk)
            try:
                with transaction.atomic():
                    RecordedFill.objects.create(
                        recorder=recorder,
                        broker_fill_id=f.id,
                        broker_order_id=f.order_id,
                        symbol=f.symbol,
                        action=f.action,
                        quantity=f.qty,
                        price=f.price,
                        timestamp=f.timestamp or timezone.now(),
                    )
            except IntegrityError:
                continue  # another poll recorded it first
            position = _load(row, recorder)
            order = orders.get(f.order_id)
            reason = ORDER_TYPE_REASON.get(getattr(order, "order_type", ""), Reason.ACCOUNT)
            qty = f.qty if f.action == "Buy" else -f.qty
            fill_result = position.fill(
                quantity=qty, price=f.price, at=f.timestamp or timezone.now(), reason=reason
            )
            _save(row, position)
            stored = _store_trades(recorder, fill_result.trades)
            _log_result(recorder, fill_result, stored, how=f"account fill #{f.id}")
            result.fills += 1
            result.trades.extend(stored)
            touched[row.pk] = row

    # Reconcile with the account's own positions in the followed products.
    by_symbol = {p.symbol: p.net_pos for p in broker_positions if _root_of(p.symbol) in roots}
    rows = {r.symbol: r for r in recorder.positions.all()}
    for symbol in set(by_symbol) | {s for s, r in rows.items() if r.net_pos}:
        broker_net = by_symbol.get(symbol, 0)
        row = rows.get(symbol)
        recorded = row.net_pos if row else 0
        drift_key = f"{broker_net}/{recorded}"
        if broker_net == recorded:
            if row is not None and (row.state or {}).get("drift"):
                state = dict(row.state)
                state.pop("drift")
                RecordedPosition.objects.filter(pk=row.pk).update(state=state)
            continue
        message = (
            f"Account {account.name} holds {broker_net:+d} {symbol} but the recorder has "
            f"{recorded:+d} (fills before the recording window or in another product are not "
            f"attributed)."
        )
        result.drift.append(message)
        if row is None:  # remember the drift somewhere, so it is reported once
            row = _position_row(recorder, symbol)
        if (row.state or {}).get("drift") != drift_key:
            timeline_write(
                user=recorder.user_id,
                strategy=recorder.strategy_id,
                kind=StrategyLog.Kind.DRIFT,
                message=message,
                data={
                    "recorder_id": recorder.pk,
                    "symbol": symbol,
                    "account": broker_net,
                    "recorded": recorded,
                },
            )
            RecordedPosition.objects.filter(pk=row.pk).update(
                state={**(row.state or {}), "drift": drift_key}
            )

    Recorder.objects.filter(pk=recorder.pk).update(last_polled_at=timezone.now(), last_error="")
    for row in touched.values():
        row.refresh_from_db()
        _publish_position(row, recorder, trades=False)
    if result.trades or result.fills:
        recorder.refresh_from_db()
        _publish_recorder(recorder)
    return result


def recorders_due_for_poll(*, now: datetime | None = None) -> list[int]:
    """Ids of running account recorders whose poll interval has elapsed."""
    now = now or timezone.now()
    due = []
    for rec in Recorder.objects.filter(
        running=True, source=Recorder.Source.ACCOUNT, broker_account__isnull=False
    ).only("id", "last_polled_at", "poll_interval_seconds"):
        if rec.last_polled_at is None or rec.last_polled_at + timedelta(
            seconds=rec.poll_interval_seconds
        ) <= now + timedelta(seconds=1):
            due.append(rec.pk)
    return due
