"""discord.py's client and our delivery against our own Discord API server, in this process."""

from __future__ import annotations

import time

import pytest

from notifications import messages as msg
from notifications import services
from notifications.discord import (
    DiscordBadRequest,
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
    fake_discord.unblock_dms("42")
    fake_discord.fail_next("message", 503, {"message": "Service Unavailable", "code": 0})
    with pytest.raises(DiscordUnavailable):
        client.send_message(channel, content="hi")
    with pytest.raises(DiscordUnauthorized):
        DiscordClient(token="wrong", base_url=fake_discord.api_url).open_dm("42")
    fake_discord.fail_next("message", 400, {"message": "Invalid Form Body", "code": 50035})
    with pytest.raises(DiscordBadRequest):
        client.send_message(channel, content="hi")


def test_a_bad_gateway_is_retried_by_discord_py_itself(client, fake_discord):
    channel = client.open_dm("42")
    fake_discord.fail_next("message", 502, {"message": "Bad Gateway", "code": 0})
    client.send_message(channel, content="hi")
    assert len(fake_discord.requests_to("message")) == 2
    assert [m.content for m in fake_discord.messages_to("42")] == ["hi"]


def test_the_bot_logs_in_once_and_speaks_discords_protocol(client, fake_discord):
    channel = client.open_dm("42")
    client.send_message(channel, content="one")
    client.send_message(channel, content="two")
    assert len(fake_discord.requests_to("me")) == 1
    [request, *_] = fake_discord.requests_to("message")
    assert request["headers"]["Authorization"] == "Bot test-bot-token"
    assert request["headers"]["User-Agent"].startswith("DiscordBot (https://github.com/Rapptz")
    assert request["body"]["allowed_mentions"] == {"parse": []}


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


def test_a_429_longer_than_discord_py_waits_is_handed_back_with_its_retry_after(
    client, fake_discord
):
    from notifications.discord import INLINE_WAIT_LIMIT, DiscordRateLimited

    channel = client.open_dm("42")
    fake_discord.rate_limit_next("message", retry_after=INLINE_WAIT_LIMIT + 10)
    started = time.monotonic()
    with pytest.raises(DiscordRateLimited) as limited:
        client.send_message(channel, content="hi")
    assert time.monotonic() - started < 5  # not slept through
    assert limited.value.retry_after == pytest.approx(INLINE_WAIT_LIMIT + 10)
    assert fake_discord.messages_to("42") == []


def test_the_task_retries_a_rate_limited_dm_at_retry_after(alice, fake_discord, link_discord):
    from unittest import mock

    from notifications import tasks
    from notifications.discord import DiscordRateLimited

    link_discord(alice, "42")
    [n] = services.notification_notify(
        user=alice, kind="drift", dedupe_key="d", message=msg.Message(title="Drift")
    )
    limited = DiscordRateLimited("rate limited by Discord", retry_after=42.0)
    with (
        mock.patch.object(services, "notification_deliver_discord", side_effect=limited),
        mock.patch.object(tasks.deliver_discord, "retry", side_effect=RuntimeError) as retry,
        pytest.raises(RuntimeError),
    ):
        tasks.deliver_discord.run(n.pk)
    countdown = retry.call_args.kwargs["countdown"]
    assert 42.0 <= countdown <= 42.6
    assert retry.call_args.kwargs["max_retries"] == tasks.MAX_RATE_LIMIT_RETRIES
