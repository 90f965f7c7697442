"""Fills paired into trades and round trips, with P&L worked out by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from traders.trades import closed_lots, round_trips

T0 = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


@dataclass
class F:
    id: int
    action: str
    quantity: int
    price: Decimal
    symbol: str = "MNQZ5"
    timestamp: datetime = T0


def fills(*rows):
    return [
        F(i, a, q, Decimal(p), s, T0 + timedelta(minutes=i))
        for i, (a, q, p, s) in enumerate((r + ("MNQZ5",))[:4] for r in rows)
    ]


def test_a_long_round_trip_with_an_add_and_a_partial_exit():
    # Buy 1 @100, buy 1 @102, sell 1 @105, sell 1 @101: (105 + 101 − 100 − 102) × $2 = +$8.
    [trip] = round_trips(
        fills(("Buy", 1, "100"), ("Buy", 1, "102"), ("Sell", 1, "105"), ("Sell", 1, "101"))
    )
    assert (trip.side, trip.quantity, trip.closed) == ("long", 2, True)
    assert trip.entry_price == Decimal("101")
    assert trip.exit_price == Decimal("103")
    assert trip.pnl == Decimal("8.00")
    assert trip.closing_fill_id == 3


def test_a_short_on_es_uses_fifty_dollars_a_point():
    [trip] = round_trips(fills(("Sell", 2, "5000.25", "ESH6"), ("Buy", 2, "4990.00", "ESH6")))
    assert trip.side == "short"
    assert trip.pnl == Decimal("1025.00")  # 10.25 points × 2 × $50


def test_a_reversal_closes_one_trip_and_opens_the_next():
    first, second = round_trips(fills(("Buy", 1, "100"), ("Sell", 3, "104"), ("Buy", 2, "103")))
    assert (first.pnl, first.closing_fill_id) == (Decimal("8.00"), 1)
    assert (second.side, second.quantity, second.opening_fill_id) == ("short", 2, 1)
    assert second.pnl == Decimal("4.00")  # (104 − 103) × 2 × $2


def test_an_open_position_is_an_unclosed_trip():
    [trip] = round_trips(fills(("Buy", 3, "100"), ("Sell", 1, "101")))
    assert not trip.closed
    assert trip.exit_quantity == 1


def test_an_unknown_contract_has_no_dollar_pnl():
    [trip] = round_trips(fills(("Buy", 1, "10", "ZZZZ9"), ("Sell", 1, "11", "ZZZZ9")))
    assert trip.closed and trip.pnl is None and trip.points == Decimal("1")


def test_trades_close_the_oldest_lots_first_and_a_reversal_opens_the_rest():
    # Buy 1 @100, buy 1 @102, sell 3 @104 (closes both, opens a short), buy 1 @101.
    lots = closed_lots(
        fills(("Buy", 1, "100"), ("Buy", 1, "102"), ("Sell", 3, "104"), ("Buy", 1, "101"))
    )
    assert [(lot.side, lot.entry_price, lot.exit_price, lot.pnl) for lot in lots] == [
        ("long", Decimal("100"), Decimal("104"), Decimal("8.00")),
        ("long", Decimal("102"), Decimal("104"), Decimal("4.00")),
        ("short", Decimal("104"), Decimal("101"), Decimal("6.00")),
    ]
    assert [(lot.opening.id, lot.closing.id) for lot in lots] == [(0, 2), (1, 2), (2, 3)]


def test_a_round_trip_is_the_sum_of_the_trades_it_closed():
    rows = fills(("Buy", 2, "100"), ("Sell", 1, "103"), ("Buy", 1, "99"), ("Sell", 2, "101"))
    [trip] = round_trips(rows)
    assert trip.closed and trip.pnl == sum(lot.pnl for lot in closed_lots(rows))
    # Sold 103 + 2 × 101, bought 2 × 100 + 99: 6 points × $2, however the lots are matched.
    assert trip.pnl == Decimal("12.00")
