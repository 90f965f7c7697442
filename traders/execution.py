"""Executions: the money-moving work of one broker account and product, run in its turn.

``execution_run(execution_id)`` (the Celery task's body) takes the account's turn
(``sequencing``) and runs every pending execution of that (account, product root) in id order,
its own included, until the queue is empty: the earliest one first, always. One execution:

1. resume or plan — an execution that already has orders (a killed worker's) settles them first;
   a fresh one reads the mirror (every contract month, in-flight orders counted) and turns its
   instruction into the trader's goal (``decision``) and legs;
2. send — each leg claimed and sent once (``placement``), the turn's fencing token and the
   guards re-checked in the claiming transaction;
3. settle — the mirror confirms what the broker did before the next execution plans on top.

Executions of an account and product run strictly in order, so a later one never overtakes an
earlier one. Should one ever come back after a later one already ran (its first run was cut
short and the account's work went on), it is *superseded*: an entry is skipped, since the later
signal's target stands; an exit the later one did not cover still runs (flat means flat). An
entry past the strategy's max age is dropped.

One file for one idea, the life of an execution (turn, plan, send, settle, protect): each step
hands the next the same context.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.brokers.base import (
    Broker,
    BrokerError,
    BrokerUnavailable,
    OutcomeUnknown,
    RateLimited,
)
from accounts.brokers.factory import broker_for
from accounts.brokers.symbols import Contract, resolve_symbol
from accounts.models import BrokerAccount
from justtrades.queue import enqueue
from justtrades.realtime import deferred_events
from justtrades.timeline import Event
from strategies.exits import ExitRules, exit_rules_for, round_to_tick, stop_levels, tightest_stop
from strategies.models import Signal, Strategy
from strategies.outcome import signal_mark_executed
from strategies.parsing import Intent
from traders import decision as dec
from traders import drift, events, guards, mirror, placement
from traders.models import WORKING, Execution, Order, OrderStatus, Trader, Turn
from traders.sequencing import Lease, LeaseKeeper, turn_acquire, turn_release

logger = logging.getLogger(__name__)

S = OrderStatus
X = Execution.Status
Role = Order.Role
DRAIN_BUDGET_SECONDS = 25.0  # then the turn is handed on (the task's soft limit is 60 s)
MAX_RESENDS = 3


class Deferred(Exception):
    def __init__(self, retry_at):
        super().__init__(f"deferred until {retry_at}")
        self.retry_at = retry_at


# --- enqueueing ---------------------------------------------------------------------------------


def _send_run(execution_id: int, *, countdown: float | None = None) -> None:
    # By name: the task module imports this one.
    enqueue("traders.run_execution", execution_id, countdown=countdown)


def execution_enqueue(execution_id: int, *, countdown: float | None = None) -> None:
    """Queue ``run_execution`` after commit; a Redis outage is logged, the sweeper retries."""

    def send():
        if settings.TEST_FAULT == "kill_before_fan_out":
            os.kill(os.getpid(), signal.SIGKILL)  # a crash between the commit and the enqueue
        try:
            _send_run(execution_id, countdown=countdown)
        except Exception:  # noqa: BLE001 - the row is stored: the sweeper enqueues it again
            logger.warning("execution %s not enqueued; the sweeper will", execution_id)

    transaction.on_commit(send)


def execution_create(
    *,
    user_id: int,
    account: BrokerAccount,
    root: str,
    kind: str,
    instruction: dict[str, Any],
    trader: Trader | None = None,
    signal: Signal | None = None,
    request_key: str | None = None,
) -> Execution:
    """Write one execution (inside the caller's transaction) and queue it after commit."""
    execution = Execution.objects.create(
        user_id=user_id,
        broker_account=account,
        root=root,
        kind=kind,
        instruction=instruction,
        trader=trader,
        signal=signal,
        request_key=request_key,
    )
    execution_enqueue(execution.pk)
    return execution


def executions_skip_entries(*, q: Q, reason: str) -> int:
    """A stop is a stop: pending entries (and their unsent orders) of whatever ``q`` selects
    are skipped, atomically with the switch, Flatten or limit that stopped them."""
    skipped = 0
    with transaction.atomic():
        pending = Execution.objects.filter(q, status=X.PENDING).select_for_update()
        for ex in pending:
            if _is_exit(ex):
                continue
            Execution.objects.filter(pk=ex.pk, status=X.PENDING).update(
                status=X.SKIPPED, reason=reason[:500], finished_at=timezone.now()
            )
            skipped += 1
        Order.objects.filter(
            status=S.PLANNED,
            role__in=[Role.ENTRY, Role.MANUAL],
            execution__in=Execution.objects.filter(q),
        ).update(status=S.SKIPPED, text=f"Not sent: {reason}"[:500])
    return skipped


def _is_exit(execution: Execution) -> bool:
    if execution.kind == Execution.Kind.FLATTEN:
        return True
    if execution.kind == Execution.Kind.MANUAL:
        return execution.instruction.get("action") == "close"
    if execution.kind == Execution.Kind.SIGNAL:
        d = execution.instruction.get("decision") or {}
        return d.get("kind") in (dec.EXIT, dec.CANCEL) or (
            d.get("kind") == dec.TARGET and d.get("target") == 0
        )
    return True


# --- the turn's loop ------------------------------------------------------------------------------


def execution_run(*, execution_id: int) -> str:
    """Run ``execution_id`` in its account's turn (with every earlier one of that turn)."""
    execution = Execution.objects.filter(pk=execution_id).first()
    if execution is None or execution.is_final:
        return "done"
    lease = turn_acquire(account_id=execution.broker_account_id, root=execution.root)
    if lease is None:
        return "busy"  # the holder drains the queue; the sweeper backs that up
    with LeaseKeeper(lease), deferred_events():
        try:
            outcome = _drain(lease)
            drift.product_drift_judge(account_id=lease.account_id, root=lease.root)
            return outcome
        finally:
            turn_release(lease)
            _hand_on(lease)


def _queue(account_id: int, root: str):
    return Execution.objects.filter(
        broker_account_id=account_id, root=root, status__in=[X.PENDING, X.RUNNING]
    ).order_by("id")


def _drain(lease: Lease) -> str:
    started = time.monotonic()
    outcome = "idle"
    while lease.held and time.monotonic() - started < DRAIN_BUDGET_SECONDS:
        head = _queue(lease.account_id, lease.root).first()
        if head is None:
            break
        if head.not_before and head.not_before > timezone.now():
            execution_enqueue(head.pk, countdown=(head.not_before - timezone.now()).total_seconds())
            return "deferred"
        try:
            outcome = _run_one(head, lease)
        except placement.TurnLost:
            return "lost"
        except Deferred as exc:
            _defer(head, exc.retry_at)
            return "deferred"
        except (RateLimited, BrokerUnavailable) as exc:
            _defer(head, _broker_retry_at(head, exc))
            return "deferred"
        except BrokerError as exc:  # the login refused, an answer we cannot read: stop here
            outcome = _broker_refused(head, exc)
    return outcome


def _defer(execution: Execution, retry_at) -> None:
    Execution.objects.filter(pk=execution.pk).update(status=X.PENDING, not_before=retry_at)
    execution_enqueue(execution.pk, countdown=max(0.2, (retry_at - timezone.now()).total_seconds()))


def _in_seconds(moment) -> str:
    """ "in 3 s": a wait said without a clock, so the line reads right in every time zone."""
    return f"in {max(0, round((moment - timezone.now()).total_seconds()))} s"


def _broker_retry_at(execution: Execution, exc: BrokerError):
    """The broker did not answer a read (or asked us to wait): the execution waits its turn
    again; nothing was sent. Said once on the timeline, not on every retry."""
    wait = getattr(exc, "retry_after", None) or 3.0
    retry_at = timezone.now() + timedelta(seconds=float(wait))
    logger.warning("execution %s deferred: %s", execution.pk, exc.message)
    if execution.attempts <= 1:
        _execution_line(
            execution,
            events.Kind.ERROR,
            f"The broker did not answer ({exc.message}): retrying {_in_seconds(retry_at)}.",
            event=Event.ORDER_FAILED,
        )
    return retry_at


def _broker_refused(execution: Execution, exc: BrokerError) -> str:
    """The broker refused us before any order went out (a wrong password, a CAPTCHA): the
    execution fails where the trader sees it; its unsent orders are skipped."""
    Order.objects.filter(execution=execution, status=S.PLANNED).update(
        status=S.SKIPPED, text=f"Not sent: {exc.message}"[:500]
    )
    _execution_line(
        execution,
        events.Kind.ERROR,
        f"Nothing sent to the broker: {exc.message}",
        event=Event.ORDER_FAILED,
        data={"execution_id": execution.pk},
    )
    return _finish(execution, X.FAILED, exc.message)


def _execution_line(
    execution: Execution, kind: str, message: str, *, event=None, data=None, trader=None
) -> None:
    """A timeline line of ``execution``: its trader's when it has one, else its owner's."""
    if trader is None and execution.trader_id:
        trader = Trader.objects.select_related("strategy").filter(pk=execution.trader_id).first()
    if trader is not None:
        events.trader_line(
            trader, kind, message, event=event, signal=execution.signal_id, data=data
        )
    else:
        events.account_line(execution.user_id, kind, message, event=event, data=data)


def _hand_on(lease: Lease) -> None:
    """Work left in the queue (the drain's time budget ran out): queue its head now."""
    head = (
        _queue(lease.account_id, lease.root)
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=timezone.now()))
        .first()
    )
    if head is not None:
        try:
            _send_run(head.pk)
        except Exception:  # noqa: BLE001
            logger.warning("execution %s not handed on; the sweeper will", head.pk)


# --- one execution ------------------------------------------------------------------------------


class Context:
    """What one execution works with, loaded once."""

    def __init__(self, execution: Execution, lease: Lease):
        self.execution = execution
        self.lease = lease
        self.account = BrokerAccount.objects.select_related("connection").get(
            pk=execution.broker_account_id
        )
        self.connection = self.account.connection
        self.broker: Broker = broker_for(self.connection)
        self.trader = (
            Trader.objects.select_related("strategy", "broker_account__connection")
            .filter(pk=execution.trader_id)
            .first()
        )
        self.signal = (
            Signal.objects.filter(pk=execution.signal_id).first() if execution.signal_id else None
        )


def _start(execution: Execution) -> bool:
    return bool(
        Execution.objects.filter(pk=execution.pk, status__in=[X.PENDING, X.RUNNING]).update(
            status=X.RUNNING,
            started_at=execution.started_at or timezone.now(),
            attempts=execution.attempts + 1,
        )
    )


def _finish(execution: Execution, status: str, reason: str = "", **result: Any) -> str:
    Execution.objects.filter(pk=execution.pk).update(
        status=status,
        reason=reason[:2000],
        result={**(execution.result or {}), **result},
        finished_at=timezone.now(),
        not_before=None,
    )
    execution.status = status
    _signal_settle(execution.signal_id)
    return status


def _signal_settle(signal_id: int | None) -> None:
    """A processed signal is done when every execution of it is done, skipped or failed."""
    if not signal_id:
        return
    if Execution.objects.filter(signal_id=signal_id, status__in=[X.PENDING, X.RUNNING]).exists():
        return
    signal_mark_executed(signal_id)


def _overtaken_by(execution: Execution) -> Execution | None:
    """A later execution of the account and product that already ran, if any: this one comes
    back after it (its first run was cut short and something else took the account's turn)."""
    return (
        Execution.objects.filter(
            broker_account_id=execution.broker_account_id,
            root=execution.root,
            pk__gt=execution.pk,
            status=X.DONE,
        )
        .order_by("-pk")
        .first()
    )


def _superseded(execution: Execution, later: Execution) -> bool:
    """An entry, or an exit the later execution already covered (it ended flat), is moot now:
    the later signal's target stands. An exit it did not cover still runs (flat means flat)."""
    if not _is_exit(execution):
        return True
    return (later.result or {}).get("goal") == 0


def _run_one(execution: Execution, lease: Lease) -> str:
    if not _start(execution):
        return "done"
    execution.refresh_from_db()
    ctx = Context(execution, lease)
    later = _overtaken_by(execution)
    if later is not None and _superseded(execution, later):
        legs = list(execution.orders.filter(parent__isnull=True))
        _settle_unknowns(ctx, legs)  # what it may have sent stays what the broker says it is
        Order.objects.filter(execution=execution, status=S.PLANNED).update(
            status=S.SKIPPED, text="Not sent: superseded by a later signal of this account."
        )
        _superseded_line(ctx, later)
        return _finish(
            execution, X.SKIPPED, f"superseded by execution #{later.pk}, which already ran"
        )
    legs = list(execution.orders.filter(parent__isnull=True).order_by("id"))
    if legs:
        return _resume(ctx, legs)
    if execution.kind == Execution.Kind.PROTECT:
        return _protect(ctx)
    return _plan_and_send(ctx)


def _resume(ctx: Context, legs: list[Order]) -> str:
    """A run cut short (a killed worker, a deferral): settle what may have been sent, then
    send the rest, unless a later execution supersedes the unsent entries."""
    for order in legs:
        if order.status == S.SENDING:
            Order.objects.filter(pk=order.pk).update(status=S.UNKNOWN)
            order.status = S.UNKNOWN
    _settle_unknowns(ctx, legs)
    plan_goal = (ctx.execution.result or {}).get("goal")
    return _send_all(ctx, legs, goal=plan_goal)


def _superseded_line(ctx: Context, later: Execution) -> None:
    what = f"Signal #{ctx.execution.signal_id}" if ctx.execution.signal_id else "An order"
    _line(
        ctx,
        events.Kind.INFO,
        f"{what} came back after a later one of {ctx.account.name} already ran "
        f"(execution #{later.pk}): skipped, the later signal's target stands.",
        event=Event.EXECUTION_SUPERSEDED,
        data={"execution_id": ctx.execution.pk, "later_execution_id": later.pk},
    )


def _settle_unknowns(ctx: Context, orders: list[Order]) -> None:
    for order in orders:
        if order.status in (S.SENDING, S.UNKNOWN):
            try:
                placement.order_settle_unknown(
                    order=order, broker=ctx.broker, connection=ctx.connection
                )
            except OutcomeUnknown as exc:
                raise Deferred(timezone.now() + timedelta(seconds=3)) from exc
            order.refresh_from_db()


# --- planning -----------------------------------------------------------------------------------


def _contract(name: str, broker: Broker) -> Contract:
    """The contract with the broker's own tick size and point value (cached), the static table
    when the broker does not answer."""
    spec = getattr(broker, "contract_spec", None)
    if spec is not None:
        try:
            return spec(name)
        except Exception as exc:  # noqa: BLE001 - the table is the documented fallback
            logger.info("contract spec of %s from the table: %s", name, exc)
    return resolve_symbol(name)


def _holdings(ctx: Context) -> mirror.Holdings:
    if not mirror.mirror_is_fresh(ctx.connection):
        mirror.mirror_refresh(connection=ctx.connection, account_id=ctx.account.external_id)
    found = mirror.holdings(account=ctx.account, root=ctx.execution.root)
    if found.unsettled:  # an earlier execution's order whose fate is unknown: settle it first
        _settle_unknowns(ctx, found.unsettled)
        found = mirror.holdings(account=ctx.account, root=ctx.execution.root)
    return found


def _instruction_decision(ctx: Context, held: int) -> tuple[dec.Decision, int, str]:
    """(decision, goal, front contract) of this execution, against what is held now."""
    ex, ins = ctx.execution, ctx.execution.instruction
    if ex.kind == Execution.Kind.FLATTEN or (
        ex.kind == Execution.Kind.MANUAL and ins.get("action") == "close"
    ):
        return (
            dec.Decision(dec.EXIT, held, 0, note=ins.get("reason", "")),
            0,
            ins.get("contract", ""),
        )
    if ex.kind == Execution.Kind.SIGNAL:
        decision = dec.Decision.from_dict(ins["decision"])
        trader = ctx.trader
        goal = dec.trader_goal(
            decision, held=held, multiplier=trader.multiplier, max_contracts=trader.max_contracts
        )
        return decision, goal, ins["contract"]
    # A manual buy/sell: the strategy's rules in the trader's own contracts.
    side = 1 if ins["action"] == "buy" else -1
    qty = int(ins["qty"])
    intent = Intent(action=ins["action"], kind="delta", side=side, quantity=qty)
    if ctx.trader is not None:
        t, strategy = ctx.trader, ctx.trader.strategy
        rules = dec.Rules(
            default_quantity=min(qty * t.multiplier, t.max_contracts),
            close_only=strategy.opposite_signal == Strategy.OppositeSignal.CLOSE_ONLY,
            direction=strategy.direction,
            max_position=min(
                (strategy.max_position or t.max_contracts) * t.multiplier, t.max_contracts
            ),
        )
    else:
        rules = dec.Rules(default_quantity=qty)
    decision = dec.strategy_decision(intent, current=held, rules=rules)
    goal = dec.trader_goal(decision, held=held, multiplier=1, max_contracts=10**6)
    return decision, goal, ins["contract"]


def _entry_spec(ctx: Context, contract: Contract) -> placement.EntrySpec:
    ins = ctx.execution.instruction
    exits = ExitRules.from_json(ins.get("exits"))
    if ctx.trader is not None and ctx.execution.kind in (
        Execution.Kind.SIGNAL,
        Execution.Kind.MANUAL,
    ):
        intent = (
            Intent.from_dict(ctx.signal.intent)
            if ctx.signal is not None and ctx.signal.intent
            else None
        )
        exits = exit_rules_for(ctx.trader.strategy, intent, ctx.trader)
    if ins.get("bare"):
        exits = ExitRules()
    order_type = ins.get("order_type") or "Market"
    price = _on_tick(ins.get("price"), contract)
    stop = _on_tick(ins.get("stop_price"), contract)
    reference = _reference(ctx, contract, ins)
    return placement.EntrySpec(order_type, price, stop, exits, reference)


def _on_tick(value, contract: Contract) -> Decimal | None:
    if value in (None, ""):
        return None
    return round_to_tick(Decimal(str(value)), contract.tick_size)


def _reference(ctx: Context, contract: Contract, ins: dict) -> Decimal | None:
    for value in (ins.get("price"), ins.get("stop_price"), ins.get("reference_price")):
        if value not in (None, ""):
            return Decimal(str(value))
    position = ctx.account.positions.filter(symbol=contract.name).first()
    return position.last_price if position is not None else None


def _plan_and_send(ctx: Context) -> str:
    ex = ctx.execution
    if ex.kind == Execution.Kind.SIGNAL and ctx.trader is None:
        return _finish(ex, X.SKIPPED, "the trader no longer exists")
    held = _holdings(ctx)
    decision, goal, front_name = _instruction_decision(ctx, held.total)
    if ex.kind == Execution.Kind.SIGNAL and decision.kind == dec.CANCEL:
        count = sum(
            placement.cancel_working(
                trader=ctx.trader, account=ctx.account, broker=ctx.broker, contract=c
            )
            for c in sorted(held.working)
        )
        _line(ctx, events.Kind.ORDER, f"Cancel: {count} working order(s) cancelled.")
        return _finish(ex, X.DONE, f"{count} working order(s) cancelled", cancelled=count)
    front = front_name or _front_of(held)
    plan = dec.plan_legs(
        decision=decision, goal=goal, front=front, holdings=held.by_contract, working=held.working
    )
    if plan.empty:
        _expect(ctx, goal if ex.trader_id else None)
        _line(ctx, events.Kind.INFO, f"{_intro(ctx, held.total, goal)}: nothing to send.")
        return _finish(ex, X.DONE, "already there", held=held.total, goal=goal)
    opening = [leg for leg in plan.legs if leg.kind == dec.ORDER and leg.opens]
    if opening and len(opening) == len(plan.legs) and ex.kind == Execution.Kind.SIGNAL:
        # Nothing to close first: an entry the guards refuse ends here, told once. (A
        # reversal's closing legs still run; its opening leg is refused when claimed.)
        refusal = guards.entry_refusal(trader=_fresh_trader(ctx), execution=ex, now=timezone.now())
        if refusal is not None:
            return _refused_entry(ctx, refusal)
    contract = _contract(front, ctx.broker) if front else None
    entry = _entry_spec(ctx, contract) if contract is not None else placement.EntrySpec()
    with transaction.atomic():
        legs = placement.orders_write(
            execution=ex, plan=plan, trader=ctx.trader, account=ctx.account, entry=entry
        )
        Execution.objects.filter(pk=ex.pk).update(
            result={"held": held.total, "goal": goal, "rolled": list(plan.rolled)}
        )
    ex.result = {"held": held.total, "goal": goal, "rolled": list(plan.rolled)}
    if plan.rolled:
        _line(
            ctx,
            events.Kind.INFO,
            f"Rolled {', '.join(plan.rolled)} → {front}: the expiring month is closed and the "
            "front month opened.",
            event=Event.ROLLED,
            data={"from": list(plan.rolled), "to": front},
        )
    return _send_all(ctx, legs, goal=goal, contract=contract, entry=entry)


def _fresh_trader(ctx: Context) -> Trader | None:
    if ctx.trader is None:
        return None
    return Trader.objects.select_related("strategy").get(pk=ctx.trader.pk)


def _refused_entry(ctx: Context, refusal: guards.Refusal) -> str:
    dropped = "max age" in refusal.reason
    _line(
        ctx,
        events.Kind.FILTERED,
        f"Signal #{ctx.execution.signal_id}: entry {'dropped' if dropped else 'not placed'}: "
        f"{refusal.reason}.",
        event=Event.SIGNAL_DROPPED if dropped else Event.SIGNAL_FILTERED,
        data={"reason": refusal.reason, "signal_id": ctx.execution.signal_id}
        | ({"age_seconds": _age(ctx)} if dropped else {}),
    )
    return _finish(ctx.execution, X.SKIPPED, refusal.reason)


def _age(ctx: Context) -> float | None:
    if ctx.signal is None:
        return None
    return round((timezone.now() - ctx.signal.received_at).total_seconds(), 1)


def _front_of(held: mirror.Holdings) -> str:
    names = sorted(set(held.by_contract) | held.working)
    return names[-1] if names else ""


# --- sending --------------------------------------------------------------------------------------


def _send_all(ctx: Context, legs: list[Order], *, goal, contract=None, entry=None) -> str:
    ex = ctx.execution
    if contract is None and legs:
        opening = next((o for o in legs if o.role in (Role.ENTRY, Role.MANUAL)), None)
        if opening is not None:
            contract = _contract(opening.symbol, ctx.broker)
            entry = _entry_spec(ctx, contract)
    sent: list[Order] = []
    failed = ""
    for order in legs:
        if order.status != S.PLANNED:
            if order.status not in (S.SKIPPED, S.DENIED, S.FAILED, S.REJECTED):
                sent.append(order)
            continue
        if order.not_before and order.not_before > timezone.now():
            raise Deferred(order.not_before)
        result = _send_with_settle(ctx, order, contract, entry)
        if result.outcome == "deferred":
            _line(
                ctx,
                events.Kind.INFO,
                f"{order.action or 'Flatten'} {order.symbol}: {result.message} "
                f"Retrying {_in_seconds(result.retry_at)}.",
            )
            raise Deferred(result.retry_at)
        if result.outcome in ("skipped", "failed"):
            failed = result.message
            _order_failed_line(ctx, order, result)
            _skip_rest(legs, order, failed)
            break
        sent.append(order)
        if order.role in (Role.FLATTEN, Role.EXIT):
            # The next leg is planned on what this one left: wait for the broker's word.
            mirror.await_settled(connection=ctx.connection, orders=[order])
    mirror.await_settled(
        connection=ctx.connection,
        orders=[o for o in sent if o.role not in (Role.TAKE_PROFIT, Role.STOP_LOSS)],
    )
    reduced = any(o.role == Role.EXIT for o in sent)
    if reduced and ctx.trader is not None and goal is not None:
        placement.trim_protection(
            trader=ctx.trader, account=ctx.account, broker=ctx.broker, root=ex.root, keep=goal
        )
    for order in sent:
        order.refresh_from_db()
        _placed_line(ctx, order)
    if failed:
        _resync_expectation(ctx)
        return _finish(ex, X.FAILED, failed)
    _expect(ctx, goal)
    _owner_follows_hand_trade(ctx, goal)
    return _finish(ex, X.DONE, "", sent=[o.pk for o in sent])


def _owner_follows_hand_trade(ctx: Context, goal) -> None:
    """A trade by hand on an account (no trader of its own): the product's trader expects what
    it changed, as the broker will hold it."""
    ex = ctx.execution
    held = (ex.result or {}).get("held")
    if ctx.trader is not None or ex.kind != Execution.Kind.MANUAL or goal is None or held is None:
        return
    drift.owner_expect_move(account=ctx.account, root=ex.root, delta=int(goal) - int(held))


def _send_with_settle(ctx: Context, order: Order, contract, entry) -> placement.SendResult:
    for _ in range(MAX_RESENDS):
        result = placement.order_send(
            order=order,
            broker=ctx.broker,
            account=ctx.account,
            contract=contract,
            entry=entry,
            lease=ctx.lease,
            execution=ctx.execution,
        )
        if result.outcome != "unknown":
            return result
        try:
            if placement.order_settle_unknown(
                order=order, broker=ctx.broker, connection=ctx.connection
            ):
                return placement.SendResult("sent")
        except OutcomeUnknown as exc:
            raise Deferred(timezone.now() + timedelta(seconds=3)) from exc
        order.refresh_from_db()
    return placement.SendResult("failed", "the broker never confirmed the order")


def _skip_rest(legs: list[Order], failed: Order, reason: str) -> None:
    rest = [o.pk for o in legs if o.pk != failed.pk and o.status == S.PLANNED]
    if rest:
        Order.objects.filter(pk__in=rest).update(
            status=S.SKIPPED,
            text=f"Not sent: an earlier order of this signal failed ({reason})"[:500],
        )


def _expect(ctx: Context, goal: int | None) -> None:
    """What the trader should now hold in this product (drift is judged against it)."""
    if ctx.trader is None or goal is None:
        return
    with transaction.atomic():
        trader = Trader.objects.select_for_update().get(pk=ctx.trader.pk)
        expected = dict(trader.expected_positions or {})
        expected[ctx.execution.root] = int(goal)
        fields: dict[str, Any] = {"expected_positions": expected}
        if ctx.signal is not None:
            fields.update(last_signal_id=ctx.signal.pk, last_signal_at=ctx.signal.received_at)
        Trader.objects.filter(pk=trader.pk).update(**fields)
    ctx.trader.refresh_from_db()
    events.publish_trader(ctx.trader)


def _resync_expectation(ctx: Context) -> None:
    if ctx.trader is None:
        return
    held = mirror.holdings(account=ctx.account, root=ctx.execution.root)
    _expect(ctx, held.total)


# --- lines --------------------------------------------------------------------------------------


def _intro(ctx: Context, held: int, goal: int) -> str:
    ex = ctx.execution
    if ctx.signal is not None:
        what = (
            Intent.from_dict(ctx.signal.intent).describe()
            if ctx.signal.intent
            else ctx.signal.action
        )
        head = f"Signal #{ctx.signal.pk} ({what})"
    elif ex.kind == Execution.Kind.MANUAL:
        head = f"Manual {ex.instruction.get('action')}"
    else:
        head = f"Flatten ({ex.instruction.get('reason') or 'by hand'})"
    return f"{head}: {held:+d} → {goal:+d} {ex.root} on {ctx.account.name}"


def _line(ctx: Context, kind: str, message: str, *, event=None, data=None) -> None:
    _execution_line(ctx.execution, kind, message, event=event, data=data, trader=ctx.trader)


def _placed_line(ctx: Context, order: Order) -> None:
    children = list(order.brackets.all())
    exits = " · ".join(
        f"{'TP' if c.role == Role.TAKE_PROFIT else 'SL'} "
        f"{(c.price if c.role == Role.TAKE_PROFIT else c.stop_price).normalize():f}"
        for c in children
        if (c.price if c.role == Role.TAKE_PROFIT else c.stop_price) is not None
    )
    held, goal = (
        (ctx.execution.result or {}).get("held", 0),
        (ctx.execution.result or {}).get("goal", 0),
    )
    if order.role == Role.FLATTEN:
        what = f"Flatten {order.symbol}: working orders cancelled, position closed"
    else:
        price = f" @ {order.avg_fill_price.normalize():f}" if order.avg_fill_price else ""
        what = (
            f"{order.action} {order.quantity} {order.symbol} {order.order_type}: "
            f"{events.status_words(order.status)}{price}"
            + (f" (order {order.broker_order_id})" if order.broker_order_id else "")
            + (f" · {exits}" if exits else "")
        )
    kind = {
        Role.ENTRY: events.Kind.ENTRY,
        Role.EXIT: events.Kind.EXIT,
        Role.FLATTEN: events.Kind.EXIT,
    }.get(order.role, events.Kind.ORDER)
    _line(
        ctx,
        kind,
        f"{_intro(ctx, held, goal)} — {what}",
        event=Event.FLATTENED if order.role == Role.FLATTEN else Event.ORDER_PLACED,
        data={
            "order_id": order.pk,
            "broker_order_id": order.broker_order_id,
            "cl_ord_id": order.cl_ord_id,
        },
    )


def _order_failed_line(ctx: Context, order: Order, result: placement.SendResult) -> None:
    held, goal = (
        (ctx.execution.result or {}).get("held", 0),
        (ctx.execution.result or {}).get("goal", 0),
    )
    verb = "not sent" if result.outcome == "skipped" else "failed"
    _line(
        ctx,
        events.Kind.FILTERED if result.outcome == "skipped" else events.Kind.ERROR,
        f"{_intro(ctx, held, goal)} — {order.action or 'Flatten'} {order.quantity} {order.symbol} "
        f"{verb}: {result.message}",
        event=(
            Event.ORDER_FAILED
            if result.outcome != "skipped"
            else Event.SIGNAL_DROPPED
            if "max age" in result.message
            else Event.SIGNAL_FILTERED
        ),
        data={
            "order_id": order.pk,
            "reason": order.reject_reason or order.status,
            "text": result.message,
        },
    )


# --- protecting an open position ------------------------------------------------------------------


def _protect(ctx: Context) -> str:
    """A stop of this position was lost: put one back at a valid price, or flatten when the
    market is already past it. Told either way."""
    ins = ctx.execution.instruction
    held = _holdings(ctx)
    name = ins["contract"]
    qty = held.by_contract.get(name, 0)
    if not qty:
        return _finish(ctx.execution, X.DONE, "the position is already closed")
    direction = 1 if qty > 0 else -1
    covered = sum(
        o.quantity - o.filled_qty
        for o in working_orders(account=ctx.account, root=ctx.execution.root).filter(
            symbol=name, role=Role.STOP_LOSS
        )
    )
    if covered >= abs(qty):
        return _finish(ctx.execution, X.DONE, "the position is protected")
    contract = _contract(name, ctx.broker)
    position = ctx.account.positions.filter(symbol=name).first()
    level = _protective_level(ctx, contract, position, direction, ins)
    last = position.last_price if position is not None else None
    if last is None:
        try:
            quote = ctx.broker.quote(name)
            last = quote.bid if direction > 0 else quote.ask
        except Exception:  # noqa: BLE001 - without a price, flattening is the safe side
            last = None
    why = ins.get("text") or ins.get("why") or "lost"
    if (
        level is not None
        and last is not None
        and (last - level) * direction > contract.tick_size / 2
    ):
        return _replace_stop(ctx, name, qty, level, why)
    # No valid level on the loss side: the market is past the stop. Flat is the safe place.
    plan = dec.plan_legs(
        decision=dec.Decision(dec.EXIT, qty, 0), goal=0, front=name, holdings={name: qty}
    )
    legs = placement.orders_write(
        execution=ctx.execution, plan=plan, trader=ctx.trader, account=ctx.account,
        entry=placement.EntrySpec(),
    )  # fmt: skip
    _line(
        ctx,
        events.Kind.ERROR,
        f"The stop of {name} on {ctx.account.name} was {why} and the market is past it "
        f"({last}): the position is closed.",
        event=Event.PROTECTION_LOST,
        data={"reason": why, "contract": name},
    )
    return _send_all(ctx, legs, goal=held.total - qty)


def _protective_level(ctx, contract: Contract, position, direction: int, ins) -> Decimal | None:
    entry = position.net_price if position is not None else None
    if ctx.trader is not None and entry is not None:
        rules = exit_rules_for(ctx.trader.strategy, None, ctx.trader)
        found = tightest_stop(
            stop_levels(
                direction=direction, entry=Decimal(entry), rules=rules, instrument=contract
            ),
            direction,
        )
        if found is not None:
            return found[0]
    return Decimal(ins["stop_price"]) if ins.get("stop_price") else None


def _replace_stop(ctx: Context, name: str, qty: int, level: Decimal, why: str) -> str:
    order = Order.objects.create(
        user_id=ctx.execution.user_id,
        trader=ctx.trader,
        execution=ctx.execution,
        broker_account=ctx.account,
        cl_ord_id=placement.cl_ord_id_for(ctx.execution, 0),
        role=Role.STOP_LOSS,
        action="Sell" if qty > 0 else "Buy",
        symbol=name,
        root=ctx.execution.root,
        quantity=abs(qty),
        order_type="Stop",
        stop_price=level,
        status=S.PLANNED,
        parent_id=Order.objects.filter(pk=ctx.execution.instruction.get("lost_order_id"))
        .values_list("parent_id", flat=True)
        .first(),
    )
    result = _send_with_settle(ctx, order, None, None)
    if result.outcome == "deferred":
        raise Deferred(result.retry_at)
    if result.outcome != "sent":
        return _finish(ctx.execution, X.FAILED, result.message)
    _line(
        ctx,
        events.Kind.INFO,
        f"The stop of {name} on {ctx.account.name} was {why}: a new stop is working at "
        f"{level.normalize():f}.",
        event=Event.PROTECTION_REPLACED,
        data={"reason": why, "contract": name, "stop_price": level},
    )
    return _finish(ctx.execution, X.DONE, f"stop put back at {level}")


# --- periodic: nothing left behind --------------------------------------------------------------


def executions_sweep(*, now=None, stale_after: float = 3.0) -> int:
    """Queue the head of every turn whose work waits and nobody works on: pending executions no
    worker took (a lost message, a Redis restart), running ones whose worker died (its lease
    expired). Returns how many were queued."""
    now = now or timezone.now()
    queued = 0
    heads: dict[tuple[int, str], Execution] = {}
    waiting = Execution.objects.filter(status__in=[X.PENDING, X.RUNNING]).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now)
    )
    for ex in waiting.order_by("id"):
        heads.setdefault((ex.broker_account_id, ex.root), ex)
    for (account_id, root), head in heads.items():
        if head.status == X.PENDING and (now - head.created_at).total_seconds() < stale_after:
            continue  # just written: its own message is on the way
        busy = Turn.objects.filter(
            broker_account_id=account_id, root=root, lease_until__gt=now
        ).exists()
        if busy:
            continue
        execution_enqueue_now(head.pk)
        queued += 1
    return queued


def execution_enqueue_now(execution_id: int) -> None:
    try:
        _send_run(execution_id)
    except Exception:  # noqa: BLE001
        logger.warning("execution %s not enqueued (broker down?)", execution_id)


def orders_stuck(*, older_than: float = 30.0):
    """Orders left in Planned/Sending/Unknown past a bound with nobody running their execution
    (for the admin and the sweeper's log)."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    return Order.objects.filter(
        status__in=[S.PLANNED, S.SENDING, S.UNKNOWN], created_at__lt=cutoff
    ).exclude(execution__status__in=[X.PENDING, X.RUNNING])


def working_orders(*, account: BrokerAccount, root: str):
    return Order.objects.filter(broker_account=account, root=root, status__in=WORKING)
