"""The Discord client and delivery against our own Discord API server, in this process."""

from __future__ import annotations

import time

import pytest

from notifications import messages as msg
from notifications import services
from notifications.discord import (
    DiscordClient,
    DiscordForbidden,
    DiscordUnauthorized,
    DiscordUnavailable,
)
from notifications.models import Notification
from notifications.selectors import notification_preference_get

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(fake_discord):
    return DiscordClient(token="test-bot-token", base_url=fake_discord.api_url)


def test_an_exhausted_bucket_is_waited_for_instead_of_provoking_a_429(client, fake_discord):
    fake_discord.fake.bucket_limit, fake_discord.fake.bucket_window = 2, 1.0
    channel = client.open_dm("42")
    started = time.monotonic()
    for i in range(3):
        client.send_message(channel, content=f"message {i}")
    assert time.monotonic() - started >= 0.5  # the third waited for the bucket to refill
    assert len(fake_discord.requests_to("message")) == 3  # and was never refused
    assert [m.content for m in fake_discord.messages_to("42")] == [
        "message 0",
        "message 1",
        "message 2",
    ]


def test_the_same_nonce_posts_one_message(client, fake_discord):
    channel = client.open_dm("42")
    first = client.send_message(channel, content="hi", nonce="jt17")
    again = client.send_message(channel, content="hi", nonce="jt17")
    assert first["id"] == again["id"]
    assert len(fake_discord.messages_to("42")) == 1


def test_errors_are_typed(client, fake_discord):
    channel = client.open_dm("42")
    fake_discord.block_dms("42")
    with pytest.raises(DiscordForbidden) as refused:
        client.send_message(channel, content="hi")
    assert (refused.value.status, refused.value.code) == (403, 50007)
    fake_discord.fail_next("message", 502, {"message": "Bad Gateway", "code": 0})
    with pytest.raises(DiscordUnavailable):
        client.send_message(channel, content="hi")
    with pytest.raises(DiscordUnauthorized):
        DiscordClient(token="wrong", base_url=fake_discord.api_url).open_dm("42")


def test_a_forgotten_dm_channel_is_opened_again(alice, fake_discord, link_discord):
    link_discord(alice, "42")
    pref = notification_preference_get(user=alice)
    pref.discord_dm_channel_id, pref.discord_dm_recipient = "1234", "42"  # no longer exists
    pref.save()
    [n] = services.notification_notify(
        user=alice, kind="drift", dedupe_key="d", message=msg.Message(title="Drift")
    )
    assert services.notification_deliver_discord(notification_id=n.pk) == "sent"
    assert len(fake_discord.messages_to("42")) == 1
    assert notification_preference_get(user=alice).discord_dm_channel_id != "1234"


def test_the_dm_channel_is_opened_once_and_reused(alice, fake_discord, link_discord):
    link_discord(alice, "42")
    for key in ("a", "b"):
        [n] = services.notification_notify(
            user=alice, kind="drift", dedupe_key=key, message=msg.Message(title=key)
        )
        services.notification_deliver_discord(notification_id=n.pk)
    assert len(fake_discord.requests_to("open_dm")) == 1
    assert len(fake_discord.messages_to("42")) == 2


def test_a_discord_outage_leaves_the_dm_pending_for_a_retry(alice, fake_discord, link_discord):
    link_discord(alice, "42")
    [n] = services.notification_notify(
        user=alice, kind="drift", dedupe_key="d", message=msg.Message(title="Drift")
    )
    fake_discord.fail_next("open_dm", 503, {"message": "Service Unavailable", "code": 0})
    with pytest.raises(DiscordUnavailable):
        services.notification_deliver_discord(notification_id=n.pk)
    n.refresh_from_db()
    assert (n.status, n.attempts) == ("pending", 1)
    assert services.notification_deliver_discord(notification_id=n.pk) == "sent"


def test_every_embed_fits_discords_limits(alice, fake_discord, link_discord):
    link_discord(alice, "42")
    long = "x" * 5000
    [n] = services.notification_notify(
        user=alice,
        kind="order_failed",
        dedupe_key="long",
        message=msg.Message(title=long, description=long, fields=[(long, long)] * 30),
    )
    assert services.notification_deliver_discord(notification_id=n.pk) == "sent"
    assert Notification.objects.get(pk=n.pk).status == "sent"


def test_a_delivery_lost_before_it_started_is_enqueued_again(alice, fake_discord, link_discord):
    from datetime import timedelta

    from django.utils import timezone

    link_discord(alice, "42")
    [old] = services.notification_notify(
        user=alice, kind="drift", dedupe_key="old", message=msg.Message(title="Drift")
    )
    services.notification_notify(
        user=alice, kind="drift", dedupe_key="new", message=msg.Message(title="Drift")
    )
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert services.notifications_requeue_stale(older_than_seconds=120) == 1
