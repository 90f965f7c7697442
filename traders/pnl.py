"""The P&L of broker accounts, worked out one way for every page, API and live event.

* A position's **open P&L** is the mirror's position × (the product's last price − its
  average price) × the product's point value; the stream subscribes the quotes of every held
  contract, so the last price is the broker's own. Before the first quote it is unknown
  (``None``: shown as "—", never as $0.00).
* An account's open P&L is the sum over the contracts it holds while the login's stream is live
  (the mirror is the broker's truth then), else the broker's own ``openPnL`` of the account's
  last cash balance.
* **Realized P&L** of a trading day: the broker's own figure (its cash balance's
  ``realizedPnL``, commissions included, rolling at 17:00 Central) once the broker has told us
  in that trading day; before that, the account's broker fills paired into trades
  (``traders.trades``), the trades closed in that day counted. The daily limits judge the
  same figure.

Lists pass accounts whose ``positions`` (held ones) and ``fill_set`` are prefetched
(``with_pnl_prefetch``): the figures then cost no query per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from accounts.models import BrokerAccount
from traders import risk
from traders.models import Fill, Position
from traders.trades import closed_lots, point_value_of

ZERO = Decimal("0.00")


def mirror_max_age() -> float:
    """Seconds without a heartbeat from the stream before the mirror is not trusted."""
    return float(getattr(settings, "MIRROR_MAX_AGE_SECONDS", 10))


def position_open_pnl(position: Position) -> Decimal | None:
    """The open P&L of one broker position at the last price the mirror saw, as every page
    shows it; None while no price is known."""
    if not position.net_pos:
        return ZERO
    if position.last_price is None or position.net_price is None:
        return None
    return risk.open_pnl(
        net_pos=position.net_pos,
        net_price=position.net_price,
        last=position.last_price,
        point_value=point_value_of(position.symbol) or Decimal(1),
    )


def mirror_is_live(connection) -> bool:
    """The login's stream is live and synced (read from the row in hand: no query)."""
    beat, synced = connection.mirror_heartbeat_at, connection.mirror_synced_at
    if beat is None or synced is None:
        return False
    return (timezone.now() - beat).total_seconds() < mirror_max_age()


def account_open_pnl(account: BrokerAccount) -> Decimal:
    """The open P&L of everything the account holds: its positions at their last prices while
    the login's stream is live (contracts not priced yet count nothing), else the broker's own
    figure from its last cash balance."""
    if not mirror_is_live(account.connection):
        return Decimal(account.open_pnl or 0).quantize(risk.CENT)
    values = (position_open_pnl(p) for p in account.positions.all())
    return sum((v for v in values if v is not None), ZERO)


def realized_pnl_of_day(fills: Iterable[Fill], day: date) -> Decimal:
    """Dollars of the trades the fills close within the trading day ``day``."""
    ordered = sorted(fills, key=lambda f: (f.timestamp, f.pk))
    return sum(
        (
            lot.pnl
            for lot in closed_lots(ordered)
            if lot.pnl is not None and risk.trading_day(lot.closing.timestamp) == day
        ),
        ZERO,
    )


@dataclass(frozen=True)
class AccountPnl:
    """An account's P&L for one trading day."""

    day: date
    open_pnl: Decimal
    realized: Decimal

    @property
    def today(self) -> Decimal:
        return self.open_pnl + self.realized


def account_pnl(account: BrokerAccount, now: datetime | None = None) -> AccountPnl:
    """Today's realized and open P&L of the account (the trading day of ``now``)."""
    day = risk.trading_day(now or timezone.now())
    return AccountPnl(day=day, open_pnl=account_open_pnl(account), realized=_realized(account, day))


def _realized(account: BrokerAccount, day: date) -> Decimal:
    told = account.refreshed_at
    if told is not None and risk.trading_day(told) == day:
        return Decimal(account.realized_pnl or 0).quantize(risk.CENT)
    return realized_pnl_of_day(account.fill_set.all(), day)


def accounts_pnl_sum(accounts: Iterable[BrokerAccount], now: datetime | None = None) -> AccountPnl:
    """Today's P&L of several accounts together."""
    figures = [account_pnl(a, now) for a in accounts]
    return AccountPnl(
        day=risk.trading_day(now or timezone.now()),
        open_pnl=sum((f.open_pnl for f in figures), ZERO),
        realized=sum((f.realized for f in figures), ZERO),
    )


def held_positions() -> QuerySet[Position]:
    return Position.objects.exclude(net_pos=0).select_related("broker_account")


def with_pnl_prefetch(lookup: str = "") -> list[Prefetch]:
    """Prefetches for accounts reached through ``lookup`` (e.g. ``"broker_account__"``)."""
    return [
        Prefetch(f"{lookup}positions", queryset=held_positions()),
        Prefetch(f"{lookup}fill_set", queryset=Fill.objects.order_by("timestamp", "id")),
    ]


def account_with_pnl(account_id: int) -> BrokerAccount:
    """The account with what its P&L is worked out from."""
    return (
        BrokerAccount.objects.select_related("connection")
        .prefetch_related(*with_pnl_prefetch())
        .get(pk=account_id)
    )
