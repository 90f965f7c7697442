"""API routes of this app, mounted under /api/."""

from django.urls import path

from accounts import apis

urlpatterns = [
    path("accounts/", apis.ConnectionListApi.as_view(), name="api-connections"),
    path(
        "accounts/test-connection/",
        apis.ConnectionTestApi.as_view(),
        name="api-connection-test",
    ),
    path(
        "accounts/<int:connection_id>/",
        apis.ConnectionDetailApi.as_view(),
        name="api-connection",
    ),
    path(
        "accounts/<int:connection_id>/refresh/",
        apis.ConnectionRefreshApi.as_view(),
        name="api-connection-refresh",
    ),
    path("broker-accounts/", apis.BrokerAccountListApi.as_view(), name="api-broker-accounts"),
]
