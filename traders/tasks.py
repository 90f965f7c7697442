"""Celery tasks of the traders app: ids in, a service call, nothing else."""

from __future__ import annotations

from celery import shared_task

from traders import execution, services


@shared_task(
    bind=True,
    name="traders.execute_signal_for_trader",
    acks_late=True,  # safe: the Order rows make a second run resume, never re-place
    max_retries=execution.MAX_ATTEMPTS,
    ignore_result=True,
)
def execute_signal_for_trader(self, trader_id: int, signal_id: int) -> str:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    final = self.request.retries >= execution.MAX_ATTEMPTS - 1
    try:
        return execution.trader_execute_signal(
            trader_id=trader_id, signal_id=signal_id, redelivered=redelivered, final=final
        )
    except execution.RetryLater as exc:
        # Exponential backoff on top of what the broker asked for.
        countdown = max(exc.countdown, 2**self.request.retries)
        raise self.retry(countdown=countdown, exc=exc) from exc


@shared_task(name="traders.check_risk", ignore_result=True)
def check_risk() -> int:
    return services.traders_check_risk()


@shared_task(name="traders.reconcile", ignore_result=True)
def reconcile() -> int:
    return services.traders_reconcile()
