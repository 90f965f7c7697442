"""Writes on the user's own profile: settings, API token, account deletion."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from justtrades.api import ApplicationError

User = get_user_model()


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApplicationError(
            f"Unknown time zone {name!r}; use a name like America/New_York."
        ) from None
    return name


@transaction.atomic
def user_update_profile(*, user, username: str, timezone: str, first_name: str = "") -> None:
    username = username.strip()
    if not username:
        raise ApplicationError("Username cannot be empty.")
    if User.objects.filter(username__iexact=username).exclude(pk=user.pk).exists():
        raise ApplicationError("That username is taken.")
    user.username = username
    user.first_name = first_name.strip()[:150]
    user.timezone = validate_timezone(timezone)
    user.save(update_fields=["username", "first_name", "timezone"])


@transaction.atomic
def user_profile_change(*, user, username: str | None = None, timezone: str | None = None) -> None:
    """Change only what is given (the settings API's partial update)."""
    fields = []
    if username is not None:
        username = username.strip()
        if not username:
            raise ApplicationError("Username cannot be empty.", extra={"field": "username"})
        if User.objects.filter(username__iexact=username).exclude(pk=user.pk).exists():
            raise ApplicationError("That username is taken.", extra={"field": "username"})
        user.username = username
        fields.append("username")
    if timezone is not None:
        user.timezone = validate_timezone(timezone)
        fields.append("timezone")
    if fields:
        user.save(update_fields=fields)


@transaction.atomic
def user_api_token_regenerate(*, user) -> str:
    """Replace the user's API token; the old one stops working at once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user).key


@transaction.atomic
def user_delete(*, user, confirmation: str) -> None:
    """Delete the account and everything it owns, after the user typed their username."""
    if confirmation.strip() != user.username:
        raise ApplicationError("Type your username exactly to confirm the deletion.")
    user.delete()
