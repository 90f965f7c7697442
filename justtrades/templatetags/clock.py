"""``{{ moment|local_time }}``: a time in the user's zone, as every page shows times."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from justtrades.clock import local_time_text

register = template.Library()


@register.filter
def local_time(moment) -> str:
    if moment is None:
        return "—"
    return format_html('<time datetime="{}">{}</time>', moment.isoformat(), local_time_text(moment))
