"""``manage.py broker_stream``: one user WebSocket per active broker login, feeding the mirror.

Each connection's stream is handled by a ``ConnectionMirror`` on a thread of its own (the
socket's thread never waits on the database): events are collected per frame and applied in
one transaction (``mirror.frame_apply``); a snapshot after every (re)connect re-syncs from the
snapshot itself, with no REST reads. The mirror's heartbeat tells the planner the stream is
live. Quotes of held contracts keep open P&L current and feed the daily limits, and move
managed stops (trailing with a fixed stop, break-even) exactly as the recorder models them.

A connection's socket is reopened only when its credentials or environment change
(``credentials_version``), never because a balance refresh touched the row.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from dataclasses import replace

from django.db import InterfaceError, OperationalError, close_old_connections
from django.db import connection as db_connection
from django.db.models import Q

from accounts.brokers.base import (
    BrokerError,
    BrokerEvent,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    Quote,
)
from accounts.brokers.factory import broker_for
from accounts.models import BrokerAccount, BrokerConnection
from justtrades.realtime import deferred_events
from traders import exits_live, mirror, services
from traders.models import Position

logger = logging.getLogger(__name__)

DB_RETRIES = 30  # about two minutes of backoff before falling back to a re-sync
HEARTBEAT_EVERY = 2.0
BATCH_MAX = 500  # events taken off the socket's queue at once (quotes coalesced within)
RISK_EVERY = 1.0  # open P&L moves with every quote: limits are checked at most this often


def latest_quotes_only(events: list[BrokerEvent | None]) -> list[BrokerEvent | None]:
    """The events waiting, in order, with each contract's quotes reduced to its latest: a
    burst of quotes (a price move, a hundred accounts holding it) must not queue the fills
    and orders behind it. A quote is the market now; the ones it replaces are past, except
    how far they reached (the latest carries the burst's highest bid and lowest ask, so a
    break-even trigger touched within the burst is not missed)."""
    quotes_of: dict[str, list[int]] = defaultdict(list)
    for i, event in enumerate(events):
        if _is_quote(event):
            quotes_of[event.obj.symbol].append(i)
    kept: dict[int, BrokerEvent] = {}
    for indexes in quotes_of.values():
        burst = [events[i].obj for i in indexes]
        latest = events[indexes[-1]]
        kept[indexes[-1]] = latest if len(burst) == 1 else replace(latest, obj=_reach(burst))
    return [
        kept.get(i, event) for i, event in enumerate(events) if not _is_quote(event) or i in kept
    ]


def _or_last(price, quote: Quote):
    return price if price is not None else quote.last


def _is_quote(event: BrokerEvent | None) -> bool:
    return event is not None and event.kind == "quote" and event.obj is not None


def _reach(burst: list[Quote]) -> Quote:
    bids = [p for q in burst for p in (q.high_bid, _or_last(q.bid, q)) if p is not None]
    asks = [p for q in burst for p in (q.low_ask, _or_last(q.ask, q)) if p is not None]
    return replace(
        burst[-1], high_bid=max(bids) if bids else None, low_ask=min(asks) if asks else None
    )


def active_connections():
    """Connections worth a socket: an active account with a trader, not archived."""
    return (
        BrokerConnection.objects.filter(accounts__active=True, accounts__traders__isnull=False)
        .filter(archived_at__isnull=True)
        .distinct()
        .order_by("id")
    )


class ConnectionMirror:
    """Applies one connection's stream to the mirror (on a thread of its own)."""

    def __init__(self, connection: BrokerConnection):
        self.connection = connection
        self.broker = broker_for(connection)
        self.accounts: dict[int, BrokerAccount] = {}
        self.reload_accounts()
        self.resyncs = 0
        self.events = 0
        self.needs_resync = False
        self.stream = None
        self.frame = mirror.Frame()
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(
            target=self._work, name=f"mirror-{connection.pk}", daemon=True
        )
        self._last_beat = 0.0
        self._risk_due: set[int] = set()
        self._last_risk = 0.0
        self._quoted: set[str] = set()

    def reload_accounts(self) -> None:
        self.accounts = {
            a.external_id: a
            for a in BrokerAccount.objects.filter(connection=self.connection).select_related(
                "connection"
            )
        }

    def start(self):
        self._thread.start()
        self.stream = self.broker.stream(self.handle, account_events=True).start()
        return self

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
        self._queue.put(None)
        self._thread.join(timeout=10)
        try:
            mirror.mirror_mark_stale(self.connection.pk)
        except Exception:  # noqa: BLE001 - shutting down
            pass

    # events -------------------------------------------------------------------------------------
    def handle(self, event: BrokerEvent) -> None:
        """The stream's callback: hand the event to the mirror's thread."""
        self._queue.put(event)

    def _work(self) -> None:
        try:
            while True:
                try:
                    first = self._queue.get(timeout=HEARTBEAT_EVERY)
                except queue.Empty:
                    first = BrokerEvent(kind="idle")
                for event in latest_quotes_only([first, *self._waiting()]):
                    if event is None:
                        return
                    self.process(event)
        finally:
            db_connection.close()

    def _waiting(self) -> list[BrokerEvent | None]:
        waiting: list[BrokerEvent | None] = []
        while len(waiting) < BATCH_MAX:
            try:
                waiting.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return waiting

    def process(self, event: BrokerEvent) -> None:
        """One event. A database blip must not drop a fill: the frame is retried with backoff
        until the database answers again, and if it stays away a full re-sync follows."""
        self.events += 1
        for attempt in range(DB_RETRIES):
            close_old_connections()
            try:
                with deferred_events():
                    if self.needs_resync:
                        self.resync()
                        self.needs_resync = False
                    self._handle(event)
                return
            except (OperationalError, InterfaceError) as exc:
                db_connection.close()
                delay = min(0.25 * 2**attempt, 5.0)
                logger.warning(
                    "broker stream %s: database unavailable (%s); retrying in %.1fs",
                    self.connection.pk,
                    exc,
                    delay,
                )
                time.sleep(delay)
            except BrokerError as exc:
                logger.warning("broker stream %s: %s", self.connection.pk, exc)
                return
            except Exception:
                logger.exception("broker stream %s failed on %s", self.connection.pk, event.kind)
                self.frame = mirror.Frame()
                return
        logger.error(
            "broker stream %s: database still unavailable; will re-sync from the broker",
            self.connection.pk,
        )
        self.needs_resync = True

    def _handle(self, event: BrokerEvent) -> None:
        kind = event.kind
        if kind == "snapshot":
            self.apply_snapshot(event.data or {})
        elif kind == "frame":
            self.flush()
        elif kind == "disconnected":
            mirror.mirror_mark_stale(self.connection.pk)
        elif kind == "quote" and event.obj is not None:
            self.on_quote(event.obj)
        else:
            self.collect(event)
        self._beat()
        self._check_risk()

    def collect(self, event: BrokerEvent) -> None:
        kind, obj, data = event.kind, event.obj, event.data
        f = self.frame
        if kind == "command" and isinstance(data, dict):
            f.commands.append(data)
        elif kind == "orderStrategy" and isinstance(data, dict):
            f.strategies.append(data)
        elif kind == "orderStrategyLink" and isinstance(data, dict):
            f.links.append(data)
        elif kind == "order" and isinstance(obj, BrokerOrder):
            f.orders.append(obj)
        elif kind == "fill" and isinstance(obj, BrokerFill):
            f.fills.append(obj)
        elif kind == "position" and isinstance(obj, BrokerPosition):
            f.positions.append(obj)
        elif kind == "cashBalance" and obj is not None:
            f.cash.append(obj)

    def flush(self) -> None:
        frame = self.frame
        if frame.empty:
            return
        # Applied atomically; a database error keeps the frame for the retry (never dropped).
        result = mirror.frame_apply(connection=self.connection, frame=frame)
        self.frame = mirror.Frame()
        self._risk_due |= result.accounts_touched
        for order_id in result.protective_lost:
            exits_live.protection_lost(order_id=order_id)
        self._follow_quotes()

    def apply_snapshot(self, snapshot: dict) -> None:
        self.reload_accounts()
        frame = mirror.frame_from_snapshot(self.broker, snapshot)
        if not snapshot.get("fills") and not snapshot.get("orderVersions"):
            # A snapshot without fills and order versions: read those over REST once.
            frame.fills = self.broker.fills()
            frame.orders = self.broker.orders()
        result = mirror.frame_apply(connection=self.connection, frame=frame)
        self._risk_due |= result.accounts_touched | {a.pk for a in self.accounts.values()}
        self.resyncs += 1
        mirror.mirror_heartbeat(self.connection.pk, synced=True)
        self._last_beat = time.monotonic()
        self._follow_quotes()
        logger.info("connection %s re-synced from its snapshot", self.connection.pk)

    def resync(self) -> None:
        self.reload_accounts()
        mirror.mirror_refresh(connection=self.connection)
        self.resyncs += 1

    def _beat(self) -> None:
        if self.stream is None or not self.stream.connected:
            return
        now = time.monotonic()
        if now - self._last_beat >= HEARTBEAT_EVERY:
            mirror.mirror_heartbeat(self.connection.pk)
            self._last_beat = now

    # quotes and risk ----------------------------------------------------------------------------
    def _follow_quotes(self) -> None:
        """Subscribe the contracts the login holds (open P&L, managed stops)."""
        if self.stream is None:
            return
        held = set(
            Position.objects.filter(broker_account__connection=self.connection)
            .exclude(net_pos=0)
            .values_list("symbol", flat=True)
        )
        new = held - self._quoted
        if not new:
            return
        # Contracts stay subscribed once held: a flat-then-long day costs one subscription.
        try:
            self.stream.subscribe_quotes(sorted(new))
        except BrokerError as exc:
            logger.info("quotes of %s not subscribed: %s", self.connection.pk, exc)
            return
        self._quoted |= new

    def on_quote(self, quote) -> None:
        last = quote.last if quote.last is not None else quote.mid
        if last is None:
            return
        holders = []
        for position in (
            Position.objects.filter(
                Q(broker_account__connection=self.connection), symbol=quote.symbol
            )
            .exclude(net_pos=0)
            .select_related("broker_account")
        ):
            account = self.accounts.get(position.broker_account.external_id)
            if account is None:
                continue
            mirror.position_mark(account=account, symbol=quote.symbol, last=last)
            self._risk_due.add(account.pk)
            holders.append(account)
        if holders:  # one read of the managed stops of every account holding the contract
            exits_live.manage_stops(
                accounts=holders, symbol=quote.symbol, quote=quote, broker=self.broker
            )

    def _check_risk(self) -> None:
        now = time.monotonic()
        if not self._risk_due or now - self._last_risk < RISK_EVERY:
            return
        due, self._risk_due = self._risk_due, set()
        self._last_risk = now
        for account in BrokerAccount.objects.filter(pk__in=due).select_related("connection"):
            services.account_risk_evaluate(account=account)


def run_broker_stream(
    *, stop: threading.Event, refresh_seconds: float = 2.0, on_change=None
) -> dict[int, ConnectionMirror]:
    """Keep one mirror per active connection until ``stop`` is set; new connections get a
    socket within ``refresh_seconds``; removed ones, or ones whose credentials changed, are
    closed (and reopened when still wanted)."""
    mirrors: dict[int, ConnectionMirror] = {}
    versions: dict[int, tuple] = {}
    try:
        while not stop.is_set():
            close_old_connections()
            try:
                wanted = {c.pk: c for c in active_connections()}
            except (OperationalError, InterfaceError) as exc:
                db_connection.close()
                logger.warning("broker stream: database unavailable (%s); retrying", exc)
                stop.wait(min(refresh_seconds, 2.0))
                continue
            for pk in list(mirrors):
                version = _version(wanted.get(pk))
                if pk not in wanted or versions.get(pk) != version:
                    mirrors.pop(pk).close()
                    logger.info("broker stream closed for connection %s", pk)
            for pk, connection in wanted.items():
                if pk in mirrors:
                    continue
                try:
                    mirrors[pk] = ConnectionMirror(connection).start()
                    versions[pk] = _version(connection)
                    logger.info("broker stream opened for connection %s", pk)
                except BrokerError as exc:
                    logger.warning("broker stream for connection %s not opened: %s", pk, exc)
            if on_change is not None:
                on_change(mirrors)
            stop.wait(refresh_seconds)
    finally:
        for mirror_ in mirrors.values():
            mirror_.close()
        db_connection.close()
    return mirrors


def _version(connection: BrokerConnection | None) -> tuple | None:
    if connection is None:
        return None
    return (connection.credentials_version, connection.kind)
