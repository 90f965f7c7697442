"""Notification pages and the service worker's files."""

import json
from pathlib import Path

from allauth.socialaccount.providers.discord.views import oauth2_callback
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from notifications.selectors import discord_oauth_configured

SERVICE_WORKER = Path(settings.BASE_DIR) / "static" / "sw.js"


@never_cache
@require_GET
def service_worker(request):
    response = HttpResponse(SERVICE_WORKER.read_bytes(), content_type="application/javascript")
    response["Service-Worker-Allowed"] = "/"
    return response


@require_GET
def web_manifest(request):
    """The web app manifest: "Add to Home Screen" installs the site as an app (on iOS the only
    way a web page can receive push notifications)."""
    manifest = {
        "id": "/",
        "name": settings.PRODUCT_NAME,
        "short_name": settings.PRODUCT_NAME,
        "description": "TradingView alerts in, futures orders out, and what happened.",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#0b1220",
        "theme_color": "#0b1220",
        "icons": [
            {"src": static("img/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("img/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static("img/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    response = HttpResponse(json.dumps(manifest), content_type="application/manifest+json")
    response["Cache-Control"] = "public, max-age=3600"
    return response


def discord_callback(request):
    """The product's Discord OAuth redirect URL: allauth's Discord callback under another path."""
    if not discord_oauth_configured():
        messages.error(request, "Discord linking is not configured on this server.")
        return redirect("/settings/")
    return oauth2_callback(request)
