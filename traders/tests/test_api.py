"""Traders API: CRUD, toggle, validation, and Bob's 404s on Alice's ids."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recorder.models import StrategyLog
from traders.models import Trader
from traders.tests.factories import BrokerAccountFactory, StrategyFactory, TraderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_api(alice, api_client_for):
    return api_client_for(alice)


@pytest.fixture
def bob_api(bob, api_client_for):
    return api_client_for(bob)


@pytest.fixture
def strategy(alice):
    return StrategyFactory(user=alice, name="NQ scalper")


@pytest.fixture
def account(alice):
    return BrokerAccountFactory(connection__user=alice, name="SIM-A")


def test_alice_creates_a_trader_and_sees_it(alice_api, strategy, account):
    r = alice_api.post(
        "/api/traders/",
        {
            "strategy_id": strategy.pk,
            "broker_account_id": account.pk,
            "enabled": True,
            "multiplier": 2,
            "max_contracts": 4,
            "daily_loss_limit": "500.00",
            "stop_loss_override": "20",
            "stop_loss_override_unit": "ticks",
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["strategy"]["name"] == "NQ scalper"
    assert body["broker_account"]["name"] == "SIM-A"
    assert body["multiplier"] == 2 and body["enabled"] is True
    assert body["daily_loss_limit"] == "500.00"
    listing = alice_api.get("/api/traders/").json()
    assert [t["id"] for t in listing["results"]] == [body["id"]]
    assert StrategyLog.objects.filter(trader_id=body["id"], kind="info").exists()


def test_the_same_strategy_twice_on_one_account_is_a_clear_conflict(alice_api, strategy, account):
    TraderFactory(strategy=strategy, broker_account=account)
    r = alice_api.post(
        "/api/traders/",
        {"strategy_id": strategy.pk, "broker_account_id": account.pk},
        format="json",
    )
    assert r.status_code == 409
    assert "already trades on SIM-A" in r.json()["message"]


@pytest.mark.parametrize(
    "field,value",
    [
        ("multiplier", 0),
        ("max_contracts", 0),
        ("daily_loss_limit", "-5"),
        ("stop_loss_override_unit", "furlongs"),
        ("session_days", [7]),
    ],
)
def test_bad_values_are_rejected_with_a_message(alice_api, strategy, account, field, value):
    r = alice_api.post(
        "/api/traders/",
        {"strategy_id": strategy.pk, "broker_account_id": account.pk, field: value},
        format="json",
    )
    assert r.status_code == 400
    assert field in r.json()["extra"]["fields"]
    assert not Trader.objects.exists()


def test_a_session_needs_both_ends(alice_api, strategy, account):
    r = alice_api.post(
        "/api/traders/",
        {"strategy_id": strategy.pk, "broker_account_id": account.pk, "session_start": "09:30"},
        format="json",
    )
    assert r.status_code == 400
    assert "session start and end" in r.json()["message"]


def test_update_and_toggle(alice_api, strategy, account):
    trader = TraderFactory(strategy=strategy, broker_account=account, enabled=False)
    r = alice_api.put(
        f"/api/traders/{trader.pk}/", {"multiplier": 3, "max_contracts": 9}, format="json"
    )
    assert r.status_code == 200 and r.json()["multiplier"] == 3
    r = alice_api.post(f"/api/traders/{trader.pk}/toggle/", {}, format="json")
    assert r.json()["enabled"] is True
    r = alice_api.post(f"/api/traders/{trader.pk}/toggle/", {"enabled": False}, format="json")
    assert r.json()["enabled"] is False
    trader.refresh_from_db()
    assert (trader.multiplier, trader.max_contracts, trader.enabled) == (3, 9, False)


def test_switching_on_by_hand_lifts_the_daily_disable(alice_api, strategy, account):
    from django.utils import timezone

    from traders.risk import trading_day

    trader = TraderFactory(
        strategy=strategy,
        broker_account=account,
        enabled=True,
        disabled_until=trading_day(timezone.now()),
        disabled_reason="Daily loss limit",
    )
    assert alice_api.get(f"/api/traders/{trader.pk}/").json()["active"] is False
    r = alice_api.post(f"/api/traders/{trader.pk}/toggle/", {"enabled": True}, format="json")
    assert r.json()["active"] is True and r.json()["disabled_until"] is None


def test_delete(alice_api, strategy, account):
    trader = TraderFactory(strategy=strategy, broker_account=account)
    assert alice_api.delete(f"/api/traders/{trader.pk}/").status_code == 204
    assert not Trader.objects.filter(pk=trader.pk).exists()


def test_list_has_no_n_plus_one(alice_api, alice):
    for _ in range(5):
        TraderFactory(strategy=StrategyFactory(user=alice))
    with CaptureQueriesContext(connection) as few:
        alice_api.get("/api/traders/")
    for _ in range(10):
        TraderFactory(strategy=StrategyFactory(user=alice))
    with CaptureQueriesContext(connection) as many:
        r = alice_api.get("/api/traders/")
    assert r.json()["count"] == 15
    assert len(many) == len(few)


def test_bob_gets_404_on_alices_traders(bob_api, strategy, account):
    trader = TraderFactory(strategy=strategy, broker_account=account)
    base = f"/api/traders/{trader.pk}/"
    assert bob_api.get(base).status_code == 404
    assert bob_api.put(base, {"multiplier": 5}, format="json").status_code == 404
    assert bob_api.delete(base).status_code == 404
    assert bob_api.post(base + "toggle/", {}, format="json").status_code == 404
    assert bob_api.post(base + "accept-position/").status_code == 404
    assert bob_api.get("/api/traders/").json()["results"] == []
    trader.refresh_from_db()
    assert trader.multiplier == 1 and trader.enabled is True


def test_bob_cannot_link_alices_strategy_or_account(bob_api, bob, strategy, account):
    bob_strategy = StrategyFactory(user=bob)
    bob_account = BrokerAccountFactory(connection__user=bob)
    r = bob_api.post(
        "/api/traders/",
        {"strategy_id": strategy.pk, "broker_account_id": bob_account.pk},
        format="json",
    )
    assert r.status_code == 404
    r = bob_api.post(
        "/api/traders/",
        {"strategy_id": bob_strategy.pk, "broker_account_id": account.pk},
        format="json",
    )
    assert r.status_code == 404
    assert not Trader.objects.exists()


def test_bob_gets_404_on_the_control_center_with_alices_ids(bob_api, strategy, account):
    trader = TraderFactory(strategy=strategy, broker_account=account)
    assert bob_api.post(f"/api/control-center/traders/{trader.pk}/close/").status_code == 404
    assert (
        bob_api.post(
            f"/api/control-center/traders/{trader.pk}/toggle/", {}, format="json"
        ).status_code
        == 404
    )
    r = bob_api.post(
        "/api/control-center/manual-trade/",
        {"action": "buy", "quantity": 1, "strategy_id": strategy.pk},
        format="json",
    )
    assert r.status_code == 404
    r = bob_api.post(
        "/api/control-center/manual-trade/",
        {"action": "buy", "quantity": 1, "symbol": "MNQ1!", "broker_account_id": account.pk},
        format="json",
    )
    assert r.status_code == 404
    cc = bob_api.get("/api/control-center/").json()
    assert cc["traders"] == [] and cc["positions"] == []
    assert bob_api.get(f"/api/control-center/log/?trader={trader.pk}").json()["results"] == []
    assert bob_api.get(f"/api/control-center/orders/?trader={trader.pk}").json()["count"] == 0


def test_flatten_all_needs_confirmation(alice_api):
    r = alice_api.post("/api/control-center/flatten-all/", {"confirm": False}, format="json")
    assert r.status_code == 400
    assert "Confirm" in r.json()["message"]


def test_log_filters_by_strategy_and_date(alice_api, alice, strategy, account):
    from traders.services import trader_create

    other = StrategyFactory(user=alice)
    t1 = trader_create(user=alice, strategy=strategy, broker_account=account)
    trader_create(user=alice, strategy=other, broker_account=account)
    r = alice_api.get(f"/api/control-center/log/?strategy={strategy.pk}").json()
    assert r["count"] >= 1 and {row["strategy_id"] for row in r["results"]} == {strategy.pk}
    assert r["results"][0]["trader_id"] == t1.pk
    assert alice_api.get("/api/control-center/log/?date_from=2100-01-01").json()["count"] == 0
    assert alice_api.get("/api/control-center/log/?date_from=nope").status_code == 400
