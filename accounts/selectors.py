"""Reads of broker connections and accounts, always scoped to their owner."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import BrokerAccount, BrokerConnection
from traders import pnl


def connection_list(*, user) -> QuerySet[BrokerConnection]:
    """The user's connections with their sub-accounts (one query each, whatever the count).
    Archived connections are history: never listed, and not found by id."""
    accounts = BrokerAccount.objects.order_by("name").prefetch_related(
        Prefetch("positions", queryset=pnl.held_positions())
    )
    return BrokerConnection.objects.filter(user=user, archived_at__isnull=True).prefetch_related(
        Prefetch("accounts", queryset=accounts)
    )


def connections_with_open_pnl(*, user) -> list[BrokerConnection]:
    """The user's connections; each sub-account carries ``open_pnl_now``, its open P&L as
    every page shows it (``traders.pnl``), not the broker's figure of the last refresh."""
    connections = list(connection_list(user=user))
    for connection in connections:
        for account in connection.accounts.all():
            account.open_pnl_now = pnl.account_open_pnl(account)
    return connections


MAX_ID = 2**63 - 1


def _valid_id(value) -> int:
    # An id no database column can hold is simply not found (PostgreSQL would raise instead).
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Http404 from None
    if not 0 < number <= MAX_ID:
        raise Http404
    return number


def connection_get(*, user, connection_id) -> BrokerConnection:
    """One of the user's connections; 404 for anybody else's id."""
    return get_object_or_404(connection_list(user=user), pk=_valid_id(connection_id))


def broker_account_list(*, user, active_only: bool = False) -> QuerySet[BrokerAccount]:
    qs = (
        BrokerAccount.objects.filter(connection__user=user, connection__archived_at__isnull=True)
        .select_related("connection")
        .prefetch_related(Prefetch("positions", queryset=pnl.held_positions()))
    )
    if active_only:
        qs = qs.filter(active=True)
    return qs.order_by("connection_id", "name")


def broker_account_get(*, user, account_id) -> BrokerAccount:
    return get_object_or_404(broker_account_list(user=user), pk=_valid_id(account_id))


def paper_connection_get(*, user) -> BrokerConnection | None:
    return connection_list(user=user).filter(kind=BrokerConnection.Kind.PAPER).first()
