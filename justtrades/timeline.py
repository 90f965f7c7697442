"""The strategy timeline: the one writer of ``StrategyLog`` lines, for every app.

A line is what a trader reads on the strategy page, the control center's live log and the
signal's admin page ("Signal #12 (buy 1): +0 → +1 MNQZ5 …"). Each line is published as a live
``log`` event after commit, and carries structured ``data`` whose ``event`` names what happened
(``Event``), so that notification rules decide on data, never on the English text.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from justtrades.realtime import emit
from recorder.models import StrategyLog


class Event(StrEnum):
    """Machine names of timeline lines that something downstream (a DM, a push) may act on."""

    SIGNAL = "signal"  # a signal decided: the strategy's new target
    ALERT_REJECTED = "alert_rejected"  # bad body, wrong passphrase, unknown symbol, product guard
    SIGNAL_FILTERED = "signal_filtered"  # a rule of the strategy filtered it (session, cooldown…)
    SIGNAL_DROPPED = "signal_dropped"  # an entry past the strategy's max age
    EXECUTION_SUPERSEDED = "execution_superseded"  # came back after a later signal ran
    ORDER_PLACED = "order_placed"
    ORDER_FAILED = "order_failed"  # refused by the broker or never placed
    FLATTENED = "flattened"
    TARGET_FILLED = "target_filled"
    STOP_FILLED = "stop_filled"
    PROTECTION_REPLACED = "protection_replaced"  # a rejected/cancelled stop put back
    PROTECTION_LOST = "protection_lost"  # …or the position flattened because it could not be
    BREAK_EVEN_MOVED = "break_even_moved"
    ROLLED = "rolled"  # an expiring month closed and the new front month opened
    DAILY_LOSS_LIMIT = "daily_loss_limit"
    DAILY_PROFIT_TARGET = "daily_profit_target"
    RISK_UNAVAILABLE = "risk_unavailable"  # the daily limits could not be evaluated
    DRIFT = "drift"
    BROKER_LOGIN_FAILED = "broker_login_failed"
    ACCOUNT_REFRESH_FAILED = "account_refresh_failed"
    TRADING_PAUSED = "trading_paused"  # a p-captcha: automation stopped for the connection
    RECORDER_ACCOUNT_UNREADABLE = "recorder_account_unreadable"
    RECORDED = "recorded"  # the recorder's paper position moved


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def timeline_payload(entry: StrategyLog) -> dict[str, Any]:
    """The live ``log`` event (and API row) of one timeline line."""
    return {
        "id": entry.pk,
        "strategy_id": entry.strategy_id,
        "trader_id": entry.trader_id,
        "signal_id": entry.signal_id,
        "kind": entry.kind,
        "message": entry.message,
        "data": entry.data,
        "created_at": entry.created_at,
    }


def timeline_write(
    *,
    user,
    kind: str,
    message: str,
    strategy=None,
    trader=None,
    signal=None,
    event: Event | str | None = None,
    data: dict[str, Any] | None = None,
) -> StrategyLog:
    """Add one line to a strategy's timeline and push it to the owner's open pages.

    ``user``, ``strategy``, ``trader`` and ``signal`` may be instances or ids. ``kind`` is one of
    ``StrategyLog.Kind``; ``event`` (an ``Event``) is stored in ``data["event"]``.
    """
    if kind not in StrategyLog.Kind.values:
        raise ValueError(f"unknown strategy log kind {kind!r}")
    payload = dict(data or {})
    if event is not None:
        payload["event"] = str(event)
    user_id = getattr(user, "pk", user)
    entry = StrategyLog.objects.create(
        user_id=user_id,
        strategy_id=getattr(strategy, "pk", strategy),
        trader_id=getattr(trader, "pk", trader),
        signal_id=getattr(signal, "pk", signal),
        kind=kind,
        message=str(message)[:2000],
        data=_jsonable(payload),
    )
    emit(user_id, "log", timeline_payload(entry))
    return entry
