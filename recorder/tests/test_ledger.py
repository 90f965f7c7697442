"""The paper ledger, checked against P&L worked out by hand.

Contract specs (tick size, $ per point): ES 0.25 / 50, MNQ 0.25 / 2, CL 0.01 / 1000,
GC 0.1 / 100. Each expected figure is written as the arithmetic a trader would do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from accounts.brokers.symbols import product_spec
from recorder.ledger import (
    Basis,
    Instrument,
    Position,
    Quote,
    Reason,
    WorkingEntry,
)
from strategies.exits import Distance, ExitRules

ES = Instrument("ESZ6", D("0.25"), D("50"))
MNQ = Instrument("MNQZ6", D("0.25"), D("2"))
CL = Instrument("CLF7", D("0.01"), D("1000"))
GC = Instrument("GCG7", D("0.1"), D("100"))

T0 = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)


def t(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def last(seconds: int, price: str) -> Quote:
    return Quote(at=t(seconds), last=D(price))


def run_quotes(pos: Position, quotes: list[Quote]):
    trades = []
    for q in quotes:
        trades.extend(pos.on_quote(q).trades)
    return trades


def test_the_ledger_uses_the_exchange_specs_of_the_product_catalogue():
    for inst, root in ((ES, "ES"), (MNQ, "MNQ"), (CL, "CL"), (GC, "GC")):
        spec = product_spec(root)
        assert (inst.tick_size, inst.point_value) == (spec.tick_size, spec.point_value)


def test_long_es_round_trip_with_commission():
    pos = Position(instrument=ES, commission_per_side=D("2.50"))
    pos.fill(quantity=1, price=D("5000.00"), at=t(0))
    result = pos.fill(quantity=-1, price=D("5010.25"), at=t(60))
    [trade] = result.trades
    assert trade.side == "long" and trade.quantity == 1
    assert trade.points == D("10.25")
    assert trade.ticks == D("41")  # 10.25 / 0.25
    assert trade.pnl == D("10.25") * 50  # 512.50
    assert trade.commission == D("2.50") * 2  # entry side + exit side
    assert trade.net_pnl == D("512.50") - D("5.00")
    assert trade.entry_time == t(0) and trade.exit_time == t(60)
    assert trade.exit_reason == Reason.SIGNAL
    assert pos.is_flat


def test_short_mnq_round_trip():
    pos = Position(instrument=MNQ)
    pos.fill(quantity=-2, price=D("21000.00"), at=t(0))
    [trade] = pos.fill(quantity=2, price=D("20980.50"), at=t(30)).trades
    assert trade.side == "short" and trade.quantity == 2
    assert trade.points == D("19.5")
    assert trade.ticks == D("78")
    assert trade.pnl == D("19.5") * 2 * 2  # points × $2 × 2 contracts = 78.00


def test_losing_short_is_negative():
    pos = Position(instrument=MNQ)
    pos.fill(quantity=-1, price=D("21000.00"), at=t(0))
    [trade] = pos.fill(quantity=1, price=D("21003.25"), at=t(30)).trades
    assert trade.points == D("-3.25")
    assert trade.ticks == D("-13")
    assert trade.pnl == D("-6.50")


def test_adds_at_different_prices_average_the_entry_cl():
    pos = Position(instrument=CL)
    pos.fill(quantity=1, price=D("70.00"), at=t(0))
    result = pos.fill(quantity=2, price=D("70.30"), at=t(10))
    assert [a.kind for a in result.actions] == ["add"]
    # (70.00 × 1 + 70.30 × 2) / 3 = 210.60 / 3 = 70.20
    assert pos.avg_price == D("70.20")
    assert pos.net_pos == 3
    [trade] = pos.fill(quantity=-3, price=D("70.50"), at=t(20)).trades
    assert trade.entry_price == D("70.20")
    assert trade.points == D("0.30")
    assert trade.ticks == D("30")
    assert trade.pnl == D("0.30") * 1000 * 3  # 900.00
    # The same figure as dollars sold minus dollars bought:
    assert trade.pnl == 3 * D("70.50") * 1000 - (D("70.00") + 2 * D("70.30")) * 1000


def test_short_adds_average_the_entry_mnq():
    pos = Position(instrument=MNQ)
    pos.fill(quantity=-1, price=D("21000.00"), at=t(0))
    pos.fill(quantity=-1, price=D("21010.00"), at=t(5))
    assert pos.avg_price == D("21005.00")
    [trade] = pos.fill(quantity=2, price=D("21001.00"), at=t(9)).trades
    assert trade.points == D("4")
    assert trade.pnl == D("4") * 2 * 2  # 16.00


def test_partial_exits_gc():
    pos = Position(instrument=GC, commission_per_side=D("1.00"))
    pos.fill(quantity=3, price=D("2650.0"), at=t(0))
    first = pos.fill(quantity=-1, price=D("2655.0"), at=t(10))
    assert [a.kind for a in first.actions] == ["exit"]
    assert pos.net_pos == 2 and pos.avg_price == D("2650.0")
    [t1] = first.trades
    assert t1.quantity == 1
    assert t1.pnl == D("5.0") * 100  # 500.00
    assert t1.commission == D("2.00")
    [t2] = pos.fill(quantity=-2, price=D("2648.0"), at=t(20)).trades
    assert t2.quantity == 2
    assert t2.pnl == D("-2.0") * 100 * 2  # -400.00
    assert t2.commission == D("4.00")
    assert t1.net_pnl + t2.net_pnl == D("500") - D("400") - D("6.00")
    assert t2.entry_time == t(0)


def test_partial_exits_close_the_oldest_entries_first_es():
    pos = Position(instrument=ES)
    for i, price in enumerate(("5000.00", "5000.25", "5000.25")):
        pos.fill(quantity=1, price=D(price), at=t(i))
    assert pos.avg_price == D("15000.50") / 3  # 5000.1666…
    # FIFO, as Tradovate pairs fills: the first exit closes the 5000.00 entry.
    [t1] = pos.fill(quantity=-1, price=D("5001.00"), at=t(10)).trades
    assert t1.entry_price == D("5000.00") and t1.pnl == D("1.00") * 50  # 50.00
    [t2] = pos.fill(quantity=-2, price=D("5001.00"), at=t(20)).trades
    assert t2.entry_price == D("5000.25") and t2.pnl == D("0.75") * 50 * 2  # 75.00
    assert t2.entry_time == t(1)
    # Dollars sold − dollars bought = 3 × 5001 × 50 − 15000.50 × 50 = 125.00 exactly.
    assert t1.pnl + t2.pnl == D("125.00")


def test_a_partial_close_of_a_lot_filled_in_pieces_adds_up_to_the_cent_es():
    pos = Position(instrument=ES)
    lots = [(1, D("5000.00")), (2, D("5000.25"))]
    pos.fill(quantity=3, lots=lots, at=t(0))  # one entry that walked the book: one lot
    assert len(pos.lots) == 1
    # A third of the $750,025.00 cost is $250,008.33 (rounded).
    [t1] = pos.fill(quantity=-1, price=D("5001.00"), at=t(10)).trades
    assert t1.pnl == D("250050.00") - D("250008.33")  # 41.67
    [t2] = pos.fill(quantity=-2, price=D("5001.00"), at=t(20)).trades
    assert t2.pnl == D("500100.00") - D("500016.67")  # 83.33
    assert t1.pnl + t2.pnl == D("125.00")


def test_reversal_closes_then_opens_the_other_way_mnq():
    pos = Position(instrument=MNQ)
    pos.fill(quantity=1, price=D("21000.00"), at=t(0))
    result = pos.fill(quantity=-3, price=D("21010.00"), at=t(10))
    [closed] = result.trades
    assert closed.side == "long" and closed.quantity == 1
    assert closed.exit_reason == Reason.REVERSAL
    assert closed.pnl == D("10") * 2  # 20.00
    assert [a.kind for a in result.actions] == ["exit", "entry"]
    assert pos.net_pos == -2 and pos.avg_price == D("21010.00")
    assert pos.opened_at == t(10)
    [short] = pos.set_target(target=0, price=D("21000.00"), at=t(20)).trades
    assert short.side == "short" and short.quantity == 2
    assert short.pnl == D("10") * 2 * 2  # 40.00
    assert short.entry_time == t(10)


def test_target_intent_reverses_to_minus_the_position():
    pos = Position(instrument=ES)
    pos.set_target(target=2, price=D("5000"), at=t(0))
    result = pos.set_target(target=-2, price=D("4998"), at=t(1))
    assert result.trades[0].pnl == D("-2") * 50 * 2  # -200.00
    assert pos.net_pos == -2


def test_target_hit_exits_at_the_level_es():
    pos = Position(instrument=ES, exits=ExitRules(take_profit=Distance(D(8), "ticks")))
    pos.fill(quantity=1, price=D("5000.00"), at=t(0))
    assert pos.levels()["target"] == D("5002.00")  # 8 × 0.25 above
    trades = run_quotes(pos, [last(1, "5001.00"), last(2, "4999.50"), last(3, "5002.00")])
    [trade] = trades
    assert trade.exit_reason == Reason.TARGET
    assert trade.exit_price == D("5002.00")
    assert trade.pnl == D("2") * 50  # 100.00
    assert trade.mfe == D("100.00")
    assert trade.mae == D("0.50") * 50  # the 4999.50 dip: 25.00
    assert trade.exit_time == t(3)


def test_a_target_the_market_jumps_past_fills_at_its_limit_never_better_es():
    pos = Position(instrument=ES, exits=ExitRules(take_profit=Distance(D(2), "points")))
    pos.fill(quantity=1, price=D("5000.00"), at=t(0))
    [trade] = run_quotes(pos, [last(1, "5001.75"), last(2, "5003.00")])
    assert trade.exit_reason == Reason.TARGET
    assert trade.exit_price == D("5002.00")  # a resting limit: its price, not the 5003.00 print
    assert trade.pnl == D("2") * 50  # 100.00


def test_the_issue_s_three_lot_target_books_what_a_resting_limit_gives_mnq():
    # 3 MNQ at 21,002 with a 10-point target: the next quote 21,025 books +$60, not +$138.
    pos = Position(instrument=MNQ, exits=ExitRules(take_profit=Distance(D(10), "points")))
    pos.fill(quantity=3, price=D("21002.00"), at=t(0))
    [trade] = pos.on_quote(last(1, "21025.00")).trades
    assert trade.exit_price == D("21012.00")
    assert trade.pnl == D("10") * 2 * 3  # 60.00


def test_stop_hit_on_a_short_cl():
    pos = Position(instrument=CL, exits=ExitRules(stop_loss=Distance(D(20), "ticks")))
    pos.fill(quantity=-1, price=D("70.00"), at=t(0))
    assert pos.levels()["stop"] == D("70.20")
    trades = run_quotes(pos, [last(1, "69.95"), last(2, "70.10"), last(3, "70.20")])
    [trade] = trades
    assert trade.exit_reason == Reason.STOP
    assert trade.exit_price == D("70.20")
    assert trade.pnl == D("-0.20") * 1000  # -200.00
    assert trade.mae == D("200.00")
    assert trade.mfe == D("0.05") * 1000  # 50.00


def test_gap_through_a_stop_fills_at_the_quote_gc():
    pos = Position(instrument=GC, exits=ExitRules(stop_loss=Distance(D(5), "points")))
    pos.fill(quantity=2, price=D("2650.0"), at=t(0))
    assert pos.levels()["stop"] == D("2645.0")
    [trade] = run_quotes(pos, [last(1, "2648.0"), last(2, "2641.3")])
    assert trade.exit_reason == Reason.STOP
    assert trade.exit_price == D("2641.3")  # not the 2645.0 level: nothing traded there
    assert trade.pnl == D("-8.7") * 100 * 2  # -1740.00
    assert trade.mae == D("1740.00")


def test_a_stop_fills_at_the_first_bid_at_or_through_it_gc():
    pos = Position(
        instrument=GC, basis=Basis.BID_ASK, exits=ExitRules(stop_loss=Distance(D(50), "ticks"))
    )
    pos.fill(quantity=2, price=D("2650.0"), at=t(0))
    quotes = [
        Quote(at=t(1), bid=D("2645.1"), ask=D("2645.2")),
        Quote(at=t(2), bid=D("2644.9"), ask=D("2645.1")),  # the 2645.0 stop is in the spread
    ]
    [trade] = run_quotes(pos, quotes)
    assert trade.exit_price == D("2644.9")  # a sell stop sells at the bid that reached it
    assert trade.pnl == D("-5.1") * 100 * 2  # -1020.00


def test_a_stop_the_market_trades_at_fills_at_its_level_gc():
    pos = Position(instrument=GC, exits=ExitRules(stop_loss=Distance(D(50), "ticks")))
    pos.fill(quantity=1, price=D("2650.0"), at=t(0))
    [trade] = run_quotes(pos, [last(1, "2646.0"), last(2, "2645.0")])
    assert trade.exit_price == D("2645.0")


def test_bid_ask_basis_exits_a_long_at_the_bid():
    pos = Position(
        instrument=MNQ, basis=Basis.BID_ASK, exits=ExitRules(take_profit=Distance(D(4), "ticks"))
    )
    pos.fill(quantity=1, price=D("21000.25"), at=t(0))
    # The ask (and even the last trade) reach the 21001.25 target, the bid does not yet.
    assert not pos.on_quote(
        Quote(at=t(1), bid=D("21001.00"), ask=D("21001.25"), last=D("21001.25"))
    ).trades
    [trade] = pos.on_quote(Quote(at=t(2), bid=D("21001.25"), ask=D("21001.50"))).trades
    assert trade.exit_price == D("21001.25")
    assert trade.pnl == D("1.00") * 2  # 2.00


def test_trailing_stop_ratchets_and_never_loosens_mnq():
    pos = Position(instrument=MNQ, exits=ExitRules(trailing_stop=Distance(D(20), "ticks")))
    pos.fill(quantity=1, price=D("21000.00"), at=t(0))
    assert pos.levels()["trailing"] == D("20995.00")  # 20 ticks = 5 points below entry
    steps = [
        ("21003.00", "20998.00"),
        ("21010.00", "21005.00"),
        ("21008.00", "21005.00"),  # a pullback leaves it where it was
        ("21012.50", "21007.50"),
        ("21009.00", "21007.50"),
    ]
    for i, (price, level) in enumerate(steps, start=1):
        assert not pos.on_quote(last(i, price)).trades
        assert pos.levels()["trailing"] == D(level)
    [trade] = pos.on_quote(last(10, "21007.50")).trades
    assert trade.exit_reason == Reason.TRAILING
    assert trade.exit_price == D("21007.50")
    assert trade.pnl == D("7.5") * 2  # 15.00
    assert trade.mfe == D("12.5") * 2  # best was 21012.50: 25.00
    assert trade.mae == D("0.00")


def test_trailing_stop_on_a_short_cl():
    pos = Position(instrument=CL, exits=ExitRules(trailing_stop=Distance(D("0.10"), "points")))
    pos.fill(quantity=-1, price=D("70.00"), at=t(0))
    run_quotes(pos, [last(1, "69.80"), last(2, "69.85")])
    assert pos.levels()["trailing"] == D("69.90")
    [trade] = pos.on_quote(last(3, "69.90")).trades
    assert trade.exit_reason == Reason.TRAILING
    assert trade.pnl == D("0.10") * 1000  # 100.00


def test_break_even_moves_the_stop_to_the_entry_es():
    rules = ExitRules(stop_loss=Distance(D(4), "points"), break_even=Distance(D(8), "ticks"))
    pos = Position(instrument=ES, exits=rules, commission_per_side=D("1.29"))
    pos.fill(quantity=-1, price=D("5000.00"), at=t(0))
    assert pos.levels()["stop"] == D("5004.00")
    assert not pos.on_quote(last(1, "4999.00")).trades  # 4 ticks in profit: not yet
    assert pos.levels()["break_even"] is None
    assert not pos.on_quote(last(2, "4998.00")).trades  # 8 ticks: the stop moves to 5000
    assert pos.levels()["break_even"] == D("5000.00")
    assert not pos.on_quote(last(3, "4999.50")).trades
    [trade] = pos.on_quote(last(4, "5000.00")).trades
    assert trade.exit_reason == Reason.BREAK_EVEN
    assert trade.exit_price == D("5000.00")
    assert trade.pnl == D("0.00")
    assert trade.net_pnl == -2 * D("1.29")  # only the commissions are lost
    assert trade.mfe == D("2") * 50  # 100.00


def test_without_the_break_even_trigger_the_original_stop_holds():
    rules = ExitRules(stop_loss=Distance(D(4), "points"), break_even=Distance(D(3), "points"))
    pos = Position(instrument=ES, exits=rules)
    pos.fill(quantity=-1, price=D("5000.00"), at=t(0))
    assert not run_quotes(pos, [last(1, "4998.00"), last(2, "5000.00"), last(3, "5003.75")])
    [trade] = pos.on_quote(last(4, "5004.00")).trades
    assert trade.exit_reason == Reason.STOP
    assert trade.pnl == D("-4") * 50


def test_break_even_of_an_entry_between_ticks_rounds_towards_profit():
    pos = Position(instrument=ES, exits=ExitRules(break_even=Distance(D(2), "points")))
    pos.fill(quantity=2, lots=[(1, D("5000.00")), (1, D("5000.25"))], at=t(0))  # avg 5000.125
    pos.on_quote(last(2, "5002.25"))
    assert pos.levels()["break_even"] == D("5000.25")
    [trade] = pos.on_quote(last(3, "5000.25")).trades
    assert trade.pnl == (2 * D("5000.25") - D("5000.00") - D("5000.25")) * 50  # 12.50


def test_session_end_flatten_cl():
    pos = Position(instrument=CL)
    pos.fill(quantity=2, price=D("70.00"), at=t(0))
    pos.on_quote(last(1, "70.37"))
    [trade] = pos.flatten(price=pos.last_price, at=t(2), reason=Reason.SESSION_END).trades
    assert trade.exit_reason == Reason.SESSION_END
    assert trade.pnl == D("0.37") * 1000 * 2  # 740.00
    assert pos.is_flat
    assert not pos.flatten(price=D("70"), at=t(3)).trades  # flat stays flat


def test_commission_per_contract_per_side_mnq():
    pos = Position(instrument=MNQ, commission_per_side=D("0.52"))
    pos.fill(quantity=3, price=D("21000.00"), at=t(0))
    [a] = pos.fill(quantity=-1, price=D("21004.00"), at=t(1)).trades
    [b] = pos.fill(quantity=-2, price=D("20999.00"), at=t(2)).trades
    assert (a.pnl, a.commission, a.net_pnl) == (D("8.00"), D("1.04"), D("6.96"))
    assert (b.pnl, b.commission, b.net_pnl) == (D("-4.00"), D("2.08"), D("-6.08"))


def test_percent_target_is_a_share_of_the_entry_cl():
    pos = Position(instrument=CL, exits=ExitRules(take_profit=Distance(D(1), "percent")))
    pos.fill(quantity=1, price=D("80.00"), at=t(0))
    assert pos.levels()["target"] == D("80.80")
    [trade] = run_quotes(pos, [last(1, "80.79"), last(2, "80.80")])
    assert trade.pnl == D("0.80") * 1000


def test_absolute_price_levels_from_an_alert_gc():
    rules = ExitRules(
        take_profit=Distance(D("2660.0"), "price"), stop_loss=Distance(D("2645.0"), "price")
    )
    pos = Position(instrument=GC, exits=rules)
    pos.fill(quantity=1, price=D("2650.0"), at=t(0))
    [trade] = run_quotes(pos, [last(1, "2655.0"), last(2, "2660.0")])
    assert trade.exit_reason == Reason.TARGET
    assert trade.pnl == D("10") * 100


def test_an_add_gets_its_own_target_and_stop_around_its_own_fill_es():
    rules = ExitRules(take_profit=Distance(D(4), "points"), stop_loss=Distance(D(4), "points"))
    pos = Position(instrument=ES, exits=rules)
    pos.fill(quantity=1, price=D("5000.00"), at=t(0))
    pos.fill(quantity=1, price=D("4998.00"), at=t(1))
    assert [pos.lot_levels(lot)["target"] for lot in pos.lots] == [D("5004.00"), D("5002.00")]
    assert [pos.lot_levels(lot)["stop"] for lot in pos.lots] == [D("4996.00"), D("4994.00")]
    assert pos.levels()["target"] == D("5002.00")  # the next target to fill
    [add] = pos.on_quote(last(2, "5002.00")).trades  # the add's target: +4 points
    assert (add.quantity, add.entry_price, add.pnl) == (1, D("4998.00"), D("4") * 50)
    assert pos.net_pos == 1
    [first] = pos.on_quote(last(3, "4996.00")).trades  # the first entry's stop
    assert (first.exit_reason, first.pnl) == (Reason.STOP, D("-4") * 50)
    assert pos.is_flat


def test_open_pnl_and_excursions_while_open_gc():
    pos = Position(instrument=GC)
    pos.fill(quantity=2, price=D("2650.0"), at=t(0))
    pos.on_quote(last(1, "2652.3"))
    assert pos.open_pnl() == D("2.3") * 100 * 2  # 460.00
    pos.on_quote(last(2, "2649.1"))
    assert pos.open_pnl() == D("-0.9") * 100 * 2  # -180.00
    assert pos.mfe == D("460") and pos.mae == D("180")


def test_partial_exit_takes_its_share_of_the_excursions():
    pos = Position(instrument=ES)
    pos.fill(quantity=2, price=D("5000"), at=t(0))
    pos.on_quote(last(1, "4999"))  # whole position -100
    pos.on_quote(last(2, "5003"))  # whole position +300
    [a] = pos.fill(quantity=-1, price=D("5002"), at=t(3)).trades
    assert (a.mae, a.mfe) == (D("50.00"), D("150.00"))
    [b] = pos.fill(quantity=-1, price=D("5001"), at=t(4)).trades
    assert (b.mae, b.mfe) == (D("50.00"), D("150.00"))


def test_a_stop_and_a_trailing_stop_the_tighter_one_works():
    rules = ExitRules(stop_loss=Distance(D(10), "ticks"), trailing_stop=Distance(D(8), "ticks"))
    pos = Position(instrument=MNQ, exits=rules)
    pos.fill(quantity=1, price=D("21000"), at=t(0))
    # stop 20997.50, trailing 20998.00 (8 ticks below entry): the trailing one is tighter.
    [trade] = pos.on_quote(last(1, "20998")).trades
    assert trade.exit_reason == Reason.TRAILING
    assert trade.pnl == D("-2") * 2


def test_state_round_trip_keeps_the_position_working():
    rules = ExitRules(trailing_stop=Distance(D(4), "points"), take_profit=Distance(D(20), "points"))
    pos = Position(instrument=ES, exits=rules, commission_per_side=D("2"))
    pos.fill(quantity=1, price=D("5000.00"), at=t(0))
    pos.fill(quantity=1, price=D("5001.00"), at=t(1))
    pos.on_quote(last(2, "5010.00"))
    restored = Position.from_state(
        instrument=ES,
        net_pos=pos.net_pos,
        opened_at=pos.opened_at,
        state=pos.to_state(),
        commission_per_side=D("2"),
    )
    assert restored.levels() == pos.levels()
    assert restored.open_pnl() == pos.open_pnl()
    first, second = restored.on_quote(last(3, "5006.00")).trades  # each lot's own trailing stop
    assert {first.exit_reason, second.exit_reason} == {Reason.TRAILING}
    assert first.pnl + second.pnl == (2 * D("5006") - D("5000") - D("5001")) * 50  # 550.00
    assert first.mfe + second.mfe == (2 * D("5010") - D("10001")) * 50  # 950.00
    assert first.commission + second.commission == D("8.00")


@pytest.mark.parametrize(
    "inst, entry, exit_, expected",
    [
        (ES, "6012.75", "6020.50", D("7.75") * 50),
        (MNQ, "21034.25", "21001.00", D("-33.25") * 2),
        (CL, "68.42", "68.91", D("0.49") * 1000),
        (GC, "2651.3", "2640.9", D("-10.4") * 100),
    ],
)
def test_point_values_per_product(inst, entry, exit_, expected):
    pos = Position(instrument=inst)
    pos.fill(quantity=1, price=D(entry), at=t(0))
    [trade] = pos.fill(quantity=-1, price=D(exit_), at=t(1)).trades
    assert trade.pnl == expected
    assert trade.ticks * inst.tick_size == trade.points


def test_flat_position_ignores_quotes_and_zero_fills():
    pos = Position(instrument=ES, exits=ExitRules(stop_loss=Distance(D(1), "ticks")))
    assert not pos.on_quote(last(0, "5000")).changed
    assert not pos.fill(quantity=0, price=D("5000"), at=t(0)).changed
    with pytest.raises(ValueError):
        pos.fill(quantity=1, price=D("0"), at=t(0))


# --- limit and stop entries ----------------------------------------------------------------------


def book(seconds: int, bid: str, ask: str) -> Quote:
    return Quote(at=t(seconds), bid=D(bid), ask=D(ask), last=D(bid))


def entry(quantity: int, order_type: str, *, limit=None, stop=None, exits=None) -> WorkingEntry:
    return WorkingEntry(
        quantity=quantity,
        order_type=order_type,
        placed_at=t(0),
        limit=None if limit is None else D(limit),
        stop=None if stop is None else D(stop),
        exits=exits or ExitRules(),
    )


def test_a_resting_buy_limit_fills_at_its_price_even_through_a_gap_mnq():
    pos = Position(instrument=MNQ)
    filled, refused = pos.place_entry(
        entry(2, "limit", limit="20990.00"), book(0, "21000", "21000.25")
    )
    assert not filled.changed and not refused and pos.net_pos == 0 and pos.working_quantity == 2
    assert not pos.on_quote(book(1, "20995", "20995.25")).changed  # not there yet
    result = pos.on_quote(book(2, "20979.75", "20980"))  # gapped 10 points through it
    assert [(a.kind, a.quantity, a.price) for a in result.actions] == [("entry", 2, D("20990"))]
    assert pos.net_pos == 2 and pos.working == []


def test_a_marketable_limit_takes_the_touch_never_beyond_its_limit_es():
    pos = Position(instrument=ES)
    filled, _ = pos.place_entry(entry(-1, "limit", limit="4990.00"), book(0, "5000.00", "5000.25"))
    assert [(a.side, a.price) for a in filled.actions] == [("short", D("5000.00"))]  # the bid
    assert pos.working == []


def test_a_sell_stop_entry_fills_at_the_gap_price_cl():
    pos = Position(instrument=CL)
    pos.place_entry(entry(-1, "stop", stop="69.50"), book(0, "70.00", "70.01"))
    assert pos.working_quantity == -1
    result = pos.on_quote(book(1, "69.40", "69.41"))  # gapped 10 cents through the stop
    assert [(a.side, a.price) for a in result.actions] == [("short", D("69.40"))]


def test_a_stop_entry_the_market_already_reached_is_refused_gc():
    pos = Position(instrument=GC)
    filled, refused = pos.place_entry(entry(1, "stop", stop="2649.0"), book(0, "2650.0", "2650.1"))
    assert not filled.changed and pos.working == [] and pos.net_pos == 0
    assert "buy stop must be above the market" in refused


def test_a_stop_limit_entry_becomes_a_limit_at_its_stop_es():
    pos = Position(instrument=ES)
    pos.place_entry(
        entry(1, "stop_limit", stop="5010.00", limit="5011.00"), book(0, "5000", "5000.25")
    )
    assert not pos.on_quote(book(1, "5012.00", "5012.25")).changed  # stop hit, beyond the limit
    assert pos.working[0].triggered
    result = pos.on_quote(book(2, "5010.75", "5011.00"))
    assert [(a.kind, a.price) for a in result.actions] == [("entry", D("5011.00"))]


def test_a_working_entry_gets_its_own_exits_around_its_own_fill_mnq():
    exits = ExitRules(take_profit=Distance(D(40), "ticks"), stop_loss=Distance(D(20), "ticks"))
    pos = Position(instrument=MNQ)
    pos.place_entry(entry(1, "limit", limit="20990.00", exits=exits), book(0, "21000", "21000.25"))
    pos.on_quote(book(1, "20989.75", "20990.00"))
    assert pos.levels()["target"] == D("21000.00") and pos.levels()["stop"] == D("20985.00")
    [trade] = pos.on_quote(book(2, "21001.00", "21001.25")).trades
    assert (trade.exit_price, trade.pnl) == (D("21000.00"), D("20.00"))  # 10 points × $2


def test_working_entries_survive_a_save_and_a_cancel_clears_them():
    pos = Position(instrument=MNQ)
    pos.place_entry(entry(1, "stop", stop="21010.00"), book(0, "21000", "21000.25"))
    again = Position.from_state(instrument=MNQ, net_pos=0, opened_at=None, state=pos.to_state())
    assert again.working == pos.working
    assert [e.describe() for e in again.cancel_working()] == ["buy stop 1 @ 21010.00"]
    assert "working" not in again.to_state()
