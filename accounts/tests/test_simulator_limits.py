"""Requests counted per login, and Tradovate's per-login limits (HTTP 429)."""

from __future__ import annotations

import requests


def buy(account_id):
    return {
        "accountId": account_id,
        "action": "Buy",
        "symbol": "MNQZ5",
        "orderQty": 1,
        "orderType": "Market",
        "isAutomated": True,
    }


def test_every_request_of_a_login_is_counted_rest_and_websocket(tradovate_sim):
    tradovate_sim.create_user("carol", "pw")
    api = tradovate_sim.login()
    other = tradovate_sim.login("carol", "pw")
    account_id = api.accounts()[0]["id"]
    api.post("order/placeorder", buy(account_id))
    sock = api.ws(sync=True)
    try:
        assert sock.request("md/subscribeQuote", {"symbol": "MNQZ5"})["s"] == 200
        assert sock.request("position/list")["s"] == 200
    finally:
        sock.close()
    demo = tradovate_sim.stats_for("demo")
    assert demo["endpoints"] == {
        "auth/accesstokenrequest": 1,
        "account/list": 1,
        "order/placeorder": 1,
        "authorize": 1,
        "user/syncrequest": 1,
        "md/subscribeQuote": 1,
        "position/list": 1,
    }
    assert demo["total"] == 7
    other.accounts()
    assert tradovate_sim.stats_for("carol")["endpoints"] == {
        "auth/accesstokenrequest": 1,
        "account/list": 1,
    }


def test_the_request_history_is_timestamped_and_filtered_by_time(tradovate_sim):
    api = tradovate_sim.login()
    api.accounts()
    history = tradovate_sim.requests_of("demo")
    assert [r["endpoint"] for r in history] == ["auth/accesstokenrequest", "account/list"]
    assert all(r["status"] == 200 and r["timestamp"].endswith("Z") for r in history)
    later = tradovate_sim.requests_of("demo", since=history[1]["timestamp"])
    assert [r["endpoint"] for r in later] == ["account/list"]
    assert tradovate_sim.requests_of("nobody") == []


def test_beyond_the_hourly_limit_a_login_gets_429_and_others_do_not(tradovate_sim):
    tradovate_sim.create_user("carol", "pw")
    api, other = tradovate_sim.login(), tradovate_sim.login("carol", "pw")
    assert tradovate_sim.config(requests_per_hour=3)["requests_per_hour"] == 3
    for _ in range(3):
        api.accounts()
        assert api.last.status_code == 200
    assert api.accounts() is None
    assert (api.last.status_code, api.last.content) == (429, b"")
    assert other.accounts() and other.last.status_code == 200
    refused = tradovate_sim.requests_of("demo")[-1]
    assert (refused["endpoint"], refused["status"]) == ("account/list", 429)


def test_the_websocket_answers_429_frames_beyond_the_limit(tradovate_sim):
    api = tradovate_sim.login()
    sock = api.ws()  # authorize: one request
    try:
        tradovate_sim.config(requests_per_hour=2)
        assert sock.request("account/list")["s"] == 200
        assert sock.request("account/list") == {"s": 429, "i": 3}  # authorize was 1
    finally:
        sock.close()


def test_syncrequests_have_their_own_limit(tradovate_sim):
    api = tradovate_sim.login()
    tradovate_sim.config(syncrequests_per_hour=1)
    sock = api.ws(sync=True)
    try:
        assert sock.snapshot["accounts"]
        assert sock.request("user/syncrequest", {"users": [api.user_id]})["s"] == 429
        assert sock.request("account/list")["s"] == 200
    finally:
        sock.close()


def test_token_renewals_have_their_own_limit(tradovate_sim):
    api = tradovate_sim.login()
    tradovate_sim.config(renewals_per_hour=2)
    for _ in range(2):
        assert "accessToken" in api.get("auth/renewaccesstoken")
    assert api.get("auth/renewaccesstoken") is None and api.last.status_code == 429
    assert api.accounts() and api.last.status_code == 200


def test_five_failed_logins_an_hour_then_429_even_with_the_right_password(tradovate_sim):
    url = f"{tradovate_sim.base_url}/auth/accesstokenrequest"
    for _ in range(5):
        bad = requests.post(url, json={"name": "demo", "password": "nope"}, timeout=5)
        assert "errorText" in bad.json()
    refused = requests.post(url, json={"name": "demo", "password": "demo"}, timeout=5)
    assert (refused.status_code, refused.content) == (429, b"")
    tradovate_sim.create_user("carol", "pw")
    assert tradovate_sim.login("carol", "pw").token  # another login is not touched


def test_the_limit_window_slides_with_the_simulator_clock(tradovate_sim):
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    tradovate_sim.clock(start)
    api = tradovate_sim.login()
    tradovate_sim.config(requests_per_hour=2)
    api.accounts()
    api.accounts()
    api.accounts()
    assert api.last.status_code == 429
    tradovate_sim.clock(start + timedelta(minutes=59))
    api.accounts()
    assert api.last.status_code == 429  # still inside the hour
    tradovate_sim.clock(start + timedelta(minutes=61))
    assert api.accounts() and api.last.status_code == 200
