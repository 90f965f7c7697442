"""Which events become notifications: one per fact, switched per kind, owner only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from justtrades.timeline import Event, timeline_write
from notifications import rules
from notifications.models import Notification
from notifications.selectors import notification_preference_get
from notifications.tests.factories import TraderFactory
from notifications.tests.helpers import make_order
from recorder.models import Recorder
from strategies.models import Signal
from traders.models import Fill

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


def test_a_rejected_order_is_told_once_even_when_also_on_the_timeline(linked):
    trader = TraderFactory(strategy__user=linked)
    signal = Signal.objects.create(strategy=trader.strategy, raw_body="buy", dedupe_key="s1")
    order = make_order(
        trader,
        status="Rejected",
        signal=signal,
        reject_reason="MaxPosLimitReached",
        text="Max position limit reached",
    )
    assert len(rules.evaluate_event(linked.pk, "order", {"id": order.pk})) == 1
    entry = timeline_write(
        user=linked,
        kind="error",
        message="Order rejected: Max position",
        strategy=trader.strategy,
        trader=trader,
        signal=signal,
        event=Event.ORDER_FAILED,
        data={
            "reason": "MaxPosLimitReached",
            "text": "Max position limit reached",
            "order_id": order.pk,
            "account": "DEMO-1",
        },
    )
    assert rules.evaluate_event(linked.pk, "log", {"id": entry.pk}) == []
    [n] = Notification.objects.filter(user=linked)
    assert n.kind == "order_failed"
    assert n.payload["title"] == "⚠️ Order failed"
    assert "MaxPosLimitReached: Max position limit reached" in n.payload["description"]


def test_a_working_order_is_not_a_failure(linked):
    order = make_order(TraderFactory(strategy__user=linked), status="Working")
    assert not rules.worth_evaluating("order", {"id": order.pk, "status": "Working"})
    assert rules.evaluate_event(linked.pk, "order", {"id": order.pk}) == []


def _loss_line(user, trader, pnl="-512.00"):
    return timeline_write(
        user=user,
        kind="risk",
        trader=trader,
        strategy=trader.strategy,
        message="Daily loss limit reached: positions flattened",
        event=Event.DAILY_LOSS_LIMIT,
        data={"limit": "500.00", "pnl": pnl, "account": trader.broker_account.name},
    )


def test_the_daily_loss_limit_is_told_once_per_day(linked):
    trader = TraderFactory(strategy__user=linked, daily_loss_limit=500)
    [n] = rules.evaluate_event(linked.pk, "log", {"id": _loss_line(linked, trader).pk})
    assert n.kind == "daily_loss_limit"
    assert n.payload["description"] == (
        "Today's P&L -$512.00 reached the limit of $500.00: no new entries today."
    )
    again = _loss_line(linked, trader, pnl="-530.00")
    assert rules.evaluate_event(linked.pk, "log", {"id": again.pk}) == []
    assert titles(linked) == ["⛔ Daily loss limit reached"]


def test_rules_read_the_event_never_the_words(linked):
    """A line whose text talks of a loss but names no event is not a loss-limit notification;
    one whose text says nothing of it but names the event is."""
    trader = TraderFactory(strategy__user=linked)
    chatty = timeline_write(
        user=linked, kind="risk", trader=trader, strategy=trader.strategy,
        message="Daily loss limit reached (a loss, a loss!)",
    )  # fmt: skip
    assert not rules.worth_evaluating("log", {"id": chatty.pk, "kind": "risk", "data": {}})
    assert rules.evaluate_event(linked.pk, "log", {"id": chatty.pk}) == []
    terse = timeline_write(
        user=linked, kind="info", trader=trader, strategy=trader.strategy, message="…",
        event=Event.DAILY_PROFIT_TARGET, data={"target": "800", "pnl": "812.5", "account": "A"},
    )  # fmt: skip
    [n] = rules.evaluate_event(linked.pk, "log", {"id": terse.pk})
    assert n.kind == "daily_profit_target"
    assert n.payload["title"] == "🏆 Daily profit target reached"


def test_drift_is_told_once_and_can_be_switched_off(linked):
    trader = TraderFactory(strategy__user=linked)
    mismatches = [{"symbol": "MNQZ5", "broker": 2, "expected": 0}]

    def drift_line(who):
        return timeline_write(
            user=linked, kind="drift", trader=who, strategy=who.strategy,
            message="Drift", event=Event.DRIFT, data={"mismatches": mismatches},
        )  # fmt: skip

    [n] = rules.evaluate_event(linked.pk, "log", {"id": drift_line(trader).pk})
    assert n.payload["description"].startswith("MNQZ5: broker 2, expected 0")
    assert rules.evaluate_event(linked.pk, "log", {"id": drift_line(trader).pk}) == []

    other = TraderFactory(strategy__user=linked, strategy__name="Other")
    pref = notification_preference_get(user=linked)
    for channel in ("discord", "push"):
        pref.set_switch("drift", channel, False)
    pref.save()
    assert rules.evaluate_event(linked.pk, "log", {"id": drift_line(other).pk}) == []


def test_paper_exits_are_told_as_paper(linked):
    trader = TraderFactory(strategy__user=linked)
    recorder = Recorder.objects.create(user=linked, strategy=trader.strategy)
    entry = timeline_write(
        user=linked,
        strategy=trader.strategy,
        kind="target",
        message="Recorded exit (take profit): long 1 MNQZ5 @ 18660",
        data={"recorder_id": recorder.pk, "net_pnl": "19.00", "quantity": 1},
    )
    [n] = rules.evaluate_event(linked.pk, "log", {"id": entry.pk, "kind": "target"})
    assert n.kind == "target_hit"
    assert n.payload["title"] == "📝 Recorded · 🎯 Take profit hit +$19.00"
    assert n.payload["url"].endswith(f"/recorders/{recorder.pk}/")


def test_paper_trades_can_be_left_out(linked):
    trader = TraderFactory(strategy__user=linked)
    notification_preference_get(user=linked)
    pref = notification_preference_get(user=linked)
    pref.include_paper = False
    pref.save()
    entry = timeline_write(
        user=linked, strategy=trader.strategy, kind="entry", message="Recorded entry: long 1 MNQZ5"
    )
    assert rules.evaluate_event(linked.pk, "log", {"id": entry.pk}) == []


def test_a_reversal_tells_the_close_and_the_new_position(linked):
    trader = TraderFactory(strategy__user=linked)
    fill(make_order(trader, action="Buy", quantity=1), "100.00")
    reverse = fill(make_order(trader, action="Sell", quantity=3), "104.00", seconds=5)
    rules.evaluate_event(linked.pk, "fill", {"id": reverse.pk})
    assert titles(linked) == ["✅ Closed long MNQZ5 +$8.00", "🔴 Opened short 2 MNQZ5"]


def test_an_add_to_a_position_is_not_a_new_position(linked):
    trader = TraderFactory(strategy__user=linked)
    fill(make_order(trader, action="Buy", quantity=1), "100.00")
    add = fill(make_order(trader, action="Buy", quantity=1), "101.00", seconds=5)
    assert rules.evaluate_event(linked.pk, "fill", {"id": add.pk}) == []


def test_another_users_ids_never_produce_a_notification(linked, bob, link_discord):
    link_discord(bob, "888")
    alices = fill(make_order(TraderFactory(strategy__user=linked), quantity=1), "100.00")
    assert rules.evaluate_event(bob.pk, "fill", {"id": alices.pk}) == []
    assert not Notification.objects.exists()


def test_fills_from_a_history_resync_are_not_sent_hours_late(linked):
    trader = TraderFactory(strategy__user=linked)
    old = fill(make_order(trader, action="Buy", quantity=1), "100.00", seconds=-3600)
    assert rules.evaluate_event(linked.pk, "fill", {"id": old.pk}) == []
