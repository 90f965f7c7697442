"""API routes of this app, mounted under /api/."""

from django.urls import path

from traders import apis

urlpatterns = [
    path("traders/", apis.TraderListApi.as_view(), name="api-traders"),
    path("traders/<int:trader_id>/", apis.TraderDetailApi.as_view(), name="api-trader"),
    path(
        "traders/<int:trader_id>/toggle/", apis.TraderToggleApi.as_view(), name="api-trader-toggle"
    ),
    path(
        "traders/<int:trader_id>/accept-position/",
        apis.TraderAcceptPositionApi.as_view(),
        name="api-trader-accept-position",
    ),
    path("control-center/", apis.ControlCenterApi.as_view(), name="api-control-center"),
    path(
        "control-center/manual-trade/",
        apis.ManualTradeApi.as_view(),
        name="api-control-center-manual-trade",
    ),
    path(
        "control-center/traders/<int:trader_id>/close/",
        apis.TraderCloseApi.as_view(),
        name="api-control-center-trader-close",
    ),
    path(
        "control-center/traders/<int:trader_id>/toggle/",
        apis.TraderToggleApi.as_view(),
        name="api-control-center-trader-toggle",
    ),
    path(
        "control-center/flatten-all/",
        apis.FlattenAllApi.as_view(),
        name="api-control-center-flatten-all",
    ),
    path("control-center/log/", apis.LogListApi.as_view(), name="api-control-center-log"),
    path("control-center/orders/", apis.OrderListApi.as_view(), name="api-control-center-orders"),
    path("control-center/fills/", apis.FillListApi.as_view(), name="api-control-center-fills"),
    path(
        "control-center/positions/",
        apis.PositionListApi.as_view(),
        name="api-control-center-positions",
    ),
]
