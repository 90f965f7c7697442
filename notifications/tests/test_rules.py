"""Which events become notifications: one per fact, switched per kind, owner only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import rules
from notifications.models import Notification
from notifications.selectors import notification_preference_get
from notifications.tests.helpers import make_order, make_trader
from recorder.models import Recorder
from recorder.services import strategy_log
from strategies.models import Signal
from traders.models import Fill
from traders.services import log_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(alice, link_discord):
    link_discord(alice, "999")
    return alice


def titles(user) -> list[str]:
    return [n.payload["title"] for n in Notification.objects.filter(user=user).order_by("id")]


def fill(order, price, qty=None, action=None, seconds=0):
    return Fill.objects.create(
        user=order.user,
        order=order,
        trader=order.trader,
        broker_account=order.broker_account,
        broker_fill_id=order.broker_order_id * 10 + seconds,
        action=action or order.action,
        symbol=order.symbol,
        quantity=qty or order.quantity,
        price=price,
        timestamp=timezone.now() + timedelta(seconds=seconds),
    )


def test_a_rejected_order_is_told_once_even_when_also_logged(linked):
    trader = make_trader(linked)
    signal = Signal.objects.create(strategy=trader.strategy, raw_body="buy", dedupe_key="s1")
    order = make_order(
        trader,
        status="Rejected",
        signal=signal,
        reject_reason="MaxPosLimitReached",
        text="Max position limit reached",
    )
    assert len(rules.evaluate_event(linked.pk, "order", {"id": order.pk})) == 1
    entry = log_line(
        user_id=linked.pk,
        kind="error",
        message="Order rejected: Max position",
        strategy_id=trader.strategy_id,
        trader_id=trader.pk,
        signal_id=signal.pk,
    )
    assert rules.evaluate_event(linked.pk, "log", {"id": entry.pk, "kind": "error"}) == []
    [n] = Notification.objects.filter(user=linked)
    assert n.kind == "order_failed"
    assert n.payload["title"] == "⚠️ Order failed"
    assert "MaxPosLimitReached: Max position limit reached" in n.payload["description"]


def test_a_working_order_is_not_a_failure(linked):
    order = make_order(make_trader(linked), status="Working")
    assert not rules.worth_evaluating("order", {"id": order.pk, "status": "Working"})
    assert rules.evaluate_event(linked.pk, "order", {"id": order.pk}) == []


def test_the_daily_loss_limit_is_told_once_per_day(linked):
    today = timezone.now().date()
    trader = make_trader(
        linked,
        daily_loss_limit=500,
        disabled_until=today,
        disabled_reason="Daily loss limit of $500.00 reached (today's P&L $-512.00)",
    )
    assert len(rules.evaluate_event(linked.pk, "trader", {"id": trader.pk})) == 1
    entry = log_line(
        user_id=linked.pk,
        kind="risk",
        trader_id=trader.pk,
        strategy_id=trader.strategy_id,
        message="Daily loss limit of $500.00 reached: positions flattened",
        data={"disabled_until": str(today)},
    )
    assert rules.evaluate_event(linked.pk, "log", {"id": entry.pk}) == []
    assert rules.evaluate_event(linked.pk, "trader", {"id": trader.pk}) == []
    assert titles(linked) == ["⛔ Daily loss limit reached"]


def test_a_profit_target_is_not_a_loss_limit(linked):
    trader = make_trader(
        linked,
        disabled_until=timezone.now().date(),
        disabled_reason="Daily profit target of $800.00 reached",
    )
    assert rules.evaluate_event(linked.pk, "trader", {"id": trader.pk}) == []


def test_drift_is_told_once_and_can_be_switched_off(linked):
    trader = make_trader(linked, drift=True, drift_message="broker long 2, expected flat")
    [n] = rules.evaluate_event(linked.pk, "trader", {"id": trader.pk, "drift": True})
    assert n.payload["description"] == "broker long 2, expected flat"
    assert rules.evaluate_event(linked.pk, "trader", {"id": trader.pk, "drift": True}) == []

    other = make_trader(linked, strategy_name="Other", drift=True)
    pref = notification_preference_get(user=linked)
    pref.notify_drift = False
    pref.save()
    assert rules.evaluate_event(linked.pk, "trader", {"id": other.pk}) == []


def test_paper_exits_are_told_as_paper(linked):
    trader = make_trader(linked)
    recorder = Recorder.objects.create(user=linked, strategy=trader.strategy)
    entry = strategy_log(
        user=linked,
        strategy=trader.strategy,
        kind="target",
        message="Paper exit (take profit): long 1 MNQZ5 @ 18660",
        data={"recorder_id": recorder.pk, "net_pnl": "19.00", "quantity": 1},
    )
    [n] = rules.evaluate_event(linked.pk, "log", {"id": entry.pk, "kind": "target"})
    assert n.kind == "target_hit"
    assert n.payload["title"] == "📝 Paper · 🎯 Take profit hit +$19.00"
    assert n.payload["url"].endswith(f"/recorders/{recorder.pk}/")


def test_paper_trades_can_be_left_out(linked):
    trader = make_trader(linked)
    notification_preference_get(user=linked)
    pref = notification_preference_get(user=linked)
    pref.include_paper = False
    pref.save()
    entry = strategy_log(
        user=linked, strategy=trader.strategy, kind="entry", message="Paper entry: long 1 MNQZ5"
    )
    assert rules.evaluate_event(linked.pk, "log", {"id": entry.pk}) == []


def test_a_reversal_tells_the_close_and_the_new_position(linked):
    trader = make_trader(linked)
    fill(make_order(trader, action="Buy", quantity=1), "100.00")
    reverse = fill(make_order(trader, action="Sell", quantity=3), "104.00", seconds=5)
    rules.evaluate_event(linked.pk, "fill", {"id": reverse.pk})
    assert titles(linked) == ["✅ Closed long MNQZ5 +$8.00", "🔴 Opened short 2 MNQZ5"]


def test_an_add_to_a_position_is_not_a_new_position(linked):
    trader = make_trader(linked)
    fill(make_order(trader, action="Buy", quantity=1), "100.00")
    add = fill(make_order(trader, action="Buy", quantity=1), "101.00", seconds=5)
    assert rules.evaluate_event(linked.pk, "fill", {"id": add.pk}) == []


def test_another_users_ids_never_produce_a_notification(linked, bob, link_discord):
    link_discord(bob, "888")
    alices = fill(make_order(make_trader(linked), quantity=1), "100.00")
    assert rules.evaluate_event(bob.pk, "fill", {"id": alices.pk}) == []
    assert not Notification.objects.exists()


def test_fills_from_a_history_resync_are_not_sent_hours_late(linked):
    trader = make_trader(linked)
    old = fill(make_order(trader, action="Buy", quantity=1), "100.00", seconds=-3600)
    assert rules.evaluate_event(linked.pk, "fill", {"id": old.pk}) == []
