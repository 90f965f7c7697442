"""One open P&L and one realized P&L per account and day (traders/pnl.py), the same in every API."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import BrokerConnection
from traders import pnl
from traders.models import Fill, Position
from traders.tests.factories import BrokerAccountFactory, StrategyFactory, TraderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(alice):
    account = BrokerAccountFactory(connection__user=alice, name="PAPER00001")
    now = timezone.now()
    BrokerConnection.objects.filter(pk=account.connection_id).update(
        mirror_heartbeat_at=now, mirror_synced_at=now
    )
    account.connection.refresh_from_db()
    return account


@pytest.fixture
def trader(alice, account):
    return TraderFactory(strategy=StrategyFactory(user=alice), broker_account=account)


def hold(account, *, net_pos: int, price: str, last: str | None) -> Position:
    return Position.objects.create(
        user=account.connection.user, broker_account=account, symbol="MNQZ6", root="MNQ",
        net_pos=net_pos, net_price=Decimal(price),
        last_price=None if last is None else Decimal(last),
    )  # fmt: skip


def fill(account, action: str, price: str, at, n: int) -> Fill:
    return Fill.objects.create(
        user=account.connection.user, broker_account=account, broker_fill_id=n, action=action,
        symbol="MNQZ6", quantity=1, price=Decimal(price), timestamp=at,
    )  # fmt: skip


def every_open_pnl(client) -> dict[str, object]:
    cc = client.get("/api/control-center/").json()
    positions = client.get("/api/control-center/positions/").json()["results"]
    return {
        "control center total": cc["totals"]["open_pnl"],
        "control center trader": cc["traders"][0]["open_pnl"],
        "control center position": cc["positions"][0]["open_pnl"],
        "traders": client.get("/api/traders/").json()["results"][0]["open_pnl"],
        "positions": positions[0]["open_pnl"],
        "dashboard summary": client.get("/api/dashboard/summary/?source=live").json()["open_pnl"],
        "dashboard positions": client.get("/api/dashboard/positions/?source=live").json()[
            "results"
        ][0]["open_pnl"],
        "accounts": client.get("/api/accounts/").json()["results"][0]["accounts"][0]["open_pnl"],
    }


def test_every_api_shows_the_same_open_pnl_to_the_cent(alice, api_client_for, trader, account):
    hold(account, net_pos=2, price="21000.00", last="21003.25")  # 3.25 points × 2 × $2
    seen = every_open_pnl(api_client_for(alice))
    assert seen == dict.fromkeys(seen, "13.00"), seen


def test_a_position_without_a_price_shows_no_open_pnl_rather_than_zero(
    alice, api_client_for, trader, account
):
    hold(account, net_pos=1, price="21000.00", last=None)
    client = api_client_for(alice)
    assert client.get("/api/control-center/positions/").json()["results"][0]["open_pnl"] is None
    assert client.get("/api/control-center/").json()["positions"][0]["open_pnl"] is None
    assert (
        client.get("/api/dashboard/positions/?source=live").json()["results"][0]["open_pnl"] is None
    )


def test_while_the_stream_is_down_the_account_shows_the_brokers_own_figure(account):
    BrokerConnection.objects.filter(pk=account.connection_id).update(mirror_heartbeat_at=None)
    account.connection.refresh_from_db()
    account.open_pnl = Decimal("40.00")
    account.save(update_fields=["open_pnl"])
    hold(account, net_pos=1, price="21000.00", last="21001.00")
    assert pnl.account_open_pnl(pnl.account_with_pnl(account.pk)) == Decimal("40.00")


def test_todays_realized_pnl_is_the_fills_paired_into_trades(
    alice, api_client_for, trader, account
):
    now = timezone.now()
    fill(account, "Buy", "20990.00", now - timedelta(days=3), 1)  # closed days ago: not today
    fill(account, "Sell", "21000.00", now - timedelta(days=3), 2)
    fill(account, "Buy", "21000.00", now - timedelta(seconds=2), 3)
    fill(account, "Sell", "21005.50", now - timedelta(seconds=1), 4)  # +5.50 points × $2
    assert pnl.account_pnl(pnl.account_with_pnl(account.pk)).realized == Decimal("11.00")
    cc = api_client_for(alice).get("/api/control-center/").json()
    assert cc["totals"]["today_pnl"] == "11.00"
    assert (cc["traders"][0]["realized_pnl_today"], cc["traders"][0]["today_pnl"]) == (
        "11.00",
        "11.00",
    )


def test_bob_sees_none_of_alices_pnl(bob, api_client_for, trader, account):
    hold(account, net_pos=2, price="21000.00", last="21003.25")
    cc = api_client_for(bob).get("/api/control-center/").json()
    assert (cc["traders"], cc["positions"], cc["totals"]["open_pnl"]) == ([], [], "0.00")
