"""Celery tasks of the signal path: thin, ids in, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from strategies import processing


@shared_task(
    name="strategies.process_signal",
    acks_late=True,
    ignore_result=True,
    # The database briefly unreachable: try again shortly (the sweeper is the last resort).
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=8,
)
def process_signal(signal_id: int) -> str:
    """The strategy's decision, in receipt order, and the fan-out. Idempotent: a decided
    signal is never decided again, so a redelivered message does nothing the second time."""
    return processing.signal_process(signal_id=signal_id)


@shared_task(name="strategies.sweep_signals", ignore_result=True)
def sweep_signals() -> int:
    """Enqueue again the signals accepted but not decided after a few seconds."""
    return processing.signals_sweep()


@shared_task(name="strategies.auto_flatten", ignore_result=True)
def auto_flatten() -> int:
    """Send each strategy's daily auto-flatten exit at its configured time."""
    return processing.strategies_auto_flatten()
