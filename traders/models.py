from __future__ import annotations

from django.conf import settings
from django.db import models

from strategies.models import ExitUnit


class Trader(models.Model):
    """A strategy linked to one broker sub-account: real orders on every signal."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="traders"
    )
    strategy = models.ForeignKey(
        "strategies.Strategy", on_delete=models.CASCADE, related_name="traders"
    )
    broker_account = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.CASCADE, related_name="traders"
    )
    enabled = models.BooleanField(default=False)
    multiplier = models.PositiveIntegerField(default=1)
    max_contracts = models.PositiveIntegerField(default=10)
    daily_loss_limit = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    daily_profit_target = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    take_profit_override = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True
    )
    stop_loss_override = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    take_profit_override_unit = models.CharField(
        max_length=8, choices=ExitUnit.choices, default=ExitUnit.TICKS
    )
    stop_loss_override_unit = models.CharField(
        max_length=8, choices=ExitUnit.choices, default=ExitUnit.TICKS
    )
    # Allowed sessions: entries outside this window are skipped (exits always go through).
    session_start = models.TimeField(null=True, blank=True)
    session_end = models.TimeField(null=True, blank=True)
    session_timezone = models.CharField(max_length=64, default="America/New_York")
    session_days = models.JSONField(default=list, blank=True, help_text="0=Monday … 6=Sunday")
    disabled_until = models.DateField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True, default="")
    drift = models.BooleanField(default=False)
    drift_message = models.CharField(max_length=300, blank=True, default="")
    # What the trader should hold per contract after its last instruction: {"MNQZ5": 2}.
    expected_positions = models.JSONField(default=dict, blank=True)
    # The broker account's P&L for the trading day, refreshed by the stream and the risk job.
    pnl_date = models.DateField(null=True, blank=True)
    realized_pnl_today = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    open_pnl = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    pnl_updated_at = models.DateTimeField(null=True, blank=True)
    last_signal = models.ForeignKey(
        "strategies.Signal", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_signal_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["strategy", "broker_account"], name="unique_trader_per_account"
            ),
            models.CheckConstraint(
                condition=models.Q(multiplier__gte=1), name="trader_multiplier_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(max_contracts__gte=1), name="trader_max_contracts_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.strategy} → {self.broker_account}"

    @property
    def today_pnl(self):
        return self.realized_pnl_today + self.open_pnl


class Order(models.Model):
    """An order we sent to the broker, mirrored from its event stream."""

    class Role(models.TextChoices):
        ENTRY = "entry", "Entry"
        EXIT = "exit", "Exit"
        TAKE_PROFIT = "take_profit", "Take profit"
        STOP_LOSS = "stop_loss", "Stop loss"
        FLATTEN = "flatten", "Flatten"
        MANUAL = "manual", "Manual"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    trader = models.ForeignKey(
        Trader, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    broker_account = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.CASCADE, related_name="orders"
    )
    signal = models.ForeignKey(
        "strategies.Signal", on_delete=models.SET_NULL, null=True, blank=True
    )
    cl_ord_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    broker_order_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.ENTRY)
    action = models.CharField(max_length=4)
    symbol = models.CharField(max_length=40)
    quantity = models.PositiveIntegerField()
    order_type = models.CharField(max_length=20, default="Market")
    price = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
    stop_price = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
    status = models.CharField(max_length=20, default="PendingNew")
    reject_reason = models.CharField(max_length=60, blank=True, default="")
    text = models.TextField(blank=True, default="")
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="brackets"
    )
    filled_qty = models.PositiveIntegerField(default=0)
    avg_fill_price = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Planned: written, not yet sent. Sending: the broker call is under way (or was cut short).
    OPEN_STATUSES = ("Planned", "Sending", "PendingNew", "Working", "PendingReplace", "Suspended")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["signal", "trader"]),
            models.Index(fields=["user", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.quantity} {self.symbol} {self.order_type} ({self.status})"


class Fill(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True)
    trader = models.ForeignKey(
        Trader, on_delete=models.SET_NULL, null=True, blank=True, related_name="fills"
    )
    broker_account = models.ForeignKey("accounts.BrokerAccount", on_delete=models.CASCADE)
    broker_fill_id = models.BigIntegerField()
    action = models.CharField(max_length=4)
    symbol = models.CharField(max_length=40)
    quantity = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=16, decimal_places=6)
    timestamp = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["broker_account", "broker_fill_id"], name="unique_broker_fill"
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.quantity} {self.symbol} @ {self.price}"


class Position(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    broker_account = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.CASCADE, related_name="positions"
    )
    symbol = models.CharField(max_length=40)
    contract_id = models.BigIntegerField(null=True, blank=True)
    net_pos = models.IntegerField(default=0)
    net_price = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
    open_pnl = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    realized_pnl = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.UniqueConstraint(
                fields=["broker_account", "symbol"], name="unique_position_per_account"
            )
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.net_pos:+d}"
