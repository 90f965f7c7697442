"""Where a recorder gets its prices, and the paper markets a user sees beside their accounts.

One price truth for paper: a signals recorder whose owner has a Paper login reads that login's
own book (``accounts.paper.paper_quote``: the market its Paper account's orders match against,
moved by Tradovate market data or by the alerts), so the record and a Paper account fill at the
same prices. Without a Paper login it reads its owner's first Tradovate login's market data. A
recorder following a demo account uses that account's login.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.utils import timezone

from accounts import paper
from accounts.brokers import sessions
from accounts.brokers.base import Broker, BrokerError, BrokerUnavailable
from accounts.brokers.base import Quote as BrokerQuote
from accounts.brokers.factory import broker_for
from accounts.brokers.symbols import UnknownSymbol, contract_from_name, resolve_symbol
from accounts.models import BrokerAccount, BrokerConnection
from recorder.ledger import Quote
from traders.models import Position, Trader


def market_data_connection(recorder) -> BrokerConnection | None:
    """The login whose market data a recorder reads (None when its owner has none)."""
    if recorder.broker_account_id:
        return recorder.broker_account.connection
    connections = BrokerConnection.objects.filter(
        user_id=recorder.user_id, archived_at__isnull=True
    )
    preferred = connections.filter(kind=BrokerConnection.Kind.PAPER).order_by("id").first()
    return (
        preferred
        or connections.exclude(status=BrokerConnection.Status.ERROR).order_by("id").first()
        or connections.order_by("id").first()
    )


def stream_key(connection: BrokerConnection) -> str:
    """One quote stream per login: every paper login has its own book."""
    return f"connection:{connection.pk}"


def market_data_broker(recorder) -> Broker:
    connection = market_data_connection(recorder)
    if connection is None:
        raise BrokerUnavailable(
            "No broker connection to read prices from: add a paper or Tradovate connection."
        )
    return broker_for(connection)


def to_ledger_quote(quote: BrokerQuote, at: datetime | None = None) -> Quote:
    return Quote(
        at=quote.timestamp or at or datetime.now(UTC),
        bid=quote.bid,
        ask=quote.ask,
        last=quote.last,
        bid_size=quote.bid_size,
        ask_size=quote.ask_size,
    )


def current_quote(recorder, symbol: str) -> Quote:
    """The current top of book of ``symbol`` for ``recorder`` (``BrokerError`` if none): the
    owner's paper book when it trades on Paper, else the login's market data."""
    connection = market_data_connection(recorder)
    if connection is None:
        raise BrokerUnavailable(
            "No broker connection to read prices from: add a paper or Tradovate connection."
        )
    if connection.kind == BrokerConnection.Kind.PAPER:
        quote, _ = paper.paper_quote(connection=connection, symbol=symbol)
    else:
        quote = broker_for(connection).quote(symbol)
    # The fill happens now, when we asked; the quote's own timestamp may be older.
    return Quote(
        at=datetime.now(UTC),
        bid=quote.bid,
        ask=quote.ask,
        last=quote.last,
        bid_size=quote.bid_size,
        ask_size=quote.ask_size,
    )


# --- the paper markets a user sees ----------------------------------------------------------------


@dataclass(frozen=True)
class Market:
    """One product's paper market as shown beside a paper account."""

    account_id: int
    account_name: str
    symbol: str
    root: str
    source: str  # a key of accounts.paper.SOURCE_LABELS ("" when the broker did not answer)
    source_label: str
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    open: bool
    session: str  # "open", "closed for Thanksgiving Day", ...
    opens_at: datetime | None
    closes_at: datetime | None
    error: str = ""

    def to_json(self) -> dict:
        def s(v):
            return None if v is None else str(v)

        return {
            "account_id": self.account_id,
            "account_name": self.account_name,
            "symbol": self.symbol,
            "root": self.root,
            "source": self.source,
            "source_label": self.source_label,
            "bid": s(self.bid),
            "ask": s(self.ask),
            "last": s(self.last),
            "open": self.open,
            "session": self.session,
            "opens_at": self.opens_at.isoformat() if self.opens_at else None,
            "opens_at_local": sessions.local(self.opens_at) if self.opens_at else "",
            "closes_at": self.closes_at.isoformat() if self.closes_at else None,
            "error": self.error,
        }


def account_products(account: BrokerAccount) -> list[str]:
    """Contracts an account holds (the mirror) or its traders trade (their strategies' default
    symbols, in the front month), in name order."""

    names = set(
        Position.objects.filter(broker_account=account)
        .exclude(net_pos=0)
        .values_list("symbol", flat=True)
    )
    for symbol in Trader.objects.filter(broker_account=account).values_list(
        "strategy__default_symbol", flat=True
    ):
        try:
            names.add(resolve_symbol(symbol).name)
        except UnknownSymbol:
            continue
    return sorted(names)


def _now() -> datetime:
    return timezone.now()


def session_of(root: str, now: datetime | None = None) -> sessions.SessionState:
    return sessions.session_state(root, now or _now())


def paper_markets(
    *, user, now: datetime | None = None, quotes: bool = True, connection=None
) -> list[Market]:
    """The market of each product every paper account of ``user`` holds or trades: where its
    price comes from, the price, and whether the exchange is open (why not, and when it
    reopens). ``quotes=False`` skips asking the paper broker (sessions only)."""
    now = now or _now()
    out: list[Market] = []
    accounts = BrokerAccount.objects.filter(
        connection__user=user,
        connection__kind=BrokerConnection.Kind.PAPER,
        connection__archived_at__isnull=True,
    ).select_related("connection")
    if connection is not None:
        accounts = accounts.filter(connection=connection)
    for account in accounts:
        for name in account_products(account):
            try:
                root = contract_from_name(name).root
            except UnknownSymbol:
                continue
            state = session_of(root, now)
            bid = ask = last = None
            source, error = "", ""
            if quotes:
                try:
                    quote, source = paper.paper_quote(connection=account.connection, symbol=name)
                    bid, ask, last = quote.bid, quote.ask, quote.last
                except BrokerError as exc:
                    error = str(exc)
            out.append(
                Market(
                    account_id=account.pk,
                    account_name=account.name,
                    symbol=name,
                    root=root,
                    source=source,
                    source_label=paper.SOURCE_LABELS.get(source, source),
                    bid=bid,
                    ask=ask,
                    last=last,
                    open=state.open,
                    session=state.reason,
                    opens_at=None if state.open else state.opens_at,
                    closes_at=state.closes_at,
                    error=error,
                )
            )
    return out
