import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recorder.models import Recorder
from strategies.models import Signal, Strategy
from strategies.tests.factories import SignalFactory, StrategyFactory


@pytest.fixture
def api(api_client_for, alice):
    return api_client_for(alice)


def test_creating_a_strategy_gives_a_webhook_url_messages_and_a_running_recorder(api, alice):
    r = api.post(
        "/api/strategies/",
        {
            "name": "Trend",
            "quantity": 2,
            "take_profit": "40",
            "stop_loss": "20",
            "session_days": [0, 1, 2, 3, 4],
        },
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    strategy = Strategy.objects.get(pk=body["id"], user=alice)
    assert body["webhook_url"].endswith(f"/webhooks/{strategy.webhook_token}/")
    assert len(strategy.webhook_token) >= 32
    assert body["recorder_running"] is True
    assert Recorder.objects.get(strategy=strategy).running
    keys = [m["key"] for m in body["alert_messages"]]
    assert keys == ["strategy", "buy", "sell", "exit"]
    script = body["alert_messages"][0]["message"]
    for placeholder in (
        "{{strategy.order.action}}",
        "{{strategy.order.contracts}}",
        "{{ticker}}",
        "{{close}}",
        "{{timenow}}",
    ):
        assert placeholder in script


def test_invalid_settings_are_refused_with_the_field_named(api):
    r = api.post("/api/strategies/", {"name": "X", "session_timezone": "Mars/Olympus"})
    assert r.status_code == 400
    assert r.json() == {
        "message": "unknown time zone 'Mars/Olympus'",
        "extra": {"field": "session_timezone"},
    }
    r = api.post("/api/strategies/", {"name": "X", "default_symbol": "FOO1!"})
    assert r.status_code == 400 and r.json()["extra"]["field"] == "default_symbol"
    r = api.post("/api/strategies/", {"name": "X", "session_start": "09:30"})
    assert r.status_code == 400 and "session end" in r.json()["message"]
    r = api.post("/api/strategies/", {"name": "X", "quantity": 0})
    assert r.status_code == 400 and "quantity" in r.json()["extra"]["fields"]


def test_names_are_unique_per_user(api, api_client_for, bob):
    assert api.post("/api/strategies/", {"name": "Same"}).status_code == 201
    assert api.post("/api/strategies/", {"name": "Same"}).status_code == 400
    assert api_client_for(bob).post("/api/strategies/", {"name": "Same"}).status_code == 201


def test_update_and_delete(api, alice):
    strategy = StrategyFactory(user=alice)
    r = api.patch(f"/api/strategies/{strategy.pk}/", {"enabled": False, "direction": "long"})
    assert r.status_code == 200 and r.json()["enabled"] is False
    strategy.refresh_from_db()
    assert strategy.direction == "long"
    r = api.put(f"/api/strategies/{strategy.pk}/", {"name": "Renamed", "quantity": 3})
    assert r.status_code == 200 and r.json()["name"] == "Renamed" and r.json()["quantity"] == 3
    assert api.delete(f"/api/strategies/{strategy.pk}/").status_code == 204
    assert not Strategy.objects.filter(pk=strategy.pk).exists()


def test_regenerating_the_token_kills_the_old_url(api, alice, client):
    strategy = StrategyFactory(user=alice)
    old = strategy.webhook_token
    r = api.post(f"/api/strategies/{strategy.pk}/regenerate-token/")
    assert r.status_code == 200 and r.json()["webhook_token"] != old
    assert (
        client.post(f"/webhooks/{old}/", data="buy", content_type="text/plain").status_code == 404
    )
    new = r.json()["webhook_token"]
    assert (
        client.post(f"/webhooks/{new}/", data="buy", content_type="text/plain").status_code == 200
    )


def test_the_signal_log_filters_by_status_and_date(api, alice):
    strategy = StrategyFactory(user=alice)
    SignalFactory(strategy=strategy, status="processed")
    SignalFactory(strategy=strategy, status="rejected", reason="bad")
    other = SignalFactory(strategy=StrategyFactory(user=alice), status="processed")
    r = api.get(f"/api/strategies/{strategy.pk}/signals/?status=rejected")
    assert [s["reason"] for s in r.json()["results"]] == ["bad"]
    assert api.get(f"/api/strategies/{strategy.pk}/signals/").json()["count"] == 2
    assert api.get("/api/signals/").json()["count"] == 3
    assert api.get(f"/api/signals/?strategy={other.strategy_id}").json()["count"] == 1
    assert api.get(f"/api/strategies/{strategy.pk}/signals/?since=2000-01-01").json()["count"] == 2
    assert api.get(f"/api/strategies/{strategy.pk}/signals/?until=2000-01-01").json()["count"] == 0
    assert api.get("/api/signals/?status=nonsense").status_code == 400
    assert api.get("/api/signals/?since=notadate").status_code == 400


def test_the_strategy_list_does_not_grow_queries_with_strategies(api, alice):
    for _ in range(3):
        StrategyFactory(user=alice)
    with CaptureQueriesContext(connection) as few:
        api.get("/api/strategies/")
    for _ in range(10):
        StrategyFactory(user=alice)
    with CaptureQueriesContext(connection) as many:
        assert api.get("/api/strategies/").json()["count"] == 13
    assert len(many) == len(few)


def test_a_test_signal_goes_through_the_webhook_path(api, alice):
    strategy = StrategyFactory(user=alice)
    r = api.post(
        f"/api/strategies/{strategy.pk}/test-signal/",
        {"action": "sell", "quantity": 2, "price": "18650.25"},
    )
    assert r.status_code == 202
    signal = Signal.objects.get(pk=r.json()["signal_id"])
    assert (signal.origin, signal.raw_body, signal.intent["quantity"]) == (
        "test",
        "sell 2 @ 18650.25",
        2,
    )


def test_bob_gets_404_on_every_one_of_alices_ids(api_client_for, alice, bob):
    strategy = StrategyFactory(user=alice)
    signal = SignalFactory(strategy=strategy)
    as_bob = api_client_for(bob)
    base = f"/api/strategies/{strategy.pk}/"
    assert as_bob.get(base).status_code == 404
    assert as_bob.put(base, {"name": "mine"}).status_code == 404
    assert as_bob.patch(base, {"enabled": False}).status_code == 404
    assert as_bob.delete(base).status_code == 404
    assert as_bob.post(base + "regenerate-token/").status_code == 404
    assert as_bob.post(base + "test-signal/", {"action": "buy"}).status_code == 404
    assert as_bob.get(base + "signals/").status_code == 404
    assert as_bob.get(f"/api/signals/{signal.pk}/").status_code == 404
    assert as_bob.get(f"/api/signals/?strategy={strategy.pk}").status_code == 404
    assert as_bob.get("/api/signals/").json()["count"] == 0
    assert as_bob.get("/api/strategies/").json()["count"] == 0
    strategy.refresh_from_db()
    assert strategy.enabled and strategy.name != "mine"
    assert Signal.objects.filter(strategy=strategy).count() == 1


def test_the_api_needs_a_login(client, alice):
    strategy = StrategyFactory(user=alice)
    assert client.get("/api/strategies/").status_code in (401, 403)
    assert client.get(f"/api/strategies/{strategy.pk}/").status_code in (401, 403)
