"""Order strategies (``orderStrategy/startOrderStrategy`` and friends) on the simulator.

Exits are placed around the entry's real fill; entities stream like Tradovate's.
"""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def demo(tradovate_sim):
    tradovate_sim.set_price("MNQZ5", "21000")  # bid 21000, ask 21000.25
    api = tradovate_sim.login()
    return api, api.accounts()[0]


def strategy(account, action="Buy", *, qty=1, brackets=None, entry=None, **extra):
    params = {
        "entryVersion": entry or {"orderQty": qty, "orderType": "Market"},
        "brackets": brackets
        if brackets is not None
        else [
            {
                "qty": qty,
                "profitTarget": 10 if action == "Buy" else -10,
                "stopLoss": -5 if action == "Buy" else 5,
                "trailingStop": False,
            }
        ],
    }
    return {
        "accountId": account["id"],
        "accountSpec": account["name"],
        "symbol": "MNQZ5",
        "action": action,
        "orderStrategyTypeId": 2,
        "params": json.dumps(params),
        "isAutomated": True,
        **extra,
    }


def versions(api, order_id):
    [version] = api.get("orderVersion/deps", masterid=order_id)
    return version


def test_a_strategy_places_exits_around_the_real_fill(demo, tradovate_sim):
    api, account = demo
    answer = api.post(
        "orderStrategy/startOrderStrategy", strategy(account, uuid="u-1", customTag50="sig-9")
    )
    os_ = answer["orderStrategy"]
    assert os_["status"] == "ActiveStrategy" and os_["orderStrategyTypeId"] == 2
    assert (os_["accountId"], os_["action"], os_["uuid"], os_["customTag50"]) == (
        account["id"],
        "Buy",
        "u-1",
        "sig-9",
    )
    links = api.get("orderStrategyLink/deps", masterid=os_["id"])
    by_label = {link["label"]: link["orderId"] for link in links}
    assert set(by_label) == {"Entry", "TakeProfit", "StopLoss"}
    [fill] = api.get("fill/deps", masterid=by_label["Entry"])
    assert fill["price"] == 21000.25  # the ask
    target, stop = versions(api, by_label["TakeProfit"]), versions(api, by_label["StopLoss"])
    assert (target["orderType"], target["price"], target["timeInForce"]) == (
        "Limit",
        21010.25,
        "GTC",
    )
    assert (stop["orderType"], stop["stopPrice"]) == ("Stop", 20995.25)
    tp_order = api.get("order/item", id=by_label["TakeProfit"])
    sl_order = api.get("order/item", id=by_label["StopLoss"])
    assert tp_order["ocoId"] == sl_order["ocoId"] is not None
    assert (tp_order["action"], tp_order["ordStatus"]) == ("Sell", "Working")
    assert api.get("orderStrategy/deps", masterid=account["id"])[0]["id"] == os_["id"]
    assert api.get("orderStrategy/item", id=os_["id"])["status"] == "ActiveStrategy"


def test_a_sell_strategy_negates_the_offsets(demo, tradovate_sim):
    api, account = demo
    os_ = api.post("orderStrategy/startOrderStrategy", strategy(account, "Sell"))["orderStrategy"]
    [s] = tradovate_sim.order_strategies(account["id"])
    assert s["id"] == os_["id"]
    [tp], [sl] = s["orders"]["TakeProfit"], s["orders"]["StopLoss"]
    assert versions(api, tp)["price"] == 20990  # fill at the bid 21000, target 10 below
    assert versions(api, sl)["stopPrice"] == 21005
    assert tradovate_sim.positions(account["id"]) == {"MNQZ5": -1}


def test_the_target_fill_finishes_the_strategy(demo, tradovate_sim):
    api, account = demo
    os_ = api.post("orderStrategy/startOrderStrategy", strategy(account))["orderStrategy"]
    tradovate_sim.set_price("MNQZ5", "21011")
    [s] = tradovate_sim.order_strategies(account["id"])
    assert s["status"] == "ExecutionFinished"
    assert api.get("order/item", id=s["orders"]["StopLoss"][0])["ordStatus"] == "Canceled"
    assert tradovate_sim.positions(account["id"]) == {}
    assert api.get("orderStrategy/item", id=os_["id"])["status"] == "ExecutionFinished"


def test_a_limit_entry_places_its_exits_only_when_it_fills(demo, tradovate_sim):
    api, account = demo
    body = strategy(account, entry={"orderQty": 1, "orderType": "Limit", "price": 20990})
    api.post("orderStrategy/startOrderStrategy", body)
    [s] = tradovate_sim.order_strategies(account["id"])
    assert set(s["orders"]) == {"Entry"}
    tradovate_sim.set_price("MNQZ5", "20980")  # gaps through: the limit fills at 20990
    [s] = tradovate_sim.order_strategies(account["id"])
    assert versions(api, s["orders"]["TakeProfit"][0])["price"] == 21000
    assert versions(api, s["orders"]["StopLoss"][0])["stopPrice"] == 20985


def test_a_stop_exit_already_reached_by_the_fill_is_rejected(demo, tradovate_sim):
    api, account = demo
    # A Sell limit entry far below the market fills at the bid (21000); its buy stop at
    # 20990 + 5 = 20995 would already be reached: rejected, and the target keeps working.
    body = strategy(
        account,
        "Sell",
        entry={"orderQty": 1, "orderType": "Limit", "price": 20990},
        brackets=[{"qty": 1, "profitTarget": -20, "stopLoss": 5, "trailingStop": False}],
    )
    tradovate_sim.set_price("MNQZ5", bid="20980", ask="20980.25")
    api.post("orderStrategy/startOrderStrategy", body)  # rests: the bid is under 20990
    tradovate_sim.set_price("MNQZ5", bid="21000", ask="21000.25")  # resting sell fills at 20990
    [s] = tradovate_sim.order_strategies(account["id"])
    sl = api.get("order/item", id=s["orders"]["StopLoss"][0])
    assert sl["ordStatus"] == "Rejected"
    [report] = [
        r for r in api.get("executionReport/deps", masterid=sl["id"]) if r["execType"] == "Rejected"
    ]
    assert report["rejectReason"] == "InvalidPrice" and "20995" in report["text"]
    assert api.get("order/item", id=s["orders"]["TakeProfit"][0])["ordStatus"] == "Working"
    assert s["status"] == "ActiveStrategy"


def test_several_brackets_split_the_entry(demo, tradovate_sim):
    api, account = demo
    brackets = [
        {"qty": 2, "profitTarget": 5, "stopLoss": -5, "trailingStop": False},
        {"qty": 1, "profitTarget": 20, "stopLoss": -10, "trailingStop": True},
    ]
    api.post("orderStrategy/startOrderStrategy", strategy(account, qty=3, brackets=brackets))
    [s] = tradovate_sim.order_strategies(account["id"])
    working = {o["id"]: o for o in tradovate_sim.working_orders(account["id"])}
    tps = [working[i] for i in s["orders"]["TakeProfit"]]
    sls = [working[i] for i in s["orders"]["StopLoss"]]
    assert [(o["qty"], o["price"]) for o in tps] == [(2, 21005.25), (1, 21020.25)]
    assert [(o["qty"], o["type"]) for o in sls] == [(2, "Stop"), (1, "TrailingStop")]
    assert sls[1]["stop_price"] == 20990  # 10 points under the bid it trails
    assert tps[0]["oco_id"] == sls[0]["oco_id"] != tps[1]["oco_id"] == sls[1]["oco_id"]


@pytest.mark.parametrize(
    ("change", "reason", "words"),
    [
        ({"orderStrategyTypeId": 1}, "UnknownReason", "orderStrategyTypeId"),
        ({"params": "{not json"}, "UnknownReason", "not valid JSON"),
        ({"params": {"entryVersion": {}}}, "UnknownReason", "JSON string"),
    ],
)
def test_a_malformed_strategy_is_refused(demo, change, reason, words):
    api, account = demo
    answer = api.post("orderStrategy/startOrderStrategy", {**strategy(account), **change})
    assert answer["failureReason"] == reason and words in answer["errorText"]
    assert api.get("order/list") == [] and api.get("orderStrategy/list") == []


@pytest.mark.parametrize(
    ("action", "bracket", "reason", "words"),
    [
        ("Buy", {"qty": 1, "profitTarget": -10, "stopLoss": -5}, "InvalidPrice", "profitTarget"),
        ("Buy", {"qty": 1, "profitTarget": 10, "stopLoss": 5}, "InvalidPrice", "stopLoss"),
        ("Sell", {"qty": 1, "profitTarget": 10, "stopLoss": 5}, "InvalidPrice", "profitTarget"),
        ("Buy", {"qty": 1, "profitTarget": 10.1, "stopLoss": -5}, "InvalidPrice", "tick size"),
        ("Buy", {"qty": 2, "profitTarget": 10, "stopLoss": -5}, "UnknownReason", "add up to 2"),
    ],
)
def test_brackets_are_validated_strictly(demo, action, bracket, reason, words):
    api, account = demo
    answer = api.post(
        "orderStrategy/startOrderStrategy", strategy(account, action, brackets=[bracket])
    )
    assert answer["failureReason"] == reason and words in answer["errorText"]
    assert api.get("order/list") == []


def test_a_repeated_uuid_starts_a_second_strategy(demo, tradovate_sim):
    api, account = demo
    one = api.post("orderStrategy/startOrderStrategy", strategy(account, uuid="same"))
    two = api.post("orderStrategy/startOrderStrategy", strategy(account, uuid="same"))
    assert one["orderStrategy"]["id"] != two["orderStrategy"]["id"]
    assert tradovate_sim.positions(account["id"]) == {"MNQZ5": 2}


def test_interrupt_cancels_the_working_exits_and_keeps_the_position(demo, tradovate_sim):
    api, account = demo
    os_ = api.post("orderStrategy/startOrderStrategy", strategy(account))["orderStrategy"]
    answer = api.post("orderStrategy/interruptOrderStrategy", {"orderStrategyId": os_["id"]})
    assert answer["orderStrategy"]["status"] == "ExecutionInterrupted"
    assert tradovate_sim.working_orders(account["id"]) == []
    assert tradovate_sim.positions(account["id"]) == {"MNQZ5": 1}
    again = api.post("orderStrategy/interruptOrderStrategy", {"orderStrategyId": os_["id"]})
    assert again["failureReason"] == "TooLate"


def test_liquidating_the_position_interrupts_its_strategies(demo, tradovate_sim):
    api, account = demo
    os_ = api.post("orderStrategy/startOrderStrategy", strategy(account))["orderStrategy"]
    api.post(
        "order/liquidateposition",
        {"accountId": account["id"], "contractId": os_["contractId"], "admin": False},
    )
    [s] = tradovate_sim.order_strategies(account["id"])
    assert s["status"] == "ExecutionInterrupted"
    assert tradovate_sim.positions(account["id"]) == {}
    assert tradovate_sim.working_orders(account["id"]) == []


def test_modify_moves_the_brackets_around_the_fill(demo, tradovate_sim):
    api, account = demo
    os_ = api.post("orderStrategy/startOrderStrategy", strategy(account))["orderStrategy"]
    command = {"brackets": [{"qty": 1, "profitTarget": 20, "stopLoss": -2, "trailingStop": False}]}
    answer = api.post(
        "orderStrategy/modifyOrderStrategy",
        {"orderStrategyId": os_["id"], "command": json.dumps(command), "customTag50": "moved"},
    )
    assert answer["orderStrategy"]["customTag50"] == "moved"
    assert json.loads(answer["orderStrategy"]["params"])["brackets"][0]["profitTarget"] == 20
    [s] = tradovate_sim.order_strategies(account["id"])
    assert versions(api, s["orders"]["TakeProfit"][0])["price"] == 21020.25
    assert versions(api, s["orders"]["StopLoss"][0])["stopPrice"] == 20998.25


def test_modify_onto_the_wrong_side_changes_nothing(demo, tradovate_sim):
    api, account = demo
    os_ = api.post("orderStrategy/startOrderStrategy", strategy(account))["orderStrategy"]
    tradovate_sim.set_price("MNQZ5", "20998")  # the market fell; a stop at fill - 2 is reached
    command = {"brackets": [{"qty": 1, "profitTarget": 20, "stopLoss": -2, "trailingStop": False}]}
    answer = api.post(
        "orderStrategy/modifyOrderStrategy",
        {"orderStrategyId": os_["id"], "command": json.dumps(command)},
    )
    assert answer["failureReason"] == "InvalidPrice"
    [s] = tradovate_sim.order_strategies(account["id"])
    assert versions(api, s["orders"]["TakeProfit"][0])["price"] == 21010.25
    assert versions(api, s["orders"]["StopLoss"][0])["stopPrice"] == 20995.25


def test_a_bracket_stop_moves_to_break_even_with_modifyorder(demo, tradovate_sim):
    api, account = demo
    api.post("orderStrategy/startOrderStrategy", strategy(account))
    [s] = tradovate_sim.order_strategies(account["id"])
    tradovate_sim.set_price("MNQZ5", "21005")
    [sl] = s["orders"]["StopLoss"]
    body = {"orderId": sl, "orderQty": 1, "orderType": "Stop", "stopPrice": 21000.25}
    assert "commandId" in api.post("order/modifyorder", body)
    tradovate_sim.set_price("MNQZ5", "21000")
    assert tradovate_sim.positions(account["id"]) == {}
    assert tradovate_sim.order_strategies(account["id"])[0]["status"] == "ExecutionFinished"


def test_strategies_stream_and_sync_over_the_websocket_in_any_case(demo, tradovate_sim):
    api, account = demo
    sock = api.ws(sync=True)
    try:
        answer = sock.request("orderstrategy/startorderstrategy", strategy(account))
        assert answer["s"] == 200
        os_id = answer["d"]["orderStrategy"]["id"]
        sock.wait_for(lambda: len(sock.props("orderStrategyLink")) == 3)
        assert {e["entity"]["label"] for e in sock.props("orderStrategyLink")} == {
            "Entry",
            "TakeProfit",
            "StopLoss",
        }
        [created] = [e for e in sock.props("orderStrategy") if e["eventType"] == "Created"]
        assert created["entity"]["id"] == os_id
        tradovate_sim.set_price("MNQZ5", "20995")  # the stop fills
        sock.wait_for(
            lambda: any(
                e["entity"]["status"] == "ExecutionFinished" for e in sock.props("orderStrategy")
            )
        )
        assert sock.request("ORDERSTRATEGY/LIST")["d"][0]["status"] == "ExecutionFinished"
    finally:
        sock.close()
    again = api.ws(sync=True)
    try:
        assert [s["id"] for s in again.snapshot["orderStrategies"]] == [os_id]
        assert len(again.snapshot["orderStrategyLinks"]) == 3
    finally:
        again.close()
