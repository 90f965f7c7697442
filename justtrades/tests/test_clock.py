"""One clock: server-rendered times in the zone chosen in Settings, with the zone shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from justtrades.clock import local_time_text, offset_label, zone_named
from strategies.models import Signal
from strategies.tests.factories import SignalFactory, StrategyFactory

pytestmark = pytest.mark.django_db

WINTER_AFTERNOON = datetime(2025, 1, 9, 15, 0, 7, tzinfo=UTC)


def test_offsets_read_as_a_browser_names_them():
    assert offset_label(timedelta()) == "UTC"
    assert offset_label(timedelta(hours=-5)) == "UTC-5"
    assert offset_label(timedelta(hours=5, minutes=30)) == "UTC+5:30"


def test_a_moment_is_written_in_the_zone_with_its_offset():
    new_york = zone_named("America/New_York")
    assert local_time_text(WINTER_AFTERNOON, new_york) == "2025-01-09 10:00:07 UTC-5"
    summer = WINTER_AFTERNOON.replace(month=7)
    assert local_time_text(summer, new_york) == "2025-07-09 11:00:07 UTC-4"


def test_an_unknown_zone_reads_as_utc():
    assert local_time_text(WINTER_AFTERNOON, zone_named("Mars/Olympus")) == (
        "2025-01-09 15:00:07 UTC"
    )


def test_the_strategy_page_shows_signal_times_in_the_users_zone(alice, client):
    alice.timezone = "Asia/Kolkata"
    alice.save(update_fields=["timezone"])
    strategy = StrategyFactory(user=alice)
    signal = SignalFactory(strategy=strategy)
    Signal.objects.filter(pk=signal.pk).update(received_at=WINTER_AFTERNOON)
    client.force_login(alice)
    html = client.get(f"/strategies/{strategy.pk}/").content.decode()
    assert "2025-01-09 20:30:07 UTC+5:30" in html
    assert 'data-tz="Asia/Kolkata"' in html


def test_every_user_sees_their_own_zone(alice, bob, client):
    bob.timezone = "America/Chicago"
    bob.save(update_fields=["timezone"])
    client.force_login(bob)
    assert 'data-tz="America/Chicago"' in client.get("/").content.decode()
    client.force_login(alice)  # UTC by default
    assert 'data-tz="UTC"' in client.get("/").content.decode()
