"""Helpers for recorder tests: strategies made and signals processed the product's own way."""

from __future__ import annotations

from accounts.brokers.symbols import resolve_symbol
from strategies.models import Signal
from strategies.processing import signal_process
from strategies.services import signal_create_internal, strategy_create


def make_strategy(user, name: str = "Trend", **fields):
    """A strategy through the strategies service (which starts its recorder); fixed sizing
    unless the test asks for another."""
    fields.setdefault("sizing", "fixed")
    return strategy_create(user=user, name=name, **fields)


def send(strategy, body: str, origin: str = "test") -> Signal:
    """Store an alert as the webhook would and process it as the worker would."""
    result = signal_create_internal(strategy=strategy, body=body, origin=origin)
    signal_id = result.body["signal_id"]
    signal_process(signal_id=signal_id)
    return Signal.objects.get(pk=signal_id)


def front(symbol: str) -> str:
    """The Tradovate contract a continuous symbol maps to today (``MNQ1!`` → ``MNQZ6``)."""
    return resolve_symbol(symbol).name
