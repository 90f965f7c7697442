"""What became of a signal: its live payload, and its move to *processed* once every trader's
execution has ended (done, skipped or failed), so "processed" never means "some are missing"."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from justtrades.realtime import emit
from strategies.models import Signal, StrategyPosition


def signal_payload(signal: Signal) -> dict[str, Any]:
    return {
        "id": signal.pk,
        "strategy_id": signal.strategy_id,
        "status": signal.status,
        "reason": signal.reason,
        "action": signal.action,
        "symbol": signal.symbol,
        "contract": signal.contract,
        "quantity": signal.quantity,
        "sized_quantity": signal.sized_quantity,
        "sizing_note": signal.sizing_note,
        "price": signal.price,
        "target_position": signal.target_position,
        "received_at": signal.received_at,
        "processed_at": signal.processed_at,
        "executed_at": signal.executed_at,
        "latency_ms": signal.latency_ms,
    }


def signal_mark_executed(signal_id: int) -> bool:
    """The last execution of a decided signal ended: it is processed now."""
    now = timezone.now()
    moved = Signal.objects.filter(pk=signal_id, status=Signal.Status.EXECUTING).update(
        status=Signal.Status.PROCESSED, executed_at=now
    )
    if moved:
        signal = Signal.objects.select_related("strategy").get(pk=signal_id)
        emit(signal.strategy.user_id, "signal", signal_payload(signal))
    return bool(moved)


def strategy_position_after_exit(
    *, strategy_id: int, root: str, last_signal_id: int | None, net_pos: int
) -> bool:
    """The recorder's own exit (a take profit, a stop) closed the strategy's paper position:
    the strategy holds what is left — unless a later signal was decided meanwhile, whose target
    stands (the recorder books it next)."""

    return bool(
        StrategyPosition.objects.filter(
            strategy_id=strategy_id, root=root, last_signal_id=last_signal_id
        ).update(net_pos=net_pos)
    )
