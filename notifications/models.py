"""Notifications sent, each user's preferences, Discord links and push devices."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from notifications.messages import KINDS


class NotificationPreference(models.Model):
    """What a user wants to be told, and where."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    discord_enabled = models.BooleanField(default=True)
    push_enabled = models.BooleanField(default=False)
    # kind → {"discord": bool, "push": bool}, only what the user changed: a kind added later
    # starts at its default (notifications.messages.KINDS) without a migration.
    switches = models.JSONField(default=dict, blank=True)
    daily_summary_time = models.TimeField(default="17:00")
    # The weekly summary (opt-in): the seven days ending on this weekday (0 = Monday), sent at
    # this local time.
    weekly_summary_weekday = models.PositiveSmallIntegerField(default=4)
    weekly_summary_time = models.TimeField(default="17:00")
    last_weekly_summary_date = models.DateField(null=True, blank=True)
    discord_dm_channel_id = models.CharField(max_length=32, blank=True, default="")
    discord_error = models.CharField(max_length=200, blank=True, default="")
    last_summary_date = models.DateField(null=True, blank=True)
    # Paper (recorder) entries and exits are told too, marked as paper.
    include_paper = models.BooleanField(default=True)
    # Discord refused DMs to this user (403 50007): stop sending until a test DM succeeds.
    discord_blocked = models.BooleanField(default=False)
    # The Discord user the cached DM channel belongs to (re-linking another account resets it).
    discord_dm_recipient = models.CharField(max_length=32, blank=True, default="")
    discord_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weekly_summary_weekday__lte=6), name="weekly_summary_weekday"
            )
        ]

    def __str__(self) -> str:
        return f"Notification settings of {self.user}"

    def wants(self, kind: str, channel: str) -> bool:
        """Is ``kind`` switched on for ``channel`` (``"discord"`` / ``"push"``)?"""

        spec = KINDS.get(kind)
        if spec is None:
            return False
        chosen = (self.switches or {}).get(kind) or {}
        value = chosen.get(channel)
        return bool(getattr(spec, channel)) if value is None else bool(value)

    def set_switch(self, kind: str, channel: str, on: bool) -> None:
        switches = dict(self.switches or {})
        switches[kind] = {**switches.get(kind, {}), channel: bool(on)}
        self.switches = switches


class Notification(models.Model):
    """One message to a user on one channel, with its delivery state."""

    class Channel(models.TextChoices):
        DISCORD = "discord", "Discord DM"
        PUSH = "push", "Browser push"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    kind = models.CharField(max_length=30)
    dedupe_key = models.CharField(max_length=128)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "channel", "dedupe_key"], name="unique_notification"
            )
        ]
        indexes = [models.Index(fields=["user", "created_at"], name="notification_user_created")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.kind} to {self.user} ({self.status})"

    @property
    def title(self) -> str:
        return str((self.payload or {}).get("title", self.kind))


class PushSubscription(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=500, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    last_error = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Push subscription of {self.user} ({self.endpoint[:40]}…)"
