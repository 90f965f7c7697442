"""The recorders' live loop: market data for open paper positions, account events for
recorders that follow a demo account, and real quotes relayed into the paper markets.

``QuoteRunner`` keeps one market-data stream per login (each paper login has its own book)
subscribed to exactly the contracts of the open recorded positions that read it, and one
account-event stream per followed login. A user with a Tradovate login and a Paper one gets
the Tradovate quotes of the products their paper accounts hold or trade relayed into their
paper market (``accounts.paper.paper_market_relay``): the best source there is. Stream threads
only enqueue; the runner's own thread applies every quote in arrival order (a quote that
touches a stop is never skipped) and polls a followed account when it reports a fill.
"""

from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import close_old_connections

from accounts.brokers.base import BrokerError, BrokerEvent, BrokerStream
from accounts.brokers.factory import broker_for
from accounts.models import BrokerAccount, BrokerConnection
from accounts.paper import paper_market_relay
from recorder import services
from recorder.marketdata import (
    account_products,
    market_data_connection,
    stream_key,
    to_ledger_quote,
)
from recorder.models import RecordedPosition, Recorder

logger = logging.getLogger(__name__)


@dataclass
class _Stream:
    stream: BrokerStream
    connection_id: int
    symbols: set[str] = field(default_factory=set)
    accounts: dict[int, set[int]] = field(default_factory=dict)  # accountId → recorder ids
    recorders: dict[str, set[int]] = field(default_factory=dict)  # symbol → recorder ids
    relays: dict[str, set[int]] = field(default_factory=dict)  # symbol → user ids


@dataclass
class _Wanted:
    connection: BrokerConnection
    symbols: set[str] = field(default_factory=set)
    recorders: dict[str, set[int]] = field(default_factory=dict)
    relays: dict[str, set[int]] = field(default_factory=dict)

    def want(self, symbol: str) -> None:
        self.symbols.add(symbol)


class QuoteRunner:
    def __init__(self, *, refresh_seconds: float = 2.0):
        self.refresh_seconds = refresh_seconds
        self.events: queue.Queue = queue.Queue()
        self.md_streams: dict[str, _Stream] = {}
        self.account_streams: dict[int, _Stream] = {}
        self.quotes_applied = 0
        self.quotes_relayed = 0
        self.trades_closed = 0
        self.stopping = False

    # --- what should be streamed ----------------------------------------------------------------

    def wanted_quotes(self) -> dict[str, _Wanted]:
        wanted: dict[str, _Wanted] = {}
        rows = (
            RecordedPosition.objects.filter(recorder__running=True)
            .in_the_market()
            .select_related("recorder__broker_account__connection")
        )
        by_recorder: dict[int, BrokerConnection | None] = {}
        for row in rows:
            rec = row.recorder
            if rec.pk not in by_recorder:
                by_recorder[rec.pk] = market_data_connection(rec)
            conn = by_recorder[rec.pk]
            if conn is None:
                continue
            w = wanted.setdefault(stream_key(conn), _Wanted(conn))
            w.want(row.symbol)
            w.recorders.setdefault(row.symbol, set()).add(rec.pk)
        for conn, symbols in relay_sources():
            w = wanted.setdefault(stream_key(conn), _Wanted(conn))
            for symbol in symbols:
                w.want(symbol)
                w.relays.setdefault(symbol, set()).add(conn.user_id)
        return wanted

    def wanted_accounts(self) -> dict[int, tuple[BrokerConnection, dict[int, set[int]]]]:
        wanted: dict[int, tuple[BrokerConnection, dict[int, set[int]]]] = {}
        recorders = Recorder.objects.filter(
            running=True, source=Recorder.Source.ACCOUNT, broker_account__isnull=False
        ).select_related("broker_account__connection")
        for rec in recorders:
            conn = rec.broker_account.connection
            accounts = wanted.setdefault(conn.pk, (conn, {}))[1]
            accounts.setdefault(rec.broker_account.external_id, set()).add(rec.pk)
        return wanted

    # --- streams --------------------------------------------------------------------------------

    def _quote_handler(self, key: str):
        def handle(event: BrokerEvent) -> None:
            if event.kind == "quote" and event.obj is not None:
                self.events.put(("quote", key, event.obj, event.received_at))

        return handle

    def _account_handler(self, connection_id: int):
        def handle(event: BrokerEvent) -> None:
            if event.kind == "fill" or event.kind == "snapshot":
                self.events.put(("account", connection_id, event))

        return handle

    def sync(self) -> None:
        """Open, re-subscribe and close streams to match what is open right now."""
        wanted = self.wanted_quotes()
        for key, w in wanted.items():
            conn, symbols = w.connection, w.symbols
            current = self.md_streams.get(key)
            try:
                if current is None:
                    stream = broker_for(conn).stream(
                        self._quote_handler(key), quotes=sorted(symbols), account_events=False
                    )
                    self.md_streams[key] = _Stream(
                        stream.start(),
                        conn.pk,
                        set(symbols),
                        recorders=w.recorders,
                        relays=w.relays,
                    )
                    logger.info("quotes: %s subscribed to %s", key, ", ".join(sorted(symbols)))
                    continue
                current.recorders, current.relays = w.recorders, w.relays
                added, removed = symbols - current.symbols, current.symbols - symbols
                if added:
                    current.stream.subscribe_quotes(sorted(added))
                if removed:
                    current.stream.unsubscribe_quotes(sorted(removed))
                current.symbols = set(symbols)
            except (BrokerError, ValueError) as exc:
                logger.warning("quotes: cannot stream %s from %s: %s", symbols, key, exc)
        for key in set(self.md_streams) - set(wanted):
            self.md_streams.pop(key).stream.close()

        accounts = self.wanted_accounts()
        for conn_id, (conn, followed) in accounts.items():
            current = self.account_streams.get(conn_id)
            if current is None:
                try:
                    stream = broker_for(conn).stream(
                        self._account_handler(conn_id), account_events=True
                    )
                    self.account_streams[conn_id] = _Stream(
                        stream.start(), conn_id, set(), followed
                    )
                except (BrokerError, ValueError) as exc:
                    logger.warning("accounts: cannot stream connection %s: %s", conn_id, exc)
            else:
                current.accounts = followed
        for conn_id in set(self.account_streams) - set(accounts):
            self.account_streams.pop(conn_id).stream.close()

    # --- the loop -------------------------------------------------------------------------------

    def handle(self, item) -> None:
        kind = item[0]
        if kind == "quote":
            _, key, quote, received_at = item
            current = self.md_streams.get(key)
            if current is None:
                return
            for user_id in sorted(current.relays.get(quote.symbol, ())):
                paper_market_relay(user_id=user_id, quote=quote)
                self.quotes_relayed += 1
            recorder_ids = current.recorders.get(quote.symbol)
            if not recorder_ids:
                return
            ledger_quote = to_ledger_quote(quote, at=received_at or datetime.now(UTC))
            trades = services.recorder_apply_quote(
                symbol=quote.symbol, quote=ledger_quote, recorder_ids=recorder_ids
            )
            self.quotes_applied += 1
            self.trades_closed += len(trades)
        elif kind == "account":
            _, conn_id, event = item
            current = self.account_streams.get(conn_id)
            if current is None:
                return
            if event.kind == "fill":
                account_id = (event.data or {}).get("accountId") or getattr(
                    event.obj, "account_id", None
                )
                recorder_ids = (
                    set(current.accounts.get(int(account_id), set())) if account_id else set()
                )
                if not account_id:  # a fill without its account: poll every followed account
                    recorder_ids = set().union(*current.accounts.values())
            else:  # a (re)sync: catch up on whatever happened while disconnected
                recorder_ids = (
                    set().union(*current.accounts.values()) if current.accounts else set()
                )
            for rec in Recorder.objects.filter(pk__in=recorder_ids):
                services.recorder_poll_account(recorder=rec)

    def run(self, *, duration: float | None = None) -> None:
        deadline = None if duration is None else time.monotonic() + duration
        next_sync = 0.0
        try:
            while not self.stopping:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                if now >= next_sync:
                    close_old_connections()
                    try:
                        self.sync()
                    except Exception:  # noqa: BLE001 - a bad sync must not end the loop
                        logger.exception("recorder stream sync failed")
                    next_sync = now + self.refresh_seconds
                try:
                    item = self.events.get(timeout=0.2)
                except queue.Empty:
                    continue
                try:
                    self.handle(item)
                except Exception:  # noqa: BLE001 - one bad quote must not stop the others
                    logger.exception("recorder failed on %s", item[0])
        finally:
            self.close()

    def close(self) -> None:
        for s in list(self.md_streams.values()) + list(self.account_streams.values()):
            try:
                s.stream.close()
            except Exception:  # noqa: BLE001
                logger.warning("closing a stream failed", exc_info=True)
        self.md_streams.clear()
        self.account_streams.clear()


def relay_sources() -> list[tuple[BrokerConnection, set[str]]]:
    """For each user with a Paper login and a working Tradovate one: that Tradovate login and
    the contracts their paper accounts hold or trade (the paper markets it will move)."""

    paper_users = set(
        BrokerConnection.objects.filter(
            kind=BrokerConnection.Kind.PAPER, archived_at__isnull=True
        ).values_list("user_id", flat=True)
    )
    if not paper_users:
        return []
    sources = (
        BrokerConnection.objects.filter(user_id__in=paper_users, archived_at__isnull=True)
        .exclude(kind=BrokerConnection.Kind.PAPER)
        .exclude(status=BrokerConnection.Status.ERROR)
        .filter(paused_reason="")
        .order_by("user_id", "-kind", "id")  # live before demo: a live login's data is real-time
    )
    chosen: dict[int, BrokerConnection] = {}
    for conn in sources:
        chosen.setdefault(conn.user_id, conn)
    out = []
    for user_id, conn in chosen.items():
        symbols: set[str] = set()
        for account in BrokerAccount.objects.filter(
            connection__user_id=user_id,
            connection__kind=BrokerConnection.Kind.PAPER,
            connection__archived_at__isnull=True,
        ):
            symbols.update(account_products(account))
        symbols.update(
            RecordedPosition.objects.filter(recorder__user_id=user_id, recorder__running=True)
            .in_the_market()
            .values_list("symbol", flat=True)
        )
        if symbols:
            out.append((conn, symbols))
    return out
