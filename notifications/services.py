"""Writes of the notifications app: preferences, notifications and their delivery.

`notification_notify(...)` is the one entry point for telling a user something: it honours the
user's switches (one per kind and channel), stores one `Notification` per channel under a
dedupe key (so the same fact is never told twice, however often the event repeats or a task is
redelivered) and enqueues the delivery after commit. Any app may call it directly; the event
rules (`notifications.rules`) call it for the live events every service publishes.

Deliveries are enqueued by task name (`notifications.tasks` calls this module, never the other
way round), so the modules of this app import in one direction: tasks → rules → services.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from justtrades.api import ApplicationError
from justtrades.queue import enqueue
from justtrades.realtime import publish
from notifications import messages as msg
from notifications.discord import (
    UNKNOWN_CHANNEL,
    DiscordBadRequest,
    DiscordForbidden,
    DiscordNotFound,
    DiscordUnauthorized,
    get_client,
)
from notifications.models import Notification, NotificationPreference, PushSubscription
from notifications.push import PushFailed, PushGone, send_push
from notifications.selectors import (
    discord_account_get,
    discord_bot_configured,
    notification_preference_get,
)
from notifications.summary import (
    DailySummary,
    daily_summary_compute,
    period_summary_compute,
    user_zone,
)

logger = logging.getLogger(__name__)

BLOCKED_HELP = (
    "Discord refused the DM (Cannot send messages to this user). Share a server with the "
    "Just.Trades bot and allow direct messages from server members, then press "
    "“Send me a test DM”."
)

PREFERENCE_FIELDS = {
    "discord_enabled",
    "push_enabled",
    "include_paper",
    "daily_summary_time",
    "weekly_summary_weekday",
    "weekly_summary_time",
}


# --- preferences ------------------------------------------------------------------------------
@transaction.atomic
def notification_preferences_update(
    *, user, kinds: dict[str, dict[str, bool]] | None = None, **changes: Any
) -> NotificationPreference:
    """Change any of the user's settings; unknown names are a 400, not silently ignored.

    ``kinds`` switches kinds per channel: ``{"stop_hit": {"discord": False}}``.
    """
    unknown = set(changes) - PREFERENCE_FIELDS
    if unknown:
        raise ApplicationError(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    for kind, channels in (kinds or {}).items():
        if kind not in msg.KINDS:
            raise ApplicationError(f"Unknown notification kind {kind!r}.")
        if set(channels) - set(msg.CHANNELS):
            raise ApplicationError(f"Channels are {' and '.join(msg.CHANNELS)}.")
    pref = notification_preference_get(user=user)
    pref = NotificationPreference.objects.select_for_update().get(pk=pref.pk)
    for name, value in changes.items():
        setattr(pref, name, value)
    fields = list(changes)
    for kind, channels in (kinds or {}).items():
        for channel, on in channels.items():
            pref.set_switch(kind, channel, on)
    if kinds:
        fields.append("switches")
    if fields:
        pref.save(update_fields=fields)
    return pref


@transaction.atomic
def discord_toggle(*, user, enabled: bool | None = None) -> NotificationPreference:
    pref = notification_preference_get(user=user)
    value = (not pref.discord_enabled) if enabled is None else bool(enabled)
    return notification_preferences_update(user=user, discord_enabled=value)


@transaction.atomic
def push_toggle(*, user, enabled: bool | None = None) -> NotificationPreference:
    pref = notification_preference_get(user=user)
    value = (not pref.push_enabled) if enabled is None else bool(enabled)
    return notification_preferences_update(user=user, push_enabled=value)


@transaction.atomic
def discord_unlink(*, user) -> None:
    """Forget the linked Discord account and its DM channel."""
    from allauth.socialaccount.models import SocialAccount

    SocialAccount.objects.filter(user=user, provider="discord").delete()
    pref = notification_preference_get(user=user)
    pref.discord_dm_channel_id = ""
    pref.discord_dm_recipient = ""
    pref.discord_blocked = False
    pref.discord_error = ""
    pref.discord_error_at = None
    pref.save(
        update_fields=[
            "discord_dm_channel_id",
            "discord_dm_recipient",
            "discord_blocked",
            "discord_error",
            "discord_error_at",
        ]
    )


@transaction.atomic
def push_subscription_save(
    *, user, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> PushSubscription:
    """Store a browser's push subscription (re-subscribing the same browser updates it)."""
    if not endpoint.startswith("https://") and not endpoint.startswith("http://127.0.0.1"):
        raise ApplicationError("A push endpoint must be an https:// URL.")
    existing = PushSubscription.objects.select_for_update().filter(endpoint=endpoint).first()
    if existing is not None and existing.user_id != user.pk:
        existing.delete()  # the browser now belongs to another login
        existing = None
    if existing is None:
        sub = PushSubscription.objects.create(
            user=user, endpoint=endpoint, p256dh=p256dh, auth=auth, user_agent=user_agent[:200]
        )
    else:
        existing.p256dh, existing.auth, existing.last_error = p256dh, auth, ""
        existing.save(update_fields=["p256dh", "auth", "last_error"])
        sub = existing
    notification_preferences_update(user=user, push_enabled=True)
    return sub


@transaction.atomic
def push_subscription_delete(
    *, user, endpoint: str | None = None, subscription_id: int | None = None
) -> int:
    """Forget one device (by its push endpoint, or its id in Settings); owner only."""
    qs = PushSubscription.objects.filter(user=user)
    if subscription_id is not None:
        qs = qs.filter(pk=subscription_id)
    elif endpoint:
        qs = qs.filter(endpoint=endpoint)
    else:
        return 0
    deleted, _ = qs.delete()
    return deleted


# --- creating notifications -------------------------------------------------------------------
DELIVERY_TASKS = {
    Notification.Channel.DISCORD: "notifications.tasks.deliver_discord",
    Notification.Channel.PUSH: "notifications.tasks.deliver_push",
}


def _enqueue_delivery(notification: Notification) -> None:
    task_name = DELIVERY_TASKS[notification.channel]
    pk = notification.pk

    def send() -> None:
        try:
            # By name: the task module imports this one (routed to the notifications queue).
            enqueue(task_name, pk)
        except Exception:  # noqa: BLE001 - the row stays pending and is swept later
            logger.warning("could not enqueue delivery of notification %s", pk, exc_info=True)

    transaction.on_commit(send)


def _create_once(
    *,
    user,
    channel: str,
    kind: str,
    dedupe_key: str,
    payload: dict,
    status: str = Notification.Status.PENDING,
    error: str = "",
) -> Notification | None:
    """Insert the notification unless the same (user, channel, dedupe key) exists already."""
    try:
        with transaction.atomic():
            return Notification.objects.create(
                user=user,
                channel=channel,
                kind=kind,
                dedupe_key=dedupe_key[:128],
                payload=payload,
                status=status,
                error=error,
            )
    except IntegrityError:
        return None


@transaction.atomic
def notification_notify(
    *, user, kind: str, dedupe_key: str, message: msg.Message, force: bool = False
) -> list[Notification]:
    """Tell `user` about one fact on every channel they enabled; at most once per dedupe key.

    Returns the notifications created now (empty when switched off or already told).
    `force` skips the per-kind switch (the test DM).
    """
    if kind != msg.TEST_KIND and kind not in msg.KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    pref = notification_preference_get(user=user)
    payload = message.payload()
    created: list[Notification] = []
    wants_discord = force or pref.wants(kind, "discord")
    wants_push = force or pref.wants(kind, "push")
    if wants_discord and pref.discord_enabled and discord_account_get(user=user) is not None:
        if pref.discord_blocked and not force:
            # Recorded, not sent: Discord said no until the user fixes their DM settings.
            _create_once(
                user=user,
                channel=Notification.Channel.DISCORD,
                kind=kind,
                dedupe_key=dedupe_key,
                payload=payload,
                status=Notification.Status.SKIPPED,
                error=pref.discord_error or BLOCKED_HELP,
            )
        else:
            n = _create_once(
                user=user,
                channel=Notification.Channel.DISCORD,
                kind=kind,
                dedupe_key=dedupe_key,
                payload=payload,
            )
            if n is not None:
                created.append(n)
                _enqueue_delivery(n)
    if wants_push and pref.push_enabled and PushSubscription.objects.filter(user=user).exists():
        n = _create_once(
            user=user,
            channel=Notification.Channel.PUSH,
            kind=kind,
            dedupe_key=dedupe_key,
            payload=payload,
        )
        if n is not None:
            created.append(n)
            _enqueue_delivery(n)
    return created


def notification_send_test_dm(*, user) -> Notification:
    """The Settings button: a DM now, whatever the switches, clearing a previous refusal."""
    if not discord_bot_configured():
        raise ApplicationError("Discord DMs are not configured on this server (no bot token).")
    account = discord_account_get(user=user)
    if account is None:
        raise ApplicationError("Link your Discord account first.")
    pref = notification_preference_get(user=user)
    if not pref.discord_enabled:
        raise ApplicationError("Discord notifications are switched off; switch them on first.")
    stamp = timezone.now()
    message = msg.Message(
        title="✅ Test notification",
        description="Discord notifications from Just.Trades work. You will get your trades here.",
        fields=[("Linked as", f"<@{account.uid}>")],
        color=msg.GREEN,
        path="/settings/",
        timestamp=stamp,
    )
    created = notification_notify(
        user=user,
        kind=msg.TEST_KIND,
        dedupe_key=f"test:{stamp.timestamp():.6f}",
        message=message,
        force=True,
    )
    discord = [n for n in created if n.channel == Notification.Channel.DISCORD]
    if not discord:
        raise ApplicationError("A test DM was just sent; try again in a moment.")
    return discord[0]


# --- delivery ---------------------------------------------------------------------------------
def _claim(notification_id: int, channel: str) -> Notification | None:
    """Count an attempt on a pending notification; None if it is not pending any more."""
    updated = Notification.objects.filter(
        pk=notification_id, channel=channel, status=Notification.Status.PENDING
    ).update(attempts=F("attempts") + 1)
    if not updated:
        return None
    return Notification.objects.select_related("user").get(pk=notification_id)


def _finish(n: Notification, status: str, error: str = "") -> None:
    n.status = status
    n.error = error[:2000]
    n.sent_at = timezone.now() if status == Notification.Status.SENT else None
    n.save(update_fields=["status", "error", "sent_at"])


def _record_discord_problem(pref: NotificationPreference, error: str, *, blocked: bool) -> None:

    pref.discord_error = error[:200]
    pref.discord_error_at = timezone.now()
    pref.discord_blocked = blocked or pref.discord_blocked
    pref.save(update_fields=["discord_error", "discord_error_at", "discord_blocked"])
    publish(pref.user_id, "toast", {"kind": "error", "message": f"Discord: {error[:200]}"})


def notification_mark_failed(*, notification_id: int, error: str) -> None:
    """The final failure after the retries, where the user sees it (Settings)."""
    n = Notification.objects.filter(pk=notification_id).first()
    if n is None or n.status != Notification.Status.PENDING:
        return
    _finish(n, Notification.Status.FAILED, error)
    if n.channel == Notification.Channel.DISCORD:
        pref = notification_preference_get(user=n.user)
        pref.discord_error = f"DM not delivered: {error}"[:200]
        pref.discord_error_at = timezone.now()
        pref.save(update_fields=["discord_error", "discord_error_at"])


def notification_deliver_discord(*, notification_id: int) -> str:
    """Send one pending Discord notification; returns its final status.

    Raises DiscordRateLimited / DiscordUnavailable for the task to retry later. A redelivered
    task cannot post twice: the message carries the notification's nonce and Discord returns
    the first message for a repeated one.
    """
    n = _claim(notification_id, Notification.Channel.DISCORD)
    if n is None:
        return "not pending"
    user = n.user
    pref = notification_preference_get(user=user)
    account = discord_account_get(user=user)
    if account is None:
        _finish(n, Notification.Status.SKIPPED, "Discord is not linked.")
        return n.status
    if not pref.discord_enabled and n.kind != msg.TEST_KIND:
        _finish(n, Notification.Status.SKIPPED, "Discord notifications are switched off.")
        return n.status
    if pref.discord_blocked and n.kind != msg.TEST_KIND:
        _finish(n, Notification.Status.SKIPPED, pref.discord_error or BLOCKED_HELP)
        return n.status
    client = get_client()
    embed = msg.to_embed(n.payload)
    try:
        for attempt in range(2):
            channel_id = (
                pref.discord_dm_channel_id if pref.discord_dm_recipient == account.uid else ""
            )
            if not channel_id:
                channel_id = client.open_dm(account.uid)
                pref.discord_dm_channel_id, pref.discord_dm_recipient = channel_id, account.uid
                pref.save(update_fields=["discord_dm_channel_id", "discord_dm_recipient"])
            try:
                client.send_message(channel_id, embeds=[embed], nonce=f"jt{n.pk}")
                break
            except DiscordNotFound as exc:
                if exc.code != UNKNOWN_CHANNEL or attempt:
                    raise
                pref.discord_dm_channel_id = ""  # the cached channel is gone: open it again
    except DiscordForbidden as exc:
        error = BLOCKED_HELP if exc.code == 50007 else f"Discord refused the DM: {exc.message}"
        _finish(n, Notification.Status.FAILED, error)
        _record_discord_problem(pref, error, blocked=exc.code == 50007)
        return n.status
    except (DiscordUnauthorized, DiscordBadRequest, DiscordNotFound) as exc:
        error = f"Discord rejected the DM: {exc.message}"
        _finish(n, Notification.Status.FAILED, error)
        _record_discord_problem(pref, error, blocked=False)
        logger.error("Discord DM %s failed: %s", n.pk, exc.message)
        return n.status
    _finish(n, Notification.Status.SENT)
    if pref.discord_error or pref.discord_blocked:
        pref.discord_error, pref.discord_blocked, pref.discord_error_at = "", False, None
        pref.save(update_fields=["discord_error", "discord_blocked", "discord_error_at"])
    return n.status


def notification_deliver_push(*, notification_id: int) -> str:
    """Send one pending push notification to every browser the user subscribed."""

    n = _claim(notification_id, Notification.Channel.PUSH)
    if n is None:
        return "not pending"
    subscriptions = list(PushSubscription.objects.filter(user_id=n.user_id))
    if not subscriptions:
        _finish(n, Notification.Status.SKIPPED, "No browser is subscribed.")
        return n.status
    data = json.dumps(msg.to_push(n.payload, tag=f"jt-{n.kind}-{n.pk}"))
    delivered, errors = 0, []
    for sub in subscriptions:
        try:
            send_push(endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth, data=data)
            delivered += 1
        except PushGone:
            sub.delete()  # the browser unsubscribed or expired the subscription
        except PushFailed as exc:
            errors.append(str(exc))
            sub.last_error = str(exc)[:200]
            sub.save(update_fields=["last_error"])
    if delivered:
        _finish(n, Notification.Status.SENT, "; ".join(errors))
    elif errors:
        _finish(n, Notification.Status.FAILED, "; ".join(errors))
    else:
        _finish(n, Notification.Status.SKIPPED, "Every subscription had expired.")
    return n.status


def notifications_requeue_stale(*, older_than_seconds: int = 120) -> int:
    """Re-enqueue pending notifications whose delivery task was lost (e.g. Redis down)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    recent = timezone.now() - timezone.timedelta(days=1)
    stale = list(
        Notification.objects.filter(
            status=Notification.Status.PENDING,
            attempts=0,
            created_at__lt=cutoff,
            created_at__gt=recent,
        )[:500]
    )
    for n in stale:
        _enqueue_delivery(n)
    return len(stale)


# --- daily and weekly summaries ---------------------------------------------------------------
def summary_message(summary: DailySummary, *, title: str) -> msg.Message:
    fields: list[tuple[str, str]] = []
    for row in summary.live:
        fields.append((f"💵 {row.label}", _row_text(row)))
    for row in summary.paper:
        fields.append((f"📝 {row.label}", _row_text(row)))
    if not fields:
        description = "No trades closed."
    else:
        parts = []
        if summary.live:
            parts.append(f"Broker {msg.money(summary.live_pnl)}")
        if summary.paper:
            parts.append(f"Recorded {msg.money(summary.paper_pnl)}")
        description = f"{summary.trades} trades · " + " · ".join(parts)
        if summary.best_day is not None and summary.first_day != summary.day:
            best, worst = summary.best_day, summary.worst_day
            description += (
                f"\nBest day {best[0]:%a %d %b} {msg.money(best[1])} · "
                f"worst {worst[0]:%a %d %b} {msg.money(worst[1])}"
            )
    color = msg.pnl_color(summary.live_pnl if summary.live else summary.paper_pnl)
    return msg.Message(
        title=title,
        description=description,
        fields=fields[:24],
        color=color if fields else msg.GRAY,
        path="/",
    )


def daily_summary_message(summary: DailySummary) -> msg.Message:
    return summary_message(summary, title=f"📊 Daily summary · {summary.day:%a %d %b %Y}")


def weekly_summary_message(summary: DailySummary) -> msg.Message:
    first, last = summary.first_day, summary.day
    return summary_message(
        summary, title=f"🗓️ Weekly summary · {first:%a %d %b} – {last:%a %d %b %Y}"
    )


def _row_text(row) -> str:
    rate = "—" if row.win_rate is None else f"{row.win_rate}%"
    trades = f"{row.trades} trade{'' if row.trades == 1 else 's'}"
    return f"{trades}\n{msg.money(row.pnl)}\nWin {rate}"


def daily_summary_send(*, user, day: date) -> list[Notification]:
    summary = daily_summary_compute(user=user, day=day)
    if summary.trades == 0:
        return []  # no message on a day without trades (weekends, holidays)
    return notification_notify(
        user=user,
        kind="daily_summary",
        dedupe_key=f"daily_summary:{day.isoformat()}",
        message=daily_summary_message(summary),
    )


def weekly_summary_send(*, user, last_day: date) -> list[Notification]:
    """The seven local days ending on ``last_day``; nothing when no trade closed in them."""
    summary = period_summary_compute(
        user=user, first_day=last_day - timedelta(days=6), last_day=last_day
    )
    if summary.trades == 0:
        return []
    return notification_notify(
        user=user,
        kind="weekly_summary",
        dedupe_key=f"weekly_summary:{last_day.isoformat()}",
        message=weekly_summary_message(summary),
    )


def _wants_at_all(pref: NotificationPreference, kind: str) -> bool:
    return any(pref.wants(kind, channel) for channel in msg.CHANNELS)


def _as_time(value) -> time:
    return time.fromisoformat(value) if isinstance(value, str) else value


def daily_summaries_send_due(*, now: datetime | None = None) -> int:
    """Send each user's summary once their chosen local time has passed today (beat, often).

    The day is claimed with a conditional UPDATE of `last_summary_date`, so overlapping beat
    runs or a redelivered task send one summary per user per day.
    """
    now = now or timezone.now()
    sent = 0
    prefs = NotificationPreference.objects.select_related("user")
    for pref in prefs.iterator():
        if not _wants_at_all(pref, "daily_summary"):
            continue
        local = now.astimezone(user_zone(pref.user))
        if local.time() < _as_time(pref.daily_summary_time):
            continue
        if pref.last_summary_date == local.date():
            continue
        claimed = (
            NotificationPreference.objects.filter(pk=pref.pk)
            .exclude(last_summary_date=local.date())
            .update(last_summary_date=local.date())
        )
        if claimed:
            try:
                sent += len(daily_summary_send(user=pref.user, day=local.date()))
            except Exception:  # noqa: BLE001 - one user's failure must not stop the others
                logger.exception("daily summary for user %s failed", pref.user_id)
    return sent


def weekly_summaries_send_due(*, now: datetime | None = None) -> int:
    """The opt-in weekly summary, on the user's weekday once their local time has passed;
    claimed like the daily one (`last_weekly_summary_date`), so it goes out once a week."""
    now = now or timezone.now()
    sent = 0
    prefs = NotificationPreference.objects.select_related("user")
    for pref in prefs.iterator():
        if not _wants_at_all(pref, "weekly_summary"):
            continue
        local = now.astimezone(user_zone(pref.user))
        if local.weekday() != pref.weekly_summary_weekday:
            continue
        if local.time() < _as_time(pref.weekly_summary_time):
            continue
        if pref.last_weekly_summary_date == local.date():
            continue
        claimed = (
            NotificationPreference.objects.filter(pk=pref.pk)
            .exclude(last_weekly_summary_date=local.date())
            .update(last_weekly_summary_date=local.date())
        )
        if claimed:
            try:
                sent += len(weekly_summary_send(user=pref.user, last_day=local.date()))
            except Exception:  # noqa: BLE001 - one user's failure must not stop the others
                logger.exception("weekly summary for user %s failed", pref.user_id)
    return sent
