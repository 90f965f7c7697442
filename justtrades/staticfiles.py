"""Whether an optional static file is there to be served (the chart library comes from npm)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage


def static_file_exists(path: str) -> bool:
    """True when ``{% static path %}`` would be served: found by the finders (what whitenoise
    serves with WHITENOISE_USE_FINDERS) or collected into STATIC_ROOT."""
    if finders.find(path):
        return True
    try:
        return staticfiles_storage.exists(path)
    except (OSError, ValueError):
        return False


def chart_library() -> str | None:
    """The static path of the chart library, or None when npm never installed it."""
    path = settings.CHART_LIBRARY
    return path if path and static_file_exists(path) else None
