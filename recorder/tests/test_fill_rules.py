"""The recorder fills as the exchange (and the paper broker) does: resting limits at their price,
stops at the first price at or through them, gaps at the gap, markets at the touch plus the
slippage, and in lots when the book is thinner than the order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from recorder.ledger import Basis, Instrument, Position, Quote, Reason, market_fill
from strategies.exits import Distance, ExitRules

MNQ = Instrument("MNQZ6", D("0.25"), D("2"))
CL = Instrument("CLF7", D("0.01"), D("1000"))
T0 = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)


def t(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def book(seconds: int, price: str, size: int = 0) -> Quote:
    """A paper book as the alerts move it: bid = ask = last."""
    p = D(price)
    return Quote(at=t(seconds), bid=p, ask=p, last=p, bid_size=size, ask_size=size)


def ticks(n: int) -> ExitRules:
    return ExitRules(take_profit=Distance(D(n), "ticks"), stop_loss=Distance(D(n), "ticks"))


def test_a_resting_limit_target_fills_at_its_price_never_better():
    pos = Position(instrument=MNQ, basis=Basis.BID_ASK, exits=ticks(8))
    pos.fill(quantity=1, price=D("21000.00"), at=t(0))
    assert not pos.on_quote(book(1, "21001.75")).trades  # one tick short of 21002.00
    [trade] = pos.on_quote(book(2, "21030.00")).trades  # jumped past it
    assert (trade.exit_reason, trade.exit_price, trade.pnl) == (
        Reason.TARGET,
        D("21002.00"),
        D("2") * 2,
    )


def test_a_short_s_target_is_a_buy_limit_at_its_price():
    pos = Position(instrument=CL, basis=Basis.BID_ASK, exits=ticks(10))
    pos.fill(quantity=-2, price=D("70.00"), at=t(0))
    [trade] = pos.on_quote(book(1, "69.80")).trades
    assert trade.exit_price == D("69.90") and trade.pnl == D("0.10") * 1000 * 2


def test_a_stop_fills_at_its_level_when_the_market_trades_there():
    pos = Position(instrument=MNQ, basis=Basis.BID_ASK, exits=ticks(8))
    pos.fill(quantity=1, price=D("21000.00"), at=t(0))
    [trade] = pos.on_quote(book(1, "20998.00")).trades
    assert (trade.exit_reason, trade.exit_price) == (Reason.STOP, D("20998.00"))


def test_a_gap_through_a_stop_fills_at_the_gap_price():
    pos = Position(instrument=CL, basis=Basis.BID_ASK, exits=ticks(10))
    pos.fill(quantity=1, price=D("70.00"), at=t(0))
    [trade] = pos.on_quote(book(1, "69.72")).trades  # the 69.90 stop never traded
    assert (trade.exit_reason, trade.exit_price) == (Reason.STOP, D("69.72"))
    assert trade.pnl == D("-0.28") * 1000
    assert trade.mae == D("280.00")


def test_a_market_order_fills_at_the_touch_plus_the_slippage():
    assert market_fill(quantity=2, touch=D("21000"), instrument=MNQ, slippage_ticks=1) == [
        (2, D("21000.25"))
    ]
    assert market_fill(quantity=-1, touch=D("70.00"), instrument=CL, slippage_ticks=2) == [
        (1, D("69.98"))
    ]


def test_partial_fills_a_resting_target_gets_at_most_the_book_s_size_per_quote():
    pos = Position(instrument=MNQ, basis=Basis.BID_ASK, exits=ticks(8), partial_fills=True)
    pos.fill(quantity=5, price=D("21000.00"), at=t(0))
    first = pos.on_quote(book(1, "21002.00", size=2)).trades
    second = pos.on_quote(book(2, "21003.00", size=2)).trades
    third = pos.on_quote(book(3, "21002.50", size=2)).trades
    assert [(x.quantity, x.exit_price) for x in first + second + third] == [
        (2, D("21002.00")),
        (2, D("21002.00")),
        (1, D("21002.00")),
    ]
    assert pos.is_flat


def test_partial_fills_two_lots_resting_at_one_price_share_the_size():
    pos = Position(instrument=MNQ, basis=Basis.BID_ASK, exits=ticks(8), partial_fills=True)
    pos.fill(quantity=2, price=D("21000.00"), at=t(0))
    pos.fill(quantity=2, price=D("21000.00"), at=t(1))
    trades = pos.on_quote(book(2, "21002.00", size=3)).trades
    assert [x.quantity for x in trades] == [2, 1]  # the older lot's 2, then 1 of the add's
    assert pos.net_pos == 1


def test_partial_fills_a_stop_walks_the_book_a_tick_per_lot():
    pos = Position(instrument=MNQ, basis=Basis.BID_ASK, exits=ticks(8), partial_fills=True)
    pos.fill(quantity=5, price=D("21000.00"), at=t(0))
    [trade] = pos.on_quote(book(1, "20998.00", size=2)).trades
    # 2 @ 20998.00, 2 @ 20997.75, 1 @ 20997.50: $2 × (2×2 + 2×2.25 + 1×2.5) = −$22.00
    assert trade.quantity == 5 and trade.pnl == D("-22.00")
    assert trade.exit_price == D("20997.8")


def test_partial_fills_a_market_entry_walks_the_book_and_is_one_lot():
    pieces = market_fill(quantity=5, touch=D("21000"), instrument=MNQ, size=2)
    assert pieces == [(2, D("21000")), (2, D("21000.25")), (1, D("21000.50"))]
    pos = Position(instrument=MNQ, exits=ticks(8))
    pos.fill(quantity=5, lots=pieces, at=t(0))
    assert len(pos.lots) == 1 and pos.avg_price == D("21000.20")
    # The exits sit around the average fill, on the tick (as an order strategy places them).
    assert pos.levels()["target"] == D("21002.25")


def test_a_row_written_before_lots_still_works_as_one_lot():
    state = {"cost": "84000.00", "exits": ticks(8).to_json(), "basis": "bid_ask"}
    pos = Position.from_state(instrument=MNQ, net_pos=2, opened_at=t(0), state=state)
    assert pos.avg_price == D("21000") and len(pos.lots) == 1
    [trade] = pos.on_quote(book(1, "21002.00")).trades
    assert trade.quantity == 2 and trade.pnl == D("8.00")
