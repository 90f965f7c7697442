"""Tasks of the project itself: the worker heartbeat and the readiness echo."""

from celery import shared_task

from justtrades.health import record_worker_heartbeat


@shared_task(name="justtrades.heartbeat", ignore_result=True)
def heartbeat() -> None:
    record_worker_heartbeat()


@shared_task(name="justtrades.echo")
def echo(value):
    """Round-trips a value through a worker: used by operators and tests to prove one runs."""
    return value
