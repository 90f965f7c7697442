"""Strategies, the signals they receive, and the position each strategy's rules decided.

``StrategyPosition`` is the strategy's own memory per product: what its rules decided after the
last signal (and after the recorder's exits). Every trader scales that one decision.
"""

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
        SIGNAL = "signal", "From the alert (else the fixed quantity)"

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
    # A new strategy trades what its alerts say (the fixed quantity when an alert has no size).
    sizing = models.CharField(max_length=10, choices=Sizing.choices, default=Sizing.SIGNAL)
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
    follow_exchange_session = models.BooleanField(
        default=False,
        help_text="Entries only while the exchange trades the product (CME Globex hours, "
        "holidays and early closes), besides any session window above.",
    )
    direction = models.CharField(max_length=5, choices=Direction.choices, default=Direction.BOTH)
    max_position = models.PositiveIntegerField(null=True, blank=True)
    cooldown_seconds = models.PositiveIntegerField(default=0)
    entry_delay_seconds = models.PositiveIntegerField(default=0)
    ignore_same_side = models.BooleanField(default=False)
    auto_flatten_time = models.TimeField(null=True, blank=True)
    # The product guard: an alert for another product (NQ on an MNQ strategy) is rejected
    # unless the strategy trades whatever ticker its alerts name.
    trade_alert_ticker = models.BooleanField(default=False)
    # An entry not placed this long after its alert arrived is dropped (exits never are).
    max_signal_age_seconds = models.PositiveIntegerField(default=30)
    # A repeat of an alert (same id, else same body) this soon after the first copy is one alert.
    dedupe_window_seconds = models.PositiveIntegerField(default=20)
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
        EXECUTING = "executing", "Orders under way"  # decided; its traders' executions run
        PROCESSED = "processed", "Processed"  # decided, and every execution done/skipped/failed
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
    # The contracts the strategy's sizing gave this entry, and by which rule ("fixed"/"signal").
    sized_quantity = models.IntegerField(null=True, blank=True)
    sizing = models.CharField(max_length=10, blank=True, default="")
    dedupe_key = models.CharField(max_length=128)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACCEPTED)
    reason = models.TextField(blank=True, default="")
    target_position = models.IntegerField(
        null=True, blank=True, help_text="the strategy position planned by this signal"
    )
    from_position = models.IntegerField(
        null=True, blank=True, help_text="the strategy position before this signal"
    )
    opens = models.BooleanField(default=False, help_text="opened, added to or reversed")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(
        null=True, blank=True, help_text="every trader's execution finished"
    )
    recorded_at = models.DateTimeField(
        null=True, blank=True, help_text="booked on the strategy's paper record"
    )
    swept_at = models.DateTimeField(
        null=True, blank=True, help_text="last re-enqueued by the sweeper"
    )
    enqueue_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["strategy", "dedupe_key"]),
            models.Index(fields=["status", "received_at"]),
            models.Index(fields=["strategy", "-received_at"], name="signal_strategy_recent"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.symbol} ({self.status})"

    @property
    def latency_ms(self) -> float | None:
        """Receipt to decision; none for an alert refused at the door (it was never decided)."""
        if self.status == self.Status.REJECTED:
            return None
        if self.processed_at is None or self.received_at is None:
            return None
        return max(0.0, round((self.processed_at - self.received_at).total_seconds() * 1000, 1))

    @property
    def quantity_text(self) -> str:
        """What the Qty column says: the number, "all" for an exit of the whole position."""
        if self.quantity:
            return str(self.quantity)
        return "all" if self.action == "exit" else "—"

    @property
    def sizing_note(self) -> str:
        """ "alert 3 → traded 1 (fixed)" when the strategy traded another size than the alert
        asked for; empty when they agree (or the alert named no size)."""
        if self.quantity is None or self.sized_quantity is None:
            return ""
        asked = abs(self.quantity)
        if asked == self.sized_quantity:
            return ""
        rule = "fixed" if self.sizing == Strategy.Sizing.FIXED else "from the alert"
        return f"alert {asked} → traded {self.sized_quantity} ({rule})"


class AlertFingerprint(models.Model):
    """The first copy of an alert within a strategy's dedupe window: one row per (strategy,
    key), moved forward when a copy arrives after the window (then it is a new signal)."""

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    first_at = models.DateTimeField()
    signal = models.ForeignKey(Signal, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["strategy", "key"], name="one_fingerprint_per_key")
        ]

    def __str__(self) -> str:
        return f"{self.strategy_id} {self.key} @ {self.first_at:%H:%M:%S}"


class StrategyPosition(models.Model):
    """The position a strategy's rules hold in one product (every contract month of a root)."""

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="positions")
    root = models.CharField(max_length=8)
    contract = models.CharField(max_length=40, blank=True, default="")
    net_pos = models.IntegerField(default=0)
    last_signal = models.ForeignKey(
        Signal, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["strategy_id", "root"]
        constraints = [
            models.UniqueConstraint(fields=["strategy", "root"], name="one_position_per_product")
        ]

    def __str__(self) -> str:
        return f"{self.strategy_id} {self.root} {self.net_pos:+d}"
