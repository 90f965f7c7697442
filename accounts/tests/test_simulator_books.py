"""One market per login for paper: a login's alerts move its own book, nobody else's."""

from __future__ import annotations

import pytest

from justtrades.testing.fixtures import wait_until


@pytest.fixture
def two(tradovate_sim):
    tradovate_sim.set_price("MNQZ5", "21000")
    tradovate_sim.create_user("carol", "pw", accounts=1)
    demo, carol = tradovate_sim.login(), tradovate_sim.login("carol", "pw")
    return demo, demo.accounts()[0]["id"], carol, carol.accounts()[0]["id"]


def order(account_id, action="Buy", order_type="Market", **extra):
    return {
        "accountId": account_id,
        "action": action,
        "symbol": "MNQZ5",
        "orderQty": 1,
        "orderType": order_type,
        "isAutomated": True,
        **extra,
    }


def fill_price(api, order_id):
    [fill] = api.get("fill/deps", masterid=order_id)
    return fill["price"]


def test_an_alert_price_moves_only_that_logins_book(two, tradovate_sim):
    demo, demo_account, carol, carol_account = two
    moved = tradovate_sim.set_price("MNQZ5", "21100.5", user="carol")
    assert moved["source"] == "alerts"
    assert moved["Bid"]["price"] == moved["Offer"]["price"] == moved["Trade"]["price"] == 21100.5
    mine = tradovate_sim.quote("MNQZ5", user="carol")
    assert (mine["source"], mine["entries"]["Trade"]["price"]) == ("alerts", 21100.5)
    shared = tradovate_sim.quote("MNQZ5")
    assert (shared["source"], shared["entries"]["Trade"]["price"]) == ("manual", 21000)
    assert tradovate_sim.quote("MNQZ5", user="demo")["entries"]["Trade"]["price"] == 21000
    # Market orders fill at the alert's price (plus the slippage), the other login's at its own.
    assert fill_price(carol, carol.post("order/placeorder", order(carol_account))["orderId"]) == (
        21100.5
    )
    assert fill_price(demo, demo.post("order/placeorder", order(demo_account))["orderId"]) == (
        21000.25
    )
    tradovate_sim.config(slippage_ticks=1)
    sold = carol.post("order/placeorder", order(carol_account, "Sell"))
    assert fill_price(carol, sold["orderId"]) == 21100.25


def test_a_logins_resting_orders_match_only_its_own_book(two, tradovate_sim):
    demo, demo_account, carol, carol_account = two
    tradovate_sim.set_price("MNQZ5", "21000", user="carol")  # carol's book, seeded
    mine = carol.post("order/placeorder", order(carol_account, "Sell", "Limit", price=21010))
    theirs = demo.post("order/placeorder", order(demo_account, "Sell", "Limit", price=21010))
    tradovate_sim.set_price("MNQZ5", "21020")  # the shared market: carol's order does not see it
    assert carol.get("order/item", id=mine["orderId"])["ordStatus"] == "Working"
    assert demo.get("order/item", id=theirs["orderId"])["ordStatus"] == "Filled"
    tradovate_sim.set_price("MNQZ5", "21010", user="carol")
    assert carol.get("order/item", id=mine["orderId"])["ordStatus"] == "Filled"
    # A stop is judged against the login's own market.
    refused = carol.post("order/placeorder", order(carol_account, "Sell", "Stop", stopPrice=21015))
    assert refused["failureReason"] == "InvalidPrice"
    assert "orderId" in demo.post(
        "order/placeorder", order(demo_account, "Sell", "Stop", stopPrice=21015)
    )


def test_market_data_follows_the_logins_own_book(two, tradovate_sim):
    demo, _, carol, _ = two
    tradovate_sim.set_price("MNQZ5", "21050", user="carol")
    carol_ws, demo_ws = carol.ws(), demo.ws()
    try:
        for sock in (carol_ws, demo_ws):
            assert sock.request("md/subscribeQuote", {"symbol": "MNQZ5"})["s"] == 200

        def prices(sock):
            return [
                q["entries"]["Trade"]["price"]
                for m in sock.events
                if m.get("e") == "md"
                for q in m["d"]["quotes"]
            ]

        carol_ws.wait_for(lambda: prices(carol_ws) == [21050])
        demo_ws.wait_for(lambda: prices(demo_ws) == [21000])
        tradovate_sim.set_price("MNQZ5", "21060", user="carol")
        tradovate_sim.set_price("MNQZ5", "20990")
        carol_ws.wait_for(lambda: prices(carol_ws) == [21050, 21060])
        demo_ws.wait_for(lambda: prices(demo_ws) == [21000, 20990])
        carol_ws.read(0.3)
        assert prices(carol_ws) == [21050, 21060]  # the shared move never reached carol
    finally:
        carol_ws.close()
        demo_ws.close()


def test_the_random_walk_leaves_alert_books_alone(two, tradovate_sim):
    demo, demo_account, carol, carol_account = two
    tradovate_sim.set_price("MNQZ5", "21100", user="carol")
    demo.post("order/placeorder", order(demo_account))  # the contract is active for the feed
    carol.post("order/placeorder", order(carol_account))
    tradovate_sim.feed(running=True, interval=0.05)
    wait_until(lambda: tradovate_sim.quote("MNQZ5")["source"] == "random walk", timeout=5)
    tradovate_sim.feed(running=False)
    mine = tradovate_sim.quote("MNQZ5", user="carol")
    assert (mine["source"], mine["entries"]["Trade"]["price"]) == ("alerts", 21100)


def test_an_unknown_login_is_an_error(tradovate_sim):
    import requests

    resp = requests.post(
        f"{tradovate_sim.root_url}/sim/price",
        json={"symbol": "MNQZ5", "price": "21000", "user": "nobody"},
        timeout=5,
    )
    assert resp.status_code == 404
