"""Signals become virtual fills; quotes fire the strategy's exits; a stopped recorder is deaf."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from recorder import services
from recorder.ledger import Quote
from recorder.models import RecordedPosition, RecordedTrade, Recorder, StrategyLog
from recorder.selectors import recorded_net_position, recorder_stats
from recorder.tests.helpers import front, make_strategy, send

pytestmark = pytest.mark.django_db

MNQ = front("MNQ1!")
ES = front("ES1!")


def position(recorder, symbol=MNQ) -> RecordedPosition:
    return RecordedPosition.objects.get(recorder=recorder, symbol=symbol)


def quote(price: str, seconds: int = 5) -> Quote:
    return Quote(at=timezone.now() + timedelta(seconds=seconds), last=D(price))


def test_a_new_strategy_starts_with_a_running_recorder(alice):
    strategy = make_strategy(alice)
    recorder = Recorder.objects.get(strategy=strategy)
    assert recorder.running and recorder.user == alice
    assert recorder.source == Recorder.Source.SIGNALS
    assert recorder.started_at is not None
    # Asking again gives the same recorder, not a second one.
    assert services.recorder_create(strategy=strategy).pk == recorder.pk


def test_alert_prices_build_the_track_record_to_the_cent(alice):
    strategy = make_strategy(alice, sizing="signal")
    recorder = strategy.recorder
    services.recorder_update(recorder=recorder, commission_per_side=D("0.52"))

    send(strategy, "buy MNQ1! 2 @ 21000.25")
    pos = position(recorder)
    assert (pos.net_pos, pos.avg_price) == (2, D("21000.25"))
    assert recorded_net_position(strategy=strategy, symbol=MNQ) == 2

    send(strategy, "exit MNQ1! @ 21010.75")
    [trade] = RecordedTrade.objects.filter(recorder=recorder)
    assert (trade.side, trade.quantity, trade.symbol) == ("long", 2, MNQ)
    assert trade.entry_price == D("21000.25") and trade.exit_price == D("21010.75")
    assert trade.points == D("10.5") and trade.ticks == D("42")
    assert trade.pnl == D("10.5") * 2 * 2  # 42.00
    assert trade.commission == D("0.52") * 2 * 2  # 2.08
    assert trade.net_pnl == D("39.92")
    assert trade.exit_reason == "signal"
    assert trade.signal is not None
    assert position(recorder).net_pos == 0

    kinds = list(StrategyLog.objects.filter(strategy=strategy).values_list("kind", flat=True))
    assert "entry" in kinds and "exit" in kinds
    stats = recorder_stats(recorders=[recorder])[recorder.pk]
    assert stats["trades"] == 1 and stats["wins"] == 1 and stats["win_rate"] == 100.0
    assert stats["total_pnl"] == "39.92" and stats["today_pnl"] == "39.92"
    assert stats["equity"] == ["0.00", "39.92"]


def test_adds_partial_exits_and_a_reversal_from_alerts(alice):
    strategy = make_strategy(alice, sizing="signal", default_symbol="ES1!")
    recorder = strategy.recorder
    send(strategy, "buy 1 @ 6000.00")
    send(strategy, "buy 1 @ 6002.00")  # add: avg 6001.00
    assert position(recorder, ES).avg_price == D("6001.00")
    # TradingView strategy alerts: the position after the order, so a partial exit is a target.
    send(
        strategy, '{"action": "sell", "price": 6005, "market_position": "long", "position_size": 1}'
    )
    send(
        strategy,
        '{"action": "sell", "price": 6003, "market_position": "short", "position_size": 2}',
    )
    pos = position(recorder, ES)
    assert (pos.net_pos, pos.avg_price) == (-2, D("6003.00"))
    send(strategy, "exit @ 5999.50")
    trades = list(RecordedTrade.objects.filter(recorder=recorder).order_by("exit_time", "id"))
    assert [(t.side, t.quantity, t.exit_reason) for t in trades] == [
        ("long", 1, "signal"),
        ("long", 1, "reversal"),
        ("short", 2, "signal"),
    ]
    # Exits close the oldest entry first (FIFO, as the broker pairs fills).
    assert trades[0].pnl == (D("6005.00") - D("6000.00")) * 50  # 250.00
    assert trades[1].pnl == (D("6003.00") - D("6002.00")) * 50  # 50.00
    assert trades[2].pnl == (D("6003.00") - D("5999.50")) * 50 * 2  # 350.00
    assert position(recorder, ES).net_pos == 0


def test_a_signal_recorded_twice_fills_once(alice):
    strategy = make_strategy(alice)
    signal = send(strategy, "buy @ 21000")
    services.recorder_record_signal(signal=signal)  # a retried task
    assert position(strategy.recorder).net_pos == 1


def test_a_stopped_recorder_records_nothing(alice):
    strategy = make_strategy(
        alice, take_profit=D("4"), take_profit_unit="ticks", default_symbol="MNQ1!"
    )
    recorder = services.recorder_stop(recorder=strategy.recorder)
    assert not recorder.running
    send(strategy, "buy @ 21000")
    assert not RecordedPosition.objects.filter(recorder=recorder, net_pos__gt=0).exists()

    services.recorder_start(recorder=recorder)
    send(strategy, "buy @ 21000")
    assert position(recorder).net_pos == 1
    # Stopped with a position open: quotes no longer close it.
    services.recorder_stop(recorder=recorder)
    assert services.recorder_apply_quote(symbol=MNQ, quote=quote("21001.00")) == []
    assert position(recorder).net_pos == 1
    assert not RecordedTrade.objects.filter(recorder=recorder).exists()


def test_quotes_fire_the_strategys_take_profit(alice):
    strategy = make_strategy(alice, take_profit=D("8"), take_profit_unit="ticks")
    send(strategy, "buy @ 21000.00")
    assert services.recorder_apply_quote(symbol=MNQ, quote=quote("21001.75", 1)) == []
    [trade] = services.recorder_apply_quote(symbol=MNQ, quote=quote("21002.00", 2))
    assert trade.exit_reason == "target"
    assert trade.exit_price == D("21002.00")
    assert trade.pnl == D("2") * 2  # 8 ticks × $0.50
    assert StrategyLog.objects.filter(strategy=strategy, kind="target").exists()


def test_the_alerts_own_stop_overrides_the_strategys(alice):
    strategy = make_strategy(alice, stop_loss=D("40"), stop_loss_unit="ticks")
    send(strategy, '{"action": "sell", "price": 21000, "stop_loss": {"points": 2}}')
    assert services.recorder_apply_quote(symbol=MNQ, quote=quote("21001.75", 1)) == []
    [trade] = services.recorder_apply_quote(symbol=MNQ, quote=quote("21002.50", 2))
    assert trade.exit_reason == "stop"
    assert trade.exit_price == D("21002.50")  # gapped past 21002.00: filled at the quote
    assert trade.pnl == D("-2.50") * 2


def test_quotes_keep_the_open_pnl_and_excursions(alice):
    strategy = make_strategy(alice, default_symbol="ES1!")
    send(strategy, "sell @ 6000.00")
    services.recorder_apply_quote(symbol=ES, quote=quote("6001.50", 1))
    services.recorder_apply_quote(symbol=ES, quote=quote("5998.00", 3))
    pos = position(strategy.recorder, ES)
    assert pos.open_pnl == D("2") * 50  # 100.00
    assert D(pos.state["mae"]) == D("1.5") * 50


def test_a_strategy_without_a_recorder_is_processed_all_the_same(alice):
    strategy = make_strategy(alice)
    services.recorder_delete(recorder=strategy.recorder)
    signal = send(strategy, "buy @ 21000")
    assert signal.status == "processed"
    assert not RecordedPosition.objects.exists()


def test_every_change_is_pushed_to_the_owners_pages(alice, django_capture_on_commit_callbacks):
    from justtrades import realtime

    events = []

    def listener(user_id, event_type, data):
        events.append((user_id, event_type, data))

    realtime.add_listener(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            strategy = make_strategy(alice)
            send(strategy, "buy @ 21000.00")
            send(strategy, "exit @ 21002.00")
    finally:
        realtime._listeners.remove(listener)
    assert {user_id for user_id, _, _ in events} == {alice.pk}
    positions = [d for _, t, d in events if t == "position" and d.get("source") == "recorder"]
    assert [p["net_pos"] for p in positions] == [1, 0]
    assert positions[0]["avg_price"] == "21000.000000"
    recorder_events = [d for _, t, d in events if t == "recorder"]
    assert recorder_events[-1]["stats"]["total_pnl"] == "4.00"
    logs = [d["kind"] for _, t, d in events if t == "log"]
    assert "entry" in logs and "exit" in logs
