"""API routes of this app, mounted under /api/."""

from django.urls import path

from strategies import apis

urlpatterns = [
    path("strategies/", apis.StrategyListCreateApi.as_view(), name="api-strategies"),
    path("strategies/<int:strategy_id>/", apis.StrategyDetailApi.as_view(), name="api-strategy"),
    path(
        "strategies/<int:strategy_id>/regenerate-token/",
        apis.StrategyRegenerateTokenApi.as_view(),
        name="api-strategy-regenerate-token",
    ),
    path(
        "strategies/<int:strategy_id>/test-signal/",
        apis.StrategyTestSignalApi.as_view(),
        name="api-strategy-test-signal",
    ),
    path(
        "strategies/<int:strategy_id>/signals/",
        apis.StrategySignalListApi.as_view(),
        name="api-strategy-signals",
    ),
    path("signals/", apis.SignalListApi.as_view(), name="api-signals"),
    path("signals/<int:signal_id>/", apis.SignalDetailApi.as_view(), name="api-signal"),
]
