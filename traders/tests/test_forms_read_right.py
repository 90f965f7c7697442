"""What the trader pages and the Control Center say before anything is sent."""

from __future__ import annotations

import re

import pytest

from accounts.tests.factories import BrokerAccountFactory
from strategies.models import Signal
from strategies.services import webhook_receive
from strategies.tests.factories import SignalFactory, StrategyFactory

pytestmark = pytest.mark.django_db


def selected(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="([^"]*)"[^>]*selected', select)


def test_the_only_strategy_and_the_only_account_come_chosen(alice, client):
    strategy = StrategyFactory(user=alice)
    account = BrokerAccountFactory(connection__user=alice, connection__paper=True)
    client.force_login(alice)
    html = client.get("/traders/new/").content.decode()
    assert selected(html, "strategy") == [str(strategy.pk)]
    assert selected(html, "broker_account") == [str(account.pk)]
    assert selected(html, "session_timezone") == ["America/New_York"]  # a list, as on strategies


def test_with_two_strategies_none_is_chosen_for_the_user(alice, client):
    StrategyFactory(user=alice, name="One")
    StrategyFactory(user=alice, name="Two")
    client.force_login(alice)
    assert selected(client.get("/traders/new/").content.decode(), "strategy") == [""]  # "-----"


def test_an_empty_manual_trade_names_each_missing_field(alice, api_client_for):
    response = api_client_for(alice).post(
        "/api/control-center/manual-trade/",
        {"action": "buy", "symbol": "", "broker_account_id": None},
        format="json",
    )
    assert response.status_code == 400
    fields = response.json()["extra"]["fields"]
    assert set(fields) == {"symbol", "broker_account_id"}


def test_a_rejected_alert_has_no_latency_and_an_exit_reads_all(alice):
    strategy = StrategyFactory(user=alice)
    # Refused at the door, as the webhook refuses it (stamped before the row is saved).
    webhook_receive(token=strategy.webhook_token, raw=b"not an alert", meta={}, source_ip=None)
    rejected = Signal.objects.get(strategy=strategy, status=Signal.Status.REJECTED)
    assert rejected.latency_ms is None
    exit_signal = SignalFactory(strategy=strategy, action="exit", quantity=0)
    assert exit_signal.quantity_text == "all"
    assert SignalFactory(strategy=strategy, action="buy", quantity=3).quantity_text == "3"


def test_the_first_api_token_replaces_nothing(alice, client):
    client.force_login(alice)
    first = client.post("/settings/api-token/", follow=True).content.decode()
    assert "API token created" in first and "no longer works" not in first
    second = client.post("/settings/api-token/", follow=True).content.decode()
    assert "the old one no longer works" in second
