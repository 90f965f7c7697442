"""Live events to the browser: one helper every service calls.

`publish(user_id, "fill", {...})` sends after the surrounding transaction commits, so a browser
never hears of a row it cannot fetch yet. Events are small typed JSON objects
(`{"type": "fill", "data": {...}}`) sent to the Channels group `user.<id>`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)

EVENT_TYPES = {
    "signal",
    "order",
    "fill",
    "position",
    "trader",
    "strategy",
    "log",
    "account",
    "recorder",
    "toast",
}

# Functions called with (user_id, event_type, data) after commit, e.g. notification rules.
_listeners: list[Callable[[int, str, dict], None]] = []


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def add_listener(listener: Callable[[int, str, dict], None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def publish_now(user_id: int, event_type: str, data: dict[str, Any]) -> None:
    """Send one event immediately. A channel-layer outage is logged, never raised: the
    database is the source of truth and pages re-fetch it on reconnect."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    payload = _jsonable(data)
    try:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(
                user_group(user_id), {"type": "live.event", "event": event_type, "data": payload}
            )
    except Exception:  # noqa: BLE001 - the live push is best effort by design
        logger.warning(
            "live event %s for user %s not delivered", event_type, user_id, exc_info=True
        )
    for listener in list(_listeners):
        try:
            listener(user_id, event_type, payload)
        except Exception:  # noqa: BLE001
            logger.exception("event listener %r failed", listener)


def publish(user_id: int, event_type: str, data: dict[str, Any]) -> None:
    """Send one event after the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: publish_now(user_id, event_type, data))
