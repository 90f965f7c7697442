"""Trading statistics: pure functions over closed trades.

Everything here works on plain data (no database, no Django), so it is tested by hand-computed
examples and by hypothesis invariants, and it is fast enough for 100,000 trades in one pass.

Conventions used by every statistic
-----------------------------------
* A **trade** is a closed round trip with an entry time, an exit time and a **net P&L** in dollars
  (after commissions, as a ``Decimal``). A trade is a *win* if its net P&L is > 0, a *loss* if it
  is < 0 and *break-even* if it is exactly 0.
* Trades are taken **in exit-time order** (ties keep their input order): the equity curve moves
  when a trade closes.
* **Equity** starts at ``starting_capital`` (a positive ``Decimal``, stated beside the figures in
  the UI) and moves by each trade's net P&L.
* A **day** is a calendar day in the trader's time zone (``tz``); a trade belongs to the day of
  its exit. Weeks start on Monday (ISO weeks); a week or month is named by its first day.
* Loss figures (gross loss, average loss, largest loss, drawdown) are **positive magnitudes**;
  the UI shows them in red with a minus sign. Net figures keep their sign.
* A statistic that is undefined for the data (a ratio with a zero denominator, an average of
  nothing) is ``None`` and is shown as "—" (or "∞" for a profit factor with profit and no loss).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal

ZERO = Decimal("0")
CENT = Decimal("0.01")
TRADING_DAYS_PER_YEAR = 252
SQRT_TRADING_DAYS = math.sqrt(TRADING_DAYS_PER_YEAR)
DEFAULT_STARTING_CAPITAL = Decimal("50000")

SHARPE_FORMULA = (
    "Sharpe = mean(r) / stdev(r) × √252 and Sortino = mean(r) / downside deviation × √252, "
    "where r is each trading day's P&L divided by the equity at the start of that day "
    "(starting capital + P&L of earlier days), stdev is the sample standard deviation, the "
    "downside deviation is √(Σ min(r, 0)² / n), and the risk-free rate is 0. "
    "Weekdays without trades count as days with r = 0."
)


@dataclass(frozen=True, slots=True)
class Trade:
    """One closed trade, as the statistics see it."""

    exit_time: datetime
    entry_time: datetime
    net_pnl: Decimal
    symbol: str = ""
    strategy: Hashable = ""


def to_cents(amount: Decimal | int | str) -> int:
    """Dollars → whole cents (half-even at the cent, the way the ledger stores money)."""
    return int((Decimal(amount) * 100).to_integral_value(rounding=ROUND_HALF_EVEN))


def from_cents(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


@dataclass(slots=True)
class TradeSeries:
    """Trades as parallel columns, in exit-time order (the fast form used by the selectors).

    Times are POSIX timestamps (seconds, float). ``pnl`` holds each trade's net P&L in whole
    **cents** (an ``int``): money is exact and the 100,000-trade loop stays in integer arithmetic.
    """

    exit_ts: list[float] = field(default_factory=list)
    entry_ts: list[float] = field(default_factory=list)
    pnl: list[int] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    strategies: list[Hashable] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.pnl)

    @classmethod
    def from_trades(cls, trades: Iterable[Trade]) -> TradeSeries:
        """Columns from `Trade` objects, sorted by exit time (stable for ties)."""
        ordered = sorted(trades, key=lambda t: t.exit_time)
        return cls(
            exit_ts=[t.exit_time.timestamp() for t in ordered],
            entry_ts=[t.entry_time.timestamp() for t in ordered],
            pnl=[to_cents(t.net_pnl) for t in ordered],
            symbols=[t.symbol for t in ordered],
            strategies=[t.strategy for t in ordered],
        )

    def select(self, indexes: Sequence[int]) -> TradeSeries:
        return TradeSeries(
            exit_ts=[self.exit_ts[i] for i in indexes],
            entry_ts=[self.entry_ts[i] for i in indexes],
            pnl=[self.pnl[i] for i in indexes],
            symbols=[self.symbols[i] for i in indexes],
            strategies=[self.strategies[i] for i in indexes],
        )


# --- results ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Drawdown:
    """The largest fall of equity from a running peak (see `compute_statistics`)."""

    amount: Decimal = ZERO
    percent: float | None = None
    peak_equity: Decimal | None = None
    peak_at: datetime | None = None
    trough_at: datetime | None = None
    recovered_at: datetime | None = None
    current: Decimal = ZERO


@dataclass(slots=True)
class PeriodPnL:
    """The P&L of one day, week or month (named by its first day)."""

    start: date
    pnl: Decimal
    trades: int
    wins: int
    losses: int


@dataclass(slots=True)
class GroupStats:
    """The core figures of one group of trades (a symbol, a strategy)."""

    key: Hashable
    trades: int
    wins: int
    losses: int
    net_pnl: Decimal
    gross_profit: Decimal
    gross_loss: Decimal
    win_rate: float | None
    profit_factor: float | None
    expectancy: Decimal | None
    largest_win: Decimal | None
    largest_loss: Decimal | None


@dataclass(slots=True)
class Statistics:
    """Every figure of a set of trades. Field definitions are in `compute_statistics`."""

    starting_capital: Decimal
    trades: int = 0
    wins: int = 0
    losses: int = 0
    breakeven: int = 0
    net_pnl: Decimal = ZERO
    gross_profit: Decimal = ZERO
    gross_loss: Decimal = ZERO
    win_rate: float | None = None
    average_win: Decimal | None = None
    average_loss: Decimal | None = None
    win_loss_ratio: float | None = None
    profit_factor: float | None = None
    expectancy: Decimal | None = None
    largest_win: Decimal | None = None
    largest_loss: Decimal | None = None
    max_consecutive_wins: int = 0
    max_consecutive_losses: int = 0
    average_time_in_trade: float | None = None
    drawdown: Drawdown = field(default_factory=Drawdown)
    recovery_factor: float | None = None
    sharpe: float | None = None
    sortino: float | None = None
    cumulative_return: float = 0.0
    final_equity: Decimal = ZERO
    best_day: PeriodPnL | None = None
    worst_day: PeriodPnL | None = None
    trading_days: int = 0
    first_trade_at: datetime | None = None
    last_trade_at: datetime | None = None
    daily: list[PeriodPnL] = field(default_factory=list)


# --- helpers ------------------------------------------------------------------------------------


def _dt(ts: float, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(ts, tz)


class _DayIndex:
    """Maps sorted timestamps to local dates with one time-zone conversion per day, not per trade."""

    def __init__(self, tz: tzinfo):
        self.tz = tz
        self.start = math.inf
        self.end = -math.inf
        self.day: date | None = None

    def midnight(self, day: date) -> float:
        return datetime.combine(day, time(0), tzinfo=self.tz).timestamp()

    def __call__(self, ts: float) -> date:
        if not (self.start <= ts < self.end):
            day = datetime.fromtimestamp(ts, self.tz).date()
            self.day = day
            self.start = self.midnight(day)
            self.end = self.midnight(day + timedelta(days=1))
        return self.day  # type: ignore[return-value]


def _daily_cents(series: TradeSeries, tz: tzinfo) -> list[list]:
    """``[day, cents, trades, wins, losses]`` per local day with exits, oldest first.

    Exits are sorted, so each day is one slice found by bisection: one time-zone conversion and a
    few C-level passes per day instead of Python work per trade.
    """
    days: list[list] = []
    index = _DayIndex(tz)
    exit_ts, pnl = series.exit_ts, series.pnl
    i, n = 0, len(pnl)
    while i < n:
        day = index(exit_ts[i])
        j = bisect_left(exit_ts, index.end, i)
        chunk = pnl[i:j]
        wins = len([p for p in chunk if p > 0])
        losses = len([p for p in chunk if p < 0])
        days.append([day, sum(chunk), j - i, wins, losses])
        i = j
    return days


def daily_pnl(series: TradeSeries, *, tz: tzinfo = UTC) -> list[PeriodPnL]:
    """The P&L of every local day that has at least one trade exit, oldest first.

    ``pnl`` is the sum of the net P&L of the trades that exited that day; ``trades``, ``wins`` and
    ``losses`` count them. No trades → ``[]``.
    """
    return [
        PeriodPnL(start=d, pnl=from_cents(c), trades=n, wins=w, losses=lo)
        for d, c, n, w, lo in _daily_cents(series, tz)
    ]


def roll_up(days: Iterable[PeriodPnL], period: str) -> list[PeriodPnL]:
    """Daily P&L summed by ``period``: ``"day"`` (unchanged), ``"week"`` (ISO, from Monday) or
    ``"month"``. Each row is named by the period's first day. Periods without trades are absent.
    """
    if period == "day":
        return list(days)
    if period not in ("week", "month"):
        raise ValueError(f"unknown period {period!r}")
    out: list[PeriodPnL] = []
    for d in days:
        start = (
            d.start - timedelta(days=d.start.weekday())
            if period == "week"
            else d.start.replace(day=1)
        )
        if not out or out[-1].start != start:
            out.append(PeriodPnL(start=start, pnl=ZERO, trades=0, wins=0, losses=0))
        row = out[-1]
        row.pnl += d.pnl
        row.trades += d.trades
        row.wins += d.wins
        row.losses += d.losses
    return out


def return_days(days: Sequence[PeriodPnL]) -> list[tuple[date, Decimal]]:
    """The day index used for Sharpe and Sortino: every weekday from the first to the last trading
    day (0 when nothing closed), plus any weekend day with trades."""
    if not days:
        return []
    by_day = {d.start: d.pnl for d in days}
    out = []
    day, last = days[0].start, days[-1].start
    while day <= last:
        if day in by_day:
            out.append((day, by_day[day]))
        elif day.weekday() < 5:
            out.append((day, ZERO))
        day += timedelta(days=1)
    return out


def sharpe_sortino(
    days: Sequence[PeriodPnL], *, starting_capital: Decimal
) -> tuple[float | None, float | None]:
    """Annualised Sharpe and Sortino ratios of daily returns (see `SHARPE_FORMULA`).

    Returns are ``r_d = pnl_d / equity at the start of day d`` over `return_days`. Both are
    ``None`` with fewer than two days, or once equity at the start of a day is ≤ 0 (a blown
    account has no meaningful return). Sharpe is ``None`` when every return is equal (stdev 0);
    Sortino is ``None`` when no day lost money (downside deviation 0).
    """
    index = return_days(days)
    if len(index) < 2:
        return None, None
    equity = starting_capital
    returns: list[float] = []
    for _, pnl in index:
        if equity <= 0:
            return None, None
        returns.append(float(pnl / equity))
        equity += pnl
    n = len(returns)
    mean = sum(returns) / n
    variance = sum((r - mean) ** 2 for r in returns) / (n - 1)
    stdev = math.sqrt(variance)
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / n)
    # Float noise on equal returns leaves a stdev of ~1e-19, not 0: treat it as flat.
    sharpe = mean / stdev * SQRT_TRADING_DAYS if stdev > 1e-12 else None
    sortino = mean / downside * SQRT_TRADING_DAYS if downside > 1e-12 else None
    return sharpe, sortino


def compute_statistics(
    series: TradeSeries | Iterable[Trade],
    *,
    starting_capital: Decimal = DEFAULT_STARTING_CAPITAL,
    tz: tzinfo = UTC,
) -> Statistics:
    """Every statistic of a set of closed trades.

    Definitions (n = number of trades, P&L = net P&L of a trade):

    * ``trades`` = n; ``wins`` / ``losses`` / ``breakeven`` = trades with P&L > 0 / < 0 / = 0.
    * ``net_pnl`` = Σ P&L. ``gross_profit`` = Σ P&L of wins; ``gross_loss`` = |Σ P&L of losses|,
      so ``net_pnl = gross_profit − gross_loss``. No trades → all 0.
    * ``win_rate`` = wins / n, in [0, 1] (break-even trades count in n, not as wins);
      ``None`` when n = 0.
    * ``average_win`` = gross_profit / wins (``None`` without wins); ``average_loss`` =
      gross_loss / losses, positive (``None`` without losses).
    * ``win_loss_ratio`` = average_win / average_loss (``None`` when either is undefined).
    * ``profit_factor`` = gross_profit / gross_loss (``None`` when gross_loss = 0: the UI shows
      "∞" if there is profit, "—" otherwise).
    * ``expectancy`` = net_pnl / n, the average P&L per trade (= win_rate × average_win −
      loss_rate × average_loss); ``None`` when n = 0.
    * ``largest_win`` = the highest P&L of a win; ``largest_loss`` = |lowest P&L of a loss|
      (``None`` without wins / losses).
    * ``max_consecutive_wins`` / ``_losses`` = the longest run of wins / losses in exit order;
      a break-even trade ends both runs. 0 when there are none.
    * ``average_time_in_trade`` = mean of (exit − entry) in seconds; ``None`` when n = 0.
    * ``drawdown``: equity after each trade is starting_capital + running Σ P&L; the running
      peak starts at the starting capital. ``amount`` = max over trades of (peak − equity), ≥ 0;
      ``percent`` = that amount / the peak it fell from (``None`` when amount = 0);
      ``peak_at`` = exit time of the trade that set that peak (``None`` when the peak is the
      starting capital); ``trough_at`` = exit time of the lowest point; ``recovered_at`` = exit
      time of the first later trade whose equity is back at or above that peak (``None`` if it
      never recovered); ``current`` = peak − final equity. No trades → amount 0, no dates.
    * ``recovery_factor`` = net_pnl / drawdown.amount (``None`` when the drawdown is 0).
    * ``sharpe`` / ``sortino``: see `sharpe_sortino` and `SHARPE_FORMULA`.
    * ``cumulative_return`` = net_pnl / starting_capital; ``final_equity`` = starting_capital +
      net_pnl.
    * ``best_day`` / ``worst_day`` = the day with the highest / lowest P&L (the earliest on ties;
      with one trading day both are that day); ``None`` without trades.
    * ``daily`` = `daily_pnl`; ``trading_days`` = its length.
    """
    if not isinstance(series, TradeSeries):
        series = TradeSeries.from_trades(series)
    starting_capital = Decimal(starting_capital)
    if starting_capital <= 0:
        raise ValueError("starting capital must be positive")
    stats = Statistics(starting_capital=starting_capital, final_equity=starting_capital)
    n = len(series)
    if n == 0:
        return stats

    # Integer cents in the loop: exact, and several times faster than Decimal.
    wins = losses = 0
    gross_profit = gross_loss = 0
    largest_win = 0
    lowest = 0
    run_wins = run_losses = best_wins = best_losses = 0
    capital = to_cents(starting_capital)
    equity = peak = capital
    peak_ts: float | None = None
    dd = 0
    dd_peak = capital
    dd_peak_ts: float | None = None
    trough_ts: float | None = None
    recovered_ts: float | None = None
    awaiting_recovery = False

    for ts, pnl in zip(series.exit_ts, series.pnl, strict=True):
        if pnl > 0:
            wins += 1
            gross_profit += pnl
            if pnl > largest_win:
                largest_win = pnl
            run_wins += 1
            run_losses = 0
            if run_wins > best_wins:
                best_wins = run_wins
        elif pnl < 0:
            losses += 1
            gross_loss -= pnl
            if pnl < lowest:
                lowest = pnl
            run_losses += 1
            run_wins = 0
            if run_losses > best_losses:
                best_losses = run_losses
        else:
            run_wins = run_losses = 0
        equity += pnl
        if equity > peak:
            peak = equity
            peak_ts = ts
        elif peak - equity > dd:
            dd = peak - equity
            dd_peak, dd_peak_ts = peak, peak_ts
            trough_ts = ts
            recovered_ts = None
            awaiting_recovery = True
        if awaiting_recovery and equity >= dd_peak:
            recovered_ts = ts
            awaiting_recovery = False

    net = gross_profit - gross_loss
    stats.trades = n
    stats.wins, stats.losses, stats.breakeven = wins, losses, n - wins - losses
    stats.net_pnl = from_cents(net)
    stats.gross_profit, stats.gross_loss = from_cents(gross_profit), from_cents(gross_loss)
    stats.win_rate = wins / n
    stats.average_win = from_cents(gross_profit) / wins if wins else None
    stats.average_loss = from_cents(gross_loss) / losses if losses else None
    if wins and losses:
        stats.win_loss_ratio = (gross_profit / wins) / (gross_loss / losses)
    stats.profit_factor = gross_profit / gross_loss if gross_loss else None
    stats.expectancy = from_cents(net) / n
    stats.largest_win = from_cents(largest_win) if wins else None
    stats.largest_loss = from_cents(-lowest) if losses else None
    stats.max_consecutive_wins, stats.max_consecutive_losses = best_wins, best_losses
    stats.average_time_in_trade = (math.fsum(series.exit_ts) - math.fsum(series.entry_ts)) / n
    stats.drawdown = Drawdown(
        amount=from_cents(dd),
        percent=dd / dd_peak if dd else None,
        peak_equity=from_cents(dd_peak) if dd else None,
        peak_at=_dt(dd_peak_ts, tz) if dd and dd_peak_ts is not None else None,
        trough_at=_dt(trough_ts, tz) if trough_ts is not None else None,
        recovered_at=_dt(recovered_ts, tz) if recovered_ts is not None else None,
        current=from_cents(peak - equity),
    )
    stats.recovery_factor = net / dd if dd else None
    stats.cumulative_return = net / capital
    stats.final_equity = from_cents(equity)
    stats.first_trade_at = _dt(series.exit_ts[0], tz)
    stats.last_trade_at = _dt(series.exit_ts[-1], tz)

    days = daily_pnl(series, tz=tz)
    stats.daily = days
    stats.trading_days = len(days)
    best = worst = days[0]
    for d in days[1:]:
        if d.pnl > best.pnl:
            best = d
        if d.pnl < worst.pnl:
            worst = d
    stats.best_day, stats.worst_day = best, worst
    stats.sharpe, stats.sortino = sharpe_sortino(days, starting_capital=starting_capital)
    return stats


def breakdown(series: TradeSeries, *, by: str) -> list[GroupStats]:
    """Core figures per ``by`` = ``"symbol"`` or ``"strategy"``, highest net P&L first.

    Each group's figures follow the definitions of `compute_statistics` applied to that group's
    trades alone; the groups' ``net_pnl`` sum to the total. No trades → ``[]``.
    """
    keys = {"symbol": series.symbols, "strategy": series.strategies}.get(by)
    if keys is None:
        raise ValueError(f"unknown breakdown {by!r}")
    # One list of P&Ls per key, then sums over each list (C loops, not per-trade Python work).
    members: dict[Hashable, list[int]]
    if keys and keys.count(keys[0]) == len(keys):  # one strategy or one symbol: no grouping
        members = {keys[0]: series.pnl}
    else:
        members = defaultdict(list)
        for key, pnl in zip(keys, series.pnl, strict=True):
            members[key].append(pnl)
    groups = []
    for key, pnls in members.items():
        won = [p for p in pnls if p > 0]
        lost = [p for p in pnls if p < 0]
        n, gp, gl = len(pnls), sum(won), -sum(lost)
        groups.append(
            GroupStats(
                key=key,
                trades=n,
                wins=len(won),
                losses=len(lost),
                net_pnl=from_cents(gp - gl),
                gross_profit=from_cents(gp),
                gross_loss=from_cents(gl),
                win_rate=len(won) / n,
                profit_factor=gp / gl if gl else None,
                expectancy=from_cents(gp - gl) / n,
                largest_win=from_cents(max(won)) if won else None,
                largest_loss=from_cents(-min(lost)) if lost else None,
            )
        )
    groups.sort(key=lambda g: g.net_pnl, reverse=True)
    return groups


def equity_series(
    days: Sequence[PeriodPnL], *, starting_capital: Decimal
) -> list[tuple[date, Decimal, Decimal, Decimal]]:
    """End-of-day curve for charts: ``(day, daily P&L, equity, drawdown)`` per trading day, where
    equity = starting capital + Σ daily P&L so far and drawdown = running peak of that end-of-day
    equity − equity (≥ 0). Intraday dips are in `compute_statistics`' drawdown, not here."""
    equity = peak = Decimal(starting_capital)
    out = []
    for d in days:
        equity += d.pnl
        peak = max(peak, equity)
        out.append((d.start, d.pnl, equity, peak - equity))
    return out
