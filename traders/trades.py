"""Broker fills paired into trades: the one pairing behind the dashboard's live trade history,
the Discord DMs on exits and the daily and weekly summaries.

Fills of one account and contract are walked in time order. A fill against the position closes
the oldest open lots first (first in, first out, as the recorder closes its paper lots); each
closed lot, or part of one, is a *trade*. A fill larger than the position closes it and opens
the rest the other way. A *round trip* runs from flat to flat and gathers the trades closed on
the way: the exit DM tells its P&L. Dollars are points × contracts × the product's point value;
a product we cannot resolve has points but no dollar figure (``None``), never a guessed one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from accounts.brokers.symbols import UnknownSymbol, resolve_symbol

CENT = Decimal("0.01")


class FillLike(Protocol):
    id: int
    action: str
    quantity: int
    price: Decimal
    timestamp: datetime
    symbol: str


def signed_quantity(action: str, quantity: int) -> int:
    return quantity if action.strip().lower() == "buy" else -quantity


def point_value_of(symbol: str) -> Decimal | None:
    """Dollars per point of the contract; ``None`` when the product is unknown."""
    try:
        return resolve_symbol(symbol).point_value
    except (UnknownSymbol, ValueError):
        return None


@dataclass(frozen=True)
class ClosedLot:
    """One trade: ``quantity`` contracts opened by ``opening`` and closed by ``closing``."""

    opening: FillLike
    closing: FillLike
    side: str  # "long" | "short"
    quantity: int
    entry_price: Decimal
    exit_price: Decimal
    point_value: Decimal | None

    @property
    def points(self) -> Decimal:
        """Points per contract, positive when the trade made money."""
        move = self.exit_price - self.entry_price
        return move if self.side == "long" else -move

    @property
    def pnl(self) -> Decimal | None:
        if self.point_value is None:
            return None
        return (self.points * self.point_value * self.quantity).quantize(CENT)


@dataclass
class RoundTrip:
    """From flat to flat on one account and contract; the last one of a walk may be open."""

    symbol: str
    side: str
    opened_at: datetime
    opening_fill_id: int
    point_value: Decimal | None
    quantity: int = 0  # contracts entered in total
    entry_value: Decimal = Decimal(0)
    lots: list[ClosedLot] = field(default_factory=list)
    closed_at: datetime | None = None
    closing_fill_id: int | None = None
    fill_ids: list[int] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    @property
    def exit_quantity(self) -> int:
        return sum(lot.quantity for lot in self.lots)

    @property
    def entry_price(self) -> Decimal | None:
        return self.entry_value / self.quantity if self.quantity else None

    @property
    def exit_price(self) -> Decimal | None:
        exits = self.exit_quantity
        return sum(lot.exit_price * lot.quantity for lot in self.lots) / exits if exits else None

    @property
    def points(self) -> Decimal:
        """Points × contracts of the trades closed so far."""
        return sum((lot.points * lot.quantity for lot in self.lots), Decimal(0))

    @property
    def pnl(self) -> Decimal | None:
        """Dollars (gross of commissions); ``None`` when the point value is unknown."""
        if self.point_value is None:
            return None
        return (self.points * self.point_value).quantize(CENT)


class _Book:
    """The open lots of one account and contract: ``[sign, quantity, price, fill]``, oldest
    first."""

    def __init__(self, point_value: Decimal | None):
        self.lots: deque[list] = deque()
        self.point_value = point_value

    @property
    def flat(self) -> bool:
        return not self.lots

    def apply(self, fill: FillLike) -> tuple[list[ClosedLot], int]:
        """The trades the fill closes, and the contracts it opens (signed)."""
        sign = 1 if signed_quantity(fill.action, 1) > 0 else -1
        remaining = int(fill.quantity)
        price = Decimal(fill.price)
        closed = []
        while remaining and self.lots and self.lots[0][0] != sign:
            lot = self.lots[0]
            qty = min(remaining, lot[1])
            closed.append(
                ClosedLot(
                    opening=lot[3],
                    closing=fill,
                    side="long" if lot[0] > 0 else "short",
                    quantity=qty,
                    entry_price=lot[2],
                    exit_price=price,
                    point_value=self.point_value,
                )
            )
            remaining -= qty
            if qty == lot[1]:
                self.lots.popleft()
            else:
                lot[1] -= qty
        if remaining:
            self.lots.append([sign, remaining, price, fill])
        return closed, sign * remaining


def _by_symbol(fill: FillLike) -> Hashable:
    return fill.symbol


def _walk(fills: Iterable[FillLike], key: Callable[[FillLike], Hashable]):
    """Each fill with its book, the trades it closed and the contracts it opened."""
    books: dict[Hashable, _Book] = {}
    point_values: dict[str, Decimal | None] = {}
    for fill in fills:
        book = books.get(key(fill))
        if book is None:
            if fill.symbol not in point_values:
                point_values[fill.symbol] = point_value_of(fill.symbol)
            book = books[key(fill)] = _Book(point_values[fill.symbol])
        was_flat = book.flat
        closed, opened = book.apply(fill)
        yield fill, book, was_flat, closed, opened


def closed_lots(
    fills: Iterable[FillLike], *, key: Callable[[FillLike], Hashable] = _by_symbol
) -> list[ClosedLot]:
    """Every trade the fills (in time order) close; ``key`` keeps accounts apart when the fills
    are of several (default: one account, split by contract)."""
    return [lot for _, _, _, closed, _ in _walk(fills, key) for lot in closed]


def round_trips(fills: Iterable[FillLike]) -> list[RoundTrip]:
    """Every round trip of one account's fills (in time order), the last possibly still open."""
    trips: list[RoundTrip] = []
    current: dict[Hashable, RoundTrip] = {}
    for fill, book, was_flat, closed, opened in _walk(fills, _by_symbol):
        trip = current.get(fill.symbol)
        if closed and trip is not None:
            trip.lots.extend(closed)
            trip.fill_ids.append(fill.id)
            if book.flat or opened:
                trip.closed_at, trip.closing_fill_id = fill.timestamp, fill.id
        if opened and (was_flat or closed):
            trip = current[fill.symbol] = RoundTrip(
                symbol=fill.symbol,
                side="long" if opened > 0 else "short",
                opened_at=fill.timestamp,
                opening_fill_id=fill.id,
                point_value=book.point_value,
            )
            trips.append(trip)
        if opened:
            trip.quantity += abs(opened)
            trip.entry_value += abs(opened) * Decimal(fill.price)
            if fill.id not in trip.fill_ids:
                trip.fill_ids.append(fill.id)
    return trips
