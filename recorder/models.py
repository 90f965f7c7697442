"""Recorders, their paper positions, fills and trades, and the strategy timeline."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Recorder(models.Model):
    """The paper track record of one strategy."""

    class Source(models.TextChoices):
        SIGNALS = "signals", "Signals (virtual fills)"
        ACCOUNT = "account", "A demo account"

    class FillMode(models.TextChoices):
        MARKET = "market", "Paper market (as a Paper account fills)"
        ALERT_PRICE = "alert_price", "Alert price"
        NEXT_QUOTE = "next_quote", "Next bid/ask"
        NEXT_TRADE = "next_trade", "Next trade"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recorders"
    )
    strategy = models.OneToOneField(
        "strategies.Strategy", on_delete=models.CASCADE, related_name="recorder"
    )
    running = models.BooleanField(default=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SIGNALS)
    broker_account = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.SET_NULL, null=True, blank=True
    )
    fill_mode = models.CharField(
        max_length=12,
        choices=FillMode.choices,
        default=FillMode.MARKET,
        help_text="Paper market: market orders on the user's own paper book, at the touch plus "
        "the paper slippage, exits as resting orders there (what a Paper account gets).",
    )
    commission_per_side = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    poll_interval_seconds = models.PositiveIntegerField(default=60)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Start of the recording window (account fills before it are not attributed).",
    )
    stopped_at = models.DateTimeField(null=True, blank=True)
    symbols = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="Account source: only these contracts (comma separated, e.g. MNQ1!, ESZ6); "
        "blank means the strategy's default symbol.",
    )
    last_error = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(poll_interval_seconds__gte=5),
                name="recorder_poll_interval_min",
            ),
            models.CheckConstraint(
                condition=models.Q(commission_per_side__gte=0),
                name="recorder_commission_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"Recorder of {self.strategy}"


class RecordedPositionQuerySet(models.QuerySet):
    def in_the_market(self):
        """Positions the market can still move: open ones, and flat ones with a limit or stop
        entry working (``state["working"]``, written only while one works)."""
        return self.filter(~models.Q(net_pos=0) | models.Q(state__has_key="working"))


class RecordedPosition(models.Model):
    """A paper position currently open (or just closed) for a recorder, with the limit and stop
    entries still working on it."""

    recorder = models.ForeignKey(Recorder, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=40)
    net_pos = models.IntegerField(default=0)
    avg_price = models.DecimalField(max_digits=16, decimal_places=6, default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    state = models.JSONField(default=dict, blank=True, help_text="exit levels, MAE/MFE, lots")
    last_price = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
    open_pnl = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RecordedPositionQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["recorder", "symbol"], name="unique_recorded_position")
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.net_pos:+d}"


class RecordedTrade(models.Model):
    """A closed round trip of the paper track record."""

    class ExitReason(models.TextChoices):
        SIGNAL = "signal", "Signal"
        TARGET = "target", "Take profit"
        STOP = "stop", "Stop loss"
        TRAILING = "trailing", "Trailing stop"
        BREAK_EVEN = "break_even", "Break-even stop"
        FLATTEN = "flatten", "Flatten"
        SESSION_END = "session_end", "Session end"
        REVERSAL = "reversal", "Reversal"
        ACCOUNT = "account", "Account"

    recorder = models.ForeignKey(Recorder, on_delete=models.CASCADE, related_name="trades")
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=5, choices=[("long", "Long"), ("short", "Short")])
    quantity = models.PositiveIntegerField()
    entry_time = models.DateTimeField()
    exit_time = models.DateTimeField(db_index=True)
    entry_price = models.DecimalField(max_digits=16, decimal_places=6)
    exit_price = models.DecimalField(max_digits=16, decimal_places=6)
    points = models.DecimalField(max_digits=16, decimal_places=6)
    ticks = models.DecimalField(max_digits=16, decimal_places=2)
    pnl = models.DecimalField(max_digits=16, decimal_places=2, help_text="gross, dollars")
    commission = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    net_pnl = models.DecimalField(max_digits=16, decimal_places=2)
    mae = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    mfe = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    exit_reason = models.CharField(max_length=12, choices=ExitReason.choices)
    signal = models.ForeignKey(
        "strategies.Signal",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recorded_trades",
        help_text="The signal that closed the trade, when one did.",
    )

    class Meta:
        ordering = ["-exit_time", "-id"]
        indexes = [models.Index(fields=["recorder", "exit_time"])]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} {self.net_pnl:+}"


class RecordedFill(models.Model):
    """A fill of a followed demo account, attributed to a recorder (stored once per fill)."""

    recorder = models.ForeignKey(Recorder, on_delete=models.CASCADE, related_name="fills")
    broker_fill_id = models.BigIntegerField()
    broker_order_id = models.BigIntegerField(null=True, blank=True)
    symbol = models.CharField(max_length=40)
    action = models.CharField(max_length=4)
    quantity = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=16, decimal_places=6)
    timestamp = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["timestamp", "broker_fill_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recorder", "broker_fill_id"], name="unique_recorded_fill"
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.quantity} {self.symbol} @ {self.price}"


class StrategyLog(models.Model):
    """The timeline of a strategy, shared by recorder and traders."""

    class Kind(models.TextChoices):
        SIGNAL = "signal", "Signal in"
        FILTERED = "filtered", "Filtered out"
        ENTRY = "entry", "Entry"
        ADD = "add", "Add"
        EXIT = "exit", "Exit"
        TARGET = "target", "Target"
        STOP = "stop", "Stop"
        ORDER = "order", "Order"
        FILL = "fill", "Fill"
        RISK = "risk", "Risk limit"
        DRIFT = "drift", "Drift"
        ERROR = "error", "Error"
        INFO = "info", "Info"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    strategy = models.ForeignKey(
        "strategies.Strategy", on_delete=models.CASCADE, null=True, blank=True, related_name="logs"
    )
    trader = models.ForeignKey(
        "traders.Trader", on_delete=models.CASCADE, null=True, blank=True, related_name="logs"
    )
    signal = models.ForeignKey(
        "strategies.Signal", on_delete=models.SET_NULL, null=True, blank=True
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message[:60]}"
