"""Live events to the browser: one helper every service calls.

`publish(user_id, "fill", {...})` sends after the surrounding transaction commits, so a browser
never hears of a row it cannot fetch yet. Events are small typed JSON objects
(`{"type": "fill", "data": {...}}`) sent to the Channels group `user.<id>`.

The send itself happens on one background thread per process with its own event loop, in the
order events were published: the caller (a trading task placing 100 orders, a web request)
only queues the event, and the Redis connections of the channel layer are reused instead of
being opened for each event, as `async_to_sync(group_send)` would. Listeners (the notification
rules) are called synchronously in the caller, after the event is queued.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

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
# Events waiting for Redis beyond this are dropped (logged): pages re-fetch on reconnect.
MAX_PENDING = 10_000

# Functions called with (user_id, event_type, data) after commit, e.g. notification rules.
_listeners: list[Callable[[int, str, dict], None]] = []


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def add_listener(listener: Callable[[int, str, dict], None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


class _Sender:
    """A daemon thread running an event loop that sends queued group messages in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._thread: threading.Thread | None = None
        self._pending = 0
        self._idle = threading.Condition(self._lock)

    def _ensure_started(self) -> None:
        # A forked child (Celery prefork) inherits no running thread: start its own.
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            ready = threading.Event()
            self._pending = 0
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._run, args=(self._loop, ready), name="live-events", daemon=True
            )
            self._thread.start()
            ready.wait(5)
            self._pid = os.getpid()

    def _run(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        self._queue = asyncio.Queue()
        ready.set()
        loop.run_until_complete(self._drain())

    async def _drain(self) -> None:
        assert self._queue is not None
        while True:
            group, message = await self._queue.get()
            try:
                layer = get_channel_layer()
                if layer is not None:
                    await layer.group_send(group, message)
            except Exception:  # noqa: BLE001 - the live push is best effort by design
                logger.warning(
                    "live event %s to %s not delivered", message.get("event"), group, exc_info=True
                )
            finally:
                with self._lock:
                    self._pending -= 1
                    if self._pending <= 0:
                        self._idle.notify_all()

    def submit(self, group: str, message: dict[str, Any]) -> None:
        self._ensure_started()
        with self._lock:
            if self._pending >= MAX_PENDING:
                logger.warning("live event queue full; dropping %s", message.get("event"))
                return
            self._pending += 1
        assert self._loop is not None and self._queue is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (group, message))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event went to Redis (True) or the timeout passed."""
        if self._pid != os.getpid():
            return True
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True


_sender = _Sender()


def flush(timeout: float = 5.0) -> bool:
    """Block until this process's queued events are sent (commands call it before exiting)."""
    return _sender.flush(timeout)


atexit.register(flush, 2.0)


Payload = dict[str, Any] | Callable[[], dict[str, Any] | None]


def publish_now(user_id: int, event_type: str, data: Payload) -> None:
    """Send one event now (queued to this process's sender thread). A channel-layer outage is
    logged, never raised: the database is the source of truth and pages re-fetch it on
    reconnect. ``data`` may be a function that reads the payload now (None: nothing to send),
    so a row changed by several processes is told as committed, not as one of them saw it."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    if callable(data):
        data = data()
        if data is None:
            return
    payload = _jsonable(data)
    try:
        _sender.submit(
            user_group(user_id), {"type": "live.event", "event": event_type, "data": payload}
        )
    except Exception:  # noqa: BLE001
        logger.warning("live event %s for user %s not queued", event_type, user_id, exc_info=True)
    for listener in list(_listeners):
        try:
            listener(user_id, event_type, payload)
        except Exception:  # noqa: BLE001
            logger.exception("event listener %r failed", listener)


def publish(user_id: int, event_type: str, data: Payload) -> None:
    """Send one event after the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: publish_now(user_id, event_type, data))


# --- holding a block's events until its end ------------------------------------------------------

_deferred = threading.local()


@contextmanager
def deferred_events():
    """Hold the live events of a block and publish them at its end: an order placement sends its
    order to the broker first and tells the browser after, off the critical path."""
    if getattr(_deferred, "events", None) is not None:
        yield
        return
    _deferred.events = []
    try:
        yield
    finally:
        events, _deferred.events = _deferred.events, None
        for user_id, event_type, data in events:
            publish(user_id, event_type, data)


def emit(user_id: int, event_type: str, data: Payload) -> None:
    """``publish``, or held until the end of the surrounding ``deferred_events`` block."""
    events = getattr(_deferred, "events", None)
    if events is not None:
        events.append((user_id, event_type, data))
    else:
        publish(user_id, event_type, data)
