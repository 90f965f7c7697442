"""The staff's view of users, broker connections and their accounts (secrets never shown)."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import BrokerAccount, BrokerConnection, User
from accounts.services import connection_refresh
from justtrades.api import ApplicationError


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "timezone", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["username", "email", "first_name", "last_name"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        ("Preferences", {"fields": ["timezone"]}),
    ]


class BrokerAccountInline(admin.TabularInline):
    model = BrokerAccount
    extra = 0
    fields = ["external_id", "name", "active", "balance", "open_pnl", "net_liq", "refreshed_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(BrokerConnection)
class BrokerConnectionAdmin(admin.ModelAdmin):
    list_display = ["label", "user", "kind", "username", "status", "last_checked_at"]
    list_filter = ["kind", "status"]
    search_fields = ["label", "username", "user__username", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    # Secrets are never shown, not even encrypted: staff re-enter them through the app.
    exclude = ["password_encrypted", "sec_encrypted"]
    readonly_fields = [
        "broker_user_id",
        "status",
        "last_error",
        "last_checked_at",
        "device_id",
        "created_at",
        "updated_at",
    ]
    inlines = [BrokerAccountInline]
    actions = ["refresh"]

    @admin.action(description="Refresh accounts and balances from the broker")
    def refresh(self, request, queryset):

        for connection in queryset:
            try:
                connection_refresh(connection=connection)
            except ApplicationError as exc:
                self.message_user(request, f"{connection}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{connection}: refreshed", messages.SUCCESS)


@admin.register(BrokerAccount)
class BrokerAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "connection", "external_id", "active", "balance", "open_pnl", "net_liq"]
    list_filter = ["active", "connection__kind"]
    search_fields = ["name", "external_id", "connection__label", "connection__user__username"]
    list_select_related = ["connection", "connection__user"]
    raw_id_fields = ["connection"]
    readonly_fields = ["refreshed_at"]
