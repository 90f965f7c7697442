"""HTML pages of this app, and the TradingView webhook."""

from django.urls import path

from strategies import views, webhooks

app_name = "strategies"

urlpatterns = [
    path("webhooks/<str:token>/", webhooks.webhook, name="webhook"),
    path("webhook/<str:token>/", webhooks.webhook, name="webhook-alias"),
    # Pasted without the final slash: answer directly (a redirect would drop the POST body).
    path("webhooks/<str:token>", webhooks.webhook),
    path("webhook/<str:token>", webhooks.webhook),
    path("strategies/", views.strategy_list_page, name="list"),
    path("strategies/new/", views.strategy_create_page, name="create"),
    path("strategies/<int:strategy_id>/", views.strategy_detail_page, name="detail"),
    path("strategies/<int:strategy_id>/edit/", views.strategy_edit_page, name="edit"),
    path("strategies/<int:strategy_id>/delete/", views.strategy_delete_page, name="delete"),
    path("strategies/<int:strategy_id>/signals/", views.signal_log_page, name="signals"),
]
