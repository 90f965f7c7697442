"""The dashboard's first steps: each read from what the user has done, gone once all are."""

from __future__ import annotations

import re

import pytest

from accounts.tests.factories import BrokerAccountFactory
from strategies.models import Signal
from strategies.tests.factories import SignalFactory, StrategyFactory
from traders.models import Trader

pytestmark = pytest.mark.django_db


def steps_on_dashboard(client) -> dict[str, bool]:
    html = client.get("/").content.decode()
    return {
        key: done == "1" for key, done in re.findall(r'data-step="(\w+)" data-done="(\d)"', html)
    }


def test_a_new_user_sees_every_step_open(alice, client):
    client.force_login(alice)
    assert steps_on_dashboard(client) == {
        "broker": False, "strategy": False, "tradingview": False, "test_alert": False,
        "trader": False,
    }  # fmt: skip


def test_each_step_ticks_off_from_what_was_done_and_the_list_goes_when_all_are(alice, client):
    client.force_login(alice)
    account = BrokerAccountFactory(connection__user=alice, connection__paper=True)
    strategy = StrategyFactory(user=alice)
    assert steps_on_dashboard(client) == {
        "broker": True, "strategy": True, "tradingview": False, "test_alert": False,
        "trader": False,
    }  # fmt: skip
    SignalFactory(strategy=strategy, origin=Signal.Origin.TEST)
    assert steps_on_dashboard(client)["test_alert"] is True
    assert steps_on_dashboard(client)["tradingview"] is False  # a test is not TradingView
    SignalFactory(strategy=strategy, origin=Signal.Origin.WEBHOOK)
    trader = Trader.objects.create(user=alice, strategy=strategy, broker_account=account)
    assert steps_on_dashboard(client)["trader"] is False  # linked, but still off
    Trader.objects.filter(pk=trader.pk).update(enabled=True)
    assert steps_on_dashboard(client) == {}
    assert 'id="first-steps"' not in client.get("/").content.decode()


def test_another_users_work_does_not_tick_anything(alice, bob, client):
    StrategyFactory(user=bob)
    BrokerAccountFactory(connection__user=bob, connection__paper=True)
    client.force_login(alice)
    assert not any(steps_on_dashboard(client).values())


def test_the_checklist_api_reads_the_same_steps_and_only_the_users(alice, bob, api_client_for):
    StrategyFactory(user=bob)
    StrategyFactory(user=alice)
    body = api_client_for(alice).get("/api/dashboard/first-steps/").json()
    assert body["done"] is False
    assert [(s["key"], s["done"]) for s in body["results"]] == [
        ("broker", False), ("strategy", True), ("tradingview", False), ("test_alert", False),
        ("trader", False),
    ]  # fmt: skip
    assert api_client_for(bob).get("/api/dashboard/first-steps/").json()["results"][1]["done"]
