"""Processing a stored signal: the strategy's decision, once, in receipt order; the fan-out.

``signal_process(signal_id)`` (the ``process_signal`` task) decides every waiting signal of the
signal's strategy in receipt order, its own included, in one transaction per signal that holds
the strategy's row lock:

1. the product guard and the symbol (a continuous ``MNQ1!`` maps to the front month);
2. the strategy's rules → its new target (``traders.decision``), from the strategy's own
   position per product (``StrategyPosition``), so parallel workers never each read a stale
   position and overshoot;
3. filters: entries only — sessions (by trading day), cooldown, entry delay, max signal age,
   a switched-off strategy (its exits still run);
4. the fan-out as data: one ``Execution`` per trader that acts, written in the same
   transaction that marks the signal decided (a transactional outbox): a worker killed
   between the commit and the enqueue, or a Redis that restarts empty, loses nothing — the
   sweeper enqueues what no worker took.

The recorder then books the decision on the paper track record.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.brokers.symbols import UnknownSymbol, resolve_symbol
from accounts.paper import paper_market_follow_alert
from justtrades.realtime import emit
from justtrades.timeline import Event, timeline_write
from recorder.models import StrategyLog
from recorder.services import recorder_follow_decisions
from strategies.exchange_session import exchange_session_refusal
from strategies.models import Signal, Strategy, StrategyPosition
from strategies.outcome import signal_payload
from strategies.parsing import Intent
from strategies.products import alert_contract
from strategies.services import signal_create_internal, signal_enqueue
from traders import decision as dec
from traders import mirror, risk
from traders.execution import execution_create
from traders.models import Execution, Trader

logger = logging.getLogger(__name__)

Kind = StrategyLog.Kind
SWEEP_AFTER_SECONDS = 3  # an accepted signal untouched this long is enqueued again
SWEEP_RETRY_SECONDS = 10  # ...and not again before this
SWEEP_GIVE_UP_AFTER = 30  # re-enqueues before a signal is marked failed
DECIDED = (Signal.Status.EXECUTING, Signal.Status.PROCESSED)


# --- the decision, in receipt order -------------------------------------------------------------


def signal_process(*, signal_id: int) -> str:
    """Decide ``signal_id`` (and every earlier waiting signal of its strategy). Safe to run any
    number of times: a decided signal is never decided again."""
    row = Signal.objects.filter(pk=signal_id).values_list("strategy_id", "status").first()
    if row is None:
        return "gone"
    strategy_id, status = row
    if status != Signal.Status.ACCEPTED:
        if status in DECIDED:  # decided, but a retry may find its booking still to do
            _record(strategy_id)
        return "skipped"
    outcomes = signals_decide(strategy_id=strategy_id, until_id=signal_id)
    return outcomes.get(signal_id, "waiting")


def signals_decide(*, strategy_id: int, until_id: int | None = None) -> dict[int, str]:
    """Decide the strategy's waiting signals in receipt order (up to ``until_id`` and past it,
    while more are waiting); stops at an entry whose delay has not passed."""
    outcomes: dict[int, str] = {}
    while True:
        try:
            outcome, signal = _decide_next(strategy_id)
        except (OperationalError, InterfaceError):
            logger.warning("strategy %s: database unavailable, will retry", strategy_id)
            raise
        if signal is None:
            break
        outcomes[signal.pk] = outcome
        if outcome == "delayed":
            break
    if any(o in ("processed", "executing") for o in outcomes.values()):
        _record(strategy_id)
    return outcomes


def _decide_next(strategy_id: int) -> tuple[str, Signal | None]:
    now = timezone.now()
    with transaction.atomic():
        strategy = Strategy.objects.select_for_update().filter(pk=strategy_id).first()
        if strategy is None:
            return "gone", None
        signal = (
            Signal.objects.select_for_update()
            .filter(strategy_id=strategy_id, status=Signal.Status.ACCEPTED)
            .order_by("id")
            .first()
        )
        if signal is None:
            return "none", None
        signal.strategy = strategy
        try:
            return _decide(signal, strategy, now), signal
        except (OperationalError, InterfaceError, DatabaseError):
            raise
        except Exception as exc:
            logger.exception("signal %s failed", signal.pk)
            _finish(signal, Signal.Status.FAILED, f"internal error: {exc}"[:500], Kind.ERROR)
            return "failed", signal


def _finish(
    signal: Signal, status: str, reason: str = "", log_kind: str | None = None, event=None
) -> None:
    signal.status = status
    signal.reason = reason
    signal.processed_at = timezone.now()
    signal.save(
        update_fields=[
            "status",
            "reason",
            "processed_at",
            "contract",
            "target_position",
            "from_position",
            "opens",
            "symbol",
            "sized_quantity",
            "sizing",
        ]
    )
    if log_kind:
        timeline_write(
            user=signal.strategy.user_id,
            strategy=signal.strategy_id,
            signal=signal,
            kind=log_kind,
            message=reason,
            event=event,
            data={"reason": reason, "signal_id": signal.pk},
        )
    emit(signal.strategy.user_id, "signal", signal_payload(signal))


def _strategy_position(strategy: Strategy, root: str) -> StrategyPosition:
    position, _ = StrategyPosition.objects.select_for_update().get_or_create(
        strategy=strategy, root=root
    )
    return position


def _decide(signal: Signal, strategy: Strategy, now: datetime) -> str:
    intent = Intent.from_dict(signal.intent)
    signal.symbol = (intent.symbol or strategy.default_symbol)[:40]
    try:
        contract, refused = alert_contract(
            strategy=strategy, symbol=intent.symbol, at=signal.received_at
        )
    except UnknownSymbol as exc:
        _finish(signal, Signal.Status.REJECTED, str(exc), Kind.ERROR, Event.ALERT_REJECTED)
        return "rejected"
    if contract is None:
        _finish(signal, Signal.Status.REJECTED, refused, Kind.ERROR, Event.ALERT_REJECTED)
        return "rejected"
    signal.contract = contract.name
    position = _strategy_position(strategy, contract.root)
    rules = dec.Rules.of(strategy)
    decision = dec.strategy_decision(intent, current=position.net_pos, rules=rules)
    signal.sized_quantity, signal.sizing = dec.entry_size(intent, rules) or (None, "")
    if (
        not strategy.enabled
        and decision.opens
        and dec.sign(decision.target) == -dec.sign(decision.current)
    ):
        # Switched off: nothing new opens, but the position is not abandoned either.
        decision = dec.Decision(
            dec.EXIT, decision.current, 0, decision.side,
            "the strategy is switched off: the reversal only closes",
        )  # fmt: skip
    signal.target_position = decision.target
    signal.from_position = decision.current
    signal.opens = decision.opens

    if decision.filtered:
        _finish(signal, Signal.Status.FILTERED, decision.note, Kind.FILTERED, Event.SIGNAL_FILTERED)
        return "filtered"
    if decision.opens:
        reason = _entry_filter(signal, strategy, now)
        if reason == "delayed":
            return "delayed"
        if reason:
            signal.opens = False
            dropped = "max age" in reason
            _finish(
                signal,
                Signal.Status.FILTERED,
                reason,
                Kind.FILTERED,
                Event.SIGNAL_DROPPED if dropped else Event.SIGNAL_FILTERED,
            )
            return "filtered"

    # The paper market follows the alert before any order of this signal is sent.
    paper_market_follow_alert(
        user_id=strategy.user_id,
        contract_name=contract.name,
        price=intent.chart_price,
    )
    position.net_pos = decision.target
    position.contract = contract.name
    position.last_signal = signal
    position.save(update_fields=["net_pos", "contract", "last_signal", "updated_at"])
    executions = executions_for_signal(
        signal=signal, strategy=strategy, decision=decision, contract=contract, intent=intent
    )
    status = Signal.Status.EXECUTING if executions else Signal.Status.PROCESSED
    _finish(signal, status, decision.note)
    signal.executed_at = None if executions else timezone.now()
    Signal.objects.filter(pk=signal.pk).update(executed_at=signal.executed_at)
    message = (
        f"{intent.describe()} → {contract.name}, strategy position "
        f"{decision.current:+d} → {decision.target:+d}"
        + (f" ({decision.note})" if decision.note else "")
        + (f"; {len(executions)} trader(s)" if executions else "; no trader acts")
    )
    timeline_write(
        user=strategy.user_id,
        strategy=strategy,
        signal=signal,
        kind=Kind.SIGNAL,
        message=message,
        event=Event.SIGNAL,
        data={"target": decision.target, "contract": contract.name, "decision": decision.to_dict()},
    )
    return "executing" if executions else "processed"


def _entry_filter(signal: Signal, strategy: Strategy, now: datetime) -> str:
    """Why an entry may not go now ("" when it may; "delayed" to wait for the entry delay)."""
    if not strategy.enabled:
        return "the strategy is switched off: entries are refused (exits still run)"
    outside = risk.session_check(
        now=now,
        start=strategy.session_start,
        end=strategy.session_end,
        days=strategy.session_days,
        timezone=strategy.session_timezone,
    )
    if outside:
        return f"entry outside the strategy's session: {outside}"
    closed = exchange_session_refusal(strategy=strategy, contract=signal.contract, now=now)
    if closed:
        return closed
    if strategy.cooldown_seconds:
        since = now - timedelta(seconds=strategy.cooldown_seconds)
        last = (
            Signal.objects.filter(
                strategy_id=strategy.pk,
                status__in=[Signal.Status.PROCESSED, Signal.Status.EXECUTING],
                opens=True,
                received_at__gte=since,
            )
            .exclude(pk=signal.pk)
            .order_by("-received_at")
            .values_list("received_at", flat=True)
            .first()
        )
        if last is not None:
            ago = int((now - last).total_seconds())
            return (
                f"cooldown: the last entry was {ago}s ago (cooldown {strategy.cooldown_seconds}s)"
            )
    if strategy.entry_delay_seconds:
        due = signal.received_at + timedelta(seconds=strategy.entry_delay_seconds)
        if now < due:
            signal_enqueue(signal_id=signal.pk, countdown=(due - now).total_seconds())
            return "delayed"
    age = (now - signal.received_at).total_seconds()
    limit = strategy.max_signal_age_seconds
    if limit and age > limit + strategy.entry_delay_seconds:
        return (
            f"the alert is {age:.0f} s old, past the strategy's max age of {limit} s: entry dropped"
        )
    return ""


# --- the fan-out ----------------------------------------------------------------------------------


def executions_for_signal(
    *, signal: Signal, strategy: Strategy, decision: dec.Decision, contract, intent: Intent
) -> list[Execution]:
    """One execution per trader that acts on this decision: every enabled trader of an
    enabled strategy; and, for a switched-off trader or strategy, every trader still holding a
    position or working orders in the product (its exits run, its entries are refused) unless
    another trader owns that account's product now."""
    instruction = _instruction(signal, decision, contract, intent)
    made = []
    traders = Trader.objects.filter(strategy=strategy).select_related("broker_account__connection")
    for trader in traders:
        account = trader.broker_account
        if not account.active or account.connection.archived_at is not None:
            continue
        if not (trader.enabled and strategy.enabled) and not _still_holding(trader, contract.root):
            continue
        made.append(
            execution_create(
                user_id=strategy.user_id,
                account=account,
                root=contract.root,
                kind=Execution.Kind.SIGNAL,
                instruction=instruction,
                trader=trader,
                signal=signal,
            )
        )
    return made


def _still_holding(trader: Trader, root: str) -> bool:
    owner = (
        Trader.objects.filter(broker_account_id=trader.broker_account_id, enabled=True)
        .exclude(pk=trader.pk)
        .select_related("strategy")
    )
    for other in owner:
        try:
            if resolve_symbol(other.strategy.default_symbol).root == root:
                return False
        except UnknownSymbol:
            continue
    held = mirror.holdings(account=trader.broker_account, root=root)
    return bool(held.total or held.working)


def _instruction(
    signal: Signal, decision: dec.Decision, contract, intent: Intent
) -> dict[str, Any]:
    order_type = {"limit": "Limit", "stop": "Stop", "stop_limit": "StopLimit"}.get(
        intent.order_type or "market", "Market"
    )
    return {
        "decision": decision.to_dict(),
        "contract": contract.name,
        "order_type": order_type,
        "price": str(intent.limit_price) if intent.limit_price is not None else None,
        "stop_price": str(intent.stop_price) if intent.stop_price is not None else None,
        "reference_price": str(intent.price or signal.price)
        if (intent.price or signal.price)
        else None,
    }


def _record(strategy_id: int) -> None:
    """The paper track record books the decisions (after the money's executions are queued),
    in the order they were made."""
    try:
        recorder_follow_decisions(strategy_id=strategy_id)
    except (OperationalError, InterfaceError):
        raise
    except Exception:  # noqa: BLE001 - the record never stops the money
        logger.exception("recorder failed on strategy %s", strategy_id)


# --- periodic jobs ----------------------------------------------------------------------------


def signals_sweep(
    *, now: datetime | None = None, limit: int = 500, older_than: float = SWEEP_AFTER_SECONDS
) -> int:
    """Enqueue again the signals stored but never decided (a broker outage, a lost message, a
    killed worker). Returns how many were enqueued."""
    now = now or timezone.now()
    accepted_before = now - timedelta(seconds=older_than)
    retry_before = now - timedelta(seconds=max(older_than, SWEEP_RETRY_SECONDS))
    candidates = (
        Signal.objects.filter(status=Signal.Status.ACCEPTED, received_at__lt=accepted_before)
        .filter(Q(swept_at__isnull=True) | Q(swept_at__lt=retry_before))
        .select_related("strategy")
        .only(
            "id",
            "received_at",
            "enqueue_count",
            "strategy__entry_delay_seconds",
            "strategy__user_id",
        )
        .order_by("received_at")[:limit]
    )
    count = 0
    for signal in candidates:
        delay = timedelta(seconds=signal.strategy.entry_delay_seconds or 0)
        if signal.received_at + delay > accepted_before:
            continue
        if signal.enqueue_count >= SWEEP_GIVE_UP_AFTER:
            updated = Signal.objects.filter(pk=signal.pk, status=Signal.Status.ACCEPTED).update(
                status=Signal.Status.FAILED,
                reason="never processed: no worker took it after repeated attempts",
                processed_at=now,
            )
            if updated:
                timeline_write(
                    user=signal.strategy.user_id,
                    strategy=signal.strategy_id,
                    signal=signal.pk,
                    kind=Kind.ERROR,
                    message=f"Signal #{signal.pk} was never processed and is marked failed.",
                    event=Event.ORDER_FAILED,
                    data={"signal_id": signal.pk, "reason": "never processed"},
                )
            continue
        Signal.objects.filter(pk=signal.pk).update(
            swept_at=now, enqueue_count=signal.enqueue_count + 1
        )
        if signal_enqueue(signal_id=signal.pk):
            count += 1
    _record_missed(decided_before=accepted_before)
    return count


def _record_missed(*, decided_before: datetime) -> None:
    """Decisions a worker made but did not live to book (killed, or the database went away
    between the two): booked now, in their order."""
    strategies = (
        Signal.objects.filter(
            status__in=DECIDED,
            recorded_at__isnull=True,
            target_position__isnull=False,
            processed_at__lt=decided_before,
        )
        .values_list("strategy_id", flat=True)
        .distinct()
    )
    for strategy_id in list(strategies):
        _record(strategy_id)


def strategies_auto_flatten(*, now: datetime | None = None, grace_minutes: int = 10) -> int:
    """At each strategy's auto-flatten time (in its session time zone), one exit signal: every
    trader holding the product is closed, switched off or not."""
    now = now or timezone.now()
    count = 0
    for strategy in Strategy.objects.filter(auto_flatten_time__isnull=False):
        local = now.astimezone(risk._zone(strategy.session_timezone))
        at = datetime.combine(local.date(), strategy.auto_flatten_time, tzinfo=local.tzinfo)
        if not (at <= local < at + timedelta(minutes=grace_minutes)):
            continue
        result = signal_create_internal(
            strategy=strategy,
            body="exit",
            origin=Signal.Origin.AUTO_FLATTEN,
            dedupe_key=f"auto_flatten:{local.date().isoformat()}",
        )
        if result.body.get("status") == "accepted":
            count += 1
            timeline_write(
                user=strategy.user_id,
                strategy=strategy,
                signal=result.body["signal_id"],
                kind=Kind.INFO,
                message=f"Auto-flatten at {strategy.auto_flatten_time:%H:%M} {strategy.session_timezone}",
            )
    return count


def signals_stuck(*, older_than: float = 60.0):
    """Decided signals whose executions have not all ended (for the admin)."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    return Signal.objects.filter(status=Signal.Status.EXECUTING, processed_at__lt=cutoff)
