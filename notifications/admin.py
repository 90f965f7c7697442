"""The staff's view of notifications, preferences and push devices."""

from django.contrib import admin

from notifications.models import Notification, NotificationPreference, PushSubscription


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "discord_enabled",
        "push_enabled",
        "discord_blocked",
        "daily_summary_time",
        "last_summary_date",
        "discord_error",
    )
    list_filter = ("discord_enabled", "push_enabled", "discord_blocked", "include_paper")
    search_fields = ("user__username", "user__email", "discord_error")
    raw_id_fields = ("user",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "channel",
        "kind",
        "status",
        "attempts",
        "created_at",
        "sent_at",
        "short_error",
    )
    list_filter = ("channel", "status", "kind")
    search_fields = ("user__username", "user__email", "dedupe_key", "error")
    raw_id_fields = ("user",)
    date_hierarchy = "created_at"
    readonly_fields = ("created_at", "sent_at")

    @admin.display(description="error")
    def short_error(self, obj: Notification) -> str:
        return obj.error[:80]


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "user_agent", "created_at", "last_error")
    search_fields = ("user__username", "endpoint", "user_agent")
    raw_id_fields = ("user",)
