"""A recorder that follows a demo account on our Tradovate simulator, over real HTTP."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.core.management import call_command

from accounts.brokers.factory import broker_for
from justtrades.testing.fixtures import wait_until
from recorder import services
from recorder.models import RecordedFill, RecordedTrade, Recorder, StrategyLog
from recorder.tests.helpers import front, make_strategy

pytestmark = pytest.mark.django_db

MNQ = front("MNQ1!")
ES = front("ES1!")


@pytest.fixture
def followed(tradovate_sim, alice):
    """Alice's paper account, a broker on it, and a recorder following it."""
    connection = tradovate_sim.connect(alice)
    account = connection.accounts.order_by("id").first()
    strategy = make_strategy(alice, default_symbol="MNQ1!")
    recorder = services.recorder_update(
        recorder=strategy.recorder, source=Recorder.Source.ACCOUNT, broker_account=account
    )
    return recorder, account, broker_for(connection)


def trade(broker, account, symbol, action, qty):
    placed = broker.place_order(
        account_id=account.external_id, symbol=symbol, action=action, qty=qty
    )
    wait_until(
        lambda: broker.order(placed.order_id).status == "Filled",
        timeout=10,
        message=f"order {placed.order_id} filled",
    )
    return placed


def test_it_records_the_same_trades_as_the_simulators_fills(tradovate_sim, followed):
    recorder, account, broker = followed
    tradovate_sim.set_price(MNQ, "21000.00")
    trade(broker, account, MNQ, "Buy", 2)
    tradovate_sim.set_price(MNQ, "21010.00")
    trade(broker, account, MNQ, "Sell", 1)
    tradovate_sim.set_price(MNQ, "20995.50")
    trade(broker, account, MNQ, "Sell", 3)  # closes the last long, opens short 2
    tradovate_sim.set_price(MNQ, "20990.00")
    trade(broker, account, MNQ, "Buy", 2)

    result = services.recorder_poll_account(recorder=recorder)
    fills = sorted(broker.fills(account.external_id), key=lambda f: f.id)
    assert result.fills == len(fills) == 4
    f1, f2, f3, f4 = fills
    trades = list(RecordedTrade.objects.filter(recorder=recorder).order_by("exit_time", "id"))
    # Pair the simulator's own fills by hand: long 2 @ f1, out 1 @ f2, out 1 @ f3, short 2 @ f3,
    # covered @ f4. MNQ is $2 a point.
    assert [(t.side, t.quantity) for t in trades] == [("long", 1), ("long", 1), ("short", 2)]
    assert [t.entry_price for t in trades] == [f1.price, f1.price, f3.price]
    assert [t.exit_price for t in trades] == [f2.price, f3.price, f4.price]
    assert trades[0].pnl == (f2.price - f1.price) * 2
    assert trades[1].pnl == (f3.price - f1.price) * 2
    assert trades[2].pnl == (f3.price - f4.price) * 2 * 2
    # … and the simulator's own realized P&L agrees to the cent.
    assert sum(t.pnl for t in trades) == broker.cash(account.external_id).realized_pnl
    assert all(t.exit_reason == "account" for t in trades)

    # Polling again records nothing twice.
    again = services.recorder_poll_account(recorder=recorder)
    assert again.fills == 0 and not again.trades
    assert RecordedFill.objects.filter(recorder=recorder).count() == 4
    assert recorder.positions.get(symbol=MNQ).net_pos == 0


def test_a_bracket_target_is_recorded_as_a_target(tradovate_sim, followed):
    recorder, account, broker = followed
    tradovate_sim.set_price(MNQ, "21000.00")
    broker.place_bracket(
        account_id=account.external_id,
        symbol=MNQ,
        action="Buy",
        qty=1,
        take_profit=D("21005.00"),
        stop_loss=D("20990.00"),
    )
    tradovate_sim.set_price(MNQ, "21006.00")
    services.recorder_poll_account(recorder=recorder)
    [t] = RecordedTrade.objects.filter(recorder=recorder)
    assert t.exit_reason == "target"
    fills = sorted(broker.fills(account.external_id), key=lambda f: f.id)
    assert t.pnl == (fills[-1].price - fills[0].price) * 2


def test_fills_outside_the_window_or_product_are_not_attributed(tradovate_sim, followed):
    recorder, account, broker = followed
    tradovate_sim.set_price(ES, "6000.00")
    trade(broker, account, ES, "Buy", 1)  # another product
    services.recorder_poll_account(recorder=recorder)
    assert not RecordedFill.objects.filter(recorder=recorder).exists()

    services.recorder_stop(recorder=recorder)
    tradovate_sim.set_price(MNQ, "21000.00")
    trade(broker, account, MNQ, "Buy", 1)  # while stopped
    assert services.recorder_poll_account(recorder=recorder).fills == 0
    assert not RecordedFill.objects.filter(recorder=recorder).exists()

    services.recorder_start(recorder=recorder)  # a new window: the earlier buy is not ours
    result = services.recorder_poll_account(recorder=recorder)
    assert result.fills == 0
    # The account holds a position the recorder does not: shown as drift, once.
    assert StrategyLog.objects.filter(strategy=recorder.strategy, kind="drift").count() == 1
    services.recorder_poll_account(recorder=recorder)
    assert StrategyLog.objects.filter(strategy=recorder.strategy, kind="drift").count() == 1


def test_poll_recorders_command_polls_every_running_account_recorder(tradovate_sim, followed):
    recorder, account, broker = followed
    tradovate_sim.set_price(MNQ, "21000.00")
    trade(broker, account, MNQ, "Buy", 1)
    tradovate_sim.set_price(MNQ, "21004.00")
    trade(broker, account, MNQ, "Sell", 1)
    call_command("poll_recorders")
    [t] = RecordedTrade.objects.filter(recorder=recorder)
    assert t.quantity == 1 and t.side == "long"
    recorder.refresh_from_db()
    assert recorder.last_polled_at is not None


def test_an_unreachable_broker_is_a_visible_error_not_a_crash(tradovate_sim, followed):
    recorder, account, broker = followed
    tradovate_sim.fault("status", path="fill/list", status=500, count=-1)
    result = services.recorder_poll_account(recorder=recorder)
    assert result.error
    recorder.refresh_from_db()
    assert recorder.last_error
    assert StrategyLog.objects.filter(strategy=recorder.strategy, kind="error").exists()
