"""Placement: a plan's legs become order rows, each row is claimed, sent once, and settled.

* ``orders_write`` — one ``Order`` row per leg, ``Planned``, with a client order id derived from
  (execution, leg): written before anything is sent.
* ``order_send`` — claim the row (a conditional UPDATE ``Planned`` → ``Sending``, in a
  transaction that also re-checks the turn's fencing token and every guard), then one broker
  request. An entry with exits is a Tradovate order strategy: the broker places the take profit
  and the stop around the entry's actual fill.
* ``order_settle_unknown`` — a request whose answer never came is *unknown*, never resent
  blindly: the mirror (user-sync stream) or ``command/list`` settles it; only with proof that
  the broker never received it is it sent again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_CEILING, Decimal

from django.db import transaction
from django.utils import timezone

from accounts.brokers.base import (
    AuthenticationFailed,
    BracketSpec,
    Broker,
    BrokerError,
    BrokerUnavailable,
    CaptchaRequired,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
)
from accounts.brokers.symbols import Contract
from accounts.models import BrokerAccount, BrokerConnection
from justtrades.timeline import Event
from strategies.exits import ExitRules, round_to_tick
from traders import events, guards, mirror
from traders.decision import CANCEL_WORKING, LIQUIDATE, Leg, Plan
from traders.models import WORKING, Execution, Order, OrderStatus, Trader
from traders.sequencing import Lease, lease_still_held

logger = logging.getLogger(__name__)

S = OrderStatus
Role = Order.Role
UNKNOWN_SETTLE_SECONDS = 10.0  # how long the stream gets to report an unanswered order


class TurnLost(Exception):
    """Another worker holds this account's turn now: stop at once, send nothing more."""


@dataclass(frozen=True)
class EntrySpec:
    """How an opening leg is sent: its type and prices (rounded to the tick) and its exits."""

    order_type: str = "Market"
    price: Decimal | None = None
    stop_price: Decimal | None = None
    exits: ExitRules = ExitRules()
    reference: Decimal | None = None  # a price near the expected fill (percent exits)


@dataclass
class SendResult:
    outcome: str  # sent | skipped | failed | deferred | unknown
    message: str = ""
    retry_at: object = None


def cl_ord_id_for(execution: Execution, index: int) -> str:
    """Deterministic per (execution, leg); the digest keeps ids unique across databases that
    reuse primary keys against the same broker (a reset demo, the test suite)."""
    digest = hashlib.sha256(
        f"{execution.pk}|{execution.created_at.isoformat()}|{execution.broker_account_id}".encode()
    ).hexdigest()[:8]
    return f"jt{execution.pk}-{index}-{digest}"


def _role(execution: Execution, leg: Leg) -> str:
    if leg.kind == LIQUIDATE:
        return Role.FLATTEN
    if not leg.opens:
        return Role.EXIT
    return Role.MANUAL if execution.kind == Execution.Kind.MANUAL else Role.ENTRY


def orders_write(
    *,
    execution: Execution,
    plan: Plan,
    trader: Trader | None,
    account: BrokerAccount,
    entry: EntrySpec,
    first_index: int = 0,
) -> list[Order]:
    """The plan's legs as ``Planned`` rows (cancel legs need none: they act on orders)."""
    rows = []
    for n, leg in enumerate(plan.legs):
        if leg.kind == CANCEL_WORKING:
            continue
        opens = leg.kind != LIQUIDATE and leg.opens
        rows.append(
            Order(
                user_id=execution.user_id,
                trader=trader,
                execution=execution,
                broker_account=account,
                signal_id=execution.signal_id,
                cl_ord_id=cl_ord_id_for(execution, first_index + n),
                role=_role(execution, leg),
                action=leg.action,
                symbol=leg.contract,
                root=execution.root,
                quantity=max(1, leg.qty) if leg.kind != LIQUIDATE else max(1, abs(plan.held)),
                order_type=("Liquidate" if leg.kind == LIQUIDATE else (entry.order_type if opens else "Market")),
                price=entry.price if opens else None,
                stop_price=entry.stop_price if opens else None,
                status=S.PLANNED,
            )
        )  # fmt: skip
    Order.objects.bulk_create(rows)
    return list(Order.objects.filter(execution=execution, parent__isnull=True).order_by("id"))


# --- claim and send ---------------------------------------------------------------------------


def _claim(
    order: Order, *, lease: Lease | None, execution: Execution | None
) -> guards.Refusal | None:
    """Planned → Sending in one transaction with the fencing and guard checks. Returns the
    refusal that stopped it (the row is marked with it), or None when claimed."""
    now = timezone.now()
    with transaction.atomic():
        if lease is not None and not lease_still_held(lease):
            raise TurnLost(f"turn of {lease.account_id}/{lease.root} lost")
        refusal = guards.order_refusal(order=order, execution=execution, now=now)
        if refusal is not None:
            Order.objects.filter(pk=order.pk, status=S.PLANNED).update(
                status=refusal.status, text=f"Not sent: {refusal.reason}"[:500]
            )
            order.status, order.text = refusal.status, f"Not sent: {refusal.reason}"
            return refusal
        claimed = Order.objects.filter(pk=order.pk, status=S.PLANNED).update(
            status=S.SENDING, sent_at=now
        )
    if not claimed:
        order.refresh_from_db()
        return guards.Refusal(order.status, f"already {order.status}")
    order.status, order.sent_at = S.SENDING, now
    return None


def _mark(order: Order, status: str, **fields) -> None:
    Order.objects.filter(pk=order.pk).update(status=status, **fields)
    order.status = status
    for name, value in fields.items():
        setattr(order, name, value)
    events.publish_order(order)


def bracket_specs(
    *, exits: ExitRules, qty: int, contract: Contract, reference: Decimal | None
) -> list[BracketSpec]:
    """The order strategy's bracket: distances in points from the fill, on the tick grid.
    A trailing stop alone trails at the broker; with a fixed stop (or break-even) the stop is
    placed at its distance and moved by the exit manager, like the recorder models it."""
    ref = reference or Decimal(0)
    tp = sl = None
    if exits.take_profit is not None and not exits.take_profit.is_level:
        tp = _ticks_up(exits.take_profit.points(contract, ref), contract.tick_size)
    stop = exits.protective
    if stop is not None and not stop.is_level:
        sl = _ticks_up(stop.points(contract, ref), contract.tick_size)
    if tp is None and sl is None:
        return []
    native_trail = (
        exits.stop_loss is None and exits.trailing_stop is not None and not exits.break_even
    )
    return [BracketSpec(qty=qty, profit_target=tp, stop_loss=sl, trailing=native_trail)]


def _ticks_up(points: Decimal, tick: Decimal) -> Decimal:
    return max(tick, round_to_tick(points, tick, ROUND_CEILING))


def order_send(
    *,
    order: Order,
    broker: Broker,
    account: BrokerAccount,
    contract: Contract | None,
    entry: EntrySpec | None,
    lease: Lease | None,
    execution: Execution | None,
) -> SendResult:
    """Claim and send one order; never raises for the broker's answers."""
    refusal = _claim(order, lease=lease, execution=execution)
    if refusal is not None:
        events.publish_order(order)
        if refusal.status in (S.SKIPPED, S.DENIED, S.FAILED):
            return SendResult("skipped" if refusal.status != S.FAILED else "failed", refusal.reason)
        return SendResult("sent", refusal.reason)
    try:
        placed = _request(
            order=order, broker=broker, account=account, contract=contract, entry=entry
        )
    except RateLimited as exc:
        wait = float(exc.retry_after or 2.0)
        retry_at = timezone.now() + timedelta(seconds=wait)
        _mark(order, S.PLANNED, p_ticket=exc.p_ticket or "", not_before=retry_at)
        return SendResult("deferred", str(exc), retry_at)
    except CaptchaRequired as exc:
        _mark(order, S.FAILED, reject_reason="CaptchaRequired", text=str(exc)[:500])
        connection_pause(connection_id=account.connection_id, reason=str(exc))
        return SendResult("failed", str(exc))
    except OrderRejected as exc:
        _mark(order, S.REJECTED, reject_reason=exc.reason[:60], text=exc.text[:500])
        return SendResult("failed", f"{exc.reason}" + (f" — {exc.text}" if exc.text else ""))
    except OutcomeUnknown as exc:
        _mark(order, S.UNKNOWN, text=str(exc)[:500])
        return SendResult("unknown", str(exc))
    except BrokerUnavailable as exc:
        if exc.sent:  # not an order command (a contract lookup): nothing was placed
            _mark(order, S.PLANNED, not_before=timezone.now() + timedelta(seconds=2))
        else:
            _mark(order, S.PLANNED, not_before=timezone.now() + timedelta(seconds=1))
        return SendResult("deferred", str(exc), timezone.now() + timedelta(seconds=2))
    except (AuthenticationFailed, BrokerError, ValueError) as exc:
        _mark(order, S.FAILED, reject_reason=type(exc).__name__[:60], text=str(exc)[:500])
        return SendResult("failed", str(exc))
    _record_placed(order, placed)
    return SendResult("sent")


def _request(*, order: Order, broker: Broker, account, contract, entry: EntrySpec | None):
    common = dict(account_id=account.external_id, symbol=order.symbol)
    ticket = order.p_ticket
    if order.role == Role.FLATTEN:
        return ("liquidate", broker.liquidate(account.external_id, order.symbol, p_ticket=ticket))
    opening = order.role in (Role.ENTRY, Role.MANUAL)
    brackets = (
        bracket_specs(exits=entry.exits, qty=order.quantity, contract=contract, reference=entry.reference)
        if opening and entry is not None and contract is not None
        else []
    )  # fmt: skip
    levels = _level_exits(entry) if opening and entry is not None else (None, None)
    if brackets:
        placed = broker.start_order_strategy(
            **common,
            account_spec=account.name,
            action=order.action,
            qty=order.quantity,
            brackets=brackets,
            order_type=order.order_type,
            price=order.price,
            stop_price=order.stop_price,
            uuid=order.cl_ord_id,
            p_ticket=ticket,
        )
        return ("strategy", placed)
    if any(v is not None for v in levels):
        placed = broker.place_bracket(
            **common,
            account_spec=account.name,
            action=order.action,
            qty=order.quantity,
            take_profit=levels[0],
            stop_loss=levels[1],
            order_type=order.order_type,
            price=order.price,
            stop_price=order.stop_price,
            cl_ord_id=order.cl_ord_id,
            text=f"JustTrades {order.get_role_display()}"[:64],
            p_ticket=ticket,
        )
        return ("bracket", placed)
    placed = broker.place_order(
        **common,
        account_spec=account.name,
        action=order.action,
        qty=order.quantity,
        order_type=order.order_type,
        price=order.price,
        stop_price=order.stop_price,
        cl_ord_id=order.cl_ord_id,
        text=f"JustTrades {order.get_role_display()}"[:64],
        p_ticket=ticket,
    )
    return ("order", placed)


def _level_exits(entry: EntrySpec) -> tuple[Decimal | None, Decimal | None]:
    """Absolute price levels the alert gave (a take profit at 21,050): placed as given."""
    tp = entry.exits.take_profit
    sl = entry.exits.stop_loss
    return (
        tp.value if tp is not None and tp.is_level else None,
        sl.value if sl is not None and sl.is_level else None,
    )


def _record_placed(order: Order, placed) -> None:
    kind, answer = placed
    now = timezone.now()
    fields: dict = {"accepted_at": now, "p_ticket": "", "not_before": None}
    status = S.PENDING_NEW
    if kind == "liquidate":
        fields["broker_order_id"] = answer
    elif kind == "strategy":
        fields["broker_strategy_id"] = answer.strategy_id
    else:
        fields["broker_order_id"] = answer.order_id
    with transaction.atomic():
        mirror.mirror_lock(account_id=order.broker_account_id)
        current = Order.objects.select_for_update().get(pk=order.pk)
        if current.status not in (S.SENDING, S.UNKNOWN):
            status = current.status  # the stream was faster: it already knows better
        broker_id = fields.pop("broker_order_id", None)
        Order.objects.filter(pk=order.pk).update(status=status, **fields)
        if broker_id and not current.broker_order_id:
            mirror.order_take_broker_id(order=current, broker_order_id=broker_id)
    order.refresh_from_db()
    if kind == "bracket":
        _record_bracket_children(order, answer)
    events.publish_order(order)


def _record_bracket_children(order: Order, placed) -> None:
    for role, broker_id in (
        (Role.TAKE_PROFIT, placed.take_profit_order_id),
        (Role.STOP_LOSS, placed.stop_loss_order_id),
    ):
        if broker_id:
            Order.objects.get_or_create(
                broker_account_id=order.broker_account_id,
                broker_order_id=broker_id,
                defaults=dict(
                    user_id=order.user_id,
                    trader_id=order.trader_id,
                    execution_id=order.execution_id,
                    signal_id=order.signal_id,
                    parent=order,
                    role=role,
                    action="Sell" if order.action == "Buy" else "Buy",
                    symbol=order.symbol,
                    root=order.root,
                    quantity=order.quantity,
                    order_type="Limit" if role == Role.TAKE_PROFIT else "Stop",
                    status=S.SUSPENDED,
                    accepted_at=timezone.now(),
                ),
            )


# --- settling what was sent -------------------------------------------------------------------


def order_settle_unknown(
    *, order: Order, broker: Broker, connection: BrokerConnection, wait: float | None = None
) -> bool:
    """Find out whether an unanswered (or cut short) request reached the broker.

    True: settled — the order is at the broker (adopted, with its exits) or a liquidation has
    landed. False: proof it never arrived (the stream and ``command/list`` know nothing of it
    after the wait): the row is back to ``Planned`` under a new client order id, to be sent
    again."""
    deadline = time.monotonic() + (UNKNOWN_SETTLE_SECONDS if wait is None else wait)
    fresh = mirror.mirror_is_fresh(connection)
    found = None
    while True:
        order.refresh_from_db()
        if order.status not in (S.SENDING, S.UNKNOWN):
            return True  # the stream told us what became of it
        if order.broker_order_id or order.broker_strategy_id:
            found = (
                ("strategy", order.broker_strategy_id)
                if order.broker_strategy_id
                else ("order", order.broker_order_id)
            )
            break
        if not fresh and order.role != Role.FLATTEN:
            # No live stream: ask ``command/list`` now and then; a slow broker may still be
            # executing the request, so one negative answer is no proof yet.
            found = _lookup(order, broker)
            if found is not None:
                break
        if time.monotonic() > deadline:
            break
        time.sleep(0.1 if fresh else 2.0)
    if order.role == Role.FLATTEN:
        account = order.broker_account
        mirror.mirror_refresh(connection=connection, account_id=account.external_id)
        if mirror.order_settled(order):
            _mark(order, S.COMPLETED)
            return True
        # Liquidating again is still flat: the one request safe to resend.
        _mark(order, S.PLANNED)
        return False
    if found is None:
        found = _lookup(order, broker)
    if found is not None:
        kind, broker_id = found
        if kind == "strategy":
            Order.objects.filter(pk=order.pk).update(
                broker_strategy_id=broker_id, status=S.PENDING_NEW
            )
        else:
            mirror.order_take_broker_id(
                order=order, broker_order_id=broker_id, status=S.PENDING_NEW
            )
        order.refresh_from_db()
        mirror.mirror_refresh(connection=connection, account_id=order.broker_account.external_id)
        logger.info("order %s found at the broker after an unanswered request", order.cl_ord_id)
        return True
    attempt = order.cl_ord_id.rsplit("-r", 1)
    n = int(attempt[1]) + 1 if len(attempt) == 2 and attempt[1].isdigit() else 1
    base = attempt[0] if len(attempt) == 2 and attempt[1].isdigit() else order.cl_ord_id
    _mark(
        order,
        S.PLANNED,
        cl_ord_id=f"{base[:58]}-r{n}",
        text="Not received by the broker: sent again.",
    )
    return False


def _lookup(order: Order, broker: Broker):
    try:
        if order.role in (Role.ENTRY, Role.MANUAL):
            for s in broker.order_strategies(order.broker_account.external_id):
                if s.uuid == order.cl_ord_id:
                    return ("strategy", s.id)
        existing = broker.order_by_cl_ord_id(order.cl_ord_id)
    except BrokerError as exc:
        logger.warning("could not look up %s: %s", order.cl_ord_id, exc)
        raise OutcomeUnknown(f"cannot tell yet whether {order.cl_ord_id} was placed") from exc
    return ("order", existing.id) if existing is not None else None


# --- cancels and trims ------------------------------------------------------------------------


def cancel_working(
    *, trader: Trader | None, account: BrokerAccount, broker: Broker, contract: str
) -> int:
    """Cancel the working orders of one contract on the account (a ``cancel`` alert)."""
    working = Order.objects.filter(
        broker_account=account, symbol=contract, status__in=WORKING, broker_order_id__isnull=False
    )
    count = 0
    for order in working:
        try:
            broker.cancel(order.broker_order_id)
            count += 1
        except OrderRejected:
            pass  # already final at the broker; the stream brings its true state
    return count


def trim_protection(
    *, trader: Trader, account: BrokerAccount, broker: Broker, root: str, keep: int
) -> None:
    """After a partial exit, shrink the working take profits and stops (newest entry first)
    so together they never cover more than the ``keep`` contracts still held: a bracket bigger
    than the position would open one the other way when it fires."""
    working = list(
        Order.objects.filter(
            trader=trader,
            broker_account=account,
            root=root,
            role__in=[Role.TAKE_PROFIT, Role.STOP_LOSS],
            status__in=WORKING,
            broker_order_id__isnull=False,
        ).order_by("-parent_id", "id")
    )
    by_entry: dict[int, list[Order]] = {}
    for child in working:
        by_entry.setdefault(child.parent_id or 0, []).append(child)
    remaining = abs(keep)
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
                else:
                    broker.modify(kid.broker_order_id, qty=new_size)
                    Order.objects.filter(pk=kid.pk).update(quantity=new_size)
            except OrderRejected:
                continue
            except BrokerError as exc:
                events.trader_line(
                    trader,
                    events.Kind.ERROR,
                    f"Could not resize the {kid.get_role_display().lower()} "
                    f"{kid.broker_order_id} to {new_size}: {exc}",
                    event=Event.ORDER_FAILED,
                    data={"order_id": kid.pk, "reason": type(exc).__name__, "text": str(exc)},
                )


# --- pausing a login --------------------------------------------------------------------------


def connection_pause(*, connection_id: int, reason: str) -> bool:
    """Tradovate wants a person (a CAPTCHA): stop automation for the login and say so."""
    updated = BrokerConnection.objects.filter(pk=connection_id, paused_reason="").update(
        paused_reason=reason[:300], paused_at=timezone.now()
    )
    if updated:
        connection = BrokerConnection.objects.get(pk=connection_id)
        events.account_line(
            connection.user_id,
            events.Kind.ERROR,
            f"Trading paused on {connection.label}: {reason} Resume it from Account Management "
            "once you have logged in on the broker's site.",
            event=Event.TRADING_PAUSED,
            data={"connection_id": connection_id, "reason": reason},
        )
    return bool(updated)
