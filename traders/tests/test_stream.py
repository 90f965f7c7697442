"""The broker mirror over the simulator's WebSocket, drift, and the operator command."""

from __future__ import annotations

import threading
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.brokers.base import BrokerEvent, Quote
from justtrades.testing.fixtures import wait_until
from recorder.models import StrategyLog
from traders import services
from traders.models import Fill, Order, Position, Trader
from traders.streaming import ConnectionMirror, latest_quotes_only, run_broker_stream
from traders.tests.conftest import decide, front, held, working

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mirror(sim, trader, account):
    m = ConnectionMirror(account.connection).start()
    assert m.stream.wait_connected(10)
    wait_until(lambda: m.resyncs >= 1, timeout=10, message="first re-sync")
    yield m
    m.close()


def test_fills_and_positions_arrive_from_the_stream(mirror, sim, trader, account, strategy):
    strategy.take_profit, strategy.stop_loss = D(8), D(8)
    strategy.save()
    wait_until(lambda: services.mirror.mirror_is_fresh(account.connection), message="mirror live")
    decide(strategy, '{"action": "buy", "id": "warm-up"}')  # first contract look-ups
    decide(strategy, '{"action": "exit", "id": "warm-up-exit"}')
    wait_until(
        lambda: not Position.objects.filter(broker_account=account).exclude(net_pos=0).exists()
    )
    before = sim.stats_for(account.connection.username)["endpoints"]
    signal = decide(strategy, "buy MNQ1! 1 @ 21000")
    # With the stream live the planner reads the mirror: one order request, no broker read.
    after = sim.stats_for(account.connection.username)["endpoints"]
    spent = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    assert spent == {"orderStrategy/startOrderStrategy": 1}, spent
    entry = Order.objects.get(signal=signal, role="entry")
    wait_until(lambda: Fill.objects.filter(order=entry).exists(), message="entry fill")
    wait_until(lambda: Order.objects.get(pk=entry.pk).status == "Filled", message="Filled")
    fill = Fill.objects.get(order=entry)
    assert (fill.action, fill.quantity, fill.trader_id) == ("Buy", 1, trader.pk)
    wait_until(
        lambda: Position.objects.filter(broker_account=account, symbol=front(), net_pos=1).exists(),
        message="position",
    )

    # The market reaches the take profit: the bracket fills, the trader's position follows.
    sim.set_price(front(), "21003.00", user=account.connection.username)  # its own market
    wait_until(lambda: Order.objects.filter(signal=signal, role="take_profit").exists())
    tp = Order.objects.get(signal=signal, role="take_profit")
    wait_until(lambda: Order.objects.get(pk=tp.pk).filled_qty == 1, message="take profit")
    wait_until(lambda: Position.objects.get(broker_account=account, symbol=front()).net_pos == 0)
    trader.refresh_from_db()
    assert trader.expected_positions == {"MNQ": 0}
    assert StrategyLog.objects.filter(trader=trader, kind="target").exists()
    wait_until(
        lambda: Order.objects.get(signal=signal, role="stop_loss").status == "Canceled",
        message="stop cancelled by OCO",
    )


def test_a_dropped_socket_is_resynced_without_missing_a_fill(
    mirror, sim, trader, account, strategy
):
    sim.drop_sockets()
    # While the socket is down, an order fills at the broker.
    signal = decide(strategy, "buy")
    wait_until(lambda: mirror.resyncs >= 2, timeout=20, message="re-sync after reconnect")
    entry = Order.objects.get(signal=signal)
    wait_until(lambda: Fill.objects.filter(order=entry).count() == 1, message="fill")
    assert Fill.objects.filter(broker_account=account).count() == 1


def test_drift_is_flagged_logged_and_cleared(sim, trader, account, strategy):
    mirror = ConnectionMirror(account.connection).start()
    try:
        wait_until(lambda: services.mirror.mirror_is_fresh(account.connection), message="live")
        decide(strategy, "buy")
        assert services.traders_reconcile() == 0
        # Someone trades the account outside Just.Trades.
        sim.client(account.connection.username, "sim-pw").place_order(
            account_id=account.external_id, symbol=front(), action="Buy", qty=2
        )
        wait_until(
            lambda: Position.objects.filter(broker_account=account, net_pos=3).exists(),
            message="the outside order mirrored",
        )
        assert services.traders_reconcile() == 1
    finally:
        mirror.close()
    trader.refresh_from_db()
    assert trader.drift and "expected +1" in trader.drift_message
    assert "the broker holds +3" in trader.drift_message
    assert StrategyLog.objects.filter(trader=trader, kind="drift").exists()
    services.trader_accept_broker_position(trader=trader)
    trader.refresh_from_db()
    assert not trader.drift and trader.expected_positions == {"MNQ": 3}
    # The orders placed outside show up in the mirror, too.
    assert Order.objects.filter(broker_account=account, role="manual", quantity=2).exists()


def test_broker_stream_command_loop_opens_a_socket_per_active_connection(sim, trader, account):
    stop = threading.Event()
    seen = {}
    thread = threading.Thread(
        target=run_broker_stream,
        kwargs={"stop": stop, "refresh_seconds": 0.2, "on_change": lambda m: seen.update(m)},
        daemon=True,
    )
    thread.start()
    try:
        wait_until(lambda: account.connection_id in seen, message="mirror started")
        wait_until(lambda: seen[account.connection_id].resyncs >= 1, message="synced")
        wait_until(lambda: services.mirror.mirror_is_fresh(account.connection), message="fresh")
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_flatten_all_command(sim, trader, account, strategy, alice):
    decide(strategy, "buy")
    out = StringIO()
    call_command("flatten_all", "--user", "alice", "--yes", "--disable-traders", stdout=out)
    assert f"{account.name}: MNQ" in out.getvalue()
    assert held(sim, account) == {} and working(sim, account) == []
    assert not Trader.objects.get(pk=trader.pk).enabled


def test_a_burst_of_quotes_never_holds_back_a_fill_and_keeps_each_contracts_latest():
    def quote(symbol, last):
        return BrokerEvent(kind="quote", obj=Quote(symbol, 1, None, None, D(last)))

    burst = [quote("MNQZ6", n) for n in range(21000, 21050)] + [quote("ESZ6", "6000")]
    fill = BrokerEvent(kind="fill", data={"id": 7})
    events = [*burst[:25], fill, *burst[25:], BrokerEvent(kind="frame")]
    kept = latest_quotes_only(events)
    assert kept[0] is fill  # the fill no longer waits behind 25 quotes
    assert [(e.kind, e.obj.last if e.obj else None) for e in kept[1:]] == [
        ("quote", D(21049)),
        ("quote", D("6000")),
        ("frame", None),
    ]
