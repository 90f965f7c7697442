"""The staff's view of recorders, their positions, trades and the strategy timeline."""

from django.contrib import admin

from recorder.models import RecordedFill, RecordedPosition, RecordedTrade, Recorder, StrategyLog


class RecordedPositionInline(admin.TabularInline):
    model = RecordedPosition
    extra = 0
    fields = ["symbol", "net_pos", "avg_price", "opened_at", "last_price", "open_pnl"]
    readonly_fields = fields
    can_delete = False


@admin.register(Recorder)
class RecorderAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "strategy",
        "user",
        "running",
        "source",
        "fill_mode",
        "commission_per_side",
        "broker_account",
        "last_polled_at",
        "created_at",
    ]
    list_filter = ["running", "source", "fill_mode"]
    search_fields = ["strategy__name", "user__username", "user__email"]
    raw_id_fields = ["user", "strategy", "broker_account"]
    readonly_fields = ["created_at", "updated_at", "last_polled_at"]
    inlines = [RecordedPositionInline]


@admin.register(RecordedTrade)
class RecordedTradeAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "recorder",
        "symbol",
        "side",
        "quantity",
        "entry_price",
        "exit_price",
        "net_pnl",
        "exit_reason",
        "exit_time",
    ]
    list_filter = ["side", "exit_reason", "symbol"]
    search_fields = ["symbol", "recorder__strategy__name", "recorder__user__username"]
    raw_id_fields = ["recorder", "signal"]
    date_hierarchy = "exit_time"


@admin.register(RecordedPosition)
class RecordedPositionAdmin(admin.ModelAdmin):
    list_display = ["id", "recorder", "symbol", "net_pos", "avg_price", "open_pnl", "updated_at"]
    list_filter = ["symbol"]
    search_fields = ["symbol", "recorder__strategy__name"]
    raw_id_fields = ["recorder"]


@admin.register(RecordedFill)
class RecordedFillAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "recorder",
        "broker_fill_id",
        "symbol",
        "action",
        "quantity",
        "price",
        "timestamp",
    ]
    list_filter = ["action", "symbol"]
    search_fields = ["symbol", "broker_fill_id", "recorder__strategy__name"]
    raw_id_fields = ["recorder"]


@admin.register(StrategyLog)
class StrategyLogAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "user", "strategy", "trader", "kind", "message"]
    list_filter = ["kind"]
    search_fields = ["message", "strategy__name", "user__username"]
    raw_id_fields = ["user", "strategy", "trader", "signal"]
    date_hierarchy = "created_at"
