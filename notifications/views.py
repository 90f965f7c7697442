from pathlib import Path

from allauth.socialaccount.providers.discord.views import oauth2_callback
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
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


def discord_callback(request):
    """The product's Discord OAuth redirect URL: allauth's Discord callback under another path."""
    if not discord_oauth_configured():
        messages.error(request, "Discord linking is not configured on this server.")
        return redirect("/settings/")
    return oauth2_callback(request)
