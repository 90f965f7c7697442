"""Users, their broker connections (credentials encrypted at rest) and the sub-accounts found under them."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A trader. Login by username or email (allauth)."""

    email = models.EmailField("email address", unique=True)
    timezone = models.CharField(
        max_length=64, default="UTC", help_text="Times on screen and summaries use this zone."
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.username


class BrokerConnection(models.Model):
    """A broker login: Tradovate demo or live, or the built-in paper broker."""

    class Kind(models.TextChoices):
        PAPER = "paper", "Paper (built-in simulator)"
        TRADOVATE_DEMO = "tradovate_demo", "Tradovate demo"
        TRADOVATE_LIVE = "tradovate_live", "Tradovate live"

    class Status(models.TextChoices):
        NEW = "new", "Not checked yet"
        CONNECTED = "connected", "Connected"
        ERROR = "error", "Error"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="broker_connections"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PAPER)
    label = models.CharField(max_length=100)
    username = models.CharField(max_length=150)
    # Fernet ciphertexts; see accounts.crypto. Never serialized, never rendered.
    password_encrypted = models.TextField(blank=True, default="")
    sec_encrypted = models.TextField(blank=True, default="")
    app_id = models.CharField(max_length=100, blank=True, default="")
    app_version = models.CharField(max_length=20, blank=True, default="1.0")
    cid = models.CharField(max_length=50, blank=True, default="")
    device_id = models.CharField(max_length=64, blank=True, default="")
    broker_user_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    last_error = models.TextField(blank=True, default="")
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # Bumped whenever the login's credentials or environment change: clients and broker streams
    # are rebuilt on a new version only (a balance refresh touches ``updated_at``, not this).
    credentials_version = models.PositiveIntegerField(default=1)
    # Automation stopped for this login (Tradovate asked for a CAPTCHA): no order is sent until
    # a person clears it from Account Management.
    paused_reason = models.CharField(max_length=300, blank=True, default="")
    paused_at = models.DateTimeField(null=True, blank=True)
    # Hidden from the pages, its history kept (a connection that had traders or trades).
    archived_at = models.DateTimeField(null=True, blank=True)
    # The broker stream's last word on this login: its mirror is trusted only while fresh.
    mirror_synced_at = models.DateTimeField(null=True, blank=True)
    mirror_heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "label"], name="unique_connection_label")
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_kind_display()})"


class BrokerAccount(models.Model):
    """A sub-account found under a connection (Tradovate `/account/list`)."""

    connection = models.ForeignKey(
        BrokerConnection, on_delete=models.CASCADE, related_name="accounts"
    )
    external_id = models.BigIntegerField(help_text="Tradovate accountId")
    name = models.CharField(max_length=100)
    account_type = models.CharField(max_length=40, blank=True, default="")
    active = models.BooleanField(default=True)
    balance = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    open_pnl = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    realized_pnl = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    net_liq = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["connection_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="unique_account_per_connection"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def user_id(self) -> int:
        return self.connection.user_id
