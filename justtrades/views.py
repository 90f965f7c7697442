"""Project-wide pages: health and the bare ping."""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from justtrades.health import system_health


@never_cache
@require_GET
def healthz(request):
    report = system_health()
    return JsonResponse(report, status=200 if report["ok"] else 503)


def ping(request):
    """A bare JSON view: the baseline that benchmarks compare the webhook against."""
    return JsonResponse({"ok": True})
