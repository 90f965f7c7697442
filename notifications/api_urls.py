"""API routes of this app, mounted under /api/."""

from django.urls import path

from notifications import apis

urlpatterns = [
    path("settings/", apis.SettingsApi.as_view(), name="api-settings"),
    path("settings/discord-toggle/", apis.DiscordToggleApi.as_view(), name="api-discord-toggle"),
    path("settings/discord-unlink/", apis.DiscordUnlinkApi.as_view(), name="api-discord-unlink"),
    path("settings/test-dm/", apis.TestDmApi.as_view(), name="api-test-dm"),
    path(
        "profiles/toggle-push-notification/",
        apis.PushToggleApi.as_view(),
        name="api-toggle-push",
    ),
    path("push/subscriptions/", apis.PushSubscriptionApi.as_view(), name="api-push-subscriptions"),
    path(
        "push/subscriptions/<int:subscription_id>/",
        apis.PushSubscriptionDetailApi.as_view(),
        name="api-push-subscription",
    ),
    path("notifications/", apis.NotificationListApi.as_view(), name="api-notifications"),
    path(
        "notifications/<int:notification_id>/",
        apis.NotificationDetailApi.as_view(),
        name="api-notification-detail",
    ),
]
