"""A Content Security Policy on every response, and the user's time zone for every page.

Scripts and styles come only from our own static files (no inline script), so an injected
string in a strategy name or an alert body can never run in a trader's browser.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.utils import timezone

from justtrades.clock import zone_named

DEFAULT_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self' ws: wss:",
        "worker-src 'self'",
        "manifest-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    # Both kinds, so that under ASGI it never forces a request through a sync thread.
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_POLICY)
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)

    def _apply(self, request, response):
        response.setdefault("Content-Security-Policy", self.policy)
        return response

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        return self._apply(request, self.get_response(request))

    async def _acall(self, request):
        return self._apply(request, await self.get_response(request))


class UserTimezoneMiddleware:
    """Server-rendered times in the zone the user chose in Settings (UTC for visitors)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(zone_named(user.timezone))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
