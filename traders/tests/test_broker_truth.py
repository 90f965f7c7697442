"""Broker truth and no order nobody meant, on the simulator's own state: the roll, adopted
brackets, wrong-side and lost stops, one login's 429 and another's orders, kill switches,
switched-off strategies, deletes, break-even, daily limits, orders left in flight."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.brokers.base import BrokerOrder
from justtrades.testing.fixtures import wait_until
from recorder.models import RecordedTrade, Recorder, StrategyLog
from strategies.models import Signal, Strategy
from strategies.processing import signal_process
from traders import manual, mirror, services
from traders.execution import execution_run, executions_sweep
from traders.models import Execution, Fill, Order, Position, Trader, Turn
from traders.streaming import ConnectionMirror
from traders.tests.conftest import (
    decide,
    front,
    held,
    make_signal,
    run_pending,
    sim_connection,
    working,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROLL_DAY = datetime(2026, 12, 15, 15, 0, tzinfo=UTC)  # MNQ1! is MNQH7 by then


@pytest.fixture
def live(sim, account):
    """The broker stream's mirror of the account's login, in this process."""
    m = ConnectionMirror(account.connection).start()
    wait_until(lambda: mirror.mirror_is_fresh(account.connection), message="mirror live")
    yield m
    m.close()


def with_brackets(strategy) -> None:
    """Give the strategy a 40-point take-profit and stop-loss around every entry."""
    strategy.take_profit, strategy.stop_loss = D(40), D(40)
    strategy.save()


def decide_once(strategy, body: str) -> Signal:
    """Decide an alert and give each of its executions one run (a deferred one stays so)."""
    signal = make_signal(strategy, body)
    signal_process(signal_id=signal.pk)
    for ex in Execution.objects.filter(signal=signal).order_by("id"):
        execution_run(execution_id=ex.pk)
    return signal


def decide_at(strategy, body: str, when: datetime) -> Signal:
    signal = make_signal(strategy, body)
    Signal.objects.filter(pk=signal.pk).update(received_at=when)
    signal_process(signal_id=signal.pk)
    run_pending()
    signal.refresh_from_db()
    return signal


# --- the roll -------------------------------------------------------------------------------------


def test_an_exit_on_roll_day_closes_the_old_month_and_its_brackets(sim, trader, account, strategy):
    with_brackets(strategy)
    decide(strategy, "buy")
    assert held(sim, account) == {front(): 1} and len(working(sim, account)) == 2
    signal = decide_at(strategy, '{"action": "exit", "id": "on-roll-day"}', ROLL_DAY)
    assert signal.contract == "MNQH7"
    assert held(sim, account) == {}
    assert working(sim, account) == []


def test_an_entry_on_roll_day_closes_the_expiring_month_and_opens_the_new_one(
    sim, trader, account, strategy
):
    sim.set_price("MNQH7", "21050")
    decide(strategy, "buy")
    decide_at(strategy, '{"action": "buy", "id": "roll"}', ROLL_DAY)
    assert held(sim, account) == {"MNQH7": 2}  # no calendar spread
    assert StrategyLog.objects.filter(
        data__event="rolled", message__contains=f"Rolled {front()} → MNQH7"
    ).exists()


# --- protective legs ------------------------------------------------------------------------------


def test_a_wrong_side_stop_is_refused_by_the_broker_and_the_position_is_not_left_naked(
    sim, trader, account, strategy, live
):
    # The alert's own stop level is above the market a buy fills at: Tradovate refuses it.
    decide(strategy, '{"action": "buy", "stop_loss": {"price": 21010}, "id": "wrong-side"}')
    stop = wait_until(
        lambda: Order.objects.filter(role="stop_loss", status="Rejected").first(),
        message="the broker's refusal mirrored",
    )
    assert stop.reject_reason == "InvalidPrice"
    wait_until(lambda: Execution.objects.filter(kind="protect").exists(), message="protect")
    run_pending()
    assert held(sim, account) == {}  # the market is past that stop: flat is the safe place
    assert working(sim, account) == []
    line = StrategyLog.objects.get(data__event="protection_lost")
    assert "past it" in line.message


def test_a_stop_cancelled_at_the_broker_is_put_back_at_its_level(
    sim, trader, account, strategy, live
):
    strategy.stop_loss = D(20)
    strategy.save()
    decide(strategy, "buy")
    stop = wait_until(
        lambda: Order.objects.filter(role="stop_loss", status="Working").first(),
        message="the stop working",
    )
    sim.client(account.connection.username, "sim-pw").cancel(stop.broker_order_id)
    wait_until(lambda: Execution.objects.filter(kind="protect").exists(), message="protect")
    run_pending()
    (back,) = [o for o in working(sim, account) if o["type"] == "Stop"]
    assert back["stop_price"] == stop.stop_price and back["qty"] == 1
    assert held(sim, account) == {front(): 1}
    assert StrategyLog.objects.filter(data__event="protection_replaced").exists()


def test_an_adopted_orders_brackets_are_found_and_cancelled_by_the_next_exit(
    sim, trader, account, strategy, live
):
    with_brackets(strategy)
    sim.fault("lost_answer", path="orderStrategy/startOrderStrategy", delay=6)
    signal = decide(strategy, "buy")
    entry = Order.objects.get(signal=signal, role="entry")
    assert entry.broker_strategy_id  # adopted from the broker's own report
    assert sorted(c.role for c in entry.brackets.all()) == ["stop_loss", "take_profit"]
    decide(strategy, "exit")
    assert held(sim, account) == {} and working(sim, account) == []


# --- logins do not wait on each other ---------------------------------------------------------


def test_a_429_on_one_login_does_not_delay_another(sim, alice):
    first = sim_connection(sim, alice).accounts.get()
    second = sim_connection(sim, alice).accounts.get()
    strategy = Strategy.objects.create(user=alice, name="Two logins", quantity=1, sizing="fixed")
    for acc in (first, second):
        Trader.objects.create(user=alice, strategy=strategy, broker_account=acc, enabled=True)
    sim.fault("status", path="order/placeorder", status=429, retry_after="60", count=1)
    started = timezone.now()
    signal = decide_once(strategy, "buy")
    late, prompt = (
        Execution.objects.get(signal=signal, broker_account=first),
        Execution.objects.get(signal=signal, broker_account=second),
    )
    if late.status == "done":  # whichever login happened to meet the 429 first
        late, prompt = prompt, late
    assert prompt.status == "done" and (prompt.finished_at - started).total_seconds() < 3
    assert late.status == "pending" and late.not_before > timezone.now()


# --- a stop is a stop -----------------------------------------------------------------------------


def test_a_429_on_a_reversals_opening_leg_then_flatten_all_sends_nothing_more(
    sim, alice, trader, account, strategy
):
    decide(strategy, "buy")
    sim.fault("status", path="order/placeorder", status=429, retry_after="30", count=1)
    decide_once(strategy, "sell")  # closes, then the opening Sell meets the 429 and waits
    assert held(sim, account) == {}
    placed = len(sim.fills(account.external_id))
    manual.flatten_all(user=alice, disable_traders=True)
    # The 429's wait is over: whatever was waiting would be sent now.
    Order.objects.update(not_before=None)
    Execution.objects.update(not_before=None)
    run_pending()
    assert held(sim, account) == {} and working(sim, account) == []
    assert len(sim.fills(account.external_id)) == placed  # nothing reached the broker after
    assert Order.objects.filter(action="Sell", role="entry", status="Skipped").exists()


def test_an_exit_alert_on_a_switched_off_strategy_closes_the_position(
    sim, trader, account, strategy
):
    decide(strategy, "buy")
    strategy.enabled = False
    strategy.save()
    decide(strategy, '{"action": "buy", "id": "refused"}')
    assert held(sim, account) == {front(): 1}  # entries refused
    decide(strategy, "exit")
    assert held(sim, account) == {}


def test_an_exit_alert_closes_a_switched_off_traders_position(sim, trader, account, strategy):
    decide(strategy, "buy")
    services.trader_toggle(trader=trader, enabled=False, if_holding=services.KEEP)
    decide(strategy, "close")
    assert held(sim, account) == {}


def test_switching_off_a_trader_that_holds_asks_first_then_keeps_or_flattens(
    sim, trader, account, strategy, api_client_for, alice
):
    with_brackets(strategy)
    decide(strategy, "buy")
    api = api_client_for(alice)
    toggle = f"/api/traders/{trader.pk}/toggle/"
    refused = api.post(toggle, {"enabled": False}, format="json")
    assert refused.status_code == 409
    assert refused.json()["extra"]["code"] == "holds_position"
    assert f"+1 {front()}" in refused.json()["message"]
    assert Trader.objects.get(pk=trader.pk).enabled  # nothing changed
    kept = api.post(toggle, {"enabled": False, "if_holding": "keep"}, format="json")
    assert kept.status_code == 200 and kept.json()["enabled"] is False
    assert held(sim, account) == {front(): 1} and len(working(sim, account)) == 2
    decide(strategy, '{"action": "buy", "id": "while-off"}')
    assert held(sim, account) == {front(): 1}  # entries refused, the position kept
    assert api.post(toggle, {"enabled": True}, format="json").status_code == 200
    closed = api.post(toggle, {"enabled": False, "if_holding": "flatten"}, format="json")
    assert closed.status_code == 200 and closed.json()["enabled"] is False
    run_pending()
    assert held(sim, account) == {} and working(sim, account) == []
    # Flat now: switching on and off again needs no choice.
    assert api.post(toggle, {"enabled": True}, format="json").status_code == 200
    assert api.post(toggle, {"enabled": False}, format="json").status_code == 200


def test_switching_off_a_strategy_whose_trader_holds_asks_first(
    sim, trader, account, strategy, api_client_for, alice
):
    decide(strategy, "buy")
    api = api_client_for(alice)
    url = f"/api/strategies/{strategy.pk}/"
    refused = api.patch(url, {"enabled": False}, format="json")
    assert refused.status_code == 409
    assert f"+1 {front()}" in refused.json()["message"]
    assert Strategy.objects.get(pk=strategy.pk).enabled
    closed = api.patch(url, {"enabled": False, "if_holding": "flatten"}, format="json")
    assert closed.status_code == 200 and closed.json()["enabled"] is False
    run_pending()
    assert held(sim, account) == {} and working(sim, account) == []


def test_the_trader_form_asks_what_to_do_with_a_position_when_switching_off(
    sim, trader, account, strategy, client, alice
):
    decide(strategy, "buy")
    client.force_login(alice)
    form = {
        "strategy": strategy.pk,
        "broker_account": account.pk,
        "multiplier": 1,
        "max_contracts": 10,
        "take_profit_override_unit": "ticks",
        "stop_loss_override_unit": "ticks",
        "session_timezone": "America/New_York",
    }
    page = client.post(f"/traders/{trader.pk}/edit/", form)
    assert page.status_code == 200  # the form again, with the question
    assert f"+1 {front()}" in page.content.decode()
    assert Trader.objects.get(pk=trader.pk).enabled
    saved = client.post(f"/traders/{trader.pk}/edit/", {**form, "if_holding": "keep"})
    assert saved.status_code == 302
    assert not Trader.objects.get(pk=trader.pk).enabled
    assert held(sim, account) == {front(): 1}


def test_deleting_a_trader_that_holds_a_position_is_refused_until_flattened(
    sim, trader, account, strategy, api_client_for, alice
):
    decide(strategy, "buy")
    api = api_client_for(alice)
    refused = api.delete(f"/api/traders/{trader.pk}/")
    assert refused.status_code == 409
    assert f"+1 {front()}" in refused.json()["message"]
    assert Trader.objects.filter(pk=trader.pk).exists()
    done = api.delete(f"/api/traders/{trader.pk}/?flatten=true")
    assert done.status_code == 204
    run_pending()
    assert held(sim, account) == {} and working(sim, account) == []
    assert not Trader.objects.filter(pk=trader.pk).exists()


def test_deleting_a_strategy_whose_trader_holds_is_refused_until_flattened(
    sim, trader, account, strategy, api_client_for, alice
):
    with_brackets(strategy)
    decide(strategy, "buy")
    api = api_client_for(alice)
    refused = api.delete(f"/api/strategies/{strategy.pk}/")
    assert refused.status_code == 409
    assert f"+1 {front()}" in refused.json()["message"]
    assert Strategy.objects.filter(pk=strategy.pk).exists()
    assert held(sim, account) == {front(): 1} and len(working(sim, account)) == 2
    done = api.delete(f"/api/strategies/{strategy.pk}/?flatten=true")
    assert done.status_code == 204
    assert not Strategy.objects.filter(pk=strategy.pk).exists()
    run_pending()  # the flatten outlives the strategy and its trader
    assert held(sim, account) == {} and working(sim, account) == []


def test_archiving_a_connection_is_refused_while_a_switched_off_trader_holds(
    sim, trader, account, strategy, api_client_for, alice
):
    decide(strategy, "buy")
    services.trader_toggle(trader=trader, enabled=False, if_holding=services.KEEP)
    api = api_client_for(alice)
    refused = api.delete(f"/api/accounts/{account.connection.pk}/?archive=true")
    assert refused.status_code == 409
    assert f"+1 {front()}" in refused.json()["message"]
    account.connection.refresh_from_db()
    assert account.connection.archived_at is None
    assert held(sim, account) == {front(): 1}  # still watched, still the trader's to close


def test_an_order_left_sending_is_settled_by_the_sweeper_exactly_once(
    sim, trader, account, strategy
):
    signal = decide(strategy, "buy")
    # A worker died right after the broker took the order: its row says Sending, its turn's
    # lease has run out, and no message will ever come back for it.
    Order.objects.filter(signal=signal).update(status="Sending", broker_order_id=None)
    Execution.objects.filter(signal=signal).update(status="running")
    Turn.objects.update(holder="dead-worker", lease_until=timezone.now())
    assert executions_sweep(stale_after=0) == 1
    (ex,) = Execution.objects.filter(signal=signal)
    execution_run(execution_id=ex.pk)
    assert len(sim.fills(account.external_id)) == 1  # found at the broker, never resent
    assert Order.objects.get(signal=signal).status == "Filled"


# --- live exits as the record shows them ----------------------------------------------------------


def _break_even_trader(sim, alice, strategy):
    """A trader of ``strategy`` on a demo account; the strategy's stop 20 ticks (5 points) under
    the entry, moved to the entry once the market is 12 ticks (3 points) above it."""
    account = sim_connection(sim, alice, kind="tradovate_demo").accounts.get()
    Trader.objects.create(user=alice, strategy=strategy, broker_account=account, enabled=True)
    strategy.stop_loss, strategy.break_even_trigger = D(20), D(12)  # ticks
    strategy.save()
    return account


def test_break_even_moves_the_live_stop_and_the_record_exits_at_the_brokers_fill(
    sim, alice, strategy
):
    account = _break_even_trader(sim, alice, strategy)
    Recorder.objects.create(user=alice, strategy=strategy, fill_mode="next_quote")
    m = ConnectionMirror(account.connection).start()
    try:
        wait_until(lambda: mirror.mirror_is_fresh(account.connection))
        sim.set_price(front(), "21000.00")
        decide(strategy, "buy")
        entry_fill = sim.fills(account.external_id)[0]["price"]
        path = ["21001.00", "21003.50", "21002.00", "21000.25"]  # +3.25 pts: trigger reached
        from recorder.ledger import Quote
        from recorder.services import recorder_apply_quote

        for price in path:
            sim.set_price(front(), price)
            quote = sim.quote(front())["entries"]
            recorder_apply_quote(
                symbol=front(),
                quote=Quote(
                    at=timezone.now(),
                    bid=D(str(quote["Bid"]["price"])),
                    ask=D(str(quote["Offer"]["price"])),
                    last=D(str(quote["Trade"]["price"])),
                ),
            )
            if price == "21003.50":
                wait_until(
                    lambda: any(
                        o["stop_price"] == D(str(entry_fill)).quantize(D("0.25"))
                        for o in working(sim, account)
                    ),
                    message="the live stop moved to the entry",
                )
        wait_until(lambda: held(sim, account) == {}, message="the break-even stop filled")
    finally:
        m.close()
    exit_fill = sim.fills(account.external_id)[-1]
    (trade,) = RecordedTrade.objects.filter(recorder__strategy=strategy)
    assert trade.exit_reason == "break_even"
    assert trade.exit_price == D(str(exit_fill["price"]))
    assert StrategyLog.objects.filter(data__event="break_even_moved").exists()


def test_a_break_even_trigger_touched_within_one_burst_of_quotes_still_moves_the_stop(
    sim, alice, strategy
):
    """The stream applies a burst of quotes as its latest; the market went to the trigger and
    came back inside it: the stop still goes to the entry, as if every quote had been seen."""
    from accounts.brokers.base import BrokerEvent, Quote
    from accounts.brokers.factory import broker_for
    from traders import exits_live
    from traders.streaming import latest_quotes_only

    account = _break_even_trader(sim, alice, strategy)
    m = ConnectionMirror(account.connection).start()
    try:
        wait_until(lambda: mirror.mirror_is_fresh(account.connection))
        sim.set_price(front(), "21000.00")
        decide(strategy, "buy")
        entry = D(str(sim.fills(account.external_id)[0]["price"])).quantize(D("0.25"))
        wait_until(lambda: Order.objects.filter(role="stop_loss", status="Working").exists())
    finally:
        m.close()

    def quote(price):
        p = entry + D(price)
        return BrokerEvent(kind="quote", obj=Quote(front(), 1, p, p + D("0.25"), p))

    burst = latest_quotes_only([quote("1.00"), quote("3.50"), quote("2.00"), quote("1.00")])
    sim.set_price(front(), str(entry + 1))  # where the burst left the market
    (latest,) = burst
    assert latest.obj.bid == entry + 1 and latest.obj.high_bid == entry + D("3.50")
    exits_live.manage_stops(
        accounts=[account], symbol=front(), quote=latest.obj, broker=broker_for(account.connection)
    )
    stops = [o for o in working(sim, account) if o.get("stop_price") is not None]
    assert [o["stop_price"] for o in stops] == [entry]  # at the entry, not 5 points under it
    assert held(sim, account) == {front(): 1}


# --- daily limits -----------------------------------------------------------------------------


def test_a_daily_limit_is_judged_on_one_snapshot_and_never_trips_on_stale_figures(
    sim, trader, account, strategy
):
    Trader.objects.filter(pk=trader.pk).update(daily_loss_limit=D("800"))
    # The stream said the open P&L was -$500 a moment ago; now the stop filled at -$520 and
    # the position is flat: -$520 on the day, nowhere near -$800.
    mirror.account_cash_record(account=account, realized=D("-520"), balance=None)
    trader.refresh_from_db()
    Trader.objects.filter(pk=trader.pk).update(open_pnl=D("-500"))
    assert services.account_risk_evaluate(account=account) == 0
    trader.refresh_from_db()
    assert trader.today_pnl == D("-520.00") and trader.disabled_until is None


def test_a_daily_loss_limit_confirmed_by_the_broker_flattens_and_stops_the_trader(
    sim, trader, account, strategy, live
):
    Trader.objects.filter(pk=trader.pk).update(daily_loss_limit=D("10"))
    strategy.quantity = 2
    strategy.save()
    decide(strategy, "buy")
    sim.set_price(front(), "20990.00")  # 10 points × $2 × 2 contracts ≈ -$40
    wait_until(  # the stream's quote marks the position
        lambda: Position.objects.filter(broker_account=account, last_price=D("20990.00")).exists(),
        message="the position marked at the new price",
    )
    wait_until(
        lambda: (
            Trader.objects.get(pk=trader.pk).disabled_until is not None
            or services.account_risk_evaluate(account=account) == 1
        ),
        message="the limit tripped",
    )
    run_pending()
    assert held(sim, account) == {}
    trader.refresh_from_db()
    assert "Daily loss limit of $10.00 reached" in trader.disabled_reason
    assert StrategyLog.objects.filter(data__event="daily_loss_limit").exists()
    decide(strategy, '{"action": "buy", "id": "after-the-limit"}')
    assert held(sim, account) == {}  # no new entry for the rest of the day
    assert services.account_risk_evaluate(account=account) == 0  # tripped once


def test_a_daily_limit_that_cannot_be_checked_is_visible_not_silent(sim, trader, account, strategy):
    Trader.objects.filter(pk=trader.pk).update(daily_loss_limit=D("10"))
    mirror.account_cash_record(account=account, realized=D("-50"), balance=None)
    sim.fault("status", path="cashBalance/getcashbalancesnapshot", status=503, count=-1)
    assert services.account_risk_evaluate(account=account) == 0
    trader.refresh_from_db()
    assert "could not be checked" in trader.risk_error
    assert StrategyLog.objects.filter(data__event="risk_unavailable").exists()


def test_a_broker_order_mirrored_before_its_placement_answer_is_one_row(
    sim, trader, account, strategy
):
    """The stream may tell of an order before the placement answer names it: our row takes
    the broker's id and the mirrored row folds into it, its fills and status with it."""
    decide(strategy, "buy")
    ours = Order.objects.get(role="entry")
    broker_id = ours.broker_order_id
    Order.objects.filter(pk=ours.pk).update(broker_order_id=None, status="PendingNew")
    twin = mirror.order_record_unknown(
        account=account,
        broker_order=BrokerOrder(
            id=broker_id, account_id=account.external_id, contract_id=0, symbol=front(),
            action="Buy", status="Filled", qty=1, filled_qty=1,
        ),
    )  # fmt: skip
    Fill.objects.filter(order=ours).update(order=twin)

    mirror.order_take_broker_id(order=ours, broker_order_id=broker_id)

    rows = Order.objects.filter(broker_account=account, broker_order_id=broker_id)
    assert list(rows.values_list("pk", flat=True)) == [ours.pk]
    ours.refresh_from_db()
    assert (ours.status, ours.filled_qty) == ("Filled", 1)
    assert Fill.objects.filter(order=ours).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():  # a second row is refused
        Order.objects.create(
            user=account.connection.user, broker_account=account, broker_order_id=broker_id,
            role="manual", action="Buy", symbol=front(), quantity=1,
        )  # fmt: skip
