"""Injected faults (``/sim/faults``): the ambiguous outcomes a real broker produces."""

from __future__ import annotations

import time

import pytest
import requests

from justtrades.testing.fixtures import wait_until


@pytest.fixture
def demo(tradovate_sim):
    tradovate_sim.set_price("MNQZ5", "21000")
    api = tradovate_sim.login()
    return api, api.accounts()[0]["id"]


def buy(account_id, **extra):
    return {
        "accountId": account_id,
        "action": "Buy",
        "symbol": "MNQZ5",
        "orderQty": 1,
        "orderType": "Market",
        "isAutomated": True,
        **extra,
    }


def test_a_lost_answer_places_the_order_but_never_answers(demo, tradovate_sim):
    api, account_id = demo
    tradovate_sim.fault("lost_answer", path="order/placeorder", delay=0.5)
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        api.post("order/placeorder", buy(account_id, clOrdId="lost-1"))
    assert time.monotonic() - started >= 0.5  # held, then dropped
    # The order exists and filled: a client must look (command/list) before resending.
    assert tradovate_sim.positions(account_id) == {"MNQZ5": 1}
    [command] = [c for c in api.get("command/list") if c["clOrdId"] == "lost-1"]
    assert api.get("order/item", id=command["orderId"])["ordStatus"] == "Filled"


def test_a_lost_answer_times_out_a_client_that_gives_up_first(demo, tradovate_sim):
    api, account_id = demo
    tradovate_sim.fault("lost_answer", path="order/placeorder")  # held 30 s by default
    with pytest.raises(requests.Timeout):
        api.post("order/placeorder", buy(account_id), timeout=0.5)
    assert tradovate_sim.positions(account_id) == {"MNQZ5": 1}


def test_a_lost_answer_over_the_websocket_sends_no_response_frame(demo, tradovate_sim):
    api, account_id = demo
    sock = api.ws(sync=True)
    try:
        tradovate_sim.fault("lost_answer", path="order/placeorder")
        rid = sock.send("order/placeorder", buy(account_id))
        sock.wait_for(lambda: any(f["entity"]["orderId"] for f in sock.props("fill")))
        with pytest.raises(TimeoutError):
            sock.wait_answer(rid, timeout=1)
        # The socket still answers the next request.
        assert sock.request("position/list")["d"][0]["netPos"] == 1
    finally:
        sock.close()


def test_a_status_after_executing_answers_500_for_a_placed_order(demo, tradovate_sim):
    api, account_id = demo
    tradovate_sim.fault("status", path="order/placeorder", status=500, after=True)
    assert api.post("order/placeorder", buy(account_id)) is None
    assert api.last.status_code == 500 and api.last.content == b""
    assert tradovate_sim.positions(account_id) == {"MNQZ5": 1}


def test_a_status_before_executing_places_nothing(demo, tradovate_sim):
    api, account_id = demo
    tradovate_sim.fault("status", path="order/placeorder", status=500)
    api.post("order/placeorder", buy(account_id))
    assert api.last.status_code == 500
    assert tradovate_sim.positions(account_id) == {}


def test_a_status_after_over_the_websocket_answers_the_status(demo, tradovate_sim):
    api, account_id = demo
    sock = api.ws()
    try:
        tradovate_sim.fault("status", path="order/placeorder", status=503, after=True)
        assert sock.request("order/placeorder", buy(account_id))["s"] == 503
        assert tradovate_sim.positions(account_id) == {"MNQZ5": 1}
    finally:
        sock.close()


def test_a_delay_runs_the_request_late(demo, tradovate_sim):
    api, account_id = demo
    tradovate_sim.fault("delay", path="order/placeorder", delay=1.0)
    with pytest.raises(requests.Timeout):
        api.post("order/placeorder", buy(account_id), timeout=0.3)
    assert tradovate_sim.positions(account_id) == {}  # not yet
    wait_until(lambda: tradovate_sim.positions(account_id) == {"MNQZ5": 1}, timeout=5)


def test_a_penalty_ticket_resend_is_honoured_over_rest_and_websocket(demo, tradovate_sim):
    api, account_id = demo
    tradovate_sim.fault("penalty", path="order/placeorder", p_time=0.5, count=2)
    penalty = api.post("order/placeorder", buy(account_id))
    assert penalty["p-captcha"] is False and tradovate_sim.positions(account_id) == {}
    early = api.post("order/placeorder", buy(account_id, **{"p-ticket": penalty["p-ticket"]}))
    assert early["p-ticket"] == penalty["p-ticket"]
    time.sleep(0.6)
    placed = api.post("order/placeorder", buy(account_id, **{"p-ticket": penalty["p-ticket"]}))
    assert "orderId" in placed
    sock = api.ws()
    try:
        ticket = sock.request("order/placeorder", buy(account_id))["d"]
        assert "p-ticket" in ticket
        time.sleep(0.6)
        again = sock.request(
            "order/placeorder", buy(account_id, **{"p-ticket": ticket["p-ticket"]})
        )
        assert "orderId" in again["d"]
    finally:
        sock.close()
    assert tradovate_sim.positions(account_id) == {"MNQZ5": 2}


def test_an_unknown_fault_kind_is_refused(tradovate_sim):
    resp = requests.post(f"{tradovate_sim.root_url}/sim/faults", json={"kind": "nope"}, timeout=5)
    assert resp.status_code == 400
