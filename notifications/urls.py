"""HTML-side routes of this app: the push service worker and the Discord OAuth callback alias."""

from django.urls import path

from notifications import views

urlpatterns = [
    # Served from the root so the worker's scope is the whole site.
    path("sw.js", views.service_worker, name="service-worker"),
    path("manifest.webmanifest", views.web_manifest, name="web-manifest"),
    # The product's documented redirect URL; allauth's own is /accounts/discord/login/callback/.
    path("oauth/discord/callback/", views.discord_callback, name="discord-callback-alias"),
]
