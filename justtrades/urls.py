"""The project's URL map: each app's pages and APIs, the webhook, admin, health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from justtrades import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("ping", views.ping, name="ping"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("accounts.api_urls")),
    path("api/", include("strategies.api_urls")),
    path("api/", include("recorder.api_urls")),
    path("api/", include("traders.api_urls")),
    path("api/", include("notifications.api_urls")),
    path("api/", include("analytics.api_urls")),
    path("", include("accounts.user_urls")),
    path("", include("accounts.urls")),
    path("", include("strategies.urls")),
    path("", include("recorder.urls")),
    path("", include("traders.urls")),
    path("", include("notifications.urls")),
    path("", include("analytics.urls")),
]
