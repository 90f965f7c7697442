"""Pure risk rules of a trader: trading day, allowed sessions, daily loss limit / profit target."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

# CME futures trade from 18:00 New York time to 17:00 the next day: the evening session belongs to
# the next trading day, so a limit that trips on Monday evening disables the trader until Tuesday's
# session ends, not until midnight.
_EXCHANGE_ZONE = ZoneInfo("America/New_York")
_DAY_ROLLS_AT = time(18, 0)


def trading_day(now: datetime) -> date:
    local = now.astimezone(_EXCHANGE_ZONE)
    if local.time() >= _DAY_ROLLS_AT:
        return local.date() + timedelta(days=1)
    return local.date()


def in_session(
    *,
    now: datetime,
    start: time | None,
    end: time | None,
    days: Sequence[int] | None,
    timezone: str,
) -> bool:
    """True when ``now`` falls inside the allowed window (no window ⇒ always allowed).

    A window whose end is before its start spans midnight (18:00 → 09:30); ``days`` (0=Monday)
    are the days the window starts on.
    """
    try:
        zone = ZoneInfo(timezone or "UTC")
    except Exception:  # noqa: BLE001 - a bad zone name was validated on save; fail open to UTC
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    if start is None or end is None:
        return not days or local.weekday() in days
    t = local.time()
    if start <= end:
        inside = start <= t < end
        start_day = local.weekday()
    else:
        inside = t >= start or t < end
        start_day = local.weekday() if t >= start else (local.weekday() - 1) % 7
    return inside and (not days or start_day in days)


def daily_limit_hit(
    *, pnl: Decimal, loss_limit: Decimal | None, profit_target: Decimal | None
) -> str | None:
    """``"loss"`` when the day's P&L is at or below minus the loss limit, ``"profit"`` when it is
    at or above the profit target, else None. Limits are positive dollar amounts."""
    if loss_limit is not None and loss_limit > 0 and pnl <= -abs(loss_limit):
        return "loss"
    if profit_target is not None and profit_target > 0 and pnl >= profit_target:
        return "profit"
    return None


def is_disabled_for_day(*, disabled_until: date | None, today: date) -> bool:
    return disabled_until is not None and disabled_until >= today
