"""What an operator reads in `make run`'s log: housekeeping only when it did something."""

import logging

from celery_app import _HousekeepingFilter


def _shown(message: str) -> bool:
    record = logging.LogRecord("celery", logging.INFO, __file__, 1, message, None, None)
    return _HousekeepingFilter().filter(record)


def test_idle_sweeps_stay_out_of_the_log_and_busy_ones_are_shown():
    quiet = [
        "Scheduler: Sending due task Traders: sweep executions (traders.sweep_executions)",
        "Task traders.sweep_executions[f567b200] received",
        "Task traders.sweep_executions[f567b200] succeeded in 0.0023s: 0",
        "Task strategies.sweep_signals[2c96bebe] succeeded in 0.0053s: 0",
        "Task justtrades.heartbeat[aa] succeeded in 0.001s: None",
    ]
    assert not any(_shown(m) for m in quiet)
    assert _shown("Task traders.sweep_executions[f567b200] succeeded in 0.0023s: 3")
    assert _shown("Task traders.sweep_executions[f567b200] raised unexpected: OperationalError")
    assert _shown("Task strategies.process_signal[1] received")
    assert _shown("Task strategies.process_signal[1] succeeded in 0.2s: 'processed'")
