"""The numbers of a trader's day (or week): paper trades per strategy, live round trips per
account, and the P&L of each local day in the period."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Q, Sum

from recorder.models import RecordedTrade
from traders.models import Fill
from traders.trades import closed_lots


@dataclass
class SummaryRow:
    label: str
    trades: int = 0
    wins: int = 0
    pnl: Decimal = Decimal("0.00")

    @property
    def win_rate(self) -> Decimal | None:
        """Percent of trades with a positive P&L, one decimal; None without trades."""
        if not self.trades:
            return None
        return (Decimal(self.wins) * 100 / Decimal(self.trades)).quantize(Decimal("0.1"))


@dataclass
class DailySummary:
    """A period of local days ending on ``day`` (one day for the daily summary)."""

    day: date
    timezone: str
    paper: list[SummaryRow] = field(default_factory=list)
    live: list[SummaryRow] = field(default_factory=list)
    first_day: date | None = None
    by_day: dict[date, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.first_day is None:
            self.first_day = self.day

    @property
    def best_day(self) -> tuple[date, Decimal] | None:
        return max(self.by_day.items(), key=lambda kv: kv[1]) if self.by_day else None

    @property
    def worst_day(self) -> tuple[date, Decimal] | None:
        return min(self.by_day.items(), key=lambda kv: kv[1]) if self.by_day else None

    @property
    def trades(self) -> int:
        return sum(r.trades for r in self.paper + self.live)

    @property
    def live_pnl(self) -> Decimal:
        return sum((r.pnl for r in self.live), Decimal("0.00"))

    @property
    def paper_pnl(self) -> Decimal:
        return sum((r.pnl for r in self.paper), Decimal("0.00"))


def user_zone(user) -> ZoneInfo:
    try:
        return ZoneInfo(user.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day, as aware datetimes (DST days are 23 or 25 h)."""
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def daily_summary_compute(*, user, day: date) -> DailySummary:
    """Trades closed on `day` in the user's time zone."""
    return period_summary_compute(user=user, first_day=day, last_day=day)


def period_summary_compute(*, user, first_day: date, last_day: date) -> DailySummary:
    """Trades closed from `first_day` to `last_day` (local days, both included).

    Paper: the recorders' RecordedTrade rows (net P&L, after commissions), per strategy.
    Live: round trips of the traders' fills closed in the period, per broker account (gross).
    """

    zone = user_zone(user)
    start, _ = day_bounds(first_day, zone)
    _, end = day_bounds(last_day, zone)
    summary = DailySummary(day=last_day, first_day=first_day, timezone=str(zone.key))
    by_day: dict[date, Decimal] = defaultdict(Decimal)

    trades = RecordedTrade.objects.filter(
        recorder__user=user, exit_time__gte=start, exit_time__lt=end
    )
    paper = (
        trades.values("recorder__strategy__name")
        .annotate(trades=Count("id"), pnl=Sum("net_pnl"), wins=Count("id", filter=Q(net_pnl__gt=0)))
        .order_by("recorder__strategy__name")
    )
    for row in paper:
        summary.paper.append(
            SummaryRow(
                label=row["recorder__strategy__name"],
                trades=row["trades"],
                wins=row["wins"],
                pnl=(row["pnl"] or Decimal(0)).quantize(Decimal("0.01")),
            )
        )
    for exit_time, net in trades.values_list("exit_time", "net_pnl").iterator():
        by_day[exit_time.astimezone(zone).date()] += net or Decimal(0)

    # Only the (account, contract) pairs that traded in the period; their earlier fills give
    # the position the period started with.
    pairs = set(
        Fill.objects.filter(user=user, timestamp__gte=start, timestamp__lt=end)
        .values_list("broker_account_id", "symbol")
        .distinct()
    )
    if pairs:
        account_ids = {a for a, _ in pairs}
        fills = (
            Fill.objects.filter(user=user, broker_account_id__in=account_ids, timestamp__lt=end)
            .select_related("broker_account")
            .order_by("timestamp", "id")
        )
        grouped: dict[tuple[int, str], list] = defaultdict(list)
        names: dict[int, str] = {}
        for fill in fills:
            key = (fill.broker_account_id, fill.symbol)
            if key in pairs:
                grouped[key].append(fill)
                names[fill.broker_account_id] = fill.broker_account.name
        rows: dict[int, SummaryRow] = {}
        for (account_id, _symbol), account_fills in grouped.items():
            row = rows.setdefault(account_id, SummaryRow(label=names[account_id]))
            # Trades as the dashboard's live history counts them: one per closed lot.
            for lot in closed_lots(account_fills):
                closed_at = lot.closing.timestamp
                if start <= closed_at < end:
                    row.trades += 1
                    pnl = lot.pnl or Decimal("0.00")
                    row.pnl += pnl
                    row.wins += 1 if pnl > 0 else 0
                    by_day[closed_at.astimezone(zone).date()] += pnl
        summary.live = sorted((r for r in rows.values() if r.trades), key=lambda r: r.label)
    summary.by_day = {d: v.quantize(Decimal("0.01")) for d, v in sorted(by_day.items())}
    return summary
