"""Where a recorder gets its prices: a broker connection's market data, through the broker
interface (Tradovate ``md/subscribeQuote`` / the paper broker's feed).

A recorder following a demo account uses that account's login. A signals recorder uses its
owner's paper connection (the built-in simulator) when there is one, else the owner's first
Tradovate login. Paper connections all read the same simulator feed, so the long-running quote
process shares one stream between them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from accounts.brokers.base import Broker, BrokerUnavailable, get_broker
from accounts.brokers.base import Quote as BrokerQuote
from accounts.models import BrokerConnection
from recorder.ledger import Quote


def market_data_connection(recorder) -> BrokerConnection | None:
    """The login whose market data a recorder reads (None when its owner has none)."""
    if recorder.broker_account_id:
        return recorder.broker_account.connection
    connections = BrokerConnection.objects.filter(user_id=recorder.user_id)
    preferred = connections.filter(kind=BrokerConnection.Kind.PAPER).order_by("id").first()
    return (
        preferred
        or connections.exclude(status=BrokerConnection.Status.ERROR).order_by("id").first()
        or connections.order_by("id").first()
    )


def stream_key(connection: BrokerConnection) -> str:
    """Connections that see the same feed share one quote stream."""
    if connection.kind == BrokerConnection.Kind.PAPER:
        return "paper"
    return f"connection:{connection.pk}"


def market_data_broker(recorder) -> Broker:
    connection = market_data_connection(recorder)
    if connection is None:
        raise BrokerUnavailable(
            "No broker connection to read prices from: add a paper or Tradovate connection."
        )
    return get_broker(connection)


def to_ledger_quote(quote: BrokerQuote, at: datetime | None = None) -> Quote:
    return Quote(
        at=quote.timestamp or at or datetime.now(UTC),
        bid=quote.bid,
        ask=quote.ask,
        last=quote.last,
    )


def current_quote(recorder, symbol: str) -> Quote:
    """The current top of book of ``symbol`` for ``recorder`` (``BrokerError`` if none)."""
    quote = market_data_broker(recorder).quote(symbol)
    # The fill happens now, when we asked; the quote's own timestamp may be older.
    return Quote(at=datetime.now(UTC), bid=quote.bid, ask=quote.ask, last=quote.last)
