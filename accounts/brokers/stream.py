"""Tradovate WebSockets from a long-running process (a thread per socket, websocket-client).

Protocol (SockJS-like): the server opens with ``o``, sends ``h`` heartbeats and ``a[...]``
arrays of messages, closes with ``c[code,"reason"]``. Requests are ``endpoint\\nid\\nquery\\nbody``;
the first is ``authorize``. We send ``[]`` every 2.5 s, treat 10 s of silence as a dead socket,
and reconnect with jittered backoff, then authorize and ``user/syncrequest`` again (a fresh
``snapshot`` event tells the handler to re-read its state).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import websocket

from accounts.brokers.base import (
    AuthenticationFailed,
    BrokerError,
    BrokerEvent,
    BrokerStream,
    EventHandler,
    Quote,
)
from accounts.brokers.symbols import resolve_symbol

if TYPE_CHECKING:  # pragma: no cover
    from accounts.brokers.tradovate import TradovateClient

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.5
SILENCE_LIMIT = 10.0
MAX_BACKOFF = 30.0


def _dec(v: Any) -> Decimal | None:
    return None if v is None else (v if isinstance(v, Decimal) else Decimal(str(v)))


def quote_from_md(entity: dict, *, symbol: str, tick: Decimal | None = None) -> Quote:
    """A Tradovate market-data quote (``entries`` of Bid, Offer, Trade and TotalTradeVolume, as
    ``md/subscribeQuote`` sends it) → ``Quote``; prices put back on the contract's ``tick`` grid
    when it is given (JSON numbers are floats); no timestamp in the quote → ``None``."""
    entries = entity.get("entries") or {}

    def price(name: str) -> Decimal | None:
        value = _dec((entries.get(name) or {}).get("price"))
        return value.quantize(tick) if value is not None and tick else value

    def size(name: str) -> int:
        return int((entries.get(name) or {}).get("size") or 0)

    ts = entity.get("timestamp")
    return Quote(
        symbol=symbol,
        contract_id=int(entity.get("contractId") or 0),
        bid=price("Bid"),
        ask=price("Offer"),
        last=price("Trade"),
        bid_size=size("Bid"),
        ask_size=size("Offer"),
        volume=size("TotalTradeVolume"),
        timestamp=datetime.fromisoformat(ts.replace("Z", "+00:00")) if ts else None,
    )


class _Socket:
    """One WebSocket (user or market data) with its own reader thread and reconnect loop."""

    def __init__(self, owner: TradovateStream, url: str, *, md: bool, sync: bool):
        self.owner = owner
        self.url = url
        self.md = md
        self.sync = sync
        self.ws: websocket.WebSocket | None = None
        self.lock = threading.Lock()
        self.next_id = 0
        self.pending: dict[int, dict] = {}
        self.ready = threading.Event()
        self.thread = threading.Thread(
            target=self.run, name=f"tradovate-ws-{'md' if md else 'user'}", daemon=True
        )
        self.connections = 0
        self.last_frame = time.monotonic()

    # requests ---------------------------------------------------------------------------------
    def send(self, endpoint: str, body: Any = None, query: str = "") -> int:
        with self.lock:
            self.next_id += 1
            rid = self.next_id
            payload = "" if body is None else (body if isinstance(body, str) else json.dumps(body))
            if self.ws is None:
                raise BrokerError("socket not connected")
            self.ws.send(f"{endpoint}\n{rid}\n{query}\n{payload}")
            return rid

    # lifecycle --------------------------------------------------------------------------------
    def run(self) -> None:
        attempt = 0
        while not self.owner.closing.is_set():
            try:
                self.session()
                attempt = 0
            except AuthenticationFailed as exc:
                log.warning("stream authorization failed: %s", exc)
                self.owner.client.invalidate_token()
            except Exception as exc:  # noqa: BLE001 - any failure means reconnect
                if not self.owner.closing.is_set():
                    log.info("stream socket %s lost: %s", self.url, exc)
            finally:
                was_ready = self.ready.is_set()
                self.ready.clear()
                self._close_ws()
                for waiter in list(self.pending.values()):
                    waiter["event"].set()
                self.pending.clear()
                if was_ready and not self.owner.closing.is_set():
                    self.owner.emit(BrokerEvent(kind="disconnected", data={"md": self.md}))
            if self.owner.closing.is_set():
                return
            delay = min(MAX_BACKOFF, 0.25 * (2**attempt)) * (0.5 + random.random())  # noqa: S311
            attempt += 1
            self.owner.closing.wait(delay)

    def _close_ws(self) -> None:
        with self.lock:
            ws, self.ws = self.ws, None
        if ws is not None:
            try:
                ws.close(timeout=0.2)
            except Exception:  # noqa: BLE001, S110 - already broken
                pass

    def session(self) -> None:
        client = self.owner.client
        tok = client.token()
        ws = websocket.create_connection(self.url, timeout=5, enable_multithread=True)
        with self.lock:
            self.ws = ws
            self.next_id = 0
        self.connections += 1
        first = ws.recv()
        if first != "o":
            raise BrokerError(f"unexpected opening frame {first!r}")
        token = tok["mdAccessToken"] if self.md and not self.sync else tok["accessToken"]
        # Handshake on this thread, before the read loop takes over.
        auth_id = self.send("authorize", token)
        self._await(ws, auth_id, what="authorize")
        if self.sync:
            sync_id = self.send("user/syncrequest", {"users": [tok["userId"]]})
            snapshot = self._await(ws, sync_id, what="user/syncrequest")
            self.owner.remember(snapshot.get("d") or {})
            self.owner.emit(
                BrokerEvent(kind="snapshot", data=snapshot.get("d"), received_at=_now())
            )
        for name in sorted(self.owner.quote_symbols):
            if self.md:
                self.send("md/subscribeQuote", {"symbol": name})
        self.ready.set()
        self.owner.emit(BrokerEvent(kind="connected", data={"md": self.md}, received_at=_now()))
        self.loop(ws)

    def _await(self, ws, rid: int, *, what: str) -> dict:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for msg in self._read(ws):
                if msg.get("i") == rid:
                    if msg.get("s") == 401 or (what == "authorize" and msg.get("s") != 200):
                        raise AuthenticationFailed(f"WebSocket {what} refused: {msg.get('d')}")
                    if msg.get("s") != 200:
                        raise BrokerError(f"WebSocket {what} failed: {msg.get('d')}")
                    return msg
                self.dispatch(msg)
        raise BrokerError(f"No answer to {what}.")

    def _read(self, ws) -> list[dict]:
        try:
            frame = ws.recv()
        except websocket.WebSocketTimeoutException:
            return []
        if frame is None or frame == "":
            raise BrokerError("socket closed")
        self.last_frame = time.monotonic()
        if frame == "h" or frame == "o":
            return []
        if frame.startswith("c"):
            raise BrokerError(f"server closed the socket: {frame[1:]}")
        if frame.startswith("a"):
            return json.loads(frame[1:], parse_float=Decimal)
        return []

    def loop(self, ws) -> None:
        ws.settimeout(0.5)
        self.last_frame = time.monotonic()
        last_beat = 0.0
        while not self.owner.closing.is_set():
            now = time.monotonic()
            if now - last_beat >= HEARTBEAT_SECONDS:
                with self.lock:
                    ws.send("[]")
                last_beat = now
            if now - self.last_frame > SILENCE_LIMIT:
                raise BrokerError("no frames for too long")
            messages = self._read(ws)
            for msg in messages:
                self.dispatch(msg)
            if messages:
                # One frame is one consistent change at the broker (a fill, its order and its
                # position arrive together): a consumer may apply the frame atomically.
                self.owner.emit(BrokerEvent(kind="frame", received_at=_now()))

    def dispatch(self, msg: dict) -> None:
        if "i" in msg and "e" not in msg:
            waiter = self.pending.pop(msg["i"], None)
            if waiter is not None:
                waiter["response"] = msg
                waiter["event"].set()
            return
        event = msg.get("e")
        data = msg.get("d") or {}
        if event == "props":
            self.owner.props(data)
        elif event == "md":
            for q in data.get("quotes", []):
                self.owner.quote(q)
        elif event == "shutdown":
            self.owner.emit(BrokerEvent(kind="shutdown", data=data, received_at=_now()))
            raise BrokerError(f"server shutdown: {data.get('reasonCode')}")


def _now() -> datetime:
    return datetime.now(UTC)


class TradovateStream(BrokerStream):
    """Account events (``user/syncrequest`` + ``props``) and quotes (``md/subscribeQuote``)."""

    def __init__(
        self,
        client: TradovateClient,
        handler: EventHandler,
        *,
        quotes: Iterable[str] = (),
        account_events: bool = True,
    ):
        self.client = client
        self.handler = handler
        self.closing = threading.Event()
        self.quote_symbols: set[str] = {resolve_symbol(s).name for s in quotes}
        self.account_events = account_events
        # Latest version / execution report per order, so order events carry qty and prices.
        self._versions: dict[int, dict] = {}
        self._reports: dict[int, dict] = {}
        self._orders: dict[int, dict] = {}
        self.sockets: list[_Socket] = []
        # The simulator (and a demo login without separate market data) serves both on one
        # socket; real Tradovate has a separate market-data host with its own token.
        shared = client.md_url == client.ws_url
        if account_events:
            self.sockets.append(_Socket(self, client.ws_url, md=shared, sync=True))
        if not account_events or (self.quote_symbols and not shared):
            self.sockets.append(_Socket(self, client.md_url, md=True, sync=False))

    # BrokerStream ---------------------------------------------------------------------------
    def start(self) -> TradovateStream:
        for s in self.sockets:
            s.thread.start()
        return self

    def close(self) -> None:
        self.closing.set()
        for s in self.sockets:
            s._close_ws()
        for s in self.sockets:
            if s.thread.is_alive() and s.thread is not threading.current_thread():
                s.thread.join(timeout=3)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        return all(s.ready.wait(max(0.0, deadline - time.monotonic())) for s in self.sockets)

    @property
    def connected(self) -> bool:
        return all(s.ready.is_set() for s in self.sockets)

    @property
    def connections(self) -> int:
        """How many times the sockets have connected (1 + reconnects, summed)."""
        return sum(s.connections for s in self.sockets)

    def _md_socket(self) -> _Socket | None:
        return next((s for s in self.sockets if s.md), None)

    def subscribe_quotes(self, symbols: Iterable[str]) -> None:
        names = {resolve_symbol(s).name for s in symbols} - self.quote_symbols
        self.quote_symbols |= names
        sock = self._md_socket()
        if sock is None:
            sock = _Socket(self, self.client.md_url, md=True, sync=False)
            self.sockets.append(sock)
            sock.thread.start()
            return
        if sock.ready.is_set():
            for name in sorted(names):
                sock.send("md/subscribeQuote", {"symbol": name})

    def unsubscribe_quotes(self, symbols: Iterable[str]) -> None:
        names = {resolve_symbol(s).name for s in symbols} & self.quote_symbols
        self.quote_symbols -= names
        sock = self._md_socket()
        if sock is not None and sock.ready.is_set():
            for name in sorted(names):
                sock.send("md/unsubscribeQuote", {"symbol": name})

    # events ---------------------------------------------------------------------------------
    def emit(self, event: BrokerEvent) -> None:
        try:
            self.handler(event)
        except Exception:  # a faulty handler must not kill the socket
            log.exception("stream handler failed on %s", event.kind)

    def remember(self, snapshot: dict) -> None:
        """Keep what later events need from a snapshot: versions, reports, contract names."""
        if not isinstance(snapshot, dict):
            return
        self.client.remember_contracts(snapshot.get("contracts") or [])
        for v in snapshot.get("orderVersions") or []:
            self._versions[int(v["orderId"])] = v
        for r in snapshot.get("executionReports") or []:
            self._reports[int(r["orderId"])] = r

    def props(self, data: dict) -> None:
        entity_type = data.get("entityType", "")
        entity = data.get("entity") or {}
        obj: Any = None
        try:
            if entity_type in ("orderVersion", "executionReport") and entity.get("orderId"):
                oid = int(entity["orderId"])
                (self._versions if entity_type == "orderVersion" else self._reports)[oid] = entity
                if oid in self._orders:
                    # The order's quantity, prices and fill state changed: say so as an order.
                    self._emit_order(self._orders[oid])
            elif entity_type == "order":
                self._orders[int(entity["id"])] = entity
                oid = int(entity["id"])
                obj = self.client.order_from(
                    entity, self._versions.get(oid), report=self._reports.get(oid)
                )
            elif entity_type == "fill":
                obj = self.client.fill_from(entity)
            elif entity_type == "position":
                obj = self.client.position_from(entity)
            elif entity_type == "cashBalance":
                obj = self.client.cash_from_entity(entity)
        except (BrokerError, KeyError, TypeError, ValueError) as exc:
            log.warning("could not type a %s event: %s", entity_type, exc)
        self.emit(
            BrokerEvent(
                kind=entity_type,
                event_type=data.get("eventType", ""),
                data=entity,
                obj=obj,
                received_at=_now(),
            )
        )

    def _emit_order(self, entity: dict) -> None:
        oid = int(entity["id"])
        obj = self.client.order_from(entity, self._versions.get(oid), report=self._reports.get(oid))
        self.emit(
            BrokerEvent(
                kind="order", event_type="Updated", data=entity, obj=obj, received_at=_now()
            )
        )

    def quote(self, q: dict) -> None:
        cid = int(q.get("contractId") or 0)
        try:
            symbol = self.client.contract_name(cid)
        except BrokerError:
            symbol = str(cid)
        self.emit(
            BrokerEvent(
                kind="quote", data=q, obj=quote_from_md(q, symbol=symbol), received_at=_now()
            )
        )
