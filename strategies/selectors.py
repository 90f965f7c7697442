"""Reads of strategies and signals, always scoped to their owner."""

from __future__ import annotations

from datetime import date, datetime

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from strategies.models import Signal, Strategy


def strategy_list(*, user) -> QuerySet[Strategy]:
    return (
        Strategy.objects.filter(user=user)
        .select_related("recorder")
        .annotate(
            signal_count=Count("signals", distinct=True),
            enabled_traders=Count("traders", filter=Q(traders__enabled=True), distinct=True),
        )
        .order_by("name", "id")
    )


def strategy_get(*, user, strategy_id: int) -> Strategy:
    """The user's strategy or 404 (another user's id is indistinguishable from a missing one)."""
    return get_object_or_404(Strategy.objects.select_related("recorder"), pk=strategy_id, user=user)


def signal_list(
    *,
    user,
    strategy_id: int | None = None,
    status: str | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> QuerySet[Signal]:
    qs = (
        Signal.objects.filter(strategy__user=user)
        .select_related("strategy")
        .prefetch_related("executions__broker_account")
    )
    if strategy_id is not None:
        qs = qs.filter(strategy_id=strategy_id)
    if status:
        qs = qs.filter(status=status)
    if since is not None:
        qs = (
            qs.filter(received_at__date__gte=since)
            if _is_date(since)
            else qs.filter(received_at__gte=since)
        )
    if until is not None:
        qs = (
            qs.filter(received_at__date__lte=until)
            if _is_date(until)
            else qs.filter(received_at__lte=until)
        )
    return qs.order_by("-received_at", "-id")


def signal_get(*, user, signal_id: int) -> Signal:
    return get_object_or_404(
        Signal.objects.select_related("strategy").prefetch_related("executions__broker_account"),
        pk=signal_id,
        strategy__user=user,
    )


def _is_date(value) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)
