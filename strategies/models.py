from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models


def new_webhook_token() -> str:
    return secrets.token_urlsafe(24)


class ExitUnit(models.TextChoices):
    TICKS = "ticks", "Ticks"
    POINTS = "points", "Points"
    PERCENT = "percent", "Percent"


class Strategy(models.Model):
    """A signal source: one TradingView webhook URL and the rules applied to its alerts."""

    class Sizing(models.TextChoices):
        FIXED = "fixed", "Fixed contracts"
        SIGNAL = "signal", "From the alert"

    class Direction(models.TextChoices):
        BOTH = "both", "Long and short"
        LONG = "long", "Long only"
        SHORT = "short", "Short only"

    class OppositeSignal(models.TextChoices):
        REVERSE = "reverse", "Reverse the position"
        CLOSE_ONLY = "close_only", "Close only"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="strategies"
    )
    name = models.CharField(max_length=100)
    webhook_token = models.CharField(max_length=64, unique=True, default=new_webhook_token)
    passphrase = models.CharField(max_length=128, blank=True, default="")
    default_symbol = models.CharField(max_length=40, default="MNQ1!")
    sizing = models.CharField(max_length=10, choices=Sizing.choices, default=Sizing.FIXED)
    quantity = models.PositiveIntegerField(default=1)
    opposite_signal = models.CharField(
        max_length=12, choices=OppositeSignal.choices, default=OppositeSignal.REVERSE
    )
    take_profit = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    take_profit_unit = models.CharField(max_length=8, choices=ExitUnit.choices, default="ticks")
    stop_loss = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    stop_loss_unit = models.CharField(max_length=8, choices=ExitUnit.choices, default="ticks")
    trailing_stop = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    trailing_stop_unit = models.CharField(max_length=8, choices=ExitUnit.choices, default="ticks")
    break_even_trigger = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    break_even_unit = models.CharField(max_length=8, choices=ExitUnit.choices, default="ticks")
    session_start = models.TimeField(null=True, blank=True)
    session_end = models.TimeField(null=True, blank=True)
    session_timezone = models.CharField(max_length=64, default="America/New_York")
    session_days = models.JSONField(default=list, blank=True, help_text="0=Monday … 6=Sunday")
    direction = models.CharField(max_length=5, choices=Direction.choices, default=Direction.BOTH)
    max_position = models.PositiveIntegerField(null=True, blank=True)
    cooldown_seconds = models.PositiveIntegerField(default=0)
    entry_delay_seconds = models.PositiveIntegerField(default=0)
    ignore_same_side = models.BooleanField(default=False)
    auto_flatten_time = models.TimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "strategies"
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="unique_strategy_name")
        ]

    def __str__(self) -> str:
        return self.name


class Signal(models.Model):
    """One received alert, stored before it is acknowledged."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        FILTERED = "filtered", "Filtered out"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"

    class Origin(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        TEST = "test", "Test signal"
        AUTO_FLATTEN = "auto_flatten", "Auto-flatten"

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="signals")
    origin = models.CharField(max_length=12, choices=Origin.choices, default=Origin.WEBHOOK)
    alert_format = models.CharField(
        max_length=16, blank=True, default="", help_text="json, text, traderspost, ..."
    )
    raw_body = models.TextField()
    headers = models.JSONField(default=dict, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    intent = models.JSONField(default=dict, blank=True)
    action = models.CharField(max_length=20, blank=True, default="")
    symbol = models.CharField(max_length=40, blank=True, default="")
    contract = models.CharField(max_length=40, blank=True, default="")
    quantity = models.IntegerField(null=True, blank=True)
    price = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
    dedupe_key = models.CharField(max_length=128)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACCEPTED)
    reason = models.TextField(blank=True, default="")
    target_position = models.IntegerField(
        null=True, blank=True, help_text="the strategy position planned by this signal"
    )
    opens = models.BooleanField(default=False, help_text="opened, added to or reversed")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    swept_at = models.DateTimeField(
        null=True, blank=True, help_text="last re-enqueued by the sweeper"
    )
    enqueue_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["strategy", "dedupe_key"], name="unique_signal_dedupe")
        ]
        indexes = [
            models.Index(fields=["status", "received_at"]),
            models.Index(fields=["strategy", "-received_at"], name="signal_strategy_recent"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.symbol} ({self.status})"

    @property
    def latency_ms(self) -> float | None:
        if self.processed_at is None or self.received_at is None:
            return None
        return round((self.processed_at - self.received_at).total_seconds() * 1000, 1)
