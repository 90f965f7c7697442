"""API routes of this app, mounted under /api/."""

from django.urls import path

from analytics import apis

urlpatterns = [
    path("dashboard/first-steps/", apis.FirstStepsApi.as_view(), name="dashboard-first-steps"),
    path("dashboard/summary/", apis.DashboardSummaryApi.as_view(), name="dashboard-summary"),
    path("dashboard/positions/", apis.DashboardPositionsApi.as_view(), name="dashboard-positions"),
    path(
        "dashboard/trade-history/", apis.TradeHistoryApi.as_view(), name="dashboard-trade-history"
    ),
    path(
        "dashboard/performance/",
        apis.DashboardPerformanceApi.as_view(),
        name="dashboard-performance",
    ),
    path(
        "analytics/strategy/<int:strategy_id>/",
        apis.StrategyAnalyticsApi.as_view(),
        name="analytics-strategy",
    ),
    path("analytics/dashboard/", apis.AnalyticsDashboardApi.as_view(), name="analytics-dashboard"),
    path("analytics/chart-data/", apis.ChartDataApi.as_view(), name="analytics-chart-data"),
    path("analytics/compare/", apis.StrategyCompareApi.as_view(), name="analytics-compare"),
]
