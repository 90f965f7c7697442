"""Signals executed against the Tradovate simulator over real HTTP."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.utils import timezone

from recorder.models import StrategyLog
from traders import execution, services
from traders.execution import trader_execute_signal
from traders.models import Order, Position, Trader
from traders.risk import trading_day
from traders.tests.conftest import front, make_signal, sim_connection

pytestmark = pytest.mark.django_db


def engine_orders(sim, account):
    return sorted(
        (o for o in sim.simulator.engine.orders.values() if o.account_id == account.external_id),
        key=lambda o: o.id,
    )


def broker_position(sim, account, symbol=None):
    symbol = symbol or front()
    client = sim.client(account.connection.username, "sim-pw")
    return sum(p.net_pos for p in client.positions(account.external_id) if p.symbol == symbol)


def command_for(sim, order_id):
    return next(
        c
        for c in sim.simulator.engine.commands.values()
        if c["orderId"] == order_id and c["commandType"] == "New"
    )


def test_one_signal_places_the_exact_tradovate_order_with_its_bracket(
    sim, trader, account, strategy
):
    strategy.quantity = 2
    strategy.take_profit, strategy.take_profit_unit = D(40), "ticks"
    strategy.stop_loss, strategy.stop_loss_unit = D(5), "points"
    strategy.save()
    signal = make_signal(strategy, '{"action": "buy", "ticker": "MNQ1!", "price": 21000.25}')

    assert trader_execute_signal(trader_id=trader.pk, signal_id=signal.pk) == "ok"

    entry, tp, sl = engine_orders(sim, account)
    assert (entry.account_id, entry.action, entry.qty, entry.order_type) == (
        account.external_id,
        "Buy",
        2,
        "Market",
    )
    assert sim.simulator.engine.contract(entry.contract_id)[1].name == front()
    assert command_for(sim, entry.id)["isAutomated"] is True
    assert (tp.action, tp.order_type, tp.price, tp.qty) == ("Sell", "Limit", D("21010.25"), 2)
    assert (sl.action, sl.order_type, sl.stop_price, sl.qty) == ("Sell", "Stop", D("20995.25"), 2)
    assert tp.parent_id == sl.parent_id == entry.id and tp.oco_id == sl.oco_id is not None
    assert broker_position(sim, account) == 2

    rows = {o.role: o for o in Order.objects.filter(signal=signal)}
    assert rows["entry"].broker_order_id == entry.id and rows["entry"].accepted_at
    # The mirror (stream or re-sync) brings the fill, the position and the order's final state.
    services.connection_resync(connection=account.connection)
    rows = {o.role: o for o in Order.objects.filter(signal=signal)}
    assert rows["entry"].status == "Filled" and rows["entry"].filled_qty == 2
    assert rows["entry"].fill_set.get().price == D("21000.25")  # the ask
    assert Position.objects.get(broker_account=account, symbol=front()).net_pos == 2
    assert rows["entry"].cl_ord_id == entry.cl_ord_id
    assert rows["take_profit"].broker_order_id == tp.id
    assert rows["stop_loss"].broker_order_id == sl.id
    trader.refresh_from_db()
    assert trader.expected_positions == {front(): 2}
    assert trader.last_signal_id == signal.pk
    line = StrategyLog.objects.get(trader=trader, kind="entry")
    assert (
        "Buy 2" in line.message and "TP 21010.25" in line.message and "SL 20995.25" in line.message
    )


def test_multiplier_and_max_contracts_size_the_order(sim, trader, account, strategy):
    strategy.sizing = "signal"
    strategy.save()
    Trader.objects.filter(pk=trader.pk).update(multiplier=3, max_contracts=5)
    signal = make_signal(strategy, "buy MNQ1! 2")
    trader_execute_signal(trader_id=trader.pk, signal_id=signal.pk)
    (entry,) = engine_orders(sim, account)
    assert entry.qty == 5
    assert broker_position(sim, account) == 5


def test_the_same_task_run_again_places_nothing_more(sim, trader, account, strategy):
    signal = make_signal(strategy, "buy")
    trader_execute_signal(trader_id=trader.pk, signal_id=signal.pk)
    trader_execute_signal(trader_id=trader.pk, signal_id=signal.pk)
    trader_execute_signal(trader_id=trader.pk, signal_id=signal.pk, redelivered=True)
    assert len(engine_orders(sim, account)) == 1
    assert Order.objects.filter(signal=signal).count() == 1
    assert broker_position(sim, account) == 1


def test_a_worker_killed_after_placing_is_resolved_by_asking_the_broker(
    sim, trader, account, strategy
):
    signal = make_signal(strategy, "buy")
    trader_execute_signal(trader_id=trader.pk, signal_id=signal.pk)
    # What a worker killed between the broker's answer and our UPDATE leaves behind:
    Order.objects.filter(signal=signal).update(
        status="Sending", broker_order_id=None, accepted_at=None
    )
    trader_execute_signal(trader_id=trader.pk, signal_id=signal.pk, redelivered=True)
    (entry,) = engine_orders(sim, account)
    order = Order.objects.get(signal=signal)
    assert order.broker_order_id == entry.id and order.status in ("Filled", "Working")
    assert broker_position(sim, account) == 1


def test_an_opposite_signal_reverses(sim, trader, account, strategy):
    trader_execute_signal(trader_id=trader.pk, signal_id=make_signal(strategy, "buy 1").pk)
    strategy.quantity = 2
    strategy.save()
    sell = make_signal(strategy, "sell")
    trader_execute_signal(trader_id=trader.pk, signal_id=sell.pk)
    assert broker_position(sim, account) == -2
    legs = list(Order.objects.filter(signal=sell, parent__isnull=True).order_by("id"))
    # No bracket working: the long is closed by one order, then the short opened by another.
    assert [(o.role, o.action, o.quantity) for o in legs] == [
        ("exit", "Sell", 1),
        ("entry", "Sell", 2),
    ]
    assert all(o.broker_order_id for o in legs)
    trader.refresh_from_db()
    assert trader.expected_positions == {front(): -2}
    assert StrategyLog.objects.filter(
        trader=trader, kind="exit", message__contains="+1 → -2 "
    ).exists()


def test_a_reversal_liquidates_the_old_bracket_first(sim, trader, account, strategy):
    strategy.take_profit, strategy.stop_loss = D(40), D(40)
    strategy.save()
    trader_execute_signal(
        trader_id=trader.pk, signal_id=make_signal(strategy, "buy MNQ1! 1 @ 21000").pk
    )
    sell = make_signal(strategy, "sell MNQ1! 1 @ 21000")
    trader_execute_signal(trader_id=trader.pk, signal_id=sell.pk)
    assert broker_position(sim, account) == -1
    legs = list(Order.objects.filter(signal=sell, parent__isnull=True).order_by("id"))
    assert [(o.role, o.status) for o in legs][0] == ("flatten", "Completed")
    working = [o for o in engine_orders(sim, account) if o.working]
    # Only the new short's bracket is left: a Buy limit below, a Buy stop above.
    assert sorted((o.action, o.order_type) for o in working) == [("Buy", "Limit"), ("Buy", "Stop")]


def test_an_opposite_signal_only_closes_when_the_strategy_says_so(sim, trader, account, strategy):
    strategy.opposite_signal = "close_only"
    strategy.save()
    trader_execute_signal(trader_id=trader.pk, signal_id=make_signal(strategy, "buy").pk)
    trader_execute_signal(trader_id=trader.pk, signal_id=make_signal(strategy, "sell").pk)
    assert broker_position(sim, account) == 0


def test_exit_closes_and_cancels_the_bracket(sim, trader, account, strategy):
    strategy.take_profit, strategy.stop_loss = D(40), D(40)
    strategy.save()
    trader_execute_signal(
        trader_id=trader.pk, signal_id=make_signal(strategy, "buy MNQ1! 1 @ 21000").pk
    )
    trader_execute_signal(trader_id=trader.pk, signal_id=make_signal(strategy, "exit").pk)
    assert broker_position(sim, account) == 0
    assert not [o for o in engine_orders(sim, account) if o.working]


def test_a_rejection_is_recorded_with_the_brokers_text_and_logged(sim, trader, account, strategy):
    sim.set_account(account.external_id, maxPos=1)
    strategy.quantity = 3
    strategy.save()
    signal = make_signal(strategy, "buy")
    assert trader_execute_signal(trader_id=trader.pk, signal_id=signal.pk) == "failed"
    order = Order.objects.get(signal=signal)
    assert order.status == "Rejected"
    assert order.reject_reason == "MaxPosLimitReached"
    assert "Max position limit" in order.text
    line = StrategyLog.objects.get(trader=trader, kind="error")
    assert "MaxPosLimitReached" in line.message and "Max position limit" in line.message
    trader.refresh_from_db()
    assert trader.expected_positions == {front(): 0}


def test_a_broker_outage_is_retried_and_places_once(sim, trader, account, strategy):
    sim.fault("status", path="order/placeorder", count=-1, status=503)
    signal = make_signal(strategy, "buy")
    with pytest.raises(execution.RetryLater):
        trader_execute_signal(trader_id=trader.pk, signal_id=signal.pk)
    assert Order.objects.get(signal=signal).status == "Planned"
    sim.clear_faults()
    assert trader_execute_signal(trader_id=trader.pk, signal_id=signal.pk) == "ok"
    assert len(engine_orders(sim, account)) == 1
    assert broker_position(sim, account) == 1


def test_a_broker_outage_on_the_last_attempt_is_a_visible_failure(sim, trader, account, strategy):
    sim.fault("status", path="order/placeorder", count=-1, status=503)
    signal = make_signal(strategy, "buy")
    assert trader_execute_signal(trader_id=trader.pk, signal_id=signal.pk, final=True) == "failed"
    assert Order.objects.get(signal=signal).status == "Failed"
    assert StrategyLog.objects.filter(
        trader=trader, kind="error", message__contains="not placed"
    ).exists()


def test_a_captcha_penalty_is_shown_not_retried(sim, trader, account, strategy):
    sim.fault("captcha", path="order/placeorder")
    signal = make_signal(strategy, "buy")
    assert trader_execute_signal(trader_id=trader.pk, signal_id=signal.pk) == "failed"
    order = Order.objects.get(signal=signal)
    assert order.status == "Failed" and order.reject_reason == "CaptchaRequired"
    assert StrategyLog.objects.filter(trader=trader, kind="error").exists()


def test_the_daily_loss_limit_flattens_and_disables_the_trader(sim, trader, account, strategy):
    Trader.objects.filter(pk=trader.pk).update(daily_loss_limit=D("10"))
    strategy.quantity = 2
    strategy.save()
    trader_execute_signal(trader_id=trader.pk, signal_id=make_signal(strategy, "buy").pk)
    assert broker_position(sim, account) == 2
    sim.set_price(front(), "20990.00")  # 10 points × $2 × 2 contracts ≈ -$40

    assert services.traders_check_risk() == 1

    assert broker_position(sim, account) == 0
    trader.refresh_from_db()
    assert trader.disabled_until == trading_day(timezone.now())
    assert "Daily loss limit of $10.00 reached" in trader.disabled_reason
    assert StrategyLog.objects.filter(
        trader=trader, kind="risk", message__contains="flattened"
    ).exists()
    # The next entry is skipped for the rest of the day, and the limit trips only once.
    trader_execute_signal(trader_id=trader.pk, signal_id=make_signal(strategy, "buy").pk)
    assert broker_position(sim, account) == 0
    assert StrategyLog.objects.filter(trader=trader, kind="filtered").exists()
    assert services.traders_check_risk() == 0


def test_a_trader_outside_its_session_skips_entries(sim, trader, account, strategy):
    now = timezone.now()
    start = (now + timezone.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    end = (now + timezone.timedelta(hours=3)).time().replace(second=0, microsecond=0)
    Trader.objects.filter(pk=trader.pk).update(
        session_start=start, session_end=end, session_timezone="UTC"
    )
    trader_execute_signal(trader_id=trader.pk, signal_id=make_signal(strategy, "buy").pk)
    assert broker_position(sim, account) == 0
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
    result = execution.flatten_all(user=alice)
    assert {d["account"] for d in result["flattened"]} == {a1.name, a2.name}
    assert broker_position(sim, a1) == broker_position(sim, a2) == 0
    assert broker_position(sim, bob_account) == 1
    assert StrategyLog.objects.filter(user=alice, message__startswith="Flatten All").exists()


def test_manual_trade_by_ticker_and_account(sim, alice, account):
    result = execution.manual_trade(
        user=alice,
        action="buy",
        quantity=2,
        symbol="MNQ1!",
        broker_account=account,
        request_id="press-1",
    )
    assert result["results"][0]["order_id"]
    execution.manual_trade(
        user=alice,
        action="buy",
        quantity=2,
        symbol="MNQ1!",
        broker_account=account,
        request_id="press-1",
    )  # a double click
    assert broker_position(sim, account) == 2
    execution.manual_trade(user=alice, action="close", symbol="MNQ1!", broker_account=account)
    assert broker_position(sim, account) == 0


def test_a_partial_exit_shrinks_the_bracket_to_the_position(sim, trader, account, strategy):
    strategy.sizing = "signal"
    strategy.take_profit, strategy.stop_loss = D(40), D(40)
    strategy.save()
    trader_execute_signal(
        trader_id=trader.pk, signal_id=make_signal(strategy, "buy MNQ1! 3 @ 21000").pk
    )
    # TradingView: sell 2 while the strategy stays long = a partial exit.
    partial = make_signal(
        strategy, '{"action": "sell", "quantity": 2, "ticker": "MNQ1!", "market_position": "long"}'
    )
    trader_execute_signal(trader_id=trader.pk, signal_id=partial.pk)
    assert broker_position(sim, account) == 1
    working = [o for o in engine_orders(sim, account) if o.working]
    assert sorted((o.order_type, o.qty) for o in working) == [("Limit", 1), ("Stop", 1)]
