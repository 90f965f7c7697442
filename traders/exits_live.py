"""Live exits after the entry: no naked position, and stops that move as the record shows.

* ``protection_lost`` — a stop of ours was rejected, cancelled or expired while its position is
  still open (a wrong-side stop the broker refused, an OCO sibling gone): a ``protect``
  execution, run in the account's turn, puts a stop back at a valid price, or flattens when
  the market is already past it. A log line and a notification either way.
* ``manage_stops`` — on each quote of a held contract, the stop's level by the same rules as
  the recorder's paper ledger (``strategies.exits.stop_levels``: fixed stop, break-even once
  armed, trailing from the best price): a tighter level is sent with ``modifyorder``; a level
  the market already crossed flattens the position, as the paper record would exit there.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal

from django.db import transaction

from accounts.brokers.base import Broker, BrokerError, OrderRejected, OutcomeUnknown
from accounts.brokers.symbols import contract_from_name
from justtrades.timeline import Event
from strategies.exits import break_even_reached, exit_rules_for, stop_levels, tightest_stop
from traders import events
from traders.execution import execution_create
from traders.models import WORKING, Execution, Order, OrderStatus, Position

logger = logging.getLogger(__name__)

S = OrderStatus
Role = Order.Role
MODIFY_EVERY = 0.25  # seconds between two moves of one stop
_last_move: dict[int, float] = {}


def protection_lost(*, order_id: int) -> Execution | None:
    """Queue a ``protect`` execution for the position a lost stop was guarding."""
    lost = Order.objects.select_related("trader", "broker_account").filter(pk=order_id).first()
    if lost is None or lost.trader_id is None:
        return None
    held = (
        Position.objects.filter(broker_account_id=lost.broker_account_id, symbol=lost.symbol)
        .values_list("net_pos", flat=True)
        .first()
    )
    protects_long = lost.action == "Sell"
    if not held or (held > 0) != protects_long:
        return None  # the position is gone (a target filled, a flatten): nothing to guard
    with transaction.atomic():
        return execution_create(
            user_id=lost.user_id,
            account=lost.broker_account,
            root=lost.root,
            kind=Execution.Kind.PROTECT,
            instruction={
                "lost_order_id": lost.pk,
                "contract": lost.symbol,
                "stop_price": str(lost.stop_price) if lost.stop_price is not None else None,
                "why": lost.status,
                "text": lost.text or lost.reject_reason,
            },
            trader=lost.trader,
        )


def manage_stops(*, accounts, symbol: str, quote, broker: Broker) -> None:
    """Move our working stops of ``symbol`` on ``accounts`` (of one login) to where the rules
    put them now."""
    stops = (
        Order.objects.filter(
            broker_account__in=accounts,
            symbol=symbol,
            role=Role.STOP_LOSS,
            status__in=WORKING,
            broker_order_id__isnull=False,
            trader__isnull=False,
        )
        .select_related("trader__strategy", "parent")
        .order_by("id")
    )
    for stop in stops:
        try:
            _manage(stop, quote, broker)
        except (BrokerError, ValueError) as exc:
            logger.info("stop %s not moved: %s", stop.pk, exc)


def _manage(stop: Order, quote, broker: Broker) -> None:
    trader = stop.trader
    rules = exit_rules_for(trader.strategy, None, trader)
    if not (rules.break_even or (rules.trailing_stop and rules.stop_loss)):
        return  # a fixed stop stays; a lone trailing stop trails at the broker itself
    direction = 1 if stop.action == "Sell" else -1
    px = quote.bid if direction > 0 else quote.ask
    px = px if px is not None else quote.last
    entry = stop.parent.avg_fill_price if stop.parent is not None else None
    if px is None or entry is None or stop.stop_price is None:
        return
    # How far the market went our way since the last quote we applied (a burst of quotes is
    # applied as its latest): a trigger touched and left within it still arms, trails still move.
    reach = quote.high_bid if direction > 0 else quote.low_ask
    reach = px if reach is None or (reach - px) * direction < 0 else reach
    contract = contract_from_name(stop.symbol)
    state = dict(stop.exit_state or {})
    best = Decimal(state["best"]) if state.get("best") else entry
    if (reach - best) * direction > 0:
        best = reach
    armed = bool(state.get("armed")) or break_even_reached(
        direction=direction, entry=entry, price=reach, rules=rules, instrument=contract
    )
    levels = stop_levels(
        direction=direction, entry=entry, rules=rules, instrument=contract, best=best, armed=armed
    )
    working = tightest_stop(levels, direction)
    new_state = {"best": str(best), "armed": armed}
    if new_state != state:
        Order.objects.filter(pk=stop.pk).update(exit_state=new_state)
    if working is None:
        return
    level, name = working
    if (level - stop.stop_price) * direction <= 0:
        return  # never loosen a stop
    if (px - level) * direction <= 0:
        _exit_now(stop, name, level)
        return
    if time.monotonic() - _last_move.get(stop.pk, 0) < MODIFY_EVERY:
        return
    _last_move[stop.pk] = time.monotonic()
    try:
        broker.modify(stop.broker_order_id, stop_price=level)
    except (OrderRejected, OutcomeUnknown) as exc:
        logger.info("stop %s not moved to %s: %s", stop.pk, level, exc)
        return
    Order.objects.filter(pk=stop.pk).update(stop_price=level)
    if name == "break_even" and not state.get("armed"):
        events.trader_line(
            trader,
            events.Kind.INFO,
            f"Break-even: the stop of {stop.symbol} on {stop.broker_account.name} moved to the "
            f"entry, {level.normalize():f}.",
            event=Event.BREAK_EVEN_MOVED,
            signal=stop.signal_id,
            data={"order_id": stop.pk, "stop_price": level},
        )


def _exit_now(stop: Order, name: str, level: Decimal) -> None:
    """The market is already through the stop's new level: close, as the record does."""
    key = f"exit-now:{stop.pk}"
    if Execution.objects.filter(request_key=key).exists():
        return
    with transaction.atomic():
        execution_create(
            user_id=stop.user_id,
            account=stop.broker_account,
            root=stop.root,
            kind=Execution.Kind.FLATTEN,
            instruction={"reason": f"{name.replace('_', '-')} stop at {level} reached"},
            trader=stop.trader,
            request_key=key,
        )
