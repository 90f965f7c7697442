"""Control Center API against the simulator."""

from __future__ import annotations

import pytest

from recorder.models import StrategyLog
from traders import services
from traders.execution import trader_execute_signal
from traders.models import Trader
from traders.tests.conftest import front, make_signal

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(alice, api_client_for):
    return api_client_for(alice)


def position(sim, account):
    client = sim.client(account.connection.username, "sim-pw")
    return sum(p.net_pos for p in client.positions(account.external_id) if p.symbol == front())


def test_control_center_shows_live_pnl_per_trader(api, sim, trader, account, strategy):
    trader_execute_signal(trader_id=trader.pk, signal_id=make_signal(strategy, "buy").pk)
    sim.set_price(front(), "21010.00")
    services.traders_check_risk()
    services.connection_resync(connection=account.connection)
    data = api.get("/api/control-center/").json()
    (row,) = data["traders"]
    assert row["positions"] == {front(): 1}
    # Bought at the ask 21000.25, marked at 21010.00: 9.75 points × $2.
    assert row["open_pnl"] == "19.50"
    assert data["totals"]["open_pnl"] == "19.50"
    assert [p["symbol"] for p in data["positions"]] == [front()]


def test_manual_trade_on_a_strategy_uses_each_traders_multiplier(
    api, sim, alice, trader, account, strategy
):
    Trader.objects.filter(pk=trader.pk).update(multiplier=2)
    r = api.post(
        "/api/control-center/manual-trade/",
        {"action": "buy", "quantity": 1, "strategy_id": strategy.pk, "request_id": "abc123def"},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["results"] == [{"trader_id": trader.pk, "status": "placed"}]
    assert position(sim, account) == 2
    api.post(
        "/api/control-center/manual-trade/",
        {"action": "buy", "quantity": 1, "strategy_id": strategy.pk, "request_id": "abc123def"},
        format="json",
    )
    assert position(sim, account) == 2  # the same button press twice
    r = api.post(
        "/api/control-center/manual-trade/",
        {"action": "close", "strategy_id": strategy.pk},
        format="json",
    )
    assert r.json()["results"][0]["status"] == "closed"
    assert position(sim, account) == 0


def test_manual_trade_rejection_is_a_clear_4xx(api, sim, account):
    sim.set_account(account.external_id, maxPos=1)
    r = api.post(
        "/api/control-center/manual-trade/",
        {"action": "sell", "quantity": 3, "symbol": "MNQ1!", "broker_account_id": account.pk},
        format="json",
    )
    assert r.status_code == 400
    assert "MaxPosLimitReached" in r.json()["message"]
    assert StrategyLog.objects.filter(kind="error", message__contains="MaxPosLimitReached").exists()


def test_close_one_trader(api, sim, trader, account, strategy):
    trader_execute_signal(trader_id=trader.pk, signal_id=make_signal(strategy, "buy").pk)
    r = api.post(f"/api/control-center/traders/{trader.pk}/close/")
    assert r.status_code == 200
    assert r.json()["closed"] == [front()]
    assert r.json()["trader"]["positions"] == {}
    assert position(sim, account) == 0


def test_flatten_all_api(api, sim, trader, account, strategy):
    trader_execute_signal(trader_id=trader.pk, signal_id=make_signal(strategy, "buy").pk)
    r = api.post("/api/control-center/flatten-all/", {"confirm": True}, format="json")
    assert r.status_code == 200
    assert r.json()["flattened"] == [{"account": account.name, "closed": [front()]}]
    assert position(sim, account) == 0
    assert Trader.objects.get(pk=trader.pk).enabled  # switches stay as they were


def test_flatten_all_reports_an_unreachable_broker(api, sim, trader, account, strategy):
    sim.fault("status", path="position", count=-1, status=500)
    r = api.post("/api/control-center/flatten-all/", {"confirm": True}, format="json")
    assert r.status_code == 207
    assert r.json()["errors"][0]["account"] == account.name
