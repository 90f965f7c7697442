"""HTML pages of this app."""

from django.urls import path

from traders import views

app_name = "traders"

urlpatterns = [
    path("traders/", views.trader_list_page, name="list"),
    path("traders/new/", views.trader_create_page, name="create"),
    path("traders/<int:trader_id>/edit/", views.trader_edit_page, name="edit"),
    path("traders/<int:trader_id>/delete/", views.trader_delete_page, name="delete"),
    path("control-center/", views.control_center_page, name="control-center"),
]
