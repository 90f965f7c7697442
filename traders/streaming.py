"""The broker mirror: one user WebSocket per active connection (``manage.py broker_stream``).

Each connection's stream delivers ``props`` events; orders, fills and positions are written to
the database and published live; a new snapshot (first connect, every reconnect) triggers a full
re-sync over REST so nothing that happened while disconnected is missed. Position and cash events
refresh the trader's P&L and enforce its daily limits at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from django.db import InterfaceError, OperationalError, close_old_connections
from django.db import connection as db_connection

from accounts.brokers.base import BrokerError, BrokerEvent, BrokerFill, BrokerOrder
from accounts.models import BrokerAccount, BrokerConnection
from traders import services
from traders.execution import broker_for
from traders.models import Order, Trader

logger = logging.getLogger(__name__)


DB_RETRIES = 30  # about two minutes of backoff before falling back to a re-sync


def active_connections():
    """Connections worth a socket: an active account with a trader, or a paper login."""
    return (
        BrokerConnection.objects.filter(accounts__active=True, accounts__traders__isnull=False)
        .distinct()
        .order_by("id")
    )


class ConnectionMirror:
    """Handles the events of one connection's stream (runs on the stream's thread)."""

    def __init__(self, connection: BrokerConnection):
        self.connection = connection
        self.broker = broker_for(connection)
        self.accounts: dict[int, BrokerAccount] = {}
        self.reload_accounts()
        self.resyncs = 0
        self.events = 0
        self.needs_resync = False
        self.stream = None
        # Events are written by our own thread: the socket's thread never waits on the database.
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(
            target=self._work, name=f"mirror-{connection.pk}", daemon=True
        )

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

    # events ---------------------------------------------------------------------------------
    def handle(self, event: BrokerEvent) -> None:
        """The stream's callback: hand the event to the mirror's thread."""
        self._queue.put(event)

    def _work(self) -> None:
        try:
            while True:
                event = self._queue.get()
                if event is None:
                    return
                self.process(event)
        finally:
            db_connection.close()

    def process(self, event: BrokerEvent) -> None:
        """Write one event. A database blip must not drop a fill: the event is retried with
        backoff until the database answers again, and if it stays away a full re-sync from the
        broker follows once it is back."""
        self.events += 1
        for attempt in range(DB_RETRIES):
            close_old_connections()
            try:
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
                return
        logger.error(
            "broker stream %s: database still unavailable; will re-sync from the broker",
            self.connection.pk,
        )
        self.needs_resync = True

    def _handle(self, event: BrokerEvent) -> None:
        if event.kind == "snapshot":
            self.resync()
        elif event.kind == "order" and isinstance(event.obj, BrokerOrder):
            self.on_order(event.obj)
        elif event.kind == "fill" and isinstance(event.obj, BrokerFill):
            self.on_fill(event.obj)
        elif event.kind == "position" and event.obj is not None:
            account = self.accounts.get(event.obj.account_id)
            if account is not None:
                services.position_record(account=account, broker_position=event.obj)
        elif event.kind == "cashBalance" and event.obj is not None:
            # The day's realized P&L comes with the event; open P&L is the risk job's (quotes).
            account = self.accounts.get(event.obj.account_id)
            if account is not None:
                self.apply_realized(account, event.obj.realized_pnl)

    def resync(self) -> None:
        self.reload_accounts()
        counts = services.connection_resync(connection=self.connection, broker=self.broker)
        self.resyncs += 1
        logger.info("connection %s re-synced: %s", self.connection.pk, counts)

    def on_order(self, bo: BrokerOrder) -> None:
        # Only orders we know: one we are placing right now may not have its broker id stored
        # yet (the event can beat the HTTP answer); re-syncs match the rest by client order id.
        order = Order.objects.filter(
            broker_account__connection=self.connection, broker_order_id=bo.id
        ).first()
        if order is not None:
            services.order_apply_broker_state(order=order, broker_order=bo)

    def on_fill(self, bf: BrokerFill) -> None:
        account = self.accounts.get(bf.account_id) if bf.account_id else None
        if account is None:
            order = (
                Order.objects.filter(
                    broker_account__connection=self.connection, broker_order_id=bf.order_id
                )
                .select_related("broker_account__connection")
                .first()
            )
            if order is not None:
                account = order.broker_account
            elif len(self.accounts) == 1:
                account = next(iter(self.accounts.values()))
            else:
                account = self.accounts.get(self.broker.order(bf.order_id).account_id)
        if account is not None:
            services.fill_record(account=account, broker_fill=bf)

    def apply_realized(self, account: BrokerAccount, realized) -> None:
        for trader in Trader.objects.filter(broker_account=account).select_related(
            "strategy", "broker_account__connection"
        ):
            services.trader_apply_pnl(trader=trader, realized=realized, open_pnl=trader.open_pnl)


def run_broker_stream(
    *, stop: threading.Event, refresh_seconds: float = 15.0, on_change=None
) -> dict[int, ConnectionMirror]:
    """Keep one mirror per active connection until ``stop`` is set; new connections get a socket
    within ``refresh_seconds``, removed or edited ones are closed (and reopened if edited)."""
    mirrors: dict[int, ConnectionMirror] = {}
    versions: dict[int, object] = {}
    try:
        while not stop.is_set():
            close_old_connections()
            try:
                wanted = {c.pk: c for c in active_connections()}
            except (OperationalError, InterfaceError) as exc:
                # The database blinked: keep the open sockets and look again shortly.
                db_connection.close()
                logger.warning("broker stream: database unavailable (%s); retrying", exc)
                stop.wait(min(refresh_seconds, 2.0))
                continue
            for pk in list(mirrors):
                if pk not in wanted or versions.get(pk) != wanted[pk].updated_at:
                    mirrors.pop(pk).close()
                    logger.info("broker stream closed for connection %s", pk)
            for pk, connection in wanted.items():
                if pk in mirrors:
                    continue
                try:
                    mirrors[pk] = ConnectionMirror(connection).start()
                    versions[pk] = connection.updated_at
                    logger.info("broker stream opened for connection %s", pk)
                except BrokerError as exc:
                    logger.warning("broker stream for connection %s not opened: %s", pk, exc)
            if on_change is not None:
                on_change(mirrors)
            stop.wait(refresh_seconds)
    finally:
        for mirror in mirrors.values():
            mirror.close()
        db_connection.close()
    return mirrors
