"""One clock on every page: the user's zone from Settings, one format, the zone shown.

The same text is written by ``static/js/app.js`` (``JT.fmtTime``) for rows added live, so a row
rendered by the server and a row added by a live event read alike: ``2025-01-09 10:15:03 UTC-5``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone


def zone_named(name: str | None) -> tzinfo:
    """The zone of a Settings value; UTC for an empty or unknown one."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def offset_label(offset: timedelta | None) -> str:
    """``UTC``, ``UTC-5``, ``UTC+5:30``: the offset as browsers name it (Intl ``shortOffset``,
    with UTC for GMT)."""
    minutes = int((offset or timedelta()).total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def local_time_text(moment: datetime | None, zone: tzinfo | None = None) -> str:
    """``moment`` in ``zone`` (default: the zone active for this request) with its offset."""
    if moment is None:
        return "—"
    local = timezone.localtime(moment, zone or timezone.get_current_timezone())
    return f"{local:%Y-%m-%d %H:%M:%S} {offset_label(local.utcoffset())}"
