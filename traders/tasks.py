"""Celery tasks of the traders app: ids in, a service call, nothing else.

``run_execution`` is safe to run any number of times: the execution row says what is left to
do and the account's turn lets one worker at a time do it (``acks_late``: a killed worker's
message comes back, and finds the work done or resumes it).
"""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

from traders import execution, services


@shared_task(
    name="traders.run_execution",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=10,
    max_retries=20,
)
def run_execution(execution_id: int, look_again: bool = True) -> str:
    try:
        outcome = execution.execution_run(execution_id=execution_id)
    except SoftTimeLimitExceeded:
        # Stopped mid-way: the execution stays running, its lease expires, the sweeper hands it
        # to the next worker, which settles whatever this one left unknown.
        return "cut short"
    if outcome == "busy" and look_again:
        # Another worker holds the account's turn and drains its queue, this execution
        # included; look once more shortly in case it let go just before this one was written
        # (the sweeper is the backstop).
        run_execution.apply_async((execution_id, False), countdown=0.5, retry=False)
    return outcome


@shared_task(name="traders.sweep_executions", ignore_result=True)
def sweep_executions() -> int:
    return execution.executions_sweep()


@shared_task(name="traders.reconcile", ignore_result=True)
def reconcile() -> int:
    return services.traders_reconcile()
