"""Orders on the simulator behave as strictly as Tradovate's and fill like an exchange.

Everything goes over raw HTTP / WebSocket on loopback (``SimHandle.login`` → ``RawApi``).
"""

from __future__ import annotations

import pytest


@pytest.fixture
def demo(tradovate_sim):
    tradovate_sim.set_price("MNQZ5", "21000")
    api = tradovate_sim.login()
    return api, api.accounts()[0]["id"]


def market(account_id, action="Buy", qty=1, symbol="MNQZ5", **extra):
    return {
        "accountId": account_id,
        "action": action,
        "symbol": symbol,
        "orderQty": qty,
        "orderType": "Market",
        "isAutomated": True,
        **extra,
    }


# --- no clOrdId de-duplication ------------------------------------------------------------------


def test_a_repeated_cl_ord_id_places_a_second_order(demo, tradovate_sim):
    api, account_id = demo
    first = api.post("order/placeorder", market(account_id, clOrdId="jt-7-3"))
    again = api.post("order/placeorder", market(account_id, clOrdId="jt-7-3"))
    assert again["orderId"] != first["orderId"]
    assert tradovate_sim.positions(account_id) == {"MNQZ5": 2}
    # command/list still tells which orders carry that clOrdId (how a client settles a timeout).
    commands = [c for c in api.get("command/list") if c["clOrdId"] == "jt-7-3"]
    assert sorted(c["orderId"] for c in commands) == sorted([first["orderId"], again["orderId"]])
    [new] = api.get("command/deps", masterid=again["orderId"])
    assert (new["commandType"], new["clOrdId"]) == ("New", "jt-7-3")


def test_a_repeated_cl_ord_id_on_an_oso_and_an_oco_places_again(demo, tradovate_sim):
    api, account_id = demo
    oso = {
        **market(account_id, clOrdId="jt-oso"),
        "bracket1": {"action": "Sell", "orderType": "Limit", "price": 21020},
        "bracket2": {"action": "Sell", "orderType": "Stop", "stopPrice": 20980},
    }
    first, again = api.post("order/placeoso", oso), api.post("order/placeoso", oso)
    assert len({first["orderId"], again["orderId"], first["oso1Id"], again["oso1Id"]}) == 4
    oco = {
        "accountId": account_id,
        "action": "Sell",
        "symbol": "MNQZ5",
        "orderQty": 1,
        "orderType": "Limit",
        "price": 21050,
        "clOrdId": "jt-oco",
        "other": {"action": "Sell", "orderType": "Stop", "stopPrice": 20950},
    }
    one, two = api.post("order/placeoco", oco), api.post("order/placeoco", oco)
    assert one["orderId"] != two["orderId"] and one["ocoId"] != two["ocoId"]
    assert tradovate_sim.positions(account_id) == {"MNQZ5": 2}
    working = tradovate_sim.working_orders(account_id)
    assert len(working) == 8  # two brackets of two legs, two OCO pairs


# --- wrong-side stops are refused ---------------------------------------------------------------


def stop(account_id, action, stop_price, order_type="Stop", **extra):
    return {
        "accountId": account_id,
        "action": action,
        "symbol": "MNQZ5",
        "orderQty": 1,
        "orderType": order_type,
        "stopPrice": stop_price,
        "isAutomated": True,
        **extra,
    }


@pytest.mark.parametrize(
    ("action", "stop_price", "side"),
    [
        ("Buy", 21000.25, "at or below the best ask 21000.25"),  # the ask itself
        ("Buy", 20990, "at or below the best ask 21000.25"),
        ("Sell", 21000, "at or above the best bid 21000"),  # the bid itself
        ("Sell", 21010, "at or above the best bid 21000"),
    ],
)
def test_a_stop_already_reached_is_refused_not_filled(
    demo, tradovate_sim, action, stop_price, side
):
    api, account_id = demo
    answer = api.post("order/placeorder", stop(account_id, action, stop_price))
    assert api.last.status_code == 200
    assert answer["failureReason"] == "InvalidPrice"
    assert side in answer["failureText"] and "bid 21000.00, ask 21000.25" in answer["failureText"]
    assert api.get("order/list") == [] and tradovate_sim.positions(account_id) == {}


def test_a_stop_limit_already_reached_is_refused(demo):
    api, account_id = demo
    body = stop(account_id, "Sell", 21001, order_type="StopLimit", price=21000)
    assert api.post("order/placeorder", body)["failureReason"] == "InvalidPrice"
    assert api.get("order/list") == []


def test_stops_on_the_right_side_work(demo, tradovate_sim):
    api, account_id = demo
    assert "orderId" in api.post("order/placeorder", stop(account_id, "Buy", 21000.5))
    assert "orderId" in api.post("order/placeorder", stop(account_id, "Sell", 20999.75))
    assert [o["status"] for o in tradovate_sim.working_orders(account_id)] == ["Working"] * 2


def test_an_oco_with_a_wrong_side_leg_creates_no_order(demo):
    api, account_id = demo
    body = {
        "accountId": account_id,
        "action": "Sell",
        "symbol": "MNQZ5",
        "orderQty": 1,
        "orderType": "Limit",
        "price": 21050,
        "other": {"action": "Sell", "orderType": "Stop", "stopPrice": 21005},
    }
    answer = api.post("order/placeoco", body)
    assert answer["failureReason"] == "InvalidPrice" and "21005" in answer["failureText"]
    assert api.get("order/list") == []


def test_an_oso_whose_entry_stop_is_reached_creates_no_order(demo):
    api, account_id = demo
    body = {
        **stop(account_id, "Buy", 20995),
        "bracket1": {"action": "Sell", "orderType": "Limit", "price": 21050},
    }
    assert api.post("order/placeoso", body)["failureReason"] == "InvalidPrice"
    assert api.get("order/list") == []


def test_modifying_a_stop_onto_the_wrong_side_keeps_the_old_version(demo, tradovate_sim):
    api, account_id = demo
    placed = api.post("order/placeorder", stop(account_id, "Sell", 20990))
    modify = {
        "orderId": placed["orderId"],
        "orderQty": 1,
        "orderType": "Stop",
        "stopPrice": 21001,
        "isAutomated": True,
    }
    answer = api.post("order/modifyorder", modify)
    assert answer["failureReason"] == "InvalidPrice" and "21001" in answer["failureText"]
    [version] = api.get("orderVersion/deps", masterid=placed["orderId"])
    assert version["stopPrice"] == 20990
    assert api.get("order/item", id=placed["orderId"])["ordStatus"] == "Working"
    assert tradovate_sim.positions(account_id) == {}
    moved = api.post("order/modifyorder", {**modify, "stopPrice": 20995})
    assert "commandId" in moved
    [version] = api.get("orderVersion/deps", masterid=placed["orderId"])
    assert version["stopPrice"] == 20995


def test_modify_needs_qty_and_type_like_tradovate(demo):
    api, account_id = demo
    placed = api.post("order/placeorder", stop(account_id, "Sell", 20990))
    answer = api.post("order/modifyorder", {"orderId": placed["orderId"], "stopPrice": 20980})
    assert answer["failureReason"] == "UnknownReason"


def test_a_released_bracket_stop_already_reached_is_rejected_and_its_target_works(
    demo, tradovate_sim
):
    api, account_id = demo
    tradovate_sim.set_price("MNQZ5", "21010")
    sock = api.ws(sync=True)
    try:
        placed = api.post(
            "order/placeoso",
            {
                "accountId": account_id,
                "action": "Buy",
                "symbol": "MNQZ5",
                "orderQty": 1,
                "orderType": "Limit",
                "price": 21000,
                "isAutomated": True,
                "bracket1": {"action": "Sell", "orderType": "Limit", "price": 21020},
                "bracket2": {"action": "Sell", "orderType": "Stop", "stopPrice": 20995},
            },
        )
        assert set(placed) == {"orderId", "oso1Id", "oso2Id"}
        tradovate_sim.set_price("MNQZ5", "20990")  # the entry fills in a gap below the stop
        stop_id = placed["oso2Id"]
        sock.wait_for(
            lambda: any(
                r["entity"]["orderId"] == stop_id and r["entity"]["execType"] == "Rejected"
                for r in sock.props("executionReport")
            )
        )
        [report] = [
            r["entity"]
            for r in sock.props("executionReport")
            if r["entity"]["orderId"] == stop_id and r["entity"]["execType"] == "Rejected"
        ]
        assert (report["ordStatus"], report["rejectReason"]) == ("Rejected", "InvalidPrice")
        assert "20995" in report["text"] and "bid 20990" in report["text"]
        assert any(
            o["entity"]["id"] == stop_id and o["entity"]["ordStatus"] == "Rejected"
            for o in sock.props("order")
        )
    finally:
        sock.close()
    assert api.get("order/item", id=placed["orderId"])["ordStatus"] == "Filled"
    assert api.get("order/item", id=stop_id)["ordStatus"] == "Rejected"
    # The target keeps working: the broker does not protect the position, the client must.
    assert api.get("order/item", id=placed["oso1Id"])["ordStatus"] == "Working"
    assert tradovate_sim.positions(account_id) == {"MNQZ5": 1}


# --- fills like an exchange ---------------------------------------------------------------------


def limit(account_id, action, price, **extra):
    return {
        "accountId": account_id,
        "action": action,
        "symbol": "MNQZ5",
        "orderQty": 1,
        "orderType": "Limit",
        "price": price,
        "isAutomated": True,
        **extra,
    }


def fill_price(api, order_id):
    [fill] = api.get("fill/deps", masterid=order_id)
    return fill["price"]


def test_a_resting_limit_fills_at_its_price_even_through_a_gap(demo, tradovate_sim):
    api, account_id = demo
    placed = api.post("order/placeorder", limit(account_id, "Sell", 21012))
    tradovate_sim.set_price("MNQZ5", "21025")
    assert fill_price(api, placed["orderId"]) == 21012
    bought = api.post("order/placeorder", limit(account_id, "Buy", 20990))
    tradovate_sim.set_price("MNQZ5", "20970")
    assert fill_price(api, bought["orderId"]) == 20990


def test_a_marketable_limit_fills_at_the_touch_never_beyond_its_limit(demo):
    api, account_id = demo
    bought = api.post("order/placeorder", limit(account_id, "Buy", 21010))
    assert fill_price(api, bought["orderId"]) == 21000.25  # the ask, better than 21010
    sold = api.post("order/placeorder", limit(account_id, "Sell", 20990))
    assert fill_price(api, sold["orderId"]) == 21000  # the bid


def test_a_stop_fills_at_the_gap_price(demo, tradovate_sim):
    api, account_id = demo
    placed = api.post("order/placeorder", stop(account_id, "Sell", 20980))
    tradovate_sim.set_price("MNQZ5", "20950")
    assert fill_price(api, placed["orderId"]) == 20950


def test_market_orders_fill_at_the_touch_plus_the_slippage(demo, tradovate_sim):
    api, account_id = demo
    bought = api.post("order/placeorder", market(account_id))
    assert fill_price(api, bought["orderId"]) == 21000.25
    assert tradovate_sim.config(slippage_ticks=2)["slippage_ticks"] == 2
    bought = api.post("order/placeorder", market(account_id))
    assert fill_price(api, bought["orderId"]) == 21000.75
    sold = api.post("order/placeorder", market(account_id, action="Sell"))
    assert fill_price(api, sold["orderId"]) == 20999.5


# --- fills in lots against the book -------------------------------------------------------------


@pytest.fixture
def lots(demo, tradovate_sim):
    config = tradovate_sim.config(partial_fills=True, book_size=10)
    assert (config["partial_fills"], config["book_size"]) == (True, 10)
    return demo


def test_the_book_shows_its_size_at_the_touch(lots, tradovate_sim):
    tradovate_sim.config(book_size=7)
    quote = tradovate_sim.quote("MNQZ5")
    assert quote["entries"]["Bid"]["size"] == quote["entries"]["Offer"]["size"] == 7


def test_a_large_market_order_walks_the_book_a_tick_per_level(lots, tradovate_sim):
    api, account_id = lots
    placed = api.post("order/placeorder", market(account_id, qty=25))
    fills = api.get("fill/deps", masterid=placed["orderId"])
    assert [(f["qty"], f["price"]) for f in fills] == [
        (10, 21000.25),
        (10, 21000.5),
        (5, 21000.75),
    ]
    order = api.get("order/item", id=placed["orderId"])
    assert order["ordStatus"] == "Filled"
    [position] = api.get("position/list")
    assert (position["netPos"], position["boughtValue"]) == (25, 525011.25)
    trades = [
        r for r in api.get("executionReport/deps", masterid=placed["orderId"]) if r["lastQty"]
    ]
    assert [(r["lastQty"], r["cumQty"], r["ordStatus"]) for r in trades] == [
        (10, 10, "Working"),
        (10, 20, "Working"),
        (5, 25, "Filled"),
    ]
    assert trades[-1]["avgPx"] == pytest.approx(21000.45)


def test_a_resting_limit_fills_at_most_the_size_at_its_price_and_keeps_working(lots, tradovate_sim):
    api, account_id = lots
    placed = api.post("order/placeorder", limit(account_id, "Sell", 21010, orderQty=15))
    tradovate_sim.set_price("MNQZ5", "21012")
    order = api.get("order/item", id=placed["orderId"])
    assert order["ordStatus"] == "Working"
    [report] = [
        r for r in api.get("executionReport/deps", masterid=placed["orderId"]) if r["lastQty"]
    ]
    assert (report["cumQty"], report["lastPx"], report["ordStatus"]) == (10, 21010, "Working")
    assert tradovate_sim.positions(account_id) == {"MNQZ5": -10}
    tradovate_sim.set_price("MNQZ5", "21011")  # the next print: the rest fills
    assert api.get("order/item", id=placed["orderId"])["ordStatus"] == "Filled"
    assert [f["qty"] for f in tradovate_sim.fills(account_id)] == [10, 5]
    assert tradovate_sim.positions(account_id) == {"MNQZ5": -15}


def test_a_marketable_limit_takes_levels_up_to_its_price_and_rests_the_rest(lots, tradovate_sim):
    api, account_id = lots
    placed = api.post("order/placeorder", limit(account_id, "Buy", 21000.5, orderQty=35))
    fills = api.get("fill/deps", masterid=placed["orderId"])
    assert [(f["qty"], f["price"]) for f in fills] == [(10, 21000.25), (10, 21000.5)]
    [working] = tradovate_sim.working_orders(account_id)
    assert (working["id"], working["filled"], working["status"]) == (
        placed["orderId"],
        20,
        "Working",
    )


def test_resting_orders_share_the_size_at_one_price(lots, tradovate_sim):
    api, account_id = lots
    first = api.post("order/placeorder", limit(account_id, "Buy", 20990, orderQty=8))
    second = api.post("order/placeorder", limit(account_id, "Buy", 20990, orderQty=8))
    tradovate_sim.set_price("MNQZ5", "20989.75")
    assert [f["qty"] for f in api.get("fill/deps", masterid=first["orderId"])] == [8]
    assert [f["qty"] for f in api.get("fill/deps", masterid=second["orderId"])] == [2]


def test_cash_stays_exact_across_partial_fills(lots, tradovate_sim):
    api, account_id = lots
    api.post("order/placeorder", market(account_id, qty=20))  # 10 @ .25, 10 @ .50
    tradovate_sim.set_price("MNQZ5", "21010")
    api.post(
        "order/placeorder", market(account_id, action="Sell", qty=20)
    )  # 10 @ 21010, 10 @ 09.75
    cash = api.post("cashBalance/getcashbalancesnapshot", {"accountId": account_id})
    # bought for 420,007.50, sold for 420,197.50: 190 points × $2
    assert cash["realizedPnL"] == 380
    assert tradovate_sim.positions(account_id) == {}
