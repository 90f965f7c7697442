"""The recorder API: CRUD, start/stop, trades and log with filters, and Bob's 404s."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from accounts.models import BrokerAccount, BrokerConnection
from recorder import services
from recorder.models import RecordedTrade, Recorder
from recorder.tests.helpers import make_strategy, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_api(alice, api_client_for):
    return api_client_for(alice)


@pytest.fixture
def bob_api(bob, api_client_for):
    return api_client_for(bob)


@pytest.fixture
def recorder(alice):
    strategy = make_strategy(alice, sizing="signal")
    return strategy.recorder


def add_trade(recorder, net: str, *, hours_ago: float = 0, symbol="MNQZ6", reason="signal"):
    exit_time = timezone.now() - timedelta(hours=hours_ago)
    return RecordedTrade.objects.create(
        recorder=recorder,
        symbol=symbol,
        side="long",
        quantity=1,
        entry_time=exit_time - timedelta(minutes=5),
        exit_time=exit_time,
        entry_price=D("21000"),
        exit_price=D("21000") + D(net) / 2,
        points=D(net) / 2,
        ticks=D(net) * 2,
        pnl=D(net),
        commission=D("0"),
        net_pnl=D(net),
        exit_reason=reason,
    )


def test_list_shows_each_recorder_with_its_figures(alice_api, recorder):
    add_trade(recorder, "50.00")
    add_trade(recorder, "-20.00", hours_ago=48)
    add_trade(recorder, "10.00")
    r = alice_api.get("/api/recorders/")
    assert r.status_code == 200
    [item] = r.json()["results"]
    assert item["id"] == recorder.pk and item["running"] is True
    assert item["strategy"] == {"id": recorder.strategy_id, "name": "Trend"}
    stats = item["stats"]
    assert stats["total_pnl"] == "40.00"
    assert stats["today_pnl"] == "60.00"
    assert (stats["trades"], stats["wins"], stats["losses"]) == (3, 2, 1)
    assert stats["win_rate"] == pytest.approx(66.7)
    assert stats["equity"] == ["0.00", "-20.00", "30.00", "40.00"]


def test_list_queries_do_not_grow_with_recorders(alice, alice_api, django_assert_max_num_queries):
    for i in range(6):
        rec = make_strategy(alice, name=f"S{i}").recorder
        add_trade(rec, "5.00")
    with django_assert_max_num_queries(8):
        r = alice_api.get("/api/recorders/")
    assert len(r.json()["results"]) == 6


def test_create_update_delete(alice, alice_api):
    strategy = make_strategy(alice)
    services.recorder_delete(recorder=strategy.recorder)
    r = alice_api.post(
        "/api/recorders/",
        {"strategy": strategy.pk, "commission_per_side": "1.25", "fill_mode": "next_trade"},
    )
    assert r.status_code == 201, r.json()
    rid = r.json()["id"]
    assert r.json()["commission_per_side"] == "1.25" and r.json()["running"] is True
    again = alice_api.post("/api/recorders/", {"strategy": strategy.pk})
    assert again.status_code == 400
    assert "already has a recorder" in again.json()["message"]

    r = alice_api.put(
        f"/api/recorders/{rid}/", {"commission_per_side": "0.62", "symbols": "MNQ1!, ES1!"}
    )
    assert r.status_code == 200
    assert r.json()["commission_per_side"] == "0.62"
    assert r.json()["symbols"] == "MNQ1!, ES1!"

    assert alice_api.delete(f"/api/recorders/{rid}/").status_code == 204
    assert not Recorder.objects.filter(pk=rid).exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"commission_per_side": "-1"}, "commission_per_side"),
        ({"poll_interval_seconds": 1}, "poll_interval_seconds"),
        ({"fill_mode": "best"}, "fill_mode"),
        ({"symbols": "BANANA1!"}, "symbols"),
        ({"source": "account"}, "broker_account"),
    ],
)
def test_bad_settings_are_a_clear_400(alice_api, recorder, body, field):
    r = alice_api.put(f"/api/recorders/{recorder.pk}/", body)
    assert r.status_code == 400
    data = r.json()
    assert field in data["extra"].get("fields", {}) or data["extra"].get("field") == field


def test_start_and_stop(alice_api, recorder):
    r = alice_api.post(f"/api/recorders/{recorder.pk}/stop/")
    assert r.status_code == 200 and r.json()["running"] is False
    assert r.json()["stopped_at"]
    r = alice_api.post(f"/api/recorders/{recorder.pk}/start/")
    assert r.status_code == 200 and r.json()["running"] is True


def test_trades_filters_and_pagination(alice_api, recorder):
    for i in range(5):
        add_trade(recorder, "10.00", hours_ago=i)
    add_trade(recorder, "-5.00", symbol="ESZ6", reason="stop")
    base = f"/api/recorders/{recorder.pk}/trades/"
    r = alice_api.get(base, {"page_size": 2})
    body = r.json()
    assert body["count"] == 6 and len(body["results"]) == 2 and body["next"]
    r = alice_api.get(base, {"exit_reason": "stop"})
    assert [t["symbol"] for t in r.json()["results"]] == ["ESZ6"]
    r = alice_api.get(
        base, {"symbol": "mnqz6", "since": (timezone.now() - timedelta(hours=2.5)).isoformat()}
    )
    assert r.json()["count"] == 3
    assert alice_api.get(base, {"since": "yesterday"}).status_code == 400
    assert alice_api.get(base, {"side": "sideways"}).status_code == 400


def test_log_lists_the_strategy_timeline_with_kind_filter(alice_api, recorder):
    strategy = recorder.strategy
    send(strategy, "buy @ 21000")
    send(strategy, "exit @ 21001")
    base = f"/api/recorders/{recorder.pk}/log/"
    kinds = [e["kind"] for e in alice_api.get(base).json()["results"]]
    assert {"entry", "exit", "signal"} <= set(kinds)
    only = alice_api.get(base, {"kind": "entry,exit"}).json()["results"]
    assert {e["kind"] for e in only} == {"entry", "exit"}
    assert alice_api.get(base, {"kind": "nonsense"}).status_code == 400


def test_bob_gets_404_on_every_alice_recorder_endpoint(alice, bob_api, recorder):
    rid = recorder.pk
    for method, url in [
        ("get", f"/api/recorders/{rid}/"),
        ("put", f"/api/recorders/{rid}/"),
        ("patch", f"/api/recorders/{rid}/"),
        ("delete", f"/api/recorders/{rid}/"),
        ("post", f"/api/recorders/{rid}/start/"),
        ("post", f"/api/recorders/{rid}/stop/"),
        ("post", f"/api/recorders/{rid}/flatten/"),
        ("post", f"/api/recorders/{rid}/poll/"),
        ("get", f"/api/recorders/{rid}/trades/"),
        ("get", f"/api/recorders/{rid}/log/"),
    ]:
        r = getattr(bob_api, method)(
            url, {"commission_per_side": "9"} if method in ("put", "patch") else None
        )
        assert r.status_code == 404, (method, url, r.status_code)
    assert bob_api.get("/api/recorders/").json()["results"] == []
    untouched = Recorder.objects.get(pk=rid)  # not deleted, not changed, not stopped
    assert untouched.running and untouched.commission_per_side == 0
    # Nor can Bob make a recorder for Alice's strategy.
    services.recorder_delete(recorder=recorder)
    assert bob_api.post("/api/recorders/", {"strategy": recorder.strategy_id}).status_code == 404
    assert not Recorder.objects.filter(strategy_id=recorder.strategy_id).exists()


def test_bob_cannot_point_his_recorder_at_alices_account(alice, bob, bob_api):
    connection = BrokerConnection.objects.create(user=alice, label="Paper", username="alice")
    account = BrokerAccount.objects.create(connection=connection, external_id=1, name="A1")
    bobs = make_strategy(bob, name="Bob's").recorder
    r = bob_api.put(
        f"/api/recorders/{bobs.pk}/", {"source": "account", "broker_account": account.pk}
    )
    assert r.status_code == 404
    assert Recorder.objects.get(pk=bobs.pk).broker_account is None


def test_anonymous_gets_403(client, recorder):
    assert client.get("/api/recorders/").status_code in (401, 403)


def test_poll_on_a_signals_recorder_is_a_clear_400(alice_api, recorder):
    r = alice_api.post(f"/api/recorders/{recorder.pk}/poll/")
    assert r.status_code == 400
    assert "signals" in r.json()["message"]
