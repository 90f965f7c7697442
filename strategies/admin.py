"""The staff's view of strategies and the signals they received (why each was rejected)."""

from django.contrib import admin, messages

from strategies import services
from strategies.models import Signal, Strategy
from traders.models import Execution


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "enabled",
        "default_symbol",
        "sizing",
        "quantity",
        "direction",
        "created_at",
    )
    list_filter = ("enabled", "sizing", "direction", "opposite_signal")
    search_fields = ("name", "user__username", "user__email", "webhook_token")
    list_select_related = ("user",)
    readonly_fields = ("webhook_token", "created_at", "updated_at")
    actions = ["disable", "enable"]

    @admin.action(description="Disable the selected strategies")
    def disable(self, request, queryset):
        for strategy in queryset:
            services.strategy_update(strategy=strategy, enabled=False)
        self.message_user(request, f"{queryset.count()} strategies disabled", messages.SUCCESS)

    @admin.action(description="Enable the selected strategies")
    def enable(self, request, queryset):
        for strategy in queryset:
            services.strategy_update(strategy=strategy, enabled=True)
        self.message_user(request, f"{queryset.count()} strategies enabled", messages.SUCCESS)


class ExecutionInline(admin.TabularInline):
    """What each trader did with the signal."""

    model = Execution
    fk_name = "signal"
    fields = ("trader", "broker_account", "status", "reason", "finished_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Signal)
class SignalAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "strategy",
        "received_at",
        "status",
        "origin",
        "alert_format",
        "action",
        "contract",
        "quantity",
        "price",
        "latency",
        "reason",
    )
    list_filter = ("status", "origin", "alert_format", ("received_at", admin.DateFieldListFilter))
    search_fields = (
        "=id",
        "strategy__name",
        "strategy__user__username",
        "reason",
        "raw_body",
        "dedupe_key",
    )
    list_select_related = ("strategy",)
    date_hierarchy = "received_at"
    readonly_fields = (
        "strategy",
        "origin",
        "alert_format",
        "raw_body",
        "headers",
        "source_ip",
        "intent",
        "dedupe_key",
        "received_at",
        "started_at",
        "processed_at",
        "executed_at",
        "target_position",
        "from_position",
        "swept_at",
        "enqueue_count",
        "latency",
    )
    actions = ["requeue"]
    inlines = [ExecutionInline]

    @admin.display(description="latency")
    def latency(self, obj):
        return "" if obj.latency_ms is None else f"{obj.latency_ms} ms"

    @admin.action(description="Re-enqueue (accepted signals only)")
    def requeue(self, request, queryset):
        count = 0
        for signal in queryset.filter(status=Signal.Status.ACCEPTED):
            count += services.signal_enqueue(signal_id=signal.pk)
        self.message_user(request, f"{count} signals re-enqueued")
