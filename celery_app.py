"""The Celery application: worker and beat processes start from here."""

import logging
import os

from celery import Celery
from celery.signals import after_setup_logger, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "justtrades.settings")

app = Celery("justtrades")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class _HeartbeatFilter(logging.Filter):
    """The worker heartbeat runs every few seconds; its log lines would drown the useful ones."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "justtrades.heartbeat" not in record.getMessage()


@after_setup_logger.connect
def _quiet_heartbeat(logger, **kwargs):
    for handler in logger.handlers:
        handler.addFilter(_HeartbeatFilter())


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
