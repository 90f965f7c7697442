"""Every kind of failure told: the timeline line its emitter writes → the rules → a DM through
discord.py to our own Discord API server, and a push row, each channel switched on its own.

The lines are written with ``timeline_write`` exactly as their emitters write them (the
trading core's fields for its events; accounts and the recorder emit theirs for real below)."""

from __future__ import annotations

import pytest

from justtrades.timeline import Event, timeline_write
from notifications import rules, services
from notifications.models import Notification
from notifications.tests.factories import PushSubscriptionFactory, TraderFactory
from notifications.tests.helpers import make_order
from recorder.tests.factories import RecorderFactory
from strategies.tests.factories import SignalFactory

pytestmark = pytest.mark.django_db

UID = "412345678901234999"


@pytest.fixture
def alice_everywhere(alice, link_discord, fake_discord):
    """Alice with Discord linked and one phone subscribed to push."""
    link_discord(alice, UID)
    PushSubscriptionFactory(user=alice)
    services.notification_preferences_update(user=alice, push_enabled=True)
    return alice


def _trader(user):
    return TraderFactory(strategy__user=user, strategy__name="NQ Breakout")


def alert_rejected(user):
    trader = _trader(user)
    signal = SignalFactory(strategy=trader.strategy, status="rejected")
    return timeline_write(
        user=user, kind="error", strategy=trader.strategy, signal=signal,
        message="Alert rejected: wrong passphrase", event=Event.ALERT_REJECTED,
        data={"reason": "Wrong passphrase.", "signal_id": signal.pk},
    )  # fmt: skip


def signal_dropped(user):
    trader = _trader(user)
    signal = SignalFactory(strategy=trader.strategy)
    return timeline_write(
        user=user, kind="filtered", strategy=trader.strategy, signal=signal,
        message="Signal dropped", event=Event.SIGNAL_DROPPED,
        data={"reason": "Older than the strategy's 30 s maximum age", "age_seconds": 42,
              "signal_id": signal.pk},
    )  # fmt: skip


def signal_superseded(user):
    trader = _trader(user)
    signal = SignalFactory(strategy=trader.strategy)
    return timeline_write(
        user=user, kind="info", strategy=trader.strategy, trader=trader, signal=signal,
        message=f"Signal #{signal.pk} came back after a later one of DEMO-1 already ran "
        "(execution #8): skipped, the later signal's target stands.",
        event=Event.EXECUTION_SUPERSEDED, data={"execution_id": 7, "later_execution_id": 8},
    )  # fmt: skip


def daily_loss_limit(user):
    trader = _trader(user)
    return timeline_write(
        user=user, kind="risk", strategy=trader.strategy, trader=trader,
        message="Daily loss limit reached", event=Event.DAILY_LOSS_LIMIT,
        data={"limit": "500.00", "pnl": "-512.40", "account": "DEMO-1"},
    )  # fmt: skip


def daily_profit_target(user):
    trader = _trader(user)
    return timeline_write(
        user=user, kind="risk", strategy=trader.strategy, trader=trader,
        message="Daily profit target reached", event=Event.DAILY_PROFIT_TARGET,
        data={"target": "800.00", "pnl": "812.00", "account": "DEMO-1"},
    )  # fmt: skip


def trading_paused(user):
    trader = _trader(user)
    connection = trader.broker_account.connection
    return timeline_write(
        user=user, kind="error", message="Trading paused", event=Event.TRADING_PAUSED,
        data={"connection_id": connection.pk, "reason": "Tradovate asked for a CAPTCHA"},
    )  # fmt: skip


def order_failed(user):
    trader = _trader(user)
    order = make_order(trader, status="Rejected")
    return timeline_write(
        user=user, kind="error", strategy=trader.strategy, trader=trader,
        message="Order rejected", event=Event.ORDER_FAILED,
        data={"reason": "MaxPosLimitReached", "text": "Max position 2", "order_id": order.pk,
              "account": "DEMO-1"},
    )  # fmt: skip


def drift(user):
    trader = _trader(user)
    return timeline_write(
        user=user, kind="drift", strategy=trader.strategy, trader=trader, message="Drift",
        event=Event.DRIFT, data={"mismatches": [{"symbol": "MNQZ5", "broker": 1, "expected": 0}]},
    )  # fmt: skip


def _exit_filled(user, *, role, kind, message, event, price):
    trader = _trader(user)
    order = make_order(trader, role=role, action="Sell", status="Filled")
    return timeline_write(
        user=user, kind=kind, strategy=trader.strategy, trader=trader, message=message,
        event=event, data={"order_id": order.pk, "price": price, "qty": 1},
    )  # fmt: skip


def target_filled(user):
    return _exit_filled(
        user, role="take_profit", kind="target", message="Target filled",
        event=Event.TARGET_FILLED, price="21010.25",
    )  # fmt: skip


def stop_filled(user):
    return _exit_filled(
        user, role="stop_loss", kind="stop", message="Stop filled",
        event=Event.STOP_FILLED, price="20990.00",
    )  # fmt: skip


def protection_lost(user):
    trader = _trader(user)
    return timeline_write(
        user=user, kind="error", strategy=trader.strategy, trader=trader,
        message="Protection lost", event=Event.PROTECTION_LOST,
        data={"reason": "The stop was rejected twice; the position was flattened."},
    )  # fmt: skip


def broker_login_failed(user):
    connection = _trader(user).broker_account.connection
    return timeline_write(
        user=user, kind="error", message="Broker login failed", event=Event.BROKER_LOGIN_FAILED,
        data={"connection_id": connection.pk, "error": "Incorrect username or password",
              "code": "bad_credentials"},
    )  # fmt: skip


def account_refresh_failed(user):
    connection = _trader(user).broker_account.connection
    return timeline_write(
        user=user, kind="error", message="Refresh failed", event=Event.ACCOUNT_REFRESH_FAILED,
        data={"connection_id": connection.pk, "error": "Cannot reach the broker",
              "code": "unreachable"},
    )  # fmt: skip


def recorder_account_unreadable(user):
    recorder = RecorderFactory(strategy__user=user, strategy__name="Follower")
    return timeline_write(
        user=user, kind="error", strategy=recorder.strategy, message="Recorder could not read",
        event=Event.RECORDER_ACCOUNT_UNREADABLE,
        data={"recorder_id": recorder.pk, "error": "The broker did not answer"},
    )  # fmt: skip


KINDS = {
    "alert_rejected": (alert_rejected, "🚫 Alert rejected · NQ Breakout"),
    "signal_dropped": (signal_dropped, "⏱️ Signal dropped · NQ Breakout"),
    "daily_loss_limit": (daily_loss_limit, "⛔ Daily loss limit reached"),
    "daily_profit_target": (daily_profit_target, "🏆 Daily profit target reached"),
    "trading_paused": (trading_paused, "⏸️ Trading paused · "),
    "order_failed": (order_failed, "⚠️ Order failed"),
    "drift": (drift, "🧭 Position drift detected"),
    "target_hit": (target_filled, "🎯 Target hit · NQ Breakout"),
    "stop_hit": (stop_filled, "🛑 Stop hit · NQ Breakout"),
    "protection_lost": (protection_lost, "🛡️ Stop lost · NQ Breakout"),
    "broker_login_failed": (broker_login_failed, "🔑 Broker login failed · "),
    "account_refresh_failed": (account_refresh_failed, "🔄 Account refresh failed · "),
    "recorder_account_unreadable": (
        recorder_account_unreadable,
        "📼 Recorder cannot read its account · Follower",
    ),
}


def _only(user, kind: str, channel: str | None) -> None:
    services.notification_preferences_update(
        user=user, kinds={kind: {c: c == channel for c in ("discord", "push")}}
    )


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_arrives_as_a_dm_when_its_discord_switch_is_on(
    alice_everywhere, fake_discord, kind
):
    write, title = KINDS[kind]
    _only(alice_everywhere, kind, "discord")
    line = write(alice_everywhere)
    assert rules.worth_evaluating("log", {"id": line.pk, "kind": line.kind, "data": line.data})
    [n] = rules.evaluate_event(alice_everywhere.pk, "log", {"id": line.pk})
    assert (n.kind, n.channel) == (kind, "discord")
    assert services.notification_deliver_discord(notification_id=n.pk) == "sent"
    [dm] = fake_discord.messages_to(UID)
    assert dm.embeds[0]["title"].startswith(title), dm.embeds[0]["title"]
    assert dm.body["nonce"] == f"jt{n.pk}"
    # One fact, one notification: the same line again tells nothing new.
    assert rules.evaluate_event(alice_everywhere.pk, "log", {"id": line.pk}) == []
    assert not Notification.objects.filter(channel="push").exists()


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_is_pushed_and_not_dmed_when_only_its_push_switch_is_on(
    alice_everywhere, fake_discord, kind
):
    write, title = KINDS[kind]
    _only(alice_everywhere, kind, "push")
    [n] = rules.evaluate_event(alice_everywhere.pk, "log", {"id": write(alice_everywhere).pk})
    assert (n.kind, n.channel, n.status) == (kind, "push", "pending")
    assert n.payload["title"].startswith(title)
    assert fake_discord.requests == []


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_switched_off_on_both_channels_tells_nothing(alice_everywhere, kind):
    write, _ = KINDS[kind]
    _only(alice_everywhere, kind, None)
    assert (
        rules.evaluate_event(alice_everywhere.pk, "log", {"id": write(alice_everywhere).pk}) == []
    )
    assert not Notification.objects.exists()


def test_a_signal_superseded_by_a_later_one_is_told_under_the_signal_dropped_switch(
    alice_everywhere, fake_discord
):
    _only(alice_everywhere, "signal_dropped", "discord")
    line = signal_superseded(alice_everywhere)
    [n] = rules.evaluate_event(alice_everywhere.pk, "log", {"id": line.pk})
    assert (n.kind, n.channel) == ("signal_dropped", "discord")
    assert services.notification_deliver_discord(notification_id=n.pk) == "sent"
    [dm] = fake_discord.messages_to(UID)
    assert dm.embeds[0]["title"] == "⏭️ Signal skipped · NQ Breakout"
    assert "No order was sent for it." in dm.embeds[0]["description"]
    _only(alice_everywhere, "signal_dropped", None)
    quiet = signal_superseded(alice_everywhere)
    assert rules.evaluate_event(alice_everywhere.pk, "log", {"id": quiet.pk}) == []


def test_bob_is_never_told_of_alices_lines(alice_everywhere, bob, link_discord):
    link_discord(bob, "888")
    for write, _ in KINDS.values():
        line = write(alice_everywhere)
        assert rules.evaluate_event(bob.pk, "log", {"id": line.pk}) == []
    assert not Notification.objects.filter(user=bob).exists()


def test_a_burst_of_the_same_rejection_is_one_notification(alice_everywhere):
    trader = _trader(alice_everywhere)
    told = []
    for _ in range(5):  # TradingView firing a misconfigured alert on every bar
        signal = SignalFactory(strategy=trader.strategy, status="rejected")
        line = timeline_write(
            user=alice_everywhere, kind="error", strategy=trader.strategy, signal=signal,
            message="rejected", event=Event.ALERT_REJECTED,
            data={"reason": "Wrong passphrase.", "signal_id": signal.pk},
        )  # fmt: skip
        told += rules.evaluate_event(alice_everywhere.pk, "log", {"id": line.pk})
    assert [n.channel for n in told] == ["discord", "push"]


def test_a_target_fill_on_record_is_told_with_its_pnl(alice_everywhere, fake_discord):
    from notifications.tests.helpers import record_fill

    trader = _trader(alice_everywhere)
    record_fill(make_order(trader, action="Buy", quantity=1), price="21000.00")
    target = make_order(trader, role="take_profit", action="Sell", quantity=1)
    record_fill(target, price="21010.00")
    line = timeline_write(
        user=alice_everywhere, kind="target", strategy=trader.strategy, trader=trader,
        message="Target filled", event=Event.TARGET_FILLED,
        data={"order_id": target.pk, "price": "21010.00", "qty": 1},
    )  # fmt: skip
    told = rules.evaluate_event(alice_everywhere.pk, "log", {"id": line.pk})
    titles = {n.payload["title"] for n in told}
    assert titles == {"🎯 Target hit · MNQZ5 +$20.00"}  # 10 points × $2, the fill rule's key
    again = rules.evaluate_event(alice_everywhere.pk, "fill", {"id": target.fill_set.get().pk})
    assert again == []


# --- the emitters this app's neighbours own, for real ------------------------------------------


def test_a_refused_broker_login_reaches_discord(alice_everywhere, fake_discord, tradovate_sim):
    from accounts import services as accounts

    tradovate_sim.create_user("alice_tv", "pw", accounts=["ALICE01"])
    connection = accounts.connection_create(
        user=alice_everywhere, kind="tradovate_demo", label="Alice demo",
        username="alice_tv", password="pw",
    )  # fmt: skip
    tradovate_sim.fault("status", path="auth/accesstokenrequest", status=401, count=-1)
    tradovate_sim.expire_tokens()
    accounts.connection_refresh(connection=connection, raise_errors=False)
    from recorder.models import StrategyLog

    line = StrategyLog.objects.get(data__event="broker_login_failed")
    [dm_row, _push] = rules.evaluate_event(alice_everywhere.pk, "log", {"id": line.pk})
    services.notification_deliver_discord(notification_id=dm_row.pk)
    [dm] = fake_discord.messages_to(UID)
    assert dm.embeds[0]["title"] == "🔑 Broker login failed · Alice demo"
    assert dm.embeds[0]["url"].endswith(f"/broker-accounts/{connection.pk}/edit/")


def test_a_recorder_that_cannot_read_its_account_reaches_discord(alice_everywhere, fake_discord):
    from accounts.brokers.base import BrokerUnavailable
    from accounts.tests.factories import BrokerAccountFactory
    from recorder.models import StrategyLog
    from recorder.services import recorder_poll_account

    class DownBroker:
        def fills(self, account_id):
            raise BrokerUnavailable("The broker did not answer (timeout)")

    account = BrokerAccountFactory(connection__user=alice_everywhere, name="FOLLOW-1")
    recorder = RecorderFactory(
        strategy__user=alice_everywhere, strategy__name="Follower", source="account",
        broker_account=account,
    )  # fmt: skip
    result = recorder_poll_account(recorder=recorder, broker=DownBroker())
    assert result.error
    line = StrategyLog.objects.get(data__event="recorder_account_unreadable")
    assert line.data["recorder_id"] == recorder.pk and "did not answer" in line.data["error"]
    told = rules.evaluate_event(alice_everywhere.pk, "log", {"id": line.pk})
    dm_row = next(n for n in told if n.channel == "discord")
    services.notification_deliver_discord(notification_id=dm_row.pk)
    [dm] = fake_discord.messages_to(UID)
    assert dm.embeds[0]["title"] == "📼 Recorder cannot read its account · Follower"
