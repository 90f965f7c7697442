"""The TradingView webhook: `POST /webhooks/<token>/` (also `/webhook/<token>/`).

Kept apart from the HTML pages and free of middleware-heavy work: it authenticates by the URL
token, stores the signal with one INSERT, queues it, and answers in milliseconds.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from strategies.services import webhook_receive


def client_ip(request) -> str | None:
    """REMOTE_ADDR, or the address the Nth trusted proxy saw (WEBHOOK_PROXY_COUNT)."""
    proxies = getattr(settings, "WEBHOOK_PROXY_COUNT", 0)
    if proxies:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


@csrf_exempt
def webhook(request, token: str):
    if request.method != "POST":
        response = JsonResponse(
            {"status": "error", "message": "send alerts with POST (TradingView does)"}, status=405
        )
        response["Allow"] = "POST"
        return response
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return JsonResponse(
            {"status": "rejected", "message": f"the alert is larger than {limit} bytes"},
            status=413,
        )
    try:
        raw = request.body
    except RequestDataTooBig:
        return JsonResponse(
            {"status": "rejected", "message": f"the alert is larger than {limit} bytes"},
            status=413,
        )
    result = webhook_receive(token=token, raw=raw, meta=request.META, source_ip=client_ip(request))
    return JsonResponse(result.body, status=result.status_code)
