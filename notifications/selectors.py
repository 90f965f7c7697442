"""Reads of the notifications app, always scoped to one user."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from notifications.models import Notification, NotificationPreference, PushSubscription


def notification_preference_get(*, user) -> NotificationPreference:
    """The user's preferences, created with the defaults on first use."""
    pref = NotificationPreference.objects.filter(user=user).first()
    if pref is not None:
        return pref
    try:
        with transaction.atomic():
            return NotificationPreference.objects.create(user=user)
    except IntegrityError:  # created by a concurrent request
        return NotificationPreference.objects.get(user=user)


def discord_account_get(*, user):
    """The user's linked Discord account (allauth SocialAccount) or None."""
    from allauth.socialaccount.models import SocialAccount

    return SocialAccount.objects.filter(user=user, provider="discord").order_by("-id").first()


def discord_display_name(account) -> str:
    if account is None:
        return ""
    data = account.extra_data if isinstance(account.extra_data, dict) else {}
    return str(data.get("global_name") or data.get("username") or account.uid)


def discord_oauth_configured() -> bool:
    """Linking needs a Discord OAuth app (DISCORD_CLIENT_ID/SECRET) or one in the admin."""
    apps = settings.SOCIALACCOUNT_PROVIDERS.get("discord", {}).get("APPS") or []
    if apps:
        return True
    from allauth.socialaccount.models import SocialApp

    return SocialApp.objects.filter(provider="discord").exists()


def discord_bot_configured() -> bool:
    return bool(settings.DISCORD_BOT_TOKEN)


def notification_list(*, user, channel: str | None = None, status: str | None = None) -> QuerySet:
    qs = Notification.objects.filter(user=user)
    if channel:
        qs = qs.filter(channel=channel)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


MAX_ID = 2**63 - 1  # ids beyond a 64-bit integer do not exist (and would fail in the query)


def notification_get(*, user, notification_id: int) -> Notification | None:
    if not 0 < notification_id <= MAX_ID:
        return None
    return Notification.objects.filter(user=user, pk=notification_id).first()


def push_subscription_list(*, user) -> QuerySet:
    return PushSubscription.objects.filter(user=user).order_by("created_at", "id")


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("CriOS/", "Chrome"), ("Safari/", "Safari"))  # fmt: skip
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
            ("Mac OS X", "macOS"), ("Windows", "Windows"), ("CrOS", "ChromeOS"),
            ("Linux", "Linux"))  # fmt: skip


def device_label(user_agent: str) -> str:
    """ "Chrome on Android", "Safari on iPhone" … from a browser's User-Agent, for Settings."""
    ua = user_agent or ""
    browser = next((name for token, name in _BROWSERS if token in ua), "")
    system = next((name for token, name in _SYSTEMS if token in ua), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown browser"
