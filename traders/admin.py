"""The staff's view of traders, executions, orders, fills and positions."""

from django.contrib import admin

from traders.models import Execution, Fill, Order, Position, Trader, Turn


@admin.register(Trader)
class TraderAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "strategy",
        "broker_account",
        "enabled",
        "multiplier",
        "max_contracts",
        "daily_loss_limit",
        "disabled_until",
        "drift",
        "last_signal_at",
    )
    list_filter = ("enabled", "drift", "disabled_until")
    search_fields = ("user__username", "strategy__name", "broker_account__name")
    raw_id_fields = ("user", "strategy", "broker_account", "last_signal")
    list_select_related = ("user", "strategy", "broker_account")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "user",
        "broker_account",
        "role",
        "action",
        "quantity",
        "symbol",
        "order_type",
        "status",
        "reject_reason",
        "broker_order_id",
        "cl_ord_id",
    )
    list_filter = ("status", "role", "order_type")
    search_fields = ("cl_ord_id", "broker_order_id", "symbol", "user__username", "text")
    raw_id_fields = ("user", "trader", "broker_account", "signal", "parent")
    list_select_related = ("user", "broker_account")
    date_hierarchy = "created_at"


@admin.register(Fill)
class FillAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "timestamp",
        "user",
        "broker_account",
        "action",
        "quantity",
        "symbol",
        "price",
        "order",
    )
    search_fields = ("symbol", "user__username", "broker_fill_id")
    raw_id_fields = ("user", "order", "trader", "broker_account")
    list_select_related = ("user", "broker_account")
    date_hierarchy = "timestamp"


@admin.register(Position)
class PositionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "broker_account",
        "symbol",
        "net_pos",
        "net_price",
        "open_pnl",
        "updated_at",
    )
    list_filter = ("symbol",)
    search_fields = ("symbol", "user__username", "broker_account__name")
    raw_id_fields = ("user", "broker_account")
    list_select_related = ("user", "broker_account")


class OrderInline(admin.TabularInline):
    model = Order
    fields = ("role", "action", "quantity", "symbol", "order_type", "status", "broker_order_id")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    """Each trader's part of a signal (or a flatten, a manual trade): what it did and why."""

    list_display = (
        "id",
        "created_at",
        "kind",
        "broker_account",
        "root",
        "trader",
        "signal",
        "status",
        "reason",
        "attempts",
    )
    list_filter = ("status", "kind")
    search_fields = ("=id", "=signal__id", "reason", "broker_account__name")
    raw_id_fields = ("user", "broker_account", "trader", "signal")
    list_select_related = ("broker_account", "trader__strategy", "signal")
    readonly_fields = ("instruction", "result", "created_at", "started_at", "finished_at")
    inlines = [OrderInline]
    date_hierarchy = "created_at"


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    """Whose turn it is on each account and product (a lease that expires on its own)."""

    list_display = ("broker_account", "root", "holder", "lease_until", "token")
    search_fields = ("broker_account__name", "holder")
    raw_id_fields = ("broker_account",)
