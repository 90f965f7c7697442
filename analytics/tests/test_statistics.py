"""The statistics against values computed by hand, and invariants over any list of trades."""

from __future__ import annotations

import math
import statistics as pystats
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from analytics.statistics import (
    Trade,
    TradeSeries,
    breakdown,
    compute_statistics,
    daily_pnl,
    equity_series,
    return_days,
    roll_up,
    sharpe_sortino,
)

D = Decimal


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC time in January 2025 (6th = Monday)."""
    return datetime(2025, 1, day, hour, minute, tzinfo=UTC)


def trade(pnl, exit_time, minutes=30, symbol="MNQZ5", strategy="A") -> Trade:
    return Trade(
        exit_time=exit_time,
        entry_time=exit_time - timedelta(minutes=minutes),
        net_pnl=D(pnl),
        symbol=symbol,
        strategy=strategy,
    )


def test_no_trades_gives_zeros_and_undefined_ratios():
    s = compute_statistics([], starting_capital=D("10000"))
    assert (s.trades, s.wins, s.losses, s.breakeven) == (0, 0, 0, 0)
    assert s.net_pnl == s.gross_profit == s.gross_loss == 0
    assert s.win_rate is None and s.profit_factor is None and s.expectancy is None
    assert s.average_win is None and s.average_loss is None and s.win_loss_ratio is None
    assert s.largest_win is None and s.largest_loss is None
    assert s.max_consecutive_wins == s.max_consecutive_losses == 0
    assert s.average_time_in_trade is None
    assert s.drawdown.amount == 0 and s.drawdown.percent is None and s.drawdown.trough_at is None
    assert s.recovery_factor is None and s.sharpe is None and s.sortino is None
    assert s.best_day is None and s.worst_day is None and s.daily == []
    assert s.cumulative_return == 0 and s.final_equity == D("10000")


def test_one_winning_trade():
    s = compute_statistics([trade("100", at(6, 10, 30), minutes=30)], starting_capital=D("50000"))
    assert s.trades == 1 and s.wins == 1 and s.win_rate == 1.0
    assert s.net_pnl == D("100") and s.gross_profit == D("100") and s.gross_loss == 0
    assert s.average_win == D("100") and s.average_loss is None and s.win_loss_ratio is None
    assert s.profit_factor is None  # profit and no loss: shown as ∞
    assert s.expectancy == D("100") and s.largest_win == D("100") and s.largest_loss is None
    assert s.max_consecutive_wins == 1 and s.max_consecutive_losses == 0
    assert s.average_time_in_trade == 1800
    assert s.drawdown.amount == 0 and s.drawdown.percent is None and s.recovery_factor is None
    assert s.sharpe is None and s.sortino is None  # one day: no spread of returns
    assert s.cumulative_return == pytest.approx(0.002)
    assert s.best_day == s.worst_day
    assert s.best_day.start == date(2025, 1, 6) and s.best_day.pnl == D("100")


def test_one_losing_trade_is_a_drawdown_from_the_starting_capital_that_never_recovers():
    s = compute_statistics([trade("-250", at(6, 15))], starting_capital=D("50000"))
    assert s.win_rate == 0.0 and s.losses == 1
    assert s.average_loss == D("250") and s.largest_loss == D("250")
    assert s.profit_factor == 0.0
    dd = s.drawdown
    assert dd.amount == D("250") and dd.percent == pytest.approx(0.005)
    assert dd.peak_equity == D("50000") and dd.peak_at is None
    assert dd.trough_at == at(6, 15) and dd.recovered_at is None
    assert dd.current == D("250")
    assert s.recovery_factor == pytest.approx(-1.0)


MIXED = [
    trade("300", at(6, 10), minutes=10),  # equity 10300 (peak)
    trade("-100", at(6, 14), minutes=20),  # 10200
    trade("-200", at(7, 15), minutes=30),  # 10000: trough, 300 below the peak
    trade("0", at(7, 16), minutes=40),  # 10000 break-even
    trade("500", at(8, 15), minutes=50),  # 10500: recovered, new peak
    trade("50", at(9, 15), minutes=60, symbol="ESH5", strategy="B"),  # 10550
    trade("-150", at(10, 15), minutes=70, symbol="ESH5", strategy="B"),  # 10400
]


def test_a_mixed_week_against_hand_computed_figures():
    s = compute_statistics(MIXED, starting_capital=D("10000"))
    assert (s.trades, s.wins, s.losses, s.breakeven) == (7, 3, 3, 1)
    assert s.gross_profit == D("850") and s.gross_loss == D("450") and s.net_pnl == D("400")
    assert s.win_rate == pytest.approx(3 / 7)
    assert s.average_win.quantize(D("0.01")) == D("283.33")
    assert s.average_loss == D("150")
    assert s.win_loss_ratio == pytest.approx((850 / 3) / 150)
    assert s.profit_factor == pytest.approx(850 / 450)
    assert s.expectancy.quantize(D("0.01")) == D("57.14")
    assert s.largest_win == D("500") and s.largest_loss == D("200")
    # W L L B W W L: the break-even ends the losing run; two wins in a row at most.
    assert s.max_consecutive_wins == 2 and s.max_consecutive_losses == 2
    assert s.average_time_in_trade == pytest.approx(40 * 60)  # (10+20+…+70)/7 minutes
    dd = s.drawdown
    assert dd.amount == D("300") and dd.peak_equity == D("10300")
    assert dd.percent == pytest.approx(300 / 10300)
    assert (dd.peak_at, dd.trough_at, dd.recovered_at) == (at(6, 10), at(7, 15), at(8, 15))
    assert dd.current == D("150")
    assert s.recovery_factor == pytest.approx(400 / 300)
    assert s.cumulative_return == pytest.approx(0.04) and s.final_equity == D("10400")
    assert [(d.start.day, d.pnl, d.trades) for d in s.daily] == [
        (6, D("200"), 2), (7, D("-200"), 2), (8, D("500"), 1), (9, D("50"), 1),
        (10, D("-150"), 1),
    ]  # fmt: skip
    assert s.best_day.start == date(2025, 1, 8) and s.worst_day.start == date(2025, 1, 7)
    returns = [200 / 10000, -200 / 10200, 500 / 10000, 50 / 10500, -150 / 10550]
    mean = sum(returns) / 5
    assert s.sharpe == pytest.approx(mean / pystats.stdev(returns) * math.sqrt(252))
    downside = math.sqrt(sum(min(r, 0) ** 2 for r in returns) / 5)
    assert s.sortino == pytest.approx(mean / downside * math.sqrt(252))


def test_a_drawdown_that_never_recovers_reports_no_recovery_and_the_current_gap():
    trades = [trade("100", at(6, 10)), trade("-300", at(6, 11)), trade("50", at(7, 11))]
    dd = compute_statistics(trades, starting_capital=D("50000")).drawdown
    assert dd.amount == D("300") and dd.peak_at == at(6, 10) and dd.trough_at == at(6, 11)
    assert dd.recovered_at is None and dd.current == D("250")


def test_a_deeper_second_drawdown_replaces_the_first_and_its_recovery():
    trades = [
        trade("100", at(6, 10)),
        trade("-50", at(6, 11)),
        trade("100", at(6, 12)),  # recovers the first (peak 100 → 150)
        trade("-120", at(7, 11)),  # deeper: 120 below 50150
    ]
    dd = compute_statistics(trades, starting_capital=D("50000")).drawdown
    assert dd.amount == D("120") and dd.peak_at == at(6, 12) and dd.recovered_at is None


def test_all_wins_and_all_losses():
    wins = compute_statistics(
        [trade("10", at(6, 10)), trade("20", at(7, 10)), trade("30", at(8, 10))],
        starting_capital=D("1000"),
    )
    assert wins.win_rate == 1.0 and wins.profit_factor is None and wins.average_loss is None
    assert wins.max_consecutive_wins == 3 and wins.drawdown.amount == 0
    assert wins.sortino is None and wins.sharpe is not None and wins.sharpe > 0
    losses = compute_statistics(
        [trade("-10", at(6, 10)), trade("-20", at(7, 10)), trade("-30", at(8, 10))],
        starting_capital=D("1000"),
    )
    assert losses.win_rate == 0.0 and losses.profit_factor == 0.0
    assert losses.largest_win is None and losses.max_consecutive_losses == 3
    assert losses.drawdown.amount == D("60") and losses.drawdown.percent == pytest.approx(0.06)
    assert losses.sharpe < 0 and losses.sortino < 0


def test_days_are_counted_in_the_traders_time_zone():
    # 03:00 UTC on Tuesday is still Monday evening in New York.
    trades = [trade("10", at(7, 3)), trade("20", at(7, 15))]
    assert [d.start.day for d in daily_pnl(TradeSeries.from_trades(trades))] == [7]
    ny = daily_pnl(TradeSeries.from_trades(trades), tz=ZoneInfo("America/New_York"))
    assert [(d.start.day, d.pnl) for d in ny] == [(6, D("10")), (7, D("20"))]


def test_weekdays_without_trades_count_as_flat_days_for_sharpe_but_weekends_do_not():
    days = daily_pnl(TradeSeries.from_trades([trade("100", at(3, 10)), trade("-50", at(7, 10))]))
    index = return_days(days)  # Fri 3rd … Tue 7th: Sat/Sun skipped, Mon 6th added flat
    assert [(d.day, p) for d, p in index] == [(3, D("100")), (6, D("0")), (7, D("-50"))]
    returns = [100 / 1000, 0.0, -50 / 1100]
    sharpe, sortino = sharpe_sortino(days, starting_capital=D("1000"))
    assert sharpe == pytest.approx(pystats.mean(returns) / pystats.stdev(returns) * math.sqrt(252))
    downside = math.sqrt((50 / 1100) ** 2 / 3)
    assert sortino == pytest.approx(pystats.mean(returns) / downside * math.sqrt(252))


def test_weekly_and_monthly_roll_ups():
    trades = [trade("10", at(3, 10)), trade("20", at(6, 10)), trade("30", at(31, 10))]
    trades.append(trade("-5", datetime(2025, 2, 2, 10, tzinfo=UTC)))
    days = daily_pnl(TradeSeries.from_trades(trades))
    weeks = roll_up(days, "week")
    assert [(w.start, w.pnl) for w in weeks] == [
        (date(2024, 12, 30), D("10")),  # Fri 3rd's week starts Monday 30 Dec
        (date(2025, 1, 6), D("20")),
        (date(2025, 1, 27), D("25")),  # Fri 31 Jan and Sun 2 Feb share a week
    ]
    months = roll_up(days, "month")
    assert [(m.start, m.pnl, m.trades) for m in months] == [
        (date(2025, 1, 1), D("60"), 3), (date(2025, 2, 1), D("-5"), 1),
    ]  # fmt: skip


def test_breakdowns_by_symbol_and_strategy():
    by_symbol = {g.key: g for g in breakdown(TradeSeries.from_trades(MIXED), by="symbol")}
    assert by_symbol["MNQZ5"].net_pnl == D("500") and by_symbol["MNQZ5"].trades == 5
    assert by_symbol["ESH5"].net_pnl == D("-100") and by_symbol["ESH5"].win_rate == 0.5
    assert by_symbol["ESH5"].profit_factor == pytest.approx(50 / 150)
    by_strategy = breakdown(TradeSeries.from_trades(MIXED), by="strategy")
    assert [g.key for g in by_strategy] == ["A", "B"]  # best first


def test_equity_series_is_end_of_day():
    days = daily_pnl(TradeSeries.from_trades(MIXED))
    curve = equity_series(days, starting_capital=D("10000"))
    assert [(eq, dd) for _, _, eq, dd in curve] == [
        (D("10200"), 0), (D("10000"), D("200")), (D("10500"), 0), (D("10550"), 0),
        (D("10400"), D("150")),
    ]  # fmt: skip


def test_a_non_positive_starting_capital_is_refused():
    with pytest.raises(ValueError):
        compute_statistics([], starting_capital=D("0"))


# --- invariants ---------------------------------------------------------------------------------

trade_lists = hs.lists(
    hs.tuples(
        hs.integers(min_value=-500_000, max_value=500_000),  # cents
        hs.integers(min_value=0, max_value=90 * 86400),  # exit offset, seconds
        hs.integers(min_value=0, max_value=5 * 3600),  # duration
        hs.sampled_from(["MNQZ5", "ESZ5", "CLF6"]),
        hs.sampled_from([1, 2, 3]),
    ),
    max_size=60,
)
BASE = datetime(2025, 3, 1, tzinfo=UTC)


def build(rows) -> list[Trade]:
    return [
        Trade(
            exit_time=BASE + timedelta(seconds=x),
            entry_time=BASE + timedelta(seconds=x - d),
            net_pnl=Decimal(c).scaleb(-2),
            symbol=sym,
            strategy=strat,
        )
        for c, x, d, sym, strat in rows
    ]


@settings(max_examples=200, deadline=None)
@given(trade_lists, hs.sampled_from(["UTC", "America/New_York", "Asia/Tokyo"]))
def test_invariants_hold_for_any_trades(rows, zone):
    trades = build(rows)
    capital = D("25000")
    tz = ZoneInfo(zone)
    s = compute_statistics(trades, starting_capital=capital, tz=tz)
    pnls = [t.net_pnl for t in sorted(trades, key=lambda t: t.exit_time)]
    assert s.net_pnl == s.gross_profit - s.gross_loss == sum(pnls, D(0))
    assert s.gross_profit >= 0 and s.gross_loss >= 0
    assert s.wins + s.losses + s.breakeven == s.trades == len(trades)
    assert s.win_rate is None or 0 <= s.win_rate <= 1
    assert s.max_consecutive_wins <= s.wins and s.max_consecutive_losses <= s.losses
    assert s.final_equity == capital + s.net_pnl
    # Max drawdown ≥ 0 and equal to the brute-force largest fall from any earlier high.
    equity = [capital]
    for p in pnls:
        equity.append(equity[-1] + p)
    brute = max(
        (equity[i] - equity[j] for i in range(len(equity)) for j in range(i, len(equity))),
        default=D(0),
    )
    assert s.drawdown.amount == brute >= 0
    assert 0 <= s.drawdown.current <= s.drawdown.amount
    if s.drawdown.percent is not None:
        assert 0 < s.drawdown.percent
    assert sum((d.pnl for d in s.daily), D(0)) == s.net_pnl
    assert sum(d.trades for d in s.daily) == s.trades
    for period in ("week", "month"):
        assert sum((p.pnl for p in roll_up(s.daily, period)), D(0)) == s.net_pnl
    series = TradeSeries.from_trades(trades)
    for by in ("symbol", "strategy"):
        groups = breakdown(series, by=by)
        assert sum((g.net_pnl for g in groups), D(0)) == s.net_pnl
        assert sum(g.trades for g in groups) == s.trades
    if s.trades:
        assert s.best_day.pnl >= s.worst_day.pnl
        assert s.largest_win is None or s.largest_win >= s.average_win
        assert s.largest_loss is None or s.largest_loss >= s.average_loss
        assert s.expectancy * s.trades == s.net_pnl or abs(s.expectancy * s.trades - s.net_pnl) < D(
            "0.000001"
        )
