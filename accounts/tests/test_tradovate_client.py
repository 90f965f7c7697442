"""The Tradovate client against the simulator, over real HTTP and WebSocket on loopback."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from accounts.brokers import tradovate
from accounts.brokers.base import (
    AuthenticationFailed,
    BrokerUnavailable,
    CaptchaRequired,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
)
from justtrades.testing.fixtures import free_port, wait_until

D = Decimal


@pytest.fixture
def demo(tradovate_sim):
    tradovate_sim.set_price("MNQZ5", "21000")
    client = tradovate_sim.client()
    account_id = client.accounts()[0].id
    return client, account_id


def forget_process_memory():
    """Make the next call behave like a fresh worker process (Redis is all it has)."""
    tradovate._token_memo.clear()


# --- auth -------------------------------------------------------------------------------------


def test_one_login_is_shared_by_every_process_through_redis(tradovate_sim):
    first = tradovate_sim.client()
    first.accounts()
    forget_process_memory()
    second = tradovate_sim.client()
    second.accounts()
    second.positions()
    assert tradovate_sim.requests_to("auth/accesstokenrequest") == 1
    assert tradovate_sim.requests_to("account/list") == 2


def test_a_token_near_expiry_is_renewed_not_replaced_by_a_new_login(tradovate_sim):
    tradovate_sim.set_token_ttl(600)  # inside the 15-minute renewal window from the start
    client = tradovate_sim.client()
    client.accounts()
    forget_process_memory()
    client.accounts()
    stats = tradovate_sim.stats()["requests"]
    assert stats["auth/accesstokenrequest"] == 1
    assert stats["auth/renewaccesstoken"] >= 1


def test_an_expired_token_is_replaced_transparently(tradovate_sim):
    client = tradovate_sim.client()
    client.accounts()
    tradovate_sim.expire_tokens()
    assert [a.name for a in client.accounts()] == ["DEMO0001", "DEMO0002"]
    assert tradovate_sim.requests_to("auth/accesstokenrequest") == 2


def test_a_wrong_password_is_reported_and_not_hammered(tradovate_sim):
    client = tradovate_sim.client(password="wrong")
    with pytest.raises(AuthenticationFailed, match="Incorrect username or password"):
        client.accounts()
    with pytest.raises(AuthenticationFailed):
        client.accounts()
    # Tradovate allows 5 failed logins an hour: the refusal is remembered, not retried.
    assert tradovate_sim.requests_to("auth/accesstokenrequest") == 1


def test_a_penalty_ticket_is_waited_out_and_resent_with_the_ticket(tradovate_sim):
    tradovate_sim.fault("penalty", path="auth/accesstokenrequest", p_time=1)
    started = time.monotonic()
    accounts = tradovate_sim.client().accounts()
    assert time.monotonic() - started >= 1.0
    assert len(accounts) == 2
    stats = tradovate_sim.stats()["requests"]
    assert stats["tickets_honoured"] == 1
    assert stats["auth/accesstokenrequest"] == 2  # the first got the ticket, the resend with it
    assert stats["logins"] == 1


def test_a_captcha_penalty_is_a_clear_error(tradovate_sim):
    tradovate_sim.fault("captcha", path="auth/accesstokenrequest", p_time=3600)
    with pytest.raises(CaptchaRequired, match="CAPTCHA"):
        tradovate_sim.client().accounts()


# --- limits and outages -----------------------------------------------------------------------


def test_a_429_is_backed_off_then_retried(demo, tradovate_sim):
    client, _ = demo
    tradovate_sim.fault("status", path="position/list", status=429, retry_after="1")
    started = time.monotonic()
    assert client.positions() == []
    assert time.monotonic() - started >= 1.0
    assert tradovate_sim.stats()["requests"]["fault:status"] == 1


def test_a_long_429_stops_every_call_until_it_passes(demo, tradovate_sim):
    client, _ = demo
    tradovate_sim.fault("status", path="position/list", status=429, retry_after="120")
    with pytest.raises(RateLimited) as err:
        client.positions()
    assert err.value.retry_after == pytest.approx(120, abs=1)
    calls_before = sum(tradovate_sim.stats()["requests"].values())
    forget_process_memory()  # another process shares the back-off through Redis
    with pytest.raises(RateLimited):
        tradovate_sim.client().accounts()
    assert tradovate_sim.stats()["requests"].get("account/list", 0) == 1  # only the first
    assert sum(tradovate_sim.stats()["requests"].values()) == calls_before  # nothing was sent


def test_5xx_on_a_read_is_retried(demo, tradovate_sim):
    client, _ = demo
    tradovate_sim.fault("status", path="account/list", status=500, count=2)
    assert len(client.accounts()) == 2


def test_an_unreachable_broker_is_broker_unavailable(tradovate_sim):
    from accounts.brokers.base import Credentials

    client = tradovate.TradovateClient(
        base_url="http://127.0.0.1:9/v1", credentials=Credentials("demo", "demo")
    )
    with pytest.raises(BrokerUnavailable, match="unreachable"):
        client.accounts()


# --- orders -----------------------------------------------------------------------------------


def test_a_market_order_fills_at_the_ask_and_opens_a_position(demo, tradovate_sim):
    client, account_id = demo
    placed = client.place_order(account_id=account_id, symbol="MNQZ5", action="Buy", qty=2)
    order = client.order(placed.order_id)
    assert order.status == "Filled"
    assert order.avg_price == D("21000.25")
    [position] = client.positions(account_id)
    assert (position.symbol, position.net_pos, position.net_price) == ("MNQZ5", 2, D("21000.25"))
    [fill] = client.fills(account_id)
    assert (fill.order_id, fill.qty, fill.price, fill.account_id) == (
        placed.order_id,
        2,
        D("21000.25"),
        account_id,
    )


def test_orders_are_marked_automated(demo, tradovate_sim):
    client, account_id = demo
    placed = client.place_order(account_id=account_id, symbol="MNQ1!", action="Sell", qty=1)
    commands = tradovate_sim.server.call(
        lambda: list(tradovate_sim.simulator.engine.commands.values())
    )
    [new] = [c for c in commands if c["orderId"] == placed.order_id and c["commandType"] == "New"]
    assert new["isAutomated"] is True


def test_a_limit_order_rests_until_the_market_reaches_it(demo, tradovate_sim):
    client, account_id = demo
    placed = client.place_order(
        account_id=account_id,
        symbol="MNQZ5",
        action="Buy",
        qty=1,
        order_type="Limit",
        price=D("20990"),
    )
    assert client.order(placed.order_id).status == "Working"
    tradovate_sim.set_price("MNQZ5", "20995")
    assert client.order(placed.order_id).status == "Working"
    tradovate_sim.set_price("MNQZ5", "20989.75")
    order = client.order(placed.order_id)
    assert (order.status, order.avg_price) == ("Filled", D("20990"))


def test_a_stop_order_triggers_when_the_market_trades_through(demo, tradovate_sim):
    client, account_id = demo
    placed = client.place_order(
        account_id=account_id,
        symbol="MNQZ5",
        action="Sell",
        qty=1,
        order_type="Stop",
        stop_price=D("20980"),
    )
    tradovate_sim.set_price("MNQZ5", "20985")
    assert client.order(placed.order_id).status == "Working"
    tradovate_sim.set_price("MNQZ5", "20979")
    order = client.order(placed.order_id)
    assert (order.status, order.avg_price) == ("Filled", D("20979"))


def test_a_stop_limit_becomes_a_limit_once_triggered(demo, tradovate_sim):
    client, account_id = demo
    placed = client.place_order(
        account_id=account_id,
        symbol="MNQZ5",
        action="Buy",
        qty=1,
        order_type="StopLimit",
        stop_price=D("21010"),
        price=D("21011"),
    )
    tradovate_sim.set_price("MNQZ5", bid="21015", ask="21015.25")  # gaps over the limit
    assert client.order(placed.order_id).status == "Working"
    tradovate_sim.set_price("MNQZ5", bid="21010.75", ask="21011")
    order = client.order(placed.order_id)
    assert (order.status, order.avg_price) == ("Filled", D("21011"))


def test_a_trailing_stop_follows_the_market_and_never_backs_off(demo, tradovate_sim):
    client, account_id = demo
    client.place_order(account_id=account_id, symbol="MNQZ5", action="Buy", qty=1)
    trail = client.place_order(
        account_id=account_id,
        symbol="MNQZ5",
        action="Sell",
        qty=1,
        order_type="TrailingStop",
        stop_price=D("10"),  # distance in points
    )
    tradovate_sim.set_price("MNQZ5", "21050")  # stop ratchets to 21040
    tradovate_sim.set_price("MNQZ5", "21045")  # pulls back, stop stays
    assert client.order(trail.order_id).status == "Working"
    assert client.order(trail.order_id).stop_price == D("21040")
    tradovate_sim.set_price("MNQZ5", "21039.75")
    order = client.order(trail.order_id)
    assert (order.status, order.avg_price) == ("Filled", D("21039.75"))
    assert client.positions(account_id)[0].net_pos == 0


def test_a_bracket_target_fill_cancels_its_stop(demo, tradovate_sim):
    client, account_id = demo
    placed = client.place_bracket(
        account_id=account_id,
        symbol="MNQZ5",
        action="Buy",
        qty=1,
        take_profit=D("21020"),
        stop_loss=D("20980"),
        cl_ord_id="sig-1-trader-1",
    )
    assert client.order(placed.take_profit_order_id).status == "Working"
    assert client.order(placed.stop_loss_order_id).status == "Working"
    tradovate_sim.set_price("MNQZ5", "21020")
    assert client.order(placed.take_profit_order_id).status == "Filled"
    assert client.order(placed.stop_loss_order_id).status == "Canceled"
    assert client.positions(account_id)[0].net_pos == 0
    cash = client.cash(account_id)
    assert cash.realized_pnl == D("39.50")  # (21020 - 21000.25) × $2
    assert cash.total_cash_value == D("50039.50")
    tp = client.order(placed.take_profit_order_id)
    assert tp.cl_ord_id == "sig-1-trader-1-tp"


def test_bracket_exits_wait_for_the_entry(demo, tradovate_sim):
    client, account_id = demo
    placed = client.place_bracket(
        account_id=account_id,
        symbol="MNQZ5",
        action="Sell",
        qty=1,
        order_type="Limit",
        price=D("21100"),
        take_profit=D("21050"),
        stop_loss=D("21150"),
    )
    assert client.order(placed.stop_loss_order_id).status == "Suspended"
    client.cancel(placed.order_id)
    assert client.order(placed.take_profit_order_id).status == "Canceled"
    assert client.order(placed.stop_loss_order_id).status == "Canceled"


def test_an_oco_pair_cancels_the_other_leg(demo, tradovate_sim):
    client, account_id = demo
    client.place_order(account_id=account_id, symbol="MNQZ5", action="Buy", qty=1)
    placed = client.place_oco(
        account_id=account_id,
        symbol="MNQZ5",
        first={"action": "Sell", "qty": 1, "order_type": "Limit", "price": D("21010")},
        other={"action": "Sell", "qty": 1, "order_type": "Stop", "stop_price": D("20990")},
    )
    tradovate_sim.set_price("MNQZ5", "20990")
    assert client.order(placed.oco_id).status == "Filled"
    assert client.order(placed.order_id).status == "Canceled"


def test_cancel_and_modify_a_working_order(demo, tradovate_sim):
    client, account_id = demo
    placed = client.place_order(
        account_id=account_id,
        symbol="MNQZ5",
        action="Buy",
        qty=1,
        order_type="Limit",
        price=D("20900"),
    )
    client.modify(placed.order_id, qty=3, price=D("20950"))
    order = client.order(placed.order_id)
    assert (order.qty, order.price, order.status) == (3, D("20950"), "Working")
    client.cancel(placed.order_id)
    assert client.order(placed.order_id).status == "Canceled"
    with pytest.raises(OrderRejected) as err:
        client.cancel(placed.order_id)
    assert err.value.reason == "TooLate"


def test_flatten_cancels_working_orders_and_closes_the_position(demo, tradovate_sim):
    client, account_id = demo
    client.place_order(account_id=account_id, symbol="MNQZ5", action="Buy", qty=3)
    working = client.place_order(
        account_id=account_id,
        symbol="MNQZ5",
        action="Sell",
        qty=3,
        order_type="Limit",
        price=D("21100"),
    )
    client.flatten(account_id, "MNQZ5")
    assert client.order(working.order_id).status == "Canceled"
    assert client.positions(account_id)[0].net_pos == 0
    client.flatten(account_id)  # already flat: not an error


def test_a_broker_rejection_is_typed_with_reason_and_text(demo, tradovate_sim):
    client, account_id = demo
    tradovate_sim.set_account(account_id, maxPos=2)
    with pytest.raises(OrderRejected) as err:
        client.place_order(account_id=account_id, symbol="MNQZ5", action="Buy", qty=3)
    assert err.value.reason == "MaxPosLimitReached"
    assert "Max position" in err.value.text
    assert client.orders(account_id) == []


def test_an_injected_rejection_reaches_the_caller(demo, tradovate_sim):
    client, account_id = demo
    tradovate_sim.fault("reject", path="order/placeorder", reason="NoQuote", text="No quote")
    with pytest.raises(OrderRejected, match="NoQuote"):
        client.place_order(account_id=account_id, symbol="MNQZ5", action="Buy", qty=1)


def test_an_unknown_symbol_is_rejected_before_the_broker_is_asked(demo, tradovate_sim):
    client, account_id = demo
    with pytest.raises(OrderRejected) as err:
        client.place_order(account_id=account_id, symbol="BTC1!", action="Buy", qty=1)
    assert err.value.reason == "InvalidContract"
    assert tradovate_sim.requests_to("order/placeorder") == 0


# --- idempotency ------------------------------------------------------------------------------


def test_the_broker_does_not_deduplicate_a_repeated_cl_ord_id_and_we_can_look_it_up(
    demo, tradovate_sim
):
    client, account_id = demo
    first = client.place_order(
        account_id=account_id, symbol="MNQZ5", action="Buy", qty=1, cl_ord_id="jt-7-3"
    )
    again = client.place_order(
        account_id=account_id, symbol="MNQZ5", action="Buy", qty=1, cl_ord_id="jt-7-3"
    )
    # Tradovate promises no de-duplication: two orders. Never resend without looking first.
    assert again.order_id != first.order_id
    assert client.order_by_cl_ord_id("jt-7-3").id == first.order_id
    assert client.order_by_cl_ord_id("never-sent") is None


def test_an_order_answered_500_is_an_unknown_outcome_and_never_resent_by_the_client(
    demo, tradovate_sim
):
    client, account_id = demo
    tradovate_sim.fault("status", path="order/placeorder", status=500, after=True)
    with pytest.raises(OutcomeUnknown):
        client.place_order(
            account_id=account_id, symbol="MNQZ5", action="Buy", qty=1, cl_ord_id="jt-8-3"
        )
    assert tradovate_sim.requests_to("order/placeorder") == 1
    found = client.order_by_cl_ord_id("jt-8-3")  # it was placed: the caller settles it this way
    assert found is not None and client.order(found.id).status == "Filled"


def test_an_order_whose_answer_times_out_is_unknown_not_resent(tradovate_sim):
    tradovate_sim.set_price("MNQZ5", "21000")
    client = tradovate_sim.client(timeout=0.5)
    account_id = client.accounts()[0].id
    tradovate_sim.fault("lost_answer", path="order/placeorder", delay=2.0)
    with pytest.raises(OutcomeUnknown):
        client.place_order(
            account_id=account_id, symbol="MNQZ5", action="Buy", qty=1, cl_ord_id="jt-9-3"
        )
    assert tradovate_sim.requests_to("order/placeorder") == 1
    assert [o.cl_ord_id for o in client.orders(account_id)] == ["jt-9-3"]


def test_an_order_refused_at_the_door_surely_never_arrived(tradovate_sim, settings):
    from accounts.brokers.base import Credentials
    from accounts.brokers.tradovate import TradovateClient

    client = TradovateClient(
        base_url=f"http://127.0.0.1:{free_port()}/v1", credentials=Credentials("demo", "demo")
    )
    client._store({"accessToken": "t", "userId": 1, "expirationTime": None})
    with pytest.raises(BrokerUnavailable) as caught:
        client.place_order(account_id=1, symbol="MNQZ5", action="Buy", qty=1, cl_ord_id="x")
    assert caught.value.sent is False and not isinstance(caught.value, OutcomeUnknown)


def test_a_penalty_on_an_order_is_handed_back_with_its_ticket(demo, tradovate_sim):
    client, account_id = demo
    tradovate_sim.fault("penalty", path="order/placeorder", p_time=1)
    with pytest.raises(RateLimited) as caught:
        client.place_order(account_id=account_id, symbol="MNQZ5", action="Buy", qty=1)
    assert caught.value.p_ticket and caught.value.retry_after == 1
    time.sleep(1.1)
    placed = client.place_order(
        account_id=account_id, symbol="MNQZ5", action="Buy", qty=1, p_ticket=caught.value.p_ticket
    )
    assert client.order(placed.order_id).status == "Filled"


def test_accountspec_is_the_accounts_name(demo, tradovate_sim):
    client, account_id = demo
    name = next(a.name for a in client.accounts() if a.id == account_id)
    placed = client.place_order(
        account_id=account_id, symbol="MNQZ5", action="Buy", qty=1, account_spec=name
    )
    assert client.order(placed.order_id).account_id == account_id


# --- streams ----------------------------------------------------------------------------------


class Recorder:
    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def __call__(self, event):
        with self.lock:
            self.events.append(event)

    def kinds(self):
        with self.lock:
            return [e.kind for e in self.events]

    def of(self, kind):
        with self.lock:
            return [e for e in self.events if e.kind == kind]


def test_the_stream_sends_a_snapshot_then_live_order_fill_and_position_events(demo, tradovate_sim):
    client, account_id = demo
    client.place_order(account_id=account_id, symbol="MNQZ5", action="Buy", qty=1)
    events = Recorder()
    with client.stream(events) as stream:
        assert stream.wait_connected(10)
        [snapshot] = events.of("snapshot")
        assert len(snapshot.data["orders"]) == 1
        assert {a["id"] for a in snapshot.data["accounts"]} >= {account_id}
        placed = client.place_order(account_id=account_id, symbol="MNQZ5", action="Buy", qty=2)
        wait_until(
            lambda: any(e.obj and getattr(e.obj, "net_pos", 0) == 3 for e in events.of("position"))
        )
        fills = [e.obj for e in events.of("fill")]
        assert [(f.order_id, f.qty, f.price) for f in fills] == [
            (placed.order_id, 2, D("21000.25"))
        ]
        updates = [e.obj for e in events.of("order") if e.obj.id == placed.order_id]
        last = updates[-1]
        assert (last.status, last.qty, last.filled_qty, last.avg_price) == (
            "Filled",
            2,
            2,
            D("21000.25"),
        )


def test_the_stream_delivers_quotes(demo, tradovate_sim):
    client, _ = demo
    events = Recorder()
    with client.stream(events, quotes=["MNQZ5"], account_events=False) as stream:
        assert stream.wait_connected(10)
        wait_until(lambda: events.of("quote"))
        tradovate_sim.set_price("MNQZ5", "21111")
        wait_until(lambda: any(e.obj.bid == D("21111") for e in events.of("quote")), timeout=5)
        quote = events.of("quote")[-1].obj
        assert (quote.symbol, quote.ask, quote.last) == ("MNQZ5", D("21111.25"), D("21111"))


def test_quote_returns_the_top_of_book(demo, tradovate_sim):
    client, _ = demo
    tradovate_sim.set_price("ESZ5", bid="6000", ask="6000.50")
    quote = client.quote("ESZ5")
    assert (quote.bid, quote.ask) == (D("6000"), D("6000.50"))


def test_a_dropped_socket_reconnects_and_resyncs(demo, tradovate_sim):
    client, account_id = demo
    events = Recorder()
    with client.stream(events) as stream:
        assert stream.wait_connected(10)
        assert tradovate_sim.drop_sockets() == 1
        wait_until(lambda: "disconnected" in events.kinds(), timeout=5)
        # An order placed while the socket was down shows in the fresh snapshot.
        placed = client.place_order(account_id=account_id, symbol="MNQZ5", action="Buy", qty=1)
        wait_until(lambda: len(events.of("snapshot")) == 2, timeout=10)
        assert stream.connections == 2
        resynced = events.of("snapshot")[-1].data
        assert placed.order_id in [o["id"] for o in resynced["orders"]]
        # And live events flow again.
        again = client.place_order(account_id=account_id, symbol="MNQZ5", action="Sell", qty=1)
        wait_until(lambda: any(e.obj and e.obj.id == again.order_id for e in events.of("order")))


def test_the_stream_sends_heartbeats_and_survives_idle_periods(demo, tradovate_sim):
    client, _ = demo
    events = Recorder()
    with client.stream(events) as stream:
        assert stream.wait_connected(10)
        time.sleep(3.0)
        assert stream.connected
        assert stream.connections == 1


def test_contract_specs_come_from_the_broker(demo, tradovate_sim):
    client, _ = demo
    spec = client.contract_spec("CME_MINI:NQZ2025")
    assert (spec.name, spec.tick_size, spec.point_value) == ("NQZ5", D("0.25"), D("20"))
    assert client.contract_spec("GCZ5").tick_value == D("10.0")


def test_risk_status_of_an_account(demo, tradovate_sim):
    client, account_id = demo
    assert client.risk_status(account_id)["id"] == account_id
