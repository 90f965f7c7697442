"""Recorder reads, always scoped to the owner."""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber
from django.shortcuts import get_object_or_404
from django.utils import timezone

from recorder.ledger import WorkingEntry
from recorder.models import RecordedPosition, RecordedTrade, Recorder, StrategyLog

# Points in a recorder's equity sparkline (its most recent trades).
SPARKLINE_TRADES = 50
ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def user_tz(user) -> tzinfo:
    try:
        return ZoneInfo(getattr(user, "timezone", "") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def recorded_open_pnl(position: RecordedPosition) -> Decimal | None:
    """The open P&L of a recorder's paper position, as its page, the recorders list, the live
    events, the API and the dashboard show it: the ledger's figure at the last price it saw
    (written with that price, so the two never disagree); None before the first price."""
    if not position.net_pos:
        return ZERO
    if position.last_price is None:
        return None
    return Decimal(position.open_pnl).quantize(CENT)


def recorder_working_entries(recorder: Recorder) -> list[str]:
    """The recorder's limit and stop entries still working, as its page lists them:
    "MNQZ6: buy limit 1 @ 20990.00"."""
    return [
        f"{row.symbol}: {WorkingEntry.from_json(data).describe()}"
        for row in recorder.positions.in_the_market().order_by("symbol")
        for data in (row.state or {}).get("working", [])
    ]


def recorder_list(*, user) -> QuerySet[Recorder]:
    return (
        Recorder.objects.filter(user=user)
        .select_related("strategy", "broker_account")
        .prefetch_related(
            Prefetch(
                "positions",
                queryset=RecordedPosition.objects.exclude(net_pos=0).order_by("symbol"),
                to_attr="open_positions",
            )
        )
        .order_by("strategy__name", "id")
    )


def recorder_get(*, user, recorder_id: int) -> Recorder:
    """The user's recorder (404 for anyone else's id)."""
    return get_object_or_404(recorder_list(user=user), pk=recorder_id)


def recorder_for_strategy(*, user, strategy_id: int) -> Recorder | None:
    return recorder_list(user=user).filter(strategy_id=strategy_id).first()


def recorder_trades(
    *,
    user,
    recorder_id: int,
    symbol: str | None = None,
    side: str | None = None,
    exit_reason: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[RecordedTrade]:
    recorder = get_object_or_404(Recorder.objects.filter(user=user), pk=recorder_id)
    qs = RecordedTrade.objects.filter(recorder=recorder)
    if symbol:
        qs = qs.filter(symbol__iexact=symbol)
    if side:
        qs = qs.filter(side=side)
    if exit_reason:
        qs = qs.filter(exit_reason=exit_reason)
    if since:
        qs = qs.filter(exit_time__gte=since)
    if until:
        qs = qs.filter(exit_time__lt=until)
    return qs.order_by("-exit_time", "-id")


def strategy_log_list(
    *,
    user,
    strategy_id: int | None = None,
    trader_id: int | None = None,
    signal_id: int | None = None,
    kinds: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[StrategyLog]:
    qs = StrategyLog.objects.filter(user=user)
    if strategy_id is not None:
        qs = qs.filter(strategy_id=strategy_id)
    if trader_id is not None:
        qs = qs.filter(trader_id=trader_id)
    if signal_id is not None:
        qs = qs.filter(signal_id=signal_id)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-created_at", "-id")


def recorder_log(*, user, recorder_id: int, **filters: Any) -> QuerySet[StrategyLog]:
    """The timeline of the recorder's strategy (recorder and traders lines alike)."""
    recorder = get_object_or_404(Recorder.objects.filter(user=user), pk=recorder_id)
    return strategy_log_list(user=user, strategy_id=recorder.strategy_id, **filters)


def start_of_day(tz: tzinfo, day: date | None = None) -> datetime:
    day = day or timezone.now().astimezone(tz).date()
    return datetime.combine(day, time.min, tzinfo=tz)


def recorder_stats(*, recorders, tz: tzinfo | None = None) -> dict[int, dict[str, Any]]:
    """Track-record figures for each recorder, in three queries whatever their number:
    total / today's net P&L, trade count, wins, win rate, and an equity sparkline (cumulative
    net P&L after each of the last ``SPARKLINE_TRADES`` trades)."""
    recorders = list(recorders)
    ids = [r.pk for r in recorders]
    if not ids:
        return {}
    if tz is None:
        tz = user_tz(recorders[0].user) if len(recorders) == 1 else ZoneInfo("UTC")
    today = start_of_day(tz)
    out: dict[int, dict[str, Any]] = {
        i: {
            "total_pnl": ZERO,
            "gross_pnl": ZERO,
            "commission": ZERO,
            "today_pnl": ZERO,
            "trades": 0,
            "wins": 0,
            "losses": 0,
            "win_rate": None,
            "equity": [],
        }
        for i in ids
    }
    rows = (
        RecordedTrade.objects.filter(recorder_id__in=ids)
        .values("recorder_id")
        .annotate(
            total=Sum("net_pnl"),
            gross=Sum("pnl"),
            commission_sum=Sum("commission"),
            n=Count("id"),
            wins=Count("id", filter=Q(net_pnl__gt=0)),
            losses=Count("id", filter=Q(net_pnl__lt=0)),
            today=Sum("net_pnl", filter=Q(exit_time__gte=today)),
        )
        .order_by()
    )
    for row in rows:
        s = out[row["recorder_id"]]
        s.update(
            total_pnl=row["total"] or ZERO,
            gross_pnl=row["gross"] or ZERO,
            commission=row["commission_sum"] or ZERO,
            today_pnl=row["today"] or ZERO,
            trades=row["n"],
            wins=row["wins"],
            losses=row["losses"],
            win_rate=round(100 * row["wins"] / row["n"], 1) if row["n"] else None,
        )
    recent = (
        RecordedTrade.objects.filter(recorder_id__in=ids)
        .annotate(
            rn=Window(
                RowNumber(),
                partition_by=[F("recorder_id")],
                order_by=[F("exit_time").desc(), F("id").desc()],
            )
        )
        .filter(rn__lte=SPARKLINE_TRADES)
        .values_list("recorder_id", "net_pnl", "exit_time", "id")
    )
    per: dict[int, list[tuple]] = {}
    for recorder_id, pnl, exit_time, pk in recent:
        per.setdefault(recorder_id, []).append((exit_time, pk, pnl))
    for recorder_id, items in per.items():
        items.sort()
        level = out[recorder_id]["total_pnl"] - sum((p for _, _, p in items), ZERO)
        curve = [level]
        for _, _, pnl in items:
            level += pnl
            curve.append(level)
        out[recorder_id]["equity"] = [str(Decimal(v).quantize(CENT)) for v in curve]
    for s in out.values():
        for key in ("total_pnl", "gross_pnl", "commission", "today_pnl"):
            s[key] = str(Decimal(s[key]).quantize(CENT))
    return out


def recorded_net_position(*, strategy, symbol: str) -> int:
    """The strategy's paper position in ``symbol`` (Tradovate contract name), 0 when none.
    For the signal filters (max position, ignore same-side adds)."""
    row = (
        RecordedPosition.objects.filter(recorder__strategy=strategy, symbol=symbol)
        .values_list("net_pos", flat=True)
        .first()
    )
    return row or 0
