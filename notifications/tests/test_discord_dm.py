"""DMs through a real worker against our own Discord API server on loopback."""

from __future__ import annotations

import time

import pytest

from justtrades.testing.fixtures import wait_until
from notifications.models import Notification
from notifications.selectors import notification_preference_get
from notifications.tests.factories import TraderFactory
from notifications.tests.helpers import make_order, record_fill

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

UID = "412345678901234567"


@pytest.fixture
def linked_alice(alice, link_discord):
    link_discord(alice, UID)
    return alice


def dms(fake, count: int, timeout: float = 20.0):
    return wait_until(
        lambda: len(fake.messages_to(UID)) >= count and fake.messages_to(UID),
        timeout=timeout,
        message=f"{count} DM(s)",
    )


def fields(embed) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def test_a_fill_produces_exactly_one_dm_with_the_expected_embed(
    notifications_worker, fake_discord, linked_alice
):
    trader = TraderFactory(strategy__user=linked_alice, strategy__name="NQ Breakout")
    entry = make_order(trader, action="Buy", quantity=2)
    record_fill(entry, price="18650.25")

    [dm] = dms(fake_discord, 1)
    embed = dm.embeds[0]
    assert embed["title"] == "🟢 Opened long 2 MNQZ5"
    assert fields(embed) == {
        "Symbol": "MNQZ5",
        "Side": "Long",
        "Qty": "2",
        "Price": "18650.25",
        "Account": "DEMO-1",
        "Strategy": "NQ Breakout",
    }
    assert embed["color"] == 0x22C55E
    assert dm.headers["Authorization"] == "Bot test-bot-token"
    time.sleep(1.5)  # a redelivered or repeated evaluation would show up by now
    assert len(fake_discord.messages_to(UID)) == 1
    assert Notification.objects.get(user=linked_alice).status == "sent"

    # Closing it tells the P&L: (18660.25 − 18650.25) × 2 contracts × $2 = +$40.00.
    exit_order = make_order(trader, role="exit", action="Sell", quantity=2)
    record_fill(exit_order, price="18660.25")
    closed = dms(fake_discord, 2)[1].embeds[0]
    assert closed["title"] == "✅ Closed long MNQZ5 +$40.00"
    assert fields(closed)["P&L"] == "+$40.00"
    assert fields(closed)["Entry"] == "18650.25" and fields(closed)["Exit"] == "18660.25"


def test_a_stop_fill_is_told_as_a_stop_with_the_loss(
    notifications_worker, fake_discord, linked_alice
):
    trader = TraderFactory(strategy__user=linked_alice)
    pref = notification_preference_get(user=linked_alice)
    for channel in ("discord", "push"):
        pref.set_switch("position_opened", channel, False)
    pref.save()
    record_fill(make_order(trader, action="Sell", quantity=1), price="5000")  # short 1 MNQ
    record_fill(make_order(trader, role="stop_loss", action="Buy", quantity=1), price="5010")
    [dm] = dms(fake_discord, 1)
    assert dm.embeds[0]["title"] == "🛑 Stop hit · MNQZ5 -$20.00"
    assert dm.embeds[0]["color"] == 0xEF4444


def test_a_short_429_is_waited_out_and_the_dm_delivered_once(
    notifications_worker, fake_discord, linked_alice
):
    fake_discord.rate_limit_next("message", retry_after=0.4)
    record_fill(make_order(TraderFactory(strategy__user=linked_alice), quantity=1), price="100")
    dms(fake_discord, 1)
    time.sleep(1.0)
    assert len(fake_discord.messages_to(UID)) == 1
    assert len(fake_discord.requests_to("message")) == 2  # the 429, then the delivery


def test_a_429_of_seconds_is_waited_out_as_discord_asks_and_delivered_once(
    notifications_worker, fake_discord, linked_alice
):
    fake_discord.rate_limit_next("message", retry_after=4.0)
    record_fill(make_order(TraderFactory(strategy__user=linked_alice), quantity=1), price="100")
    started = time.monotonic()
    dms(fake_discord, 1, timeout=30)
    assert time.monotonic() - started >= 3.9  # not before Discord said so
    time.sleep(1.0)
    assert len(fake_discord.messages_to(UID)) == 1
    n = Notification.objects.get(user=linked_alice)
    assert n.status == "sent"


def test_a_403_is_recorded_shown_in_settings_and_not_retried(
    notifications_worker, fake_discord, linked_alice, api_client_for
):
    fake_discord.block_dms(UID)
    trader = TraderFactory(strategy__user=linked_alice)
    record_fill(make_order(trader, quantity=1), price="100")
    failed = wait_until(
        lambda: Notification.objects.filter(user=linked_alice, status="failed").first(),
        timeout=20,
        message="the failed notification",
    )
    assert "Cannot send messages to this user" in failed.error
    time.sleep(1.5)
    assert len(fake_discord.requests_to("message")) == 1  # not retried
    assert fake_discord.messages_to(UID) == []

    state = api_client_for(linked_alice).get("/api/settings/").json()["discord"]
    assert state["blocked"] is True
    assert "Cannot send messages to this user" in state["error"]

    # While Discord refuses, later facts are recorded as skipped, without calling Discord.
    record_fill(make_order(trader, role="exit", action="Sell", quantity=1), price="101")
    wait_until(
        lambda: Notification.objects.filter(user=linked_alice, status="skipped").exists(),
        timeout=20,
        message="the skipped notification",
    )
    assert len(fake_discord.requests_to("message")) == 1

    # The user fixes their Discord settings and presses "Send me a test DM": DMs resume.
    fake_discord.unblock_dms(UID)
    response = api_client_for(linked_alice).post("/api/settings/test-dm/")
    assert response.status_code == 202, response.content
    [dm] = dms(fake_discord, 1)
    assert dm.embeds[0]["title"] == "✅ Test notification"
    wait_until(
        lambda: not notification_preference_get(user=linked_alice).discord_blocked,
        timeout=10,
        message="the refusal cleared",
    )
    assert api_client_for(linked_alice).get("/api/settings/").json()["discord"]["error"] == ""


def test_a_switched_off_kind_sends_nothing(notifications_worker, fake_discord, linked_alice):
    pref = notification_preference_get(user=linked_alice)
    for channel in ("discord", "push"):
        pref.set_switch("position_opened", channel, False)
    pref.save()
    trader = TraderFactory(strategy__user=linked_alice)
    record_fill(make_order(trader, action="Buy", quantity=1), price="100")
    record_fill(make_order(trader, role="exit", action="Sell", quantity=1), price="99")
    [dm] = dms(fake_discord, 1)
    assert dm.embeds[0]["title"] == "🔻 Closed long MNQZ5 -$2.00"
    time.sleep(1.5)
    assert len(fake_discord.messages_to(UID)) == 1
    assert not Notification.objects.filter(user=linked_alice, kind="position_opened").exists()


def test_discord_switched_off_sends_nothing_at_all(
    notifications_worker, fake_discord, linked_alice, api_client_for
):
    api_client_for(linked_alice).post("/api/settings/discord-toggle/", {"enabled": False})
    record_fill(make_order(TraderFactory(strategy__user=linked_alice), quantity=1), price="100")
    time.sleep(2.0)
    assert fake_discord.requests == []
    assert not Notification.objects.filter(user=linked_alice).exists()


def test_a_timeline_line_becomes_one_dm_through_a_real_worker(
    notifications_worker, fake_discord, linked_alice
):
    from justtrades.timeline import Event, timeline_write

    trader = TraderFactory(strategy__user=linked_alice, strategy__name="NQ Breakout")
    timeline_write(
        user=linked_alice,
        kind="risk",
        strategy=trader.strategy,
        trader=trader,
        message="Daily loss limit reached",
        event=Event.DAILY_LOSS_LIMIT,
        data={"limit": "500.00", "pnl": "-520.00", "account": "DEMO-1"},
    )
    [dm] = dms(fake_discord, 1)
    assert dm.embeds[0]["title"] == "⛔ Daily loss limit reached"
    assert fields(dm.embeds[0])["Limit"] == "$500.00"
    time.sleep(1.0)
    assert len(fake_discord.messages_to(UID)) == 1
