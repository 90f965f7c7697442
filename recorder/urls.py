"""HTML pages of this app."""

from django.urls import path

from recorder import views

app_name = "recorder"

urlpatterns = [
    path("recorders/", views.recorder_list_view, name="list"),
    path("recorders/<int:recorder_id>/", views.recorder_detail_view, name="detail"),
]
