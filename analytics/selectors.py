"""Reads behind the dashboard and the analytics pages, always scoped to one user.

Two sources, never mixed: ``recorded`` (the recorders' virtual track record, `RecordedTrade`)
and ``live`` (the broker accounts', Paper and Tradovate alike: round trips built from the
traders' broker `Fill` rows, first in first out per account and symbol). Every
selector makes a fixed number of queries whatever the number of trades: the trades of a filter
come back in one query as plain columns, and the figures are computed by `analytics.statistics`.

One file for one idea, the reads of the dashboard: every figure comes from the same filtered
trade rows, so the pages agree.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
from bisect import bisect_left
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from time import time_ns
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, FloatField, Func, IntegerField, Max, QuerySet
from django.utils import timezone

from accounts.models import BrokerAccount
from analytics import statistics as st
from recorder.models import RecordedPosition, RecordedTrade, Recorder
from recorder.selectors import recorded_open_pnl
from strategies.models import Strategy
from traders.models import Fill, Position
from traders.pnl import position_open_pnl
from traders.risk import trading_day, trading_day_start
from traders.trades import closed_lots

logger = logging.getLogger(__name__)

RECORDED = "recorded"
LIVE = "live"
SOURCES = (RECORDED, LIVE)
# What the recorded source was called before "Paper" meant only the paper broker's accounts.
LEGACY_SOURCE_NAMES = {"paper": RECORDED}
CACHE_SECONDS = 600
# The account column of a signals recorder's virtual trades: no broker account holds them.
RECORDED_ACCOUNT = "Recorded"


def default_starting_capital() -> Decimal:
    return Decimal(
        str(getattr(settings, "ANALYTICS_STARTING_CAPITAL", st.DEFAULT_STARTING_CAPITAL))
    )


def user_tz(user) -> tzinfo:
    try:
        return ZoneInfo(getattr(user, "timezone", "") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


@dataclass(frozen=True)
class TradeFilters:
    """What the trade-history filters, the charts and the statistics narrow down to.

    ``start`` / ``end`` are local days (in the user's zone) of the trade's exit, both inclusive.
    """

    source: str = RECORDED
    strategy_id: int | None = None
    account_id: int | None = None
    symbol: str = ""
    side: str = ""
    start: date | None = None
    end: date | None = None
    strategy_ids: tuple[int, ...] = field(default_factory=tuple)

    def key(self) -> str:
        return json.dumps(
            [
                self.source,
                self.strategy_id,
                self.account_id,
                self.symbol,
                self.side,
                str(self.start),
                str(self.end),
                list(self.strategy_ids),
            ]
        )


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


# --- database expressions for the fast column load ----------------------------------------------


class Epoch(Func):
    """A timestamp as POSIX seconds (float), read without Python datetime parsing.

    SQLite's julianday() is a double with ~20 µs of noise: ``exact`` rounds it to the
    millisecond (the exit times decide the day a trade belongs to); durations do without.
    """

    output_field = FloatField()

    def __init__(self, expression, *, exact: bool = True):
        super().__init__(expression)
        self.exact = exact

    def as_sqlite(self, compiler, connection, **extra):
        template = "(julianday(%(expressions)s) - 2440587.5) * 86400.0"
        if self.exact:
            template = f"ROUND({template}, 3)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        template = "EXTRACT(EPOCH FROM %(expressions)s)::float8"
        return self.as_sql(compiler, connection, template=template, **extra)


class Cents(Func):
    """A money column × 100 as an integer (exact for two-decimal amounts)."""

    output_field = IntegerField()
    template = "CAST(ROUND(%(expressions)s * 100) AS BIGINT)"

    def as_sqlite(self, compiler, connection, **extra):
        template = "CAST(ROUND(%(expressions)s * 100) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)


@contextmanager
def _no_gc():
    """Pause the cycle collector while 100,000 row tuples are allocated: they hold no cycles,
    and its repeated scans of them would cost as much as the query."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- paper trades -------------------------------------------------------------------------------


def _paper_recorders(*, user, filters: TradeFilters) -> dict[int, int]:
    """``{recorder id: strategy id}`` of the user's recorders that the filters keep."""
    qs = Recorder.objects.filter(user=user)
    if filters.strategy_id is not None:
        qs = qs.filter(strategy_id=filters.strategy_id)
    if filters.strategy_ids:
        qs = qs.filter(strategy_id__in=filters.strategy_ids)
    if filters.account_id is not None:
        qs = qs.filter(broker_account_id=filters.account_id)
    return dict(qs.values_list("id", "strategy_id"))


def paper_trade_queryset(
    *, user, filters: TradeFilters, tz: tzinfo, recorders: dict[int, int] | None = None
) -> QuerySet[RecordedTrade]:
    """The user's recorded (paper) trades matching `filters`.

    The owner is applied through the user's recorder ids (read first, one small query), so the
    trade query itself walks the ``(recorder, exit_time)`` index without a join.
    """
    if recorders is None:
        recorders = _paper_recorders(user=user, filters=filters)
    qs = RecordedTrade.objects.filter(recorder_id__in=list(recorders))
    if filters.symbol:
        qs = qs.filter(symbol__iexact=filters.symbol)
    if filters.side:
        qs = qs.filter(side=filters.side)
    if filters.start:
        qs = qs.filter(exit_time__gte=_local_midnight(filters.start, tz))
    if filters.end:
        qs = qs.filter(exit_time__lt=_local_midnight(filters.end + timedelta(days=1), tz))
    return qs


def _paper_series(*, user, filters: TradeFilters, tz: tzinfo) -> st.TradeSeries:
    recorders = _paper_recorders(user=user, filters=filters)
    if not recorders:
        return st.TradeSeries()
    single = len(recorders) == 1
    columns = [Epoch("exit_time"), Epoch("entry_time", exact=False), Cents("net_pnl"), "symbol"]
    if not single:
        columns.append("recorder_id")
    qs = (
        paper_trade_queryset(user=user, filters=filters, tz=tz, recorders=recorders)
        .order_by("exit_time", "id")
        .values_list(*columns)
    )
    # The ORM builds the SQL; the rows are read raw, since per-row converters would cost more
    # than the query itself at 100,000 trades.
    sql, params = qs.query.sql_with_params()
    with _no_gc(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return st.TradeSeries()
    if single:
        strategies = [next(iter(recorders.values()))] * len(rows)
    else:
        strategies = [recorders[r[4]] for r in rows]
    return st.TradeSeries(
        exit_ts=[r[0] for r in rows],
        entry_ts=[r[1] for r in rows],
        pnl=[r[2] for r in rows],
        symbols=[r[3] for r in rows],
        strategies=strategies,
    )


def _paper_fingerprint(*, user, filters: TradeFilters, tz: tzinfo) -> tuple:
    """Changes whenever a matching trade is added, removed or re-priced (one cheap aggregate)."""
    recorders = _paper_recorders(user=user, filters=filters)
    agg = paper_trade_queryset(user=user, filters=filters, tz=tz, recorders=recorders).aggregate(
        n=Count("id"), last=Max("id")
    )
    return (sorted(recorders.items()), agg["n"], agg["last"], _trade_generation(user.pk))


# --- live trades (from broker fills) ------------------------------------------------------------


@dataclass
class LiveTrade:
    """A live trade: one lot (or part of one) closed, paired first in first out from broker
    fills of one account + symbol."""

    id: str
    strategy_id: int | None
    strategy: str
    account_id: int
    account: str
    symbol: str
    side: str
    quantity: int
    entry_time: datetime
    exit_time: datetime
    entry_price: Decimal
    exit_price: Decimal
    points: Decimal
    pnl: Decimal
    commission: Decimal
    net_pnl: Decimal
    exit_reason: str = "fill"


def _live_fills(*, user, filters: TradeFilters) -> QuerySet[Fill]:
    qs = Fill.objects.filter(user=user, broker_account__connection__user=user)
    if filters.account_id is not None:
        qs = qs.filter(broker_account_id=filters.account_id)
    if filters.symbol:
        qs = qs.filter(symbol__iexact=filters.symbol)
    return qs.select_related("broker_account", "order__trader__strategy").order_by(
        "timestamp", "id"
    )


def live_trades(*, user, filters: TradeFilters, tz: tzinfo) -> list[LiveTrade]:
    """The user's live trades matching `filters`, oldest exit first: one per closed lot, paired
    by ``traders.trades`` as every other page and message pairs them. The strategy is the one of
    the trader whose order opened the lot. Fills carry no commission: net = gross.
    """
    trades: list[LiveTrade] = []
    fills = _live_fills(user=user, filters=filters)
    for lot in closed_lots(fills, key=lambda f: (f.broker_account_id, f.symbol)):
        opening, closing = lot.opening, lot.closing
        trader = opening.order.trader if opening.order_id and opening.order else None
        strategy = trader.strategy if trader else None
        pnl = lot.pnl if lot.pnl is not None else Decimal("0.00")  # product unknown: no dollars
        trades.append(
            LiveTrade(
                id=f"{opening.pk}-{closing.pk}",
                strategy_id=strategy.pk if strategy else None,
                strategy=strategy.name if strategy else "Manual",
                account_id=closing.broker_account_id,
                account=closing.broker_account.name,
                symbol=closing.symbol,
                side=lot.side,
                quantity=lot.quantity,
                entry_time=opening.timestamp,
                exit_time=closing.timestamp,
                entry_price=lot.entry_price,
                exit_price=lot.exit_price,
                points=lot.points,
                pnl=pnl,
                commission=Decimal("0.00"),
                net_pnl=pnl,
            )
        )
    trades.sort(key=lambda t: (t.exit_time, t.id))
    strategy_set = set(filters.strategy_ids)
    out = []
    start = _local_midnight(filters.start, tz) if filters.start else None
    end = _local_midnight(filters.end + timedelta(days=1), tz) if filters.end else None
    for t in trades:
        if filters.strategy_id is not None and t.strategy_id != filters.strategy_id:
            continue
        if strategy_set and t.strategy_id not in strategy_set:
            continue
        if filters.side and t.side != filters.side:
            continue
        if start and t.exit_time < start:
            continue
        if end and t.exit_time >= end:
            continue
        out.append(t)
    return out


def _live_series(trades: list[LiveTrade]) -> st.TradeSeries:
    return st.TradeSeries(
        exit_ts=[t.exit_time.timestamp() for t in trades],
        entry_ts=[t.entry_time.timestamp() for t in trades],
        pnl=[st.to_cents(t.net_pnl) for t in trades],
        symbols=[t.symbol for t in trades],
        strategies=[t.strategy_id for t in trades],
    )


def _live_fingerprint(*, user, filters: TradeFilters) -> tuple:
    agg = _live_fills(user=user, filters=filters).aggregate(
        n=Count("id"), last=Max("id"), latest=Max("timestamp")
    )
    return (agg["n"], agg["last"], str(agg["latest"]), _trade_generation(user.pk))


# --- the one entry point for trades as columns --------------------------------------------------


def trade_series(*, user, filters: TradeFilters, tz: tzinfo | None = None) -> st.TradeSeries:
    """The matching trades of the user as columns, in exit order (one query)."""
    tz = tz or user_tz(user)
    if filters.source == LIVE:
        return _live_series(live_trades(user=user, filters=filters, tz=tz))
    return _paper_series(user=user, filters=filters, tz=tz)


def _generation_key(user_id: int) -> str:
    return f"analytics:generation:{user_id}"


def _trade_generation(user_id: int) -> int:
    try:
        return cache.get(_generation_key(user_id), 0)
    except Exception:  # noqa: BLE001 - Redis down: the caller computes without the cache
        return -1


def trades_changed(*, user_id: int) -> None:
    """Invalidate the user's cached figures (a trade was edited in place: same count, same ids)."""
    try:
        cache.set(_generation_key(user_id), time_ns(), None)
    except Exception:  # noqa: BLE001 - a cache outage only costs speed
        logger.warning("analytics cache unavailable", exc_info=True)


def _cached(*, user, name: str, filters: TradeFilters, tz: tzinfo, extra: Any, compute):
    """Serve a computed figure set from the cache while the matching trades are unchanged."""
    if filters.source == LIVE:
        fingerprint = _live_fingerprint(user=user, filters=filters)
    else:
        fingerprint = _paper_fingerprint(user=user, filters=filters, tz=tz)
    seconds = getattr(settings, "ANALYTICS_CACHE_SECONDS", CACHE_SECONDS)
    if not seconds:
        return compute()
    now = timezone.now()
    days = [str(now.astimezone(tz).date()), str(trading_day(now))]  # figures roll with both
    raw = json.dumps([name, filters.key(), str(tz), str(extra), days, fingerprint])
    key = f"analytics:{user.pk}:{hashlib.sha1(raw.encode()).hexdigest()}"  # noqa: S324
    try:
        hit = cache.get(key)
    except Exception:  # noqa: BLE001 - Redis down: compute, never fail the page
        logger.warning("analytics cache unavailable", exc_info=True)
        hit = None
    if hit is not None:
        return hit
    value = compute()
    try:
        cache.set(key, value, seconds)
    except Exception:  # noqa: BLE001 - a cache outage only costs speed
        logger.warning("analytics cache unavailable", exc_info=True)
    return value


# --- serialisation helpers ----------------------------------------------------------------------


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(st.CENT))


def plain(value: Decimal) -> str:
    """A price without trailing zeros and never in exponent form (21000, 6150.25)."""
    return f"{Decimal(value).normalize():f}"


def ratio(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def period_dict(p: st.PeriodPnL | None) -> dict | None:
    if p is None:
        return None
    return {
        "date": p.start.isoformat(),
        "pnl": money(p.pnl),
        "trades": p.trades,
        "wins": p.wins,
        "losses": p.losses,
    }


def group_dict(g: st.GroupStats, label: str) -> dict:
    return {
        "key": g.key,
        "label": label,
        "trades": g.trades,
        "wins": g.wins,
        "losses": g.losses,
        "net_pnl": money(g.net_pnl),
        "gross_profit": money(g.gross_profit),
        "gross_loss": money(g.gross_loss),
        "win_rate": ratio(g.win_rate),
        "profit_factor": ratio(g.profit_factor),
        "expectancy": money(g.expectancy),
        "largest_win": money(g.largest_win),
        "largest_loss": money(g.largest_loss),
    }


def statistics_dict(s: st.Statistics) -> dict:
    dd = s.drawdown
    return {
        "starting_capital": money(s.starting_capital),
        "trades": s.trades,
        "wins": s.wins,
        "losses": s.losses,
        "breakeven": s.breakeven,
        "net_pnl": money(s.net_pnl),
        "gross_profit": money(s.gross_profit),
        "gross_loss": money(s.gross_loss),
        "win_rate": ratio(s.win_rate),
        "average_win": money(s.average_win),
        "average_loss": money(s.average_loss),
        "win_loss_ratio": ratio(s.win_loss_ratio),
        "profit_factor": ratio(s.profit_factor),
        "expectancy": money(s.expectancy),
        "largest_win": money(s.largest_win),
        "largest_loss": money(s.largest_loss),
        "max_consecutive_wins": s.max_consecutive_wins,
        "max_consecutive_losses": s.max_consecutive_losses,
        "average_time_in_trade_seconds": ratio(s.average_time_in_trade, 1),
        "max_drawdown": money(dd.amount),
        "max_drawdown_percent": ratio(dd.percent, 6),
        "max_drawdown_peak_equity": money(dd.peak_equity),
        "max_drawdown_peak_at": iso(dd.peak_at),
        "max_drawdown_trough_at": iso(dd.trough_at),
        "max_drawdown_recovered_at": iso(dd.recovered_at),
        "current_drawdown": money(dd.current),
        "recovery_factor": ratio(s.recovery_factor),
        "sharpe": ratio(s.sharpe),
        "sortino": ratio(s.sortino),
        "sharpe_formula": st.SHARPE_FORMULA,
        "cumulative_return": ratio(s.cumulative_return, 6),
        "final_equity": money(s.final_equity),
        "best_day": period_dict(s.best_day),
        "worst_day": period_dict(s.worst_day),
        "trading_days": s.trading_days,
        "first_trade_at": iso(s.first_trade_at),
        "last_trade_at": iso(s.last_trade_at),
    }


def _strategy_names(*, user, ids) -> dict:
    ids = [i for i in set(ids) if i is not None]
    if not ids:
        return {}
    return dict(Strategy.objects.filter(user=user, pk__in=ids).values_list("pk", "name"))


# --- selectors used by the API and the pages ----------------------------------------------------


def strategy_get(*, user, strategy_id: int) -> Strategy | None:
    return Strategy.objects.filter(user=user, pk=strategy_id).first()


def analytics_statistics(
    *, user, filters: TradeFilters, starting_capital: Decimal | None = None
) -> dict:
    """Every statistic, daily/weekly/monthly P&L and per-symbol and per-strategy breakdowns."""
    tz = user_tz(user)
    capital = starting_capital or default_starting_capital()

    def compute():
        series = trade_series(user=user, filters=filters, tz=tz)
        stats = st.compute_statistics(series, starting_capital=capital, tz=tz)
        by_symbol = st.breakdown(series, by="symbol")
        by_strategy = st.breakdown(series, by="strategy")
        names = _strategy_names(user=user, ids=[g.key for g in by_strategy])
        return {
            "source": filters.source,
            "timezone": str(tz),
            "statistics": statistics_dict(stats),
            "daily": [period_dict(p) for p in stats.daily],
            "weekly": [period_dict(p) for p in st.roll_up(stats.daily, "week")],
            "monthly": [period_dict(p) for p in st.roll_up(stats.daily, "month")],
            "by_symbol": [group_dict(g, str(g.key)) for g in by_symbol],
            "by_strategy": [
                group_dict(g, names.get(g.key, "Manual" if g.key is None else f"#{g.key}"))
                for g in by_strategy
            ],
        }

    return _cached(user=user, name="stats", filters=filters, tz=tz, extra=capital, compute=compute)


def chart_data(*, user, filters: TradeFilters, starting_capital: Decimal | None = None) -> dict:
    """End-of-day equity, drawdown (as a negative number, drawn under the curve) and daily P&L."""
    tz = user_tz(user)
    capital = starting_capital or default_starting_capital()

    def compute():
        series = trade_series(user=user, filters=filters, tz=tz)
        days = st.daily_pnl(series, tz=tz)
        curve = st.equity_series(days, starting_capital=capital)
        return {
            "source": filters.source,
            "timezone": str(tz),
            "starting_capital": money(capital),
            "equity": [{"time": d.isoformat(), "value": money(eq)} for d, _, eq, _ in curve],
            "drawdown": [{"time": d.isoformat(), "value": money(-dd)} for d, _, _, dd in curve],
            "daily_pnl": [{"time": d.isoformat(), "value": money(p)} for d, p, _, _ in curve],
            "calendar": [period_dict(p) for p in days],
        }

    return _cached(user=user, name="chart", filters=filters, tz=tz, extra=capital, compute=compute)


def dashboard_summary(*, user, source: str, starting_capital: Decimal | None = None) -> dict:
    """The summary cards: today / week / month / all-time P&L, win rate, profit factor, max
    drawdown, and the open positions with their open P&L."""
    tz = user_tz(user)
    capital = starting_capital or default_starting_capital()
    filters = TradeFilters(source=source)

    def compute():
        series = trade_series(user=user, filters=filters, tz=tz)
        stats = st.compute_statistics(series, starting_capital=capital, tz=tz)
        today = timezone.now().astimezone(tz).date()
        week_start = today - timedelta(days=today.weekday())
        month_start = today.replace(day=1)
        periods = {"week": week_start, "month": month_start}
        sums = {k: st.ZERO for k in periods}
        counts = dict.fromkeys(periods, 0)
        for day in reversed(stats.daily):
            if day.start < month_start and day.start < week_start:
                break
            for name, first in periods.items():
                if day.start >= first:
                    sums[name] += day.pnl
                    counts[name] += day.trades
        sums["today"], counts["today"] = _trading_day_so_far(series)
        return {
            "source": source,
            "timezone": str(tz),
            "starting_capital": money(capital),
            "today_pnl": money(sums["today"]),
            "today_trades": counts["today"],
            "week_pnl": money(sums["week"]),
            "week_trades": counts["week"],
            "month_pnl": money(sums["month"]),
            "month_trades": counts["month"],
            "all_time_pnl": money(stats.net_pnl),
            "trades": stats.trades,
            "win_rate": ratio(stats.win_rate),
            "profit_factor": ratio(stats.profit_factor),
            "gross_profit": money(stats.gross_profit),
            "gross_loss": money(stats.gross_loss),
            "max_drawdown": money(stats.drawdown.amount),
            "max_drawdown_percent": ratio(stats.drawdown.percent, 6),
            "last_trade_at": iso(stats.last_trade_at),
        }

    summary = dict(
        _cached(user=user, name="summary", filters=filters, tz=tz, extra=capital, compute=compute)
    )
    positions = open_positions(user=user, source=source)
    summary["open_positions"] = len(positions)
    summary["open_pnl"] = money(
        sum((Decimal(p["open_pnl"]) for p in positions if p["open_pnl"] is not None), st.ZERO)
    )
    return summary


def _trading_day_so_far(series: st.TradeSeries) -> tuple[Decimal, int]:
    """The P&L and count of the trades closed in the current CME trading day (since 17:00
    Chicago), the day the Control Center, the daily limits and the broker speak of."""
    first = bisect_left(series.exit_ts, trading_day_start(timezone.now()).timestamp())
    cents = sum(series.pnl[first:])
    return Decimal(cents) / 100, len(series) - first


def _money_or_none(value: Decimal | None) -> str | None:
    # Without a quote yet the open P&L is unknown, not zero.
    return None if value is None else money(value)


def open_positions(*, user, source: str) -> list[dict]:
    """Open positions of the source: paper positions of the recorders, or broker positions."""
    if source == LIVE:
        rows = (
            Position.objects.filter(user=user, broker_account__connection__user=user)
            .exclude(net_pos=0)
            .select_related("broker_account")
            .order_by("broker_account__name", "symbol")
        )
        return [
            {
                "id": p.pk,
                "source": LIVE,
                "account_id": p.broker_account_id,
                "account": p.broker_account.name,
                "strategy_id": None,
                "strategy": "",
                "symbol": p.symbol,
                "side": "long" if p.net_pos > 0 else "short",
                "net_pos": p.net_pos,
                "avg_price": str(p.net_price) if p.net_price is not None else None,
                "last_price": plain(p.last_price) if p.last_price is not None else None,
                "open_pnl": _money_or_none(position_open_pnl(p)),
                "opened_at": None,
                "updated_at": iso(p.updated_at),
            }
            for p in rows
        ]
    rows = (
        RecordedPosition.objects.filter(recorder__user=user)
        .exclude(net_pos=0)
        .select_related("recorder__strategy")
        .order_by("recorder__strategy__name", "symbol")
    )
    return [
        {
            "id": p.pk,
            "source": RECORDED,
            "account_id": None,
            "account": RECORDED_ACCOUNT,
            "strategy_id": p.recorder.strategy_id,
            "strategy": p.recorder.strategy.name,
            "symbol": p.symbol,
            "side": "long" if p.net_pos > 0 else "short",
            "net_pos": p.net_pos,
            "avg_price": plain(p.avg_price),
            "last_price": plain(p.last_price) if p.last_price is not None else None,
            "open_pnl": _money_or_none(recorded_open_pnl(p)),
            "opened_at": iso(p.opened_at),
            "updated_at": iso(p.updated_at),
        }
        for p in rows
    ]


def performance(*, user, source: str, period: str, starting_capital: Decimal | None = None):
    """P&L by day, week or month plus the per-strategy and per-symbol breakdowns."""
    data = analytics_statistics(
        user=user, filters=TradeFilters(source=source), starting_capital=starting_capital
    )
    key = {"day": "daily", "week": "weekly", "month": "monthly"}[period]
    return {
        "source": source,
        "period": period,
        "timezone": data["timezone"],
        "periods": data[key],
        "by_strategy": data["by_strategy"],
        "by_symbol": data["by_symbol"],
        "statistics": data["statistics"],
    }


def strategy_comparison(
    *,
    user,
    source: str,
    strategy_ids: list[int] | None = None,
    starting_capital: Decimal | None = None,
) -> list[dict]:
    """Side-by-side statistics of the user's strategies (all of them, or `strategy_ids`),
    each computed on its own trades alone, from one load of the trades."""
    tz = user_tz(user)
    capital = starting_capital or default_starting_capital()
    strategies = Strategy.objects.filter(user=user).order_by("name")
    if strategy_ids:
        strategies = strategies.filter(pk__in=strategy_ids)
    strategies = list(strategies.values_list("pk", "name"))
    ids = tuple(pk for pk, _ in strategies)
    if not ids:
        return []
    filters = TradeFilters(source=source, strategy_ids=ids)

    def compute():
        series = trade_series(user=user, filters=filters, tz=tz)
        positions = defaultdict(list)
        for i, key in enumerate(series.strategies):
            positions[key].append(i)
        rows = []
        for pk, name in strategies:
            sub = series.select(positions.get(pk, []))
            stats = st.compute_statistics(sub, starting_capital=capital, tz=tz)
            curve = st.equity_series(stats.daily, starting_capital=capital)
            rows.append(
                {
                    "strategy_id": pk,
                    "strategy": name,
                    "statistics": statistics_dict(stats),
                    "equity": [
                        {"time": d.isoformat(), "value": money(eq - capital)}
                        for d, _, eq, _ in curve
                    ],
                }
            )
        return rows

    return _cached(
        user=user, name="compare", filters=filters, tz=tz, extra=capital, compute=compute
    )


def trade_history(*, user, filters: TradeFilters) -> QuerySet[RecordedTrade] | list[LiveTrade]:
    """Trades for the history table, newest exit first (a queryset for paper, a list for live)."""
    tz = user_tz(user)
    if filters.source == LIVE:
        return list(reversed(live_trades(user=user, filters=filters, tz=tz)))
    return (
        paper_trade_queryset(user=user, filters=filters, tz=tz)
        .select_related("recorder__strategy", "recorder__broker_account")
        .order_by("-exit_time", "-id")
    )


def history_row(trade: RecordedTrade | LiveTrade, tz: tzinfo) -> dict:
    """One row of the trade history (paper and live look the same)."""
    if isinstance(trade, LiveTrade):
        source, strategy_id, strategy = LIVE, trade.strategy_id, trade.strategy
        account_id, account, reason = trade.account_id, trade.account, trade.exit_reason
        ticks = None
    else:
        recorder = trade.recorder
        source, strategy_id, strategy = RECORDED, recorder.strategy_id, recorder.strategy.name
        account_id = recorder.broker_account_id
        account = recorder.broker_account.name if recorder.broker_account else RECORDED_ACCOUNT
        reason, ticks = trade.exit_reason, str(trade.ticks)
    return {
        "id": trade.id if isinstance(trade.id, str) else str(trade.id),
        "source": source,
        "strategy_id": strategy_id,
        "strategy": strategy,
        "account_id": account_id,
        "account": account,
        "symbol": trade.symbol,
        "side": trade.side,
        "quantity": trade.quantity,
        "entry_time": iso(trade.entry_time.astimezone(tz)),
        "exit_time": iso(trade.exit_time.astimezone(tz)),
        "duration_seconds": int((trade.exit_time - trade.entry_time).total_seconds()),
        "entry_price": plain(trade.entry_price),
        "exit_price": plain(trade.exit_price),
        "points": plain(trade.points),
        "ticks": ticks,
        "pnl": money(trade.pnl),
        "commission": money(trade.commission),
        "net_pnl": money(trade.net_pnl),
        "exit_reason": reason,
    }


def source_named(name: str | None) -> str:
    """The source a query asks for, old names included; the recorded record by default."""
    name = LEGACY_SOURCE_NAMES.get(name or "", name)
    return name if name in SOURCES else RECORDED


def _accounts_of_source(*, user, source: str) -> QuerySet[BrokerAccount]:
    """The accounts whose trades the source holds: every broker account (Paper and Tradovate)
    for the broker side, the accounts followed by account recorders for the recorded side."""
    accounts = BrokerAccount.objects.filter(connection__user=user)
    if source == LIVE:
        return accounts
    return accounts.filter(recorder__user=user).distinct()


def filter_choices(*, user, source: str) -> dict:
    """Options of the history filters: the user's strategies, accounts and traded symbols."""
    strategies = list(Strategy.objects.filter(user=user).order_by("name").values("id", "name"))
    accounts = list(
        _accounts_of_source(user=user, source=source).order_by("name").values("id", "name")
    )
    if source == LIVE:
        symbols = Fill.objects.filter(user=user).values_list("symbol", flat=True)
    else:
        symbols = RecordedTrade.objects.filter(recorder__user=user).values_list("symbol", flat=True)
    return {
        "strategies": strategies,
        "accounts": accounts,
        "symbols": sorted(set(symbols.distinct().order_by())),
    }


def recorder_of_strategy(*, user, strategy_id: int) -> Recorder | None:
    return Recorder.objects.filter(user=user, strategy_id=strategy_id).first()
