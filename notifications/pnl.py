"""Round trips from a sequence of broker fills (one account, one contract).

A round trip runs from flat to flat. Its P&L is exact without lot matching: over a flat-to-flat
stretch the contracts bought equal the contracts sold, so
``P&L = (Σ sold qty × price − Σ bought qty × price) × $ per point``. A fill that reverses the
position closes the trip with its first part and opens the next with the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from accounts.brokers.symbols import UnknownSymbol, resolve_symbol


class FillLike(Protocol):
    id: int
    action: str
    quantity: int
    price: Decimal
    timestamp: datetime
    symbol: str


@dataclass
class RoundTrip:
    symbol: str
    side: str  # "long" | "short"
    quantity: int = 0  # contracts entered in total
    entry_value: Decimal = Decimal(0)
    exit_value: Decimal = Decimal(0)
    exit_quantity: int = 0
    cash: Decimal = Decimal(0)  # Σ sells − Σ buys, in points × contracts
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    opening_fill_id: int | None = None
    closing_fill_id: int | None = None
    point_value: Decimal | None = None
    fill_ids: list[int] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    @property
    def entry_price(self) -> Decimal | None:
        return self.entry_value / self.quantity if self.quantity else None

    @property
    def exit_price(self) -> Decimal | None:
        return self.exit_value / self.exit_quantity if self.exit_quantity else None

    @property
    def points(self) -> Decimal:
        return self.cash

    @property
    def pnl(self) -> Decimal | None:
        """Dollars (gross of commissions); None when the contract's point value is unknown."""
        if self.point_value is None:
            return None
        return (self.cash * self.point_value).quantize(Decimal("0.01"))


def signed_quantity(action: str, quantity: int) -> int:
    return quantity if action.strip().lower() == "buy" else -quantity


def point_value_of(symbol: str) -> Decimal | None:
    try:
        return resolve_symbol(symbol).point_value
    except UnknownSymbol:
        return None


def round_trips(fills: Iterable[FillLike]) -> list[RoundTrip]:
    """Every round trip of the fills (in time order), the last one possibly still open."""
    trips: list[RoundTrip] = []
    current: RoundTrip | None = None
    position = 0
    for fill in fills:
        delta = signed_quantity(fill.action, int(fill.quantity))
        px = Decimal(fill.price)
        remaining = delta
        while remaining:
            if position == 0:
                current = RoundTrip(
                    symbol=fill.symbol,
                    side="long" if remaining > 0 else "short",
                    opened_at=fill.timestamp,
                    opening_fill_id=fill.id,
                    point_value=point_value_of(fill.symbol),
                )
                trips.append(current)
            assert current is not None
            if fill.id not in current.fill_ids:
                current.fill_ids.append(fill.id)
            same_side = position == 0 or (position > 0) == (remaining > 0)
            step = (
                remaining
                if same_side
                else (max(remaining, -position) if remaining < 0 else min(remaining, -position))
            )
            # step: the part of this fill applied before the position crosses zero
            current.cash -= Decimal(step) * px
            if same_side:
                current.quantity += abs(step)
                current.entry_value += abs(step) * px
            else:
                current.exit_quantity += abs(step)
                current.exit_value += abs(step) * px
            position += step
            remaining -= step
            if position == 0:
                current.closed_at = fill.timestamp
                current.closing_fill_id = fill.id
    return trips
