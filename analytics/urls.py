"""HTML pages of this app."""

from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard_page, name="dashboard"),
    path(
        "analytics/strategies/<int:strategy_id>/",
        views.strategy_analytics_page,
        name="strategy",
    ),
    path("analytics/compare/", views.compare_page, name="compare"),
]
