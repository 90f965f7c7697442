"""The broker interface: what traders and recorders use, and nothing else.

    from accounts.brokers.factory import broker_for

    broker = broker_for(broker_account.connection)           # a Tradovate client (or Paper)
    placed = broker.place_order(
        account_id=broker_account.external_id, symbol="MNQ1!", action="Buy", qty=2,
        cl_ord_id=f"jt-{signal.id}-{trader.id}",              # same id ⇒ never a second order
    )
    placed.order_id, placed.status                            # 4711, "Filled"

Every price is a ``Decimal``, every quantity an ``int``, every timestamp tz-aware UTC.
``symbol`` arguments accept any spelling ``resolve_symbol`` understands (``MNQ1!``, ``MNQZ5``…)
and results always carry the Tradovate contract name (``MNQZ5``).

Errors are typed (all subclasses of ``BrokerError``, each with a message fit to show a trader):

* ``OrderRejected(reason, text)`` — the broker said no (``MaxPosLimitReached``, ``NoQuote``…);
  nothing was placed. Do not retry.
* ``AuthenticationFailed`` — bad username/password/app credentials. Do not retry.
* ``CaptchaRequired`` — Tradovate wants a human to log in on its site first. Do not retry.
* ``RateLimited(retry_after)`` — 429/423 or a penalty longer than we are willing to wait.
* ``BrokerUnavailable`` — the broker did not answer. ``sent`` says whether the request may
  have reached it: ``False`` only when the connection was never made (refused, connect
  timeout), so resending is safe.
* ``OutcomeUnknown`` (a ``BrokerUnavailable``) — an order request that may have been executed
  (a read timeout, a 5xx, an answer lost on the way). Tradovate does not de-duplicate a
  repeated ``clOrdId``: find out (the user-sync stream, ``order_by_cl_ord_id``) before sending
  it again, never resend blindly.
* ``UnknownSymbol`` (a ``ValueError`` from ``symbols``) for a symbol we cannot trade.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

Action = Literal["Buy", "Sell"]
OrderType = Literal[
    "Market", "Limit", "Stop", "StopLimit", "TrailingStop", "TrailingStopLimit", "MIT", "QTS"
]
TimeInForce = Literal["Day", "FOK", "GTC", "GTD", "IOC"]

# Order statuses (Tradovate ``ordStatus``): the ones after which an order never changes again.
FINAL_STATUSES = frozenset({"Canceled", "Completed", "Expired", "Filled", "Rejected"})
WORKING_STATUSES = frozenset(
    {"PendingNew", "PendingReplace", "PendingCancel", "Working", "Suspended"}
)


# --- errors -----------------------------------------------------------------------------------


class BrokerError(Exception):
    """Base of every broker failure. ``str(err)`` is a sentence a trader can read."""

    def __init__(self, message: str = "", *, payload: Any = None):
        super().__init__(message or self.__class__.__doc__ or self.__class__.__name__)
        self.message = str(self.args[0])
        self.payload = payload


class OrderRejected(BrokerError):
    """The broker refused the order (or cancel/modify); nothing changed at the broker."""

    def __init__(self, reason: str, text: str = "", *, payload: Any = None):
        self.reason = reason or "UnknownReason"
        self.text = text or ""
        message = f"Order rejected: {self.reason}" + (f" — {self.text}" if self.text else "")
        super().__init__(message, payload=payload)


class AuthenticationFailed(BrokerError):
    """The broker refused the login (username, password, app id, cid or secret is wrong)."""


class CaptchaRequired(BrokerError):
    """The broker demands a CAPTCHA: log in once on the broker's website, then try again."""


class RateLimited(BrokerError):
    """The broker asked us to slow down and did not execute the request; ``retry_after`` is in
    seconds (None if unknown). A penalty's ``p_ticket`` must be sent with the retry."""

    def __init__(
        self,
        message: str = "",
        *,
        retry_after: float | None = None,
        p_ticket: str = "",
        payload=None,
    ):
        self.retry_after = retry_after
        self.p_ticket = p_ticket
        super().__init__(message or "The broker is rate-limiting requests.", payload=payload)


class BrokerUnavailable(BrokerError):
    """The broker did not answer (timeout, connection refused, 5xx) even after retries.
    ``sent`` is False only when the request surely never reached the broker."""

    def __init__(self, message: str = "", *, sent: bool = True, payload: Any = None):
        self.sent = sent
        super().__init__(message, payload=payload)


class OutcomeUnknown(BrokerUnavailable):
    """An order request that may have been executed: settle it before anything else."""


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountInfo:
    """A sub-account under a login (``/account/list``); ``id`` is the ``accountId``."""

    id: int
    name: str
    user_id: int | None = None
    account_type: str = ""
    active: bool = True


@dataclass(frozen=True)
class CashBalance:
    """``/cashBalance/getcashbalancesnapshot``: money of one account, in dollars."""

    account_id: int
    total_cash_value: Decimal  # the balance
    net_liq: Decimal  # balance + open P&L
    open_pnl: Decimal
    realized_pnl: Decimal  # today's realized P&L
    week_realized_pnl: Decimal = Decimal(0)
    initial_margin: Decimal = Decimal(0)
    maintenance_margin: Decimal = Decimal(0)


@dataclass(frozen=True)
class BrokerPosition:
    """A position of one account in one contract. ``net_pos`` > 0 long, < 0 short, 0 flat."""

    account_id: int
    contract_id: int
    symbol: str  # Tradovate contract name, "MNQZ5"
    net_pos: int
    net_price: Decimal | None  # average entry price of the open quantity
    bought: int = 0
    sold: int = 0
    id: int | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True)
class BrokerOrder:
    """An order with its current version (qty/prices) and execution state merged in."""

    id: int
    account_id: int
    contract_id: int
    symbol: str
    action: str  # "Buy" | "Sell"
    status: str  # Tradovate ordStatus
    order_type: str = "Market"
    qty: int = 0
    filled_qty: int = 0
    avg_price: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: str = "Day"
    cl_ord_id: str | None = None
    oco_id: int | None = None
    parent_id: int | None = None
    linked_id: int | None = None
    text: str = ""
    reject_reason: str = ""
    timestamp: datetime | None = None

    @property
    def is_working(self) -> bool:
        return self.status not in FINAL_STATUSES


@dataclass(frozen=True)
class BrokerFill:
    """One execution. ``id`` is unique per broker login (use it to store fills once)."""

    id: int
    order_id: int
    account_id: int | None
    contract_id: int
    symbol: str
    action: str
    qty: int
    price: Decimal
    timestamp: datetime | None = None


@dataclass(frozen=True)
class PlacedOrder:
    """The answer to a placement. For a bracket, the TP/SL order ids are filled in.

    ``status`` is the order's status right after placement when the broker reports it
    (a market order on the paper broker is usually already ``Filled``), else ``PendingNew``.
    ``duplicate`` is true when the broker recognised ``cl_ord_id`` and returned the first order.
    """

    order_id: int
    cl_ord_id: str | None = None
    status: str = "PendingNew"
    take_profit_order_id: int | None = None
    stop_loss_order_id: int | None = None
    oco_id: int | None = None
    duplicate: bool = False


@dataclass(frozen=True)
class PlacedStrategy:
    """The answer to ``start_order_strategy``: the broker's order strategy (entry + exits
    placed around the entry's fill)."""

    strategy_id: int
    status: str = "ActiveStrategy"
    uuid: str = ""


@dataclass(frozen=True)
class BracketSpec:
    """One bracket of an order strategy: ``qty`` contracts with a take profit and a stop at
    point distances from the entry's fill (positive; signed for the broker by the client)."""

    qty: int
    profit_target: Decimal | None = None
    stop_loss: Decimal | None = None
    trailing: bool = False


@dataclass(frozen=True)
class BrokerOrderStrategy:
    """An order strategy as the broker reports it."""

    id: int
    account_id: int
    contract_id: int
    symbol: str
    action: str
    status: str
    uuid: str = ""


@dataclass(frozen=True)
class Quote:
    """Top of book of one contract."""

    symbol: str
    contract_id: int
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    bid_size: int = 0
    ask_size: int = 0
    volume: int = 0
    timestamp: datetime | None = None
    # A burst of quotes applied as its latest keeps how far the market reached within it: the
    # highest bid and the lowest ask (None: this quote alone).
    high_bid: Decimal | None = None
    low_ask: Decimal | None = None

    @property
    def mid(self) -> Decimal | None:
        if self.bid is not None and self.ask is not None:
            return (self.bid + self.ask) / 2
        return self.last


@dataclass(frozen=True)
class BrokerEvent:
    """One event of a stream.

    ``kind`` is one of:
      * ``"connected"`` / ``"disconnected"`` — socket state (after ``connected`` a fresh
        ``snapshot`` follows; re-read anything you cached while disconnected);
      * ``"snapshot"`` — ``data`` is the whole ``user/syncrequest`` answer (lists of raw entities);
      * ``"order"``, ``"fill"``, ``"position"``, ``"cashBalance"``, ``"executionReport"``,
        ``"orderVersion"``, ``"account"``, … — a ``props`` event: ``event_type`` is Created /
        Updated / Deleted, ``data`` the raw Tradovate entity, ``obj`` the typed result
        (``BrokerOrder``, ``BrokerFill``, ``BrokerPosition``, ``CashBalance``) when there is one;
      * ``"quote"`` — ``obj`` is a ``Quote``;
      * ``"shutdown"`` — the broker announced maintenance; the stream will reconnect.
    """

    kind: str
    data: Any = None
    event_type: str = ""
    obj: Any = None
    received_at: datetime | None = None


EventHandler = Callable[[BrokerEvent], None]


class BrokerStream(abc.ABC):
    """A live connection (background thread) delivering ``BrokerEvent``s to a handler.

    Reconnects by itself with backoff and re-syncs (a new ``snapshot`` event) after each
    reconnect. The handler runs on the stream's thread: keep it short or hand work off.
    """

    @abc.abstractmethod
    def start(self) -> BrokerStream: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Block until authorized and synced; False on timeout."""

    @abc.abstractmethod
    def subscribe_quotes(self, symbols: Iterable[str]) -> None: ...

    @abc.abstractmethod
    def unsubscribe_quotes(self, symbols: Iterable[str]) -> None: ...

    @property
    @abc.abstractmethod
    def connected(self) -> bool: ...

    def __enter__(self) -> BrokerStream:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


# --- the interface ----------------------------------------------------------------------------


class Broker(abc.ABC):
    """One broker login. Thread-safe; cheap to build (tokens are cached and shared)."""

    # -- reads --
    @abc.abstractmethod
    def accounts(self) -> list[AccountInfo]:
        """Sub-accounts of the login."""

    @abc.abstractmethod
    def cash(self, account_id: int) -> CashBalance:
        """Balance, open and realized P&L of one account."""

    @abc.abstractmethod
    def positions(self, account_id: int | None = None) -> list[BrokerPosition]:
        """Positions (flat ones included, ``net_pos == 0``) of one account, or of all."""

    @abc.abstractmethod
    def orders(self, account_id: int | None = None) -> list[BrokerOrder]:
        """Orders of the day, newest last, with qty/prices/fill state merged."""

    @abc.abstractmethod
    def fills(self, account_id: int | None = None) -> list[BrokerFill]:
        """Fills of the day, oldest first."""

    @abc.abstractmethod
    def order(self, order_id: int) -> BrokerOrder:
        """One order by broker id (``BrokerError`` if it does not exist)."""

    @abc.abstractmethod
    def order_by_cl_ord_id(self, cl_ord_id: str) -> BrokerOrder | None:
        """The order placed with this client order id, or None: ask this after a timeout."""

    @abc.abstractmethod
    def quote(self, symbol: str) -> Quote:
        """Current top of book (``BrokerError`` when there is no quote)."""

    # -- writes --
    @abc.abstractmethod
    def place_order(
        self,
        *,
        account_id: int,
        symbol: str,
        action: Action,
        qty: int,
        order_type: OrderType = "Market",
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce = "Day",
        cl_ord_id: str | None = None,
        text: str = "",
        account_spec: str = "",
        p_ticket: str = "",
    ) -> PlacedOrder:
        """Place one order (``account_spec``: the account's name; ``p_ticket``: a penalty
        ticket from an earlier attempt). ``price`` for Limit/StopLimit, ``stop_price`` for Stop/StopLimit and
        the trailing distance (in points) for TrailingStop. Raises ``OrderRejected`` et al."""

    @abc.abstractmethod
    def place_bracket(
        self,
        *,
        account_id: int,
        symbol: str,
        action: Action,
        qty: int,
        take_profit: Decimal | None = None,
        stop_loss: Decimal | None = None,
        trailing_stop: Decimal | None = None,
        order_type: OrderType = "Market",
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce = "Day",
        cl_ord_id: str | None = None,
        text: str = "",
        account_spec: str = "",
        p_ticket: str = "",
    ) -> PlacedOrder:
        """Entry plus exits that start working when the entry fills (Tradovate OSO).

        ``take_profit`` and ``stop_loss`` are ABSOLUTE prices (a Limit and a Stop on the other
        side); ``trailing_stop`` is a distance in points and replaces ``stop_loss`` by a
        TrailingStop. With both exits present they are OCO: one filling cancels the other.
        Bracket orders get client ids ``<cl_ord_id>-tp`` / ``<cl_ord_id>-sl``.
        """

    @abc.abstractmethod
    def start_order_strategy(
        self,
        *,
        account_id: int,
        account_spec: str,
        symbol: str,
        action: Action,
        qty: int,
        brackets: list[BracketSpec],
        order_type: OrderType = "Market",
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        uuid: str = "",
        p_ticket: str = "",
    ) -> PlacedStrategy:
        """An entry whose exits the broker places around its actual fill (multibracket)."""

    @abc.abstractmethod
    def interrupt_order_strategy(self, strategy_id: int) -> None:
        """Stop an order strategy: its working orders are cancelled, the position stays."""

    @abc.abstractmethod
    def order_strategies(self, account_id: int | None = None) -> list[BrokerOrderStrategy]:
        """Order strategies of the day (with their ``uuid``: ask this after a timeout)."""

    @abc.abstractmethod
    def order_strategy_links(self, strategy_id: int) -> list[dict]:
        """``{orderId, label}`` of the orders an order strategy placed."""

    @abc.abstractmethod
    def liquidate(self, account_id: int, symbol: str, *, p_ticket: str = "") -> int | None:
        """Cancel one contract's working orders and close its position: one request."""

    @abc.abstractmethod
    def cancel(self, order_id: int) -> None:
        """Cancel a working order (``OrderRejected`` if it is already final)."""

    @abc.abstractmethod
    def modify(
        self,
        order_id: int,
        *,
        qty: int | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        order_type: OrderType | None = None,
    ) -> None:
        """Change a working order; unchanged fields keep their current values."""

    @abc.abstractmethod
    def flatten(self, account_id: int, symbol: str | None = None) -> None:
        """Cancel working orders and close the position of ``symbol`` (of every contract with a
        position or working order when ``symbol`` is None). Flat is not an error."""

    # -- streams --
    @abc.abstractmethod
    def stream(
        self, handler: EventHandler, *, quotes: Iterable[str] = (), account_events: bool = True
    ) -> BrokerStream:
        """A (not yet started) stream of account events and/or quotes; call ``.start()``."""

    # -- helpers shared by every broker --
    def test_connection(self) -> list[AccountInfo]:
        """Log in and list the accounts; raises the typed error that says what went wrong."""
        return self.accounts()


@dataclass(frozen=True)
class Credentials:
    """What a Tradovate login needs (decrypted, in memory only)."""

    username: str
    password: str = field(repr=False)
    app_id: str = ""
    app_version: str = "1.0"
    cid: str = ""
    sec: str = field(default="", repr=False)
    device_id: str = ""
