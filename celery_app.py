"""The Celery application: worker and beat processes start from here."""

import logging
import os

from celery import Celery
from celery.signals import after_setup_logger, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "justtrades.settings")

app = Celery("justtrades")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Housekeeping that runs every few seconds: its lines would drown the useful ones, so they are
# logged only when the task found something to do (a non-zero count) or failed.
QUIET_TASKS = ("justtrades.heartbeat", "strategies.sweep_signals", "traders.sweep_executions")


class _HousekeepingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not any(name in message for name in QUIET_TASKS):
            return True
        if " succeeded in " in message:
            return not message.rstrip().endswith((": 0", ": None"))
        return not (" received" in message or "Sending due task" in message)


@after_setup_logger.connect
def _quiet_housekeeping(logger, **kwargs):
    for handler in logger.handlers:
        handler.addFilter(_HousekeepingFilter())


@worker_ready.connect
def _take_up_waiting_work(**kwargs):
    """A (re)started worker looks for work a killed one left behind, without waiting for beat."""
    try:
        from strategies.processing import signals_sweep
        from traders.execution import executions_sweep

        signals_sweep()
        executions_sweep()
    except Exception:  # noqa: BLE001 - beat's sweepers cover it a moment later
        logging.getLogger(__name__).warning("start-up sweep failed", exc_info=True)
