"""Reads of the traders app, always scoped to the owner."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import BrokerAccount
from recorder.models import StrategyLog
from strategies.models import Strategy
from traders import pnl
from traders.models import Fill, Order, Position, Trader


def trader_list(*, user) -> QuerySet[Trader]:
    """The user's traders, with what their accounts' P&L is worked out from."""
    return (
        Trader.objects.filter(user=user)
        .select_related("strategy", "broker_account__connection", "last_signal")
        .prefetch_related(*pnl.with_pnl_prefetch("broker_account__"))
    )


def trader_get(*, user, trader_id: int) -> Trader:
    return get_object_or_404(trader_list(user=user), pk=trader_id)


def strategy_get(*, user, strategy_id: int) -> Strategy:
    return get_object_or_404(Strategy.objects.filter(user=user), pk=strategy_id)


def broker_account_list(*, user) -> QuerySet[BrokerAccount]:
    return BrokerAccount.objects.filter(connection__user=user).select_related("connection")


def broker_account_get(*, user, account_id: int) -> BrokerAccount:
    return get_object_or_404(broker_account_list(user=user), pk=account_id)


def accounts_pnl_total(*, user) -> pnl.AccountPnl:
    """Today's P&L over every account the user trades on or holds something in (each once)."""
    accounts = (
        broker_account_list(user=user)
        .filter(
            Q(traders__isnull=False) | Q(positions__net_pos__lt=0) | Q(positions__net_pos__gt=0)
        )
        .distinct()
        .prefetch_related(*pnl.with_pnl_prefetch())
    )
    return pnl.accounts_pnl_sum(accounts)


def order_list(
    *,
    user,
    trader_id: int | None = None,
    account_id: int | None = None,
    status: str | None = None,
) -> QuerySet[Order]:
    qs = Order.objects.filter(user=user).select_related("broker_account", "trader__strategy")
    if trader_id:
        qs = qs.filter(trader_id=trader_id)
    if account_id:
        qs = qs.filter(broker_account_id=account_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def fill_list(*, user, trader_id: int | None = None, account_id: int | None = None):
    qs = Fill.objects.filter(user=user).select_related("broker_account", "trader")
    if trader_id:
        qs = qs.filter(trader_id=trader_id)
    if account_id:
        qs = qs.filter(broker_account_id=account_id)
    return qs


def position_list(*, user, open_only: bool = False) -> QuerySet[Position]:
    qs = Position.objects.filter(user=user, broker_account__connection__user=user).select_related(
        "broker_account"
    )
    if open_only:
        qs = qs.exclude(net_pos=0)
    return qs


def _day_start(day: date, tz) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), tz)


def log_list(
    *,
    user,
    strategy_id: int | None = None,
    account_id: int | None = None,
    trader_id: int | None = None,
    kind: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    tz=None,
) -> QuerySet[StrategyLog]:
    """The AutoTrader log: the user's strategy log lines, newest first, with filters.

    ``account_id`` keeps the lines of traders on that broker account; dates are days in the
    user's time zone (``tz``), both ends included.
    """
    tz = tz or timezone.get_current_timezone()
    qs = StrategyLog.objects.filter(user=user).select_related("strategy", "trader__broker_account")
    if strategy_id:
        qs = qs.filter(strategy_id=strategy_id)
    if account_id:
        qs = qs.filter(trader__broker_account_id=account_id)
    if trader_id:
        qs = qs.filter(trader_id=trader_id)
    if kind:
        qs = qs.filter(kind=kind)
    if date_from:
        qs = qs.filter(created_at__gte=_day_start(date_from, tz))
    if date_to:
        qs = qs.filter(created_at__lt=_day_start(date_to, tz) + timedelta(days=1))
    return qs
