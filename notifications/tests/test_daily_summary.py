"""The daily summary: the numbers of the user's local day, sent once at their chosen time."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from accounts.tests.factories import BrokerAccountFactory
from notifications import services
from notifications.models import Notification
from notifications.selectors import notification_preference_get
from notifications.summary import daily_summary_compute
from recorder.models import RecordedTrade, Recorder
from strategies.models import Strategy
from traders.models import Fill

UTC = ZoneInfo("UTC")
DAY = date(2026, 3, 10)  # New York is on EDT (UTC−4) since 8 March 2026


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def paper_trade(recorder, exit_time: datetime, net_pnl: str) -> RecordedTrade:
    pnl = Decimal(net_pnl)
    return RecordedTrade.objects.create(
        recorder=recorder,
        symbol="MNQZ5",
        side="long",
        quantity=1,
        entry_time=exit_time,
        exit_time=exit_time,
        entry_price=Decimal(100),
        exit_price=Decimal(100),
        points=0,
        ticks=0,
        pnl=pnl,
        commission=0,
        net_pnl=pnl,
        exit_reason="signal",
    )


def fill(account, action: str, qty: int, price: str, at: datetime, symbol: str = "MNQZ5"):
    Fill.objects.create(
        user=account.connection.user,
        broker_account=account,
        broker_fill_id=int(at.timestamp() * 1000) + qty,
        action=action,
        symbol=symbol,
        quantity=qty,
        price=Decimal(price),
        timestamp=at,
    )


@pytest.fixture
def trading_day(alice):
    """Alice (New York) traded on 10 March: paper on two strategies, live on two accounts."""
    alice.timezone = "America/New_York"
    alice.save()
    breakout = Recorder.objects.create(
        user=alice, strategy=Strategy.objects.create(user=alice, name="Breakout")
    )
    fade = Recorder.objects.create(
        user=alice, strategy=Strategy.objects.create(user=alice, name="Fade")
    )
    paper_trade(breakout, utc(2026, 3, 10, 14, 0), "100.00")
    paper_trade(breakout, utc(2026, 3, 10, 15, 0), "-40.00")
    paper_trade(breakout, utc(2026, 3, 11, 3, 30), "25.50")  # 23:30 on the 10th in New York
    paper_trade(breakout, utc(2026, 3, 10, 3, 0), "999.00")  # 23:00 on the 9th: not that day
    paper_trade(fade, utc(2026, 3, 10, 16, 0), "-10.00")

    one, two = (
        BrokerAccountFactory(connection__user=alice, name="DEMO-1"),
        BrokerAccountFactory(connection__user=alice, name="DEMO-2"),
    )
    fill(one, "Buy", 2, "100", utc(2026, 3, 9, 19, 0))  # opened the day before …
    fill(one, "Sell", 2, "110", utc(2026, 3, 10, 14, 0))  # … closed that day: +10 × 2 × $2
    fill(one, "Buy", 1, "200", utc(2026, 3, 10, 15, 0))
    fill(one, "Sell", 1, "190", utc(2026, 3, 10, 15, 30))  # −10 × 1 × $2
    fill(one, "Buy", 1, "300", utc(2026, 3, 10, 19, 0))  # still open at the end of the day
    fill(two, "Sell", 1, "5000", utc(2026, 3, 10, 13, 45), symbol="ESH6")
    fill(two, "Buy", 1, "4990", utc(2026, 3, 10, 14, 45), symbol="ESH6")  # short +10 × $50
    return alice


def test_the_summary_counts_the_trades_of_the_users_local_day(trading_day):
    summary = daily_summary_compute(user=trading_day, day=DAY)

    paper = {r.label: (r.trades, r.pnl, r.win_rate) for r in summary.paper}
    assert paper == {
        "Breakout": (3, Decimal("85.50"), Decimal("66.7")),
        "Fade": (1, Decimal("-10.00"), Decimal("0.0")),
    }
    live = {r.label: (r.trades, r.pnl, r.win_rate) for r in summary.live}
    assert live == {
        "DEMO-1": (2, Decimal("20.00"), Decimal("50.0")),
        "DEMO-2": (1, Decimal("500.00"), Decimal("100.0")),
    }
    assert summary.trades == 7
    assert summary.live_pnl == Decimal("520.00")


def test_the_summary_counts_live_trades_as_the_dashboard_lists_them(alice, api_client_for):
    alice.timezone = "UTC"
    alice.save()
    account = BrokerAccountFactory(connection__user=alice, name="DEMO-3")
    fill(account, "Buy", 1, "100", utc(2026, 3, 10, 14, 0))
    fill(account, "Buy", 1, "104", utc(2026, 3, 10, 14, 5))  # an add
    fill(account, "Sell", 2, "103", utc(2026, 3, 10, 14, 10))  # one exit closes both lots
    summary = daily_summary_compute(user=alice, day=DAY)
    [row] = summary.live
    history = api_client_for(alice).get("/api/dashboard/trade-history/?source=live").json()
    assert row.trades == history["count"] == 2  # +3 and −1 points: a win and a loss
    assert (row.pnl, row.win_rate) == (Decimal("4.00"), Decimal("50.0"))
    assert sorted(r["net_pnl"] for r in history["results"]) == ["-2.00", "6.00"]


def test_another_users_trades_never_appear_in_a_summary(trading_day, bob):
    assert daily_summary_compute(user=bob, day=DAY).trades == 0


def test_the_summary_goes_out_once_after_the_chosen_local_time(
    trading_day, fake_discord, link_discord
):
    link_discord(trading_day, "555000111222333444")
    pref = notification_preference_get(user=trading_day)
    pref.daily_summary_time = "17:00"
    pref.save()

    # 16:59 in New York: not yet.
    assert services.daily_summaries_send_due(now=utc(2026, 3, 10, 20, 59)) == 0
    # 17:01: sent; again at 17:30 and by an overlapping beat run: nothing more.
    assert services.daily_summaries_send_due(now=utc(2026, 3, 10, 21, 1)) == 1
    assert services.daily_summaries_send_due(now=utc(2026, 3, 10, 21, 30)) == 0

    n = Notification.objects.get(user=trading_day, kind="daily_summary")
    assert n.dedupe_key == "daily_summary:2026-03-10"
    assert services.notification_deliver_discord(notification_id=n.pk) == "sent"
    [dm] = fake_discord.messages_to("555000111222333444")
    embed = dm.embeds[0]
    assert embed["title"] == "📊 Daily summary · Tue 10 Mar 2026"
    assert embed["description"] == "7 trades · Broker +$520.00 · Recorded +$75.50"
    values = {f["name"]: f["value"] for f in embed["fields"]}
    assert values["💵 DEMO-1"] == "2 trades\n+$20.00\nWin 50.0%"
    assert values["💵 DEMO-2"] == "1 trade\n+$500.00\nWin 100.0%"
    assert values["📝 Breakout"] == "3 trades\n+$85.50\nWin 66.7%"
    assert values["📝 Fade"] == "1 trade\n-$10.00\nWin 0.0%"


def test_a_switched_off_summary_is_not_sent(trading_day, fake_discord, link_discord):
    link_discord(trading_day, "555000111222333444")
    pref = notification_preference_get(user=trading_day)
    for channel in ("discord", "push"):
        pref.set_switch("daily_summary", channel, False)
    pref.save()
    assert services.daily_summaries_send_due(now=utc(2026, 3, 10, 23, 0)) == 0
    assert not Notification.objects.filter(kind="daily_summary").exists()


def test_a_day_without_trades_sends_nothing(alice, fake_discord, link_discord):
    link_discord(alice, "555000111222333444")
    notification_preference_get(user=alice)
    assert services.daily_summaries_send_due(now=utc(2026, 3, 14, 23, 0)) == 0
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_the_beat_schedule_runs_registered_tasks():
    from django.core.management import call_command
    from django_celery_beat.models import PeriodicTask

    from celery_app import app

    call_command("setup_periodic_tasks", stdout=open("/dev/null", "w"))  # noqa: SIM115
    names = set(
        PeriodicTask.objects.filter(task__startswith="notifications.").values_list(
            "task", flat=True
        )
    )
    assert names == {
        "notifications.tasks.send_daily_summaries",
        "notifications.tasks.send_weekly_summaries",
        "notifications.tasks.requeue_stale_notifications",
    }
    app.loader.import_default_modules()
    assert names <= set(app.tasks)
    assert all(app.amqp.router.route({}, name)["queue"].name == "notifications" for name in names)


# --- the weekly summary (opt-in) ---------------------------------------------------------------


def test_the_weekly_summary_is_opt_in(trading_day, fake_discord, link_discord):
    link_discord(trading_day, "555000111222333444")
    # Friday 13 March 2026, 18:00 in New York: the default weekday and time have passed.
    assert services.weekly_summaries_send_due(now=utc(2026, 3, 13, 22, 0)) == 0
    assert not Notification.objects.filter(kind="weekly_summary").exists()


def test_the_weekly_summary_goes_out_once_on_the_chosen_day_through_discord(
    trading_day, fake_discord, link_discord
):
    link_discord(trading_day, "555000111222333444")
    services.notification_preferences_update(
        user=trading_day,
        kinds={"weekly_summary": {"discord": True}},
        weekly_summary_weekday=4,  # Friday
        weekly_summary_time="17:00",
    )
    assert services.weekly_summaries_send_due(now=utc(2026, 3, 12, 22, 0)) == 0  # Thursday
    assert services.weekly_summaries_send_due(now=utc(2026, 3, 13, 20, 59)) == 0  # 16:59
    assert services.weekly_summaries_send_due(now=utc(2026, 3, 13, 21, 1)) == 1
    assert services.weekly_summaries_send_due(now=utc(2026, 3, 13, 23, 0)) == 0  # once

    n = Notification.objects.get(user=trading_day, kind="weekly_summary")
    assert n.dedupe_key == "weekly_summary:2026-03-13"
    assert services.notification_deliver_discord(notification_id=n.pk) == "sent"
    [dm] = fake_discord.messages_to("555000111222333444")
    embed = dm.embeds[0]
    assert embed["title"] == "🗓️ Weekly summary · Sat 07 Mar – Fri 13 Mar 2026"
    # The week holds the day before too (the $999 trade of the 9th, New York time).
    assert embed["description"].startswith("8 trades · Broker +$520.00 · Recorded +$1,074.50")
    assert "Best day Mon 09 Mar +$999.00 · worst" in embed["description"]
    assert {f["name"] for f in embed["fields"]} == {
        "💵 DEMO-1", "💵 DEMO-2", "📝 Breakout", "📝 Fade",
    }  # fmt: skip


def test_a_week_without_trades_sends_nothing(alice, fake_discord, link_discord):
    link_discord(alice, "555000111222333444")
    services.notification_preferences_update(
        user=alice, kinds={"weekly_summary": {"discord": True, "push": True}}
    )
    assert services.weekly_summaries_send_due(now=utc(2026, 3, 13, 22, 0)) == 0
    assert notification_preference_get(user=alice).last_weekly_summary_date == date(2026, 3, 13)
