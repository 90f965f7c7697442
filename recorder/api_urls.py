"""API routes of this app, mounted under /api/."""

from django.urls import path

from recorder import apis

urlpatterns = [
    path("paper-markets/", apis.PaperMarketListApi.as_view(), name="api-paper-markets"),
    path("recorders/", apis.RecorderListApi.as_view(), name="api-recorders"),
    path("recorders/<int:recorder_id>/", apis.RecorderDetailApi.as_view(), name="api-recorder"),
    path(
        "recorders/<int:recorder_id>/start/",
        apis.RecorderStartApi.as_view(),
        name="api-recorder-start",
    ),
    path(
        "recorders/<int:recorder_id>/stop/",
        apis.RecorderStopApi.as_view(),
        name="api-recorder-stop",
    ),
    path(
        "recorders/<int:recorder_id>/flatten/",
        apis.RecorderFlattenApi.as_view(),
        name="api-recorder-flatten",
    ),
    path(
        "recorders/<int:recorder_id>/poll/",
        apis.RecorderPollApi.as_view(),
        name="api-recorder-poll",
    ),
    path(
        "recorders/<int:recorder_id>/trades/",
        apis.RecorderTradesApi.as_view(),
        name="api-recorder-trades",
    ),
    path(
        "recorders/<int:recorder_id>/log/", apis.RecorderLogApi.as_view(), name="api-recorder-log"
    ),
]
