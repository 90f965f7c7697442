"""Money and P&L display for recorder pages."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

from recorder.marketdata import paper_markets
from recorder.selectors import recorded_open_pnl

register = template.Library()


def _dec(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def money(value) -> str:
    """-1234.5 → "-$1,234.50"."""
    d = _dec(value)
    if d is None:
        return "—"
    return f"{'-' if d < 0 else ''}${abs(d):,.2f}"


@register.filter
def paper_open_pnl(position):
    """A recorder position's open P&L (``recorder.selectors.recorded_open_pnl``)."""
    return recorded_open_pnl(position)


@register.filter
def pnl_class(value) -> str:
    d = _dec(value)
    if d is None or d == 0:
        return ""
    return "pos" if d > 0 else "neg"


@register.filter
def price(value) -> str:
    d = _dec(value)
    if d is None:
        return "—"
    text = f"{d.normalize():f}"
    return text if "." in text else text


@register.filter
def side_of(net_pos) -> str:
    return "long" if net_pos > 0 else "short" if net_pos < 0 else "flat"


@register.filter
def absolute(value):
    return abs(value)


@register.simple_tag
def paper_markets_of(user, connection=None):
    """The paper markets of ``user`` (of one paper ``connection`` when given) for the page."""

    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return [m.to_json() for m in paper_markets(user=user, connection=connection)]
