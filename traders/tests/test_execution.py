"""Executions against the Tradovate simulator over real HTTP: the exact orders, brackets around
the fill, reversals, partial exits, broker refusals, outages, penalties and CAPTCHAs."""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest
from django.test import Client
from django.urls import reverse

from accounts.crypto import encrypt
from accounts.models import BrokerConnection
from recorder.models import StrategyLog
from traders import manual
from traders.execution import execution_run
from traders.models import Execution, Order, Trader
from traders.tests.conftest import decide, front, held, run_pending, sim_connection, working

pytestmark = pytest.mark.django_db(transaction=True)


def engine_orders(sim, account):
    return sorted(
        (o for o in sim.simulator.engine.orders.values() if o.account_id == account.external_id),
        key=lambda o: o.id,
    )


def test_a_buy_with_exits_is_one_order_strategy_with_its_exits_around_the_fill(
    sim, alice, strategy
):
    account = sim_connection(sim, alice, kind="tradovate_demo", label="Demo").accounts.get()
    trader = Trader.objects.create(
        user=alice, strategy=strategy, broker_account=account, enabled=True
    )
    strategy.quantity = 2
    strategy.take_profit, strategy.take_profit_unit = D(40), "ticks"
    strategy.stop_loss, strategy.stop_loss_unit = D(5), "points"
    strategy.save()
    # The alert says 21,000.25; the market is 12 points higher when the order arrives.
    sim.set_price(front(), "21012.25")
    signal = decide(strategy, '{"action": "buy", "ticker": "MNQ1!", "price": 21000.25}')

    (s,) = sim.order_strategies(account.external_id)
    assert (s["action"], s["contract"], s["status"]) == ("Buy", front(), "ActiveStrategy")
    assert s["brackets"] == [{"qty": 2, "profitTarget": 10, "stopLoss": -5, "trailingStop": False}]
    assert held(sim, account) == {front(): 2}
    (fill,) = sim.fills(account.external_id)
    tp, sl = sorted(working(sim, account), key=lambda o: o["type"])
    # Around the real fill (21,012.50, the ask), never the alert's price.
    assert fill["price"] == D("21012.50")
    assert (tp["type"], tp["action"], tp["price"], tp["qty"]) == ("Limit", "Sell", D("21022.50"), 2)
    assert (sl["type"], sl["action"], sl["stop_price"], sl["qty"]) == (
        "Stop",
        "Sell",
        D("21007.50"),
        2,
    )
    entry = Order.objects.get(signal=signal, role="entry")
    assert entry.broker_strategy_id == s["id"] and entry.cl_ord_id == s["uuid"]
    assert entry.status == "Filled" and entry.filled_qty == 2
    children = {c.role: c for c in entry.brackets.all()}
    assert set(children) == {"take_profit", "stop_loss"}
    trader.refresh_from_db()
    assert trader.expected_positions == {"MNQ": 2} and trader.last_signal_id == signal.pk
    line = StrategyLog.objects.get(trader=trader, kind="entry")
    assert "Buy 2" in line.message and "+0 → +2" in line.message


def test_requests_to_the_broker_carry_the_account_name_and_the_automated_flag(
    sim, trader, account, strategy
):
    decide(strategy, "buy")
    (entry,) = engine_orders(sim, account)
    command = next(c for c in sim.simulator.engine.commands.values() if c["orderId"] == entry.id)
    assert command["isAutomated"] is True
    assert entry.account_id == account.external_id


def test_multiplier_and_max_contracts_size_the_order(sim, trader, account, strategy):
    strategy.sizing = "signal"
    strategy.save()
    Trader.objects.filter(pk=trader.pk).update(multiplier=3, max_contracts=5)
    decide(strategy, "buy MNQ1! 2")
    (entry,) = engine_orders(sim, account)
    assert entry.qty == 5
    assert held(sim, account) == {front(): 5}


def test_an_execution_run_again_places_nothing_more(sim, trader, account, strategy):
    signal = decide(strategy, "buy")
    (ex,) = Execution.objects.filter(signal=signal)
    Execution.objects.filter(pk=ex.pk).update(status="pending")  # a redelivered message
    execution_run(execution_id=ex.pk)
    execution_run(execution_id=ex.pk)
    assert len(engine_orders(sim, account)) == 1
    assert Order.objects.filter(signal=signal).count() == 1
    assert held(sim, account) == {front(): 1}


def test_an_order_left_sending_by_a_killed_worker_is_found_at_the_broker(
    sim, trader, account, strategy
):
    signal = decide(strategy, "buy")
    # What a worker killed between the broker's answer and our UPDATE leaves behind:
    Order.objects.filter(signal=signal).update(status="Sending", broker_order_id=None)
    Execution.objects.filter(signal=signal).update(status="running")
    run_pending()
    (entry,) = engine_orders(sim, account)
    order = Order.objects.get(signal=signal)
    assert order.broker_order_id == entry.id and order.status == "Filled"
    assert held(sim, account) == {front(): 1}


def test_a_lost_answer_to_placeorder_ends_with_exactly_one_order(sim, trader, account, strategy):
    sim.fault("lost_answer", path="order/placeorder", delay=6)
    signal = decide(strategy, "buy")
    assert len(engine_orders(sim, account)) == 1
    order = Order.objects.get(signal=signal)
    assert order.broker_order_id == engine_orders(sim, account)[0].id
    assert held(sim, account) == {front(): 1}


def test_a_500_after_the_order_was_placed_ends_with_exactly_one_order(
    sim, trader, account, strategy
):
    sim.fault("status", path="order/placeorder", status=500, after=True)
    decide(strategy, "buy")
    assert len(engine_orders(sim, account)) == 1
    assert held(sim, account) == {front(): 1}


def test_an_outage_before_anything_was_placed_is_sent_once_when_it_is_over(
    sim, trader, account, strategy
):
    sim.fault("status", path="order/placeorder", status=503, count=1)
    signal = decide(strategy, "buy")
    assert len(engine_orders(sim, account)) == 1
    assert Order.objects.get(signal=signal).cl_ord_id.endswith("-r1")  # a new id for the resend
    assert held(sim, account) == {front(): 1}


def test_a_reversal_liquidates_the_old_bracket_first(sim, trader, account, strategy):
    strategy.take_profit, strategy.stop_loss = D(40), D(40)
    strategy.save()
    decide(strategy, "buy")
    sell = decide(strategy, "sell")
    assert held(sim, account) == {front(): -1}
    legs = list(Order.objects.filter(signal=sell, parent__isnull=True).order_by("id"))
    assert [(o.role, o.action) for o in legs] == [("flatten", ""), ("entry", "Sell")]
    remaining = working(sim, account)
    assert sorted((o["type"], o["action"]) for o in remaining) == [
        ("Limit", "Buy"),
        ("Stop", "Buy"),
    ]


def test_a_rejection_is_recorded_with_the_brokers_text_and_logged(sim, trader, account, strategy):
    sim.set_account(account.external_id, maxPos=1)
    strategy.quantity = 3
    strategy.save()
    signal = decide(strategy, "buy")
    order = Order.objects.get(signal=signal)
    assert order.status == "Rejected"
    assert order.reject_reason == "MaxPosLimitReached"
    assert "Max position limit" in order.text
    line = StrategyLog.objects.get(trader=trader, kind="error")
    assert "MaxPosLimitReached" in line.message and line.data["event"] == "order_failed"
    assert Execution.objects.get(signal=signal).status == "failed"
    signal.refresh_from_db()
    assert signal.status == "processed"  # every execution ended: failed is an end


def test_a_penalty_defers_the_order_and_the_retry_carries_the_ticket(
    sim, trader, account, strategy
):
    sim.fault("penalty", path="orderStrategy/startOrderStrategy", p_time=1)
    strategy.stop_loss = D(20)
    strategy.save()
    decide(strategy, "buy")
    assert held(sim, account) == {front(): 1}
    assert sim.stats()["requests"].get("tickets_honoured", 0) == 1


def test_a_captcha_pauses_the_login_and_says_so(sim, trader, account, strategy):
    sim.fault("captcha", path="order/placeorder")
    signal = decide(strategy, "buy")
    order = Order.objects.get(signal=signal)
    assert order.status == "Failed" and order.reject_reason == "CaptchaRequired"
    connection = BrokerConnection.objects.get(pk=account.connection_id)
    assert "CAPTCHA" in connection.paused_reason
    assert StrategyLog.objects.filter(data__event="trading_paused").exists()
    decide(strategy, '{"action": "buy", "id": "after-pause"}')
    assert held(sim, account) == {}  # nothing is sent until a person resumes the login


def test_a_login_the_broker_refuses_fails_the_signal_where_the_trader_sees_it(
    sim, trader, account, strategy
):
    BrokerConnection.objects.filter(pk=account.connection_id).update(
        password_encrypted=encrypt("not-the-password")
    )
    signal = decide(strategy, "buy")
    execution = Execution.objects.get(signal=signal)
    assert execution.status == "failed" and "password" in execution.reason
    line = StrategyLog.objects.get(trader=trader, kind="error")
    assert line.message.startswith("Nothing sent to the broker") and "password" in line.message
    assert held(sim, account) == {} and working(sim, account) == []
    signal.refresh_from_db()
    assert signal.status == "processed"


def test_close_with_a_refused_login_answers_409_and_says_why(sim, alice, trader, account):
    BrokerConnection.objects.filter(pk=account.connection_id).update(
        password_encrypted=encrypt("not-the-password")
    )
    client = Client()
    client.force_login(alice)
    url = reverse("api-control-center-trader-close", args=[trader.pk])
    response = client.post(url, {}, content_type="application/json")
    assert response.status_code == 409
    assert "Close failed" in response.json()["message"]
    assert "password" in response.json()["message"]


def test_a_broker_that_does_not_answer_reads_defers_the_signal_until_it_does(
    sim, trader, account, strategy
):
    sim.fault("status", path="order/list", status=503, count=3)  # every retry of one read
    signal = decide(strategy, "buy")
    assert held(sim, account) == {front(): 1}
    assert len(engine_orders(sim, account)) == 1
    line = StrategyLog.objects.get(trader=trader, kind="error")
    assert "did not answer" in line.message and re.search(r"retrying in \d+ s", line.message)
    assert Execution.objects.get(signal=signal).status == "done"


def test_a_trader_outside_its_session_skips_entries(sim, trader, account, strategy):
    from django.utils import timezone

    now = timezone.now()
    start = (now + timezone.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    end = (now + timezone.timedelta(hours=3)).time().replace(second=0, microsecond=0)
    Trader.objects.filter(pk=trader.pk).update(
        session_start=start, session_end=end, session_timezone="UTC"
    )
    decide(strategy, "buy")
    assert held(sim, account) == {}
    assert StrategyLog.objects.filter(
        trader=trader, kind="filtered", message__contains="session"
    ).exists()


def test_flatten_all_closes_every_account_of_the_user(sim, alice, bob, strategy):
    first = sim_connection(sim, alice, accounts=2)
    a1, a2 = first.accounts.all()
    bob_account = sim_connection(sim, bob).accounts.get()
    for acc in (a1, a2, bob_account):
        sim.client(acc.connection.username, "sim-pw").place_order(
            account_id=acc.external_id, symbol=front(), action="Buy", qty=1
        )
    result = manual.flatten_all(user=alice)
    assert {d["account"] for d in result["flattened"]} == {a1.name, a2.name}
    assert held(sim, a1) == held(sim, a2) == {}
    assert held(sim, bob_account) == {front(): 1}
    # One line per account flattened, no summary repeating them.
    lines = StrategyLog.objects.filter(user=alice, message__contains="Flatten All")
    assert sorted(line.message.split(" on ")[-1].split(" ")[0] for line in lines) == sorted(
        [a1.name, a2.name]
    )


def test_flatten_all_with_nothing_open_says_so(sim, alice, strategy):
    sim_connection(sim, alice)
    assert manual.flatten_all(user=alice)["flattened"] == []
    assert StrategyLog.objects.get(user=alice).message == "Flatten All: nothing was open."


def test_manual_trade_by_ticker_and_account_places_once_per_press(sim, alice, account):
    result = manual.manual_trade(
        user=alice,
        action="buy",
        quantity=2,
        symbol="MNQ1!",
        broker_account=account,
        request_id="p1",
    )
    assert result["results"][0]["status"] == "placed"
    manual.manual_trade(
        user=alice,
        action="buy",
        quantity=2,
        symbol="MNQ1!",
        broker_account=account,
        request_id="p1",
    )  # a double click
    assert held(sim, account) == {front(): 2}
    manual.manual_trade(user=alice, action="close", symbol="MNQ1!", broker_account=account)
    assert held(sim, account) == {}


def test_manual_trades_of_two_traders_never_share_an_order(sim, alice, strategy):
    connection = sim_connection(sim, alice, accounts=12)
    accounts = list(connection.accounts.order_by("id"))
    for acc in accounts:
        Trader.objects.create(user=alice, strategy=strategy, broker_account=acc, enabled=True)
    manual.manual_trade(user=alice, action="buy", quantity=1, strategy=strategy, request_id="same")
    for acc in accounts:  # trader 1's key is not a prefix that finds trader 12's order
        assert held(sim, acc) == {front(): 1}


def test_a_partial_exit_shrinks_the_bracket_to_the_position(sim, trader, account, strategy):
    strategy.sizing = "signal"
    strategy.take_profit, strategy.stop_loss = D(40), D(40)
    strategy.save()
    decide(strategy, "buy MNQ1! 3 @ 21000")
    # TradingView: sell 2 while the strategy stays long = a partial exit to +1.
    decide(
        strategy,
        '{"action": "sell", "quantity": 1, "ticker": "MNQ1!", "market_position": "long", "position_size": 1}',
    )
    assert held(sim, account) == {front(): 1}
    remaining = working(sim, account)
    assert sorted((o["type"], o["qty"]) for o in remaining) == [("Limit", 1), ("Stop", 1)]


def test_an_execution_coming_back_after_a_later_one_ran_is_superseded(
    sim, trader, account, strategy
):
    from strategies.processing import signal_process
    from traders.tests.conftest import make_signal

    first = make_signal(strategy, '{"action": "buy", "quantity": 1, "id": "early"}')
    signal_process(signal_id=first.pk)
    early = Execution.objects.get(signal=first)
    # Its first run was cut short before it sent anything; its message is still on its way
    # back (a reserved message) while the account's work goes on without it.
    Execution.objects.filter(pk=early.pk).update(status="done")
    later = decide(strategy, '{"action": "sell", "id": "later"}')
    assert held(sim, account) == {front(): -1}
    Execution.objects.filter(pk=early.pk).update(status="pending")
    execution_run(execution_id=early.pk)

    early.refresh_from_db()
    assert early.status == "skipped" and "superseded" in early.reason
    assert held(sim, account) == {front(): -1}  # what the later signal meant
    line = StrategyLog.objects.get(data__event="execution_superseded")
    assert f"Signal #{first.pk}" in line.message and later.pk


def test_a_signals_api_and_admin_show_each_traders_execution(
    sim, alice, trader, account, strategy, api_client_for
):
    other = sim_connection(sim, alice).accounts.get()
    Trader.objects.create(user=alice, strategy=strategy, broker_account=other, enabled=True)
    sim.set_account(other.external_id, maxPos=0)  # this one's broker refuses every order
    signal = decide(strategy, "buy")
    assert signal.status == "processed"  # every execution ended, one of them failed
    body = api_client_for(alice).get(f"/api/signals/{signal.pk}/").json()
    states = {e["account"]: (e["status"], e["reason"]) for e in body["executions"]}
    assert states[account.name] == ("done", "")
    assert states[other.name][0] == "failed" and "MaxPosLimitReached" in states[other.name][1]
    from django.contrib.auth import get_user_model
    from django.test import Client

    staff = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw-staff-1")
    admin = Client()
    admin.force_login(staff)
    page = admin.get(f"/admin/strategies/signal/{signal.pk}/change/").content.decode()
    assert account.name in page and other.name in page and "MaxPosLimitReached" in page
