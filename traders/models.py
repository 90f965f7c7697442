"""What traders own: the strategy → account link, the executions that move money, the orders
sent for them and the broker's own fills and positions as the mirror reports them.

``Order.Status`` is a declared state machine: one enum, the allowed moves written once
(``ORDER_TRANSITIONS``) and named sets (``IN_FLIGHT``, ``WORKING``, ``FINAL``, ``FAILED``) used
everywhere instead of string literals. ``Denied`` and ``Skipped`` never left our side.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from strategies.models import ExitUnit


class OrderStatus(models.TextChoices):
    # ours: the order never reached the broker, or we do not know yet whether it did
    PLANNED = "Planned", "Planned"  # written, not yet sent
    SENDING = "Sending", "Sending"  # claimed: the broker call is under way
    UNKNOWN = "Unknown", "Outcome unknown"  # the call timed out: settled before anything else
    SKIPPED = "Skipped", "Skipped"  # never sent: switched off, flattened, superseded
    DENIED = "Denied", "Denied"  # never sent: a risk rule refused it
    FAILED = "Failed", "Failed"  # never placed (known not to be at the broker)
    # the broker's own (Tradovate ordStatus)
    PENDING_NEW = "PendingNew", "Accepted"
    WORKING = "Working", "Working"
    SUSPENDED = "Suspended", "Waiting for its entry"
    PENDING_REPLACE = "PendingReplace", "Being modified"
    PENDING_CANCEL = "PendingCancel", "Being cancelled"
    FILLED = "Filled", "Filled"
    COMPLETED = "Completed", "Completed"
    CANCELED = "Canceled", "Cancelled"
    REJECTED = "Rejected", "Rejected"
    EXPIRED = "Expired", "Expired"


S = OrderStatus
# May be at the broker (or about to be) and not final: an exit must cancel these.
WORKING = frozenset({S.SENDING, S.UNKNOWN, S.PENDING_NEW, S.WORKING, S.SUSPENDED,
                     S.PENDING_REPLACE, S.PENDING_CANCEL})  # fmt: skip
# Not settled yet: the planner counts their quantity as if it will fill.
IN_FLIGHT = frozenset({S.PLANNED, S.SENDING, S.UNKNOWN, S.PENDING_NEW})
NOT_SENT = frozenset({S.PLANNED})
FINAL = frozenset({S.FILLED, S.COMPLETED, S.CANCELED, S.REJECTED, S.EXPIRED, S.SKIPPED,
                   S.DENIED, S.FAILED})  # fmt: skip
FAILED = frozenset({S.REJECTED, S.FAILED, S.DENIED})
BROKER_STATUSES = frozenset({S.PENDING_NEW, S.WORKING, S.SUSPENDED, S.PENDING_REPLACE,
                             S.PENDING_CANCEL, S.FILLED, S.COMPLETED, S.CANCELED, S.REJECTED,
                             S.EXPIRED})  # fmt: skip
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PLANNED: frozenset({S.SENDING, S.SKIPPED, S.DENIED, S.FAILED}),
    S.SENDING: BROKER_STATUSES | {S.UNKNOWN, S.PLANNED, S.FAILED},
    S.UNKNOWN: BROKER_STATUSES | {S.PLANNED, S.FAILED},
    **{
        status: (BROKER_STATUSES - {S.PENDING_NEW}) | {S.PENDING_NEW}
        for status in (S.PENDING_NEW, S.WORKING, S.SUSPENDED, S.PENDING_REPLACE, S.PENDING_CANCEL)
    },
    **{status: frozenset() for status in FINAL},
}


def order_may_move(old: str, new: str) -> bool:
    """Whether an order may go from ``old`` to ``new`` (a stale broker event never reopens a
    final order; our own 'not sent' states never come back once the broker has it)."""
    return old == new or new in ORDER_TRANSITIONS.get(old, frozenset())


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
    # What the trader should hold per product root after its last instruction: {"MNQ": 2}.
    expected_positions = models.JSONField(default=dict, blank=True)
    # The daily limits could not be evaluated (no cash snapshot): shown on My Trader.
    risk_error = models.CharField(max_length=300, blank=True, default="")
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
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=S.PLANNED)
    execution = models.ForeignKey(
        "Execution", on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    root = models.CharField(max_length=8, blank=True, default="", db_index=True)
    # The broker's order strategy (entry + exits placed around its fill) this order belongs to.
    broker_strategy_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # A penalty ticket to resend with, and not before when.
    p_ticket = models.CharField(max_length=100, blank=True, default="")
    not_before = models.DateTimeField(null=True, blank=True)
    # A managed stop's memory: the best price seen since the entry, break-even armed.
    exit_state = models.JSONField(default=dict, blank=True)
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

    Status = OrderStatus
    PROTECTIVE_ROLES = ("take_profit", "stop_loss")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["signal", "trader"]),
            models.Index(fields=["user", "created_at"]),
        ]
        constraints = [
            # Two rows of one broker order would count its quantity twice (a stop that is
            # gone would still "cover" the position).
            models.UniqueConstraint(
                fields=["broker_account", "broker_order_id"],
                condition=models.Q(broker_order_id__isnull=False),
                name="one_row_per_broker_order",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.quantity} {self.symbol} {self.order_type} ({self.status})"


class Execution(models.Model):
    """One piece of work that moves money on one broker account and product: a signal for one
    trader, a flatten, a manual trade, a protective stop put back. Written in the transaction
    that decides it (the outbox), so a lost message or a Redis that restarts empty loses
    nothing; run one at a time per (account, product root), in id order."""

    class Kind(models.TextChoices):
        SIGNAL = "signal", "Signal"
        FLATTEN = "flatten", "Flatten"
        MANUAL = "manual", "Manual trade"
        PROTECT = "protect", "Protect a position"
        ADJUST = "adjust", "Adjust exits"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    FINAL = ("done", "skipped", "failed")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    broker_account = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.CASCADE, related_name="executions"
    )
    root = models.CharField(max_length=8)
    trader = models.ForeignKey(
        Trader, on_delete=models.SET_NULL, null=True, blank=True, related_name="executions"
    )
    signal = models.ForeignKey(
        "strategies.Signal",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="executions",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SIGNAL)
    # What to do, decided before the run: the strategy's decision (signal), the side and size
    # (manual), why (flatten). The trader's own plan is made at run time against the broker.
    instruction = models.JSONField(default=dict, blank=True)
    # A retried request (a double click) finds its execution by this key.
    request_key = models.CharField(max_length=80, null=True, blank=True, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(blank=True, default="")
    result = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    not_before = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["signal", "trader"],
                condition=models.Q(kind="signal"),
                name="one_execution_per_signal_and_trader",
            )
        ]
        indexes = [models.Index(fields=["broker_account", "root", "status"])]

    def __str__(self) -> str:
        return f"execution #{self.pk} {self.kind} {self.root} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class Turn(models.Model):
    """Whose turn it is on one (broker account, product root): a lease with a fencing token.

    A worker holds the turn while it runs that account's executions; it renews the lease every
    second or two. A killed worker's lease expires within seconds and the next holder gets a
    new token, so anything the old one still tries to write is refused."""

    broker_account = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.CASCADE, related_name="turns"
    )
    root = models.CharField(max_length=8)
    token = models.BigIntegerField(default=0)
    holder = models.CharField(max_length=120, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["broker_account", "root"], name="one_turn_per_product")
        ]

    def __str__(self) -> str:
        return f"turn {self.broker_account_id}/{self.root} #{self.token}"


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
    root = models.CharField(max_length=8, blank=True, default="", db_index=True)
    contract_id = models.BigIntegerField(null=True, blank=True)
    net_pos = models.IntegerField(default=0)
    last_price = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
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
