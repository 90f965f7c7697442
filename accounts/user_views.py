"""The Settings page: profile, password, API token, account deletion."""

from __future__ import annotations

from zoneinfo import available_timezones

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.template.loader import select_template
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from accounts import user_services
from justtrades.api import ApplicationError

COMMON_TIMEZONES = sorted(
    tz
    for tz in available_timezones()
    if tz.startswith(("America/", "Europe/", "Asia/", "Australia/"))
) + ["UTC"]


def _notifications_panel() -> str | None:
    try:
        return select_template(["notifications/_settings_panel.html"]).template.name
    except Exception:  # noqa: BLE001 - the panel arrives with the notifications app
        return None


@login_required
def settings_page(request):
    token = Token.objects.filter(user=request.user).first()
    social = []
    try:
        social = list(request.user.socialaccount_set.all())
    except Exception:  # noqa: BLE001
        social = []
    return render(
        request,
        "settings/settings.html",
        {
            "timezones": COMMON_TIMEZONES,
            "api_token": token.key if token else None,
            "notifications_panel": _notifications_panel(),
            "social_accounts": social,
        },
    )


@login_required
@require_POST
def settings_profile(request):
    try:
        user_services.user_update_profile(
            user=request.user,
            username=request.POST.get("username", ""),
            timezone=request.POST.get("timezone", "UTC"),
            first_name=request.POST.get("first_name", ""),
        )
        messages.success(request, "Profile saved.")
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("settings")


@login_required
@require_POST
def settings_api_token(request):
    replaced = Token.objects.filter(user=request.user).exists()
    user_services.user_api_token_regenerate(user=request.user)
    messages.success(
        request,
        "New API token created; the old one no longer works."
        if replaced
        else "API token created: copy it into your scripts.",
    )
    return redirect("settings")


@login_required
def settings_delete_account(request):
    if request.method == "POST":
        try:
            user_services.user_delete(
                user=request.user, confirmation=request.POST.get("confirmation", "")
            )
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect("settings-delete")
        logout(request)
        messages.success(request, "Your account and all its data were deleted.")
        return redirect("account_login")
    return render(request, "settings/delete_account.html")
