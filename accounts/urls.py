"""HTML pages of this app."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("broker-accounts/", views.broker_accounts_page, name="broker-accounts"),
    path("broker-accounts/add/", views.broker_account_add_page, name="broker-account-add"),
    path(
        "broker-accounts/<int:connection_id>/edit/",
        views.broker_account_edit_page,
        name="broker-account-edit",
    ),
]
