"""My Trader and Control Center pages."""

import pytest

from traders.models import Trader
from traders.tests.factories import BrokerAccountFactory, StrategyFactory, TraderFactory

pytestmark = pytest.mark.django_db


def test_my_trader_lists_alices_traders_only(alice_client, alice, bob):
    mine = TraderFactory(strategy=StrategyFactory(user=alice, name="Alpha"))
    TraderFactory(strategy=StrategyFactory(user=bob, name="Bobs secret"))
    r = alice_client.get("/traders/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Alpha" in html and mine.broker_account.name in html
    assert "Bobs secret" not in html


def test_create_form_makes_a_trader(alice_client, alice):
    strategy = StrategyFactory(user=alice)
    account = BrokerAccountFactory(connection__user=alice)
    r = alice_client.post(
        "/traders/new/",
        {
            "strategy": strategy.pk,
            "broker_account": account.pk,
            "enabled": "on",
            "multiplier": 2,
            "max_contracts": 5,
            "take_profit_override_unit": "ticks",
            "stop_loss_override_unit": "points",
            "session_timezone": "America/New_York",
            "daily_loss_limit": "250",
        },
    )
    assert r.status_code == 302, r.content.decode()[:3000]
    trader = Trader.objects.get()
    assert (trader.multiplier, trader.max_contracts, trader.enabled) == (2, 5, True)
    assert str(trader.daily_loss_limit) == "250.00"


def test_create_form_offers_only_alices_strategies_and_accounts(alice_client, alice, bob):
    bob_strategy = StrategyFactory(user=bob)
    account = BrokerAccountFactory(connection__user=alice)
    r = alice_client.post(
        "/traders/new/",
        {
            "strategy": bob_strategy.pk,
            "broker_account": account.pk,
            "multiplier": 1,
            "max_contracts": 1,
            "take_profit_override_unit": "ticks",
            "stop_loss_override_unit": "ticks",
            "session_timezone": "UTC",
        },
    )
    assert r.status_code == 200
    assert "Select a valid choice" in r.content.decode()
    assert not Trader.objects.exists()


def test_edit_page_saves(alice_client, alice):
    trader = TraderFactory(strategy=StrategyFactory(user=alice))
    r = alice_client.post(
        f"/traders/{trader.pk}/edit/",
        {
            "strategy": trader.strategy_id,
            "broker_account": trader.broker_account_id,
            "multiplier": 4,
            "max_contracts": 8,
            "take_profit_override_unit": "ticks",
            "stop_loss_override_unit": "ticks",
            "session_timezone": "UTC",
        },
    )
    assert r.status_code == 302
    trader.refresh_from_db()
    assert (trader.multiplier, trader.max_contracts, trader.enabled) == (4, 8, False)


def test_bob_gets_404_on_alices_trader_pages(bob_client, alice):
    trader = TraderFactory(strategy=StrategyFactory(user=alice))
    assert bob_client.get(f"/traders/{trader.pk}/edit/").status_code == 404
    assert bob_client.post(f"/traders/{trader.pk}/edit/", {"multiplier": 9}).status_code == 404
    assert bob_client.post(f"/traders/{trader.pk}/delete/").status_code == 404
    assert Trader.objects.filter(pk=trader.pk).exists()


def test_control_center_page_renders_without_inline_script(alice_client, alice):
    TraderFactory(strategy=StrategyFactory(user=alice, name="Alpha"))
    r = alice_client.get("/control-center/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Flatten All" in html and "AutoTrader log" in html and "Alpha" in html
    assert "onclick=" not in html
    assert "js/traders.js" in html


def test_pages_need_login(client):
    assert client.get("/traders/").status_code == 302
    assert client.get("/control-center/").status_code == 302
