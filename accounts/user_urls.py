"""URLs of the signed-in user's own profile."""

from django.urls import path

from accounts import user_apis, user_views

urlpatterns = [
    path("api/me/", user_apis.MeApi.as_view(), name="api-me"),
    path("settings/", user_views.settings_page, name="settings"),
    path("settings/profile/", user_views.settings_profile, name="settings-profile"),
    path("settings/api-token/", user_views.settings_api_token, name="settings-api-token"),
    path("settings/delete/", user_views.settings_delete_account, name="settings-delete"),
]
